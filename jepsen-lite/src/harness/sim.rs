//! The `sim` backend: the whole cluster (the Raft core of
//! [`checked_raft::consensus`], the key/value [`Store`] on top, the
//! clients and the network) as one deterministic discrete-event
//! simulation in virtual time. One seed decides everything, so a run is
//! exactly reproducible from `--seed`, and an hour of faults takes seconds.
//!
//! How it is driven, following the library's own simulator
//! (`checked_raft::sim`):
//!
//! - **Events** wait in a queue ordered by (virtual nanoseconds, sequence
//!   number): message deliveries, timers, client wake-ups, the nemesis.
//!   Nothing iterates a hash map and nothing reads a clock.
//! - **Servers** run [`Node`]'s handlers and carry out the returned effects
//!   in order: persist into a [`Stored`] (all a killed server keeps),
//!   send, arm timers (tagged with a generation, so a re-armed or dead
//!   timer does not fire), apply. Timings are the thread runtime's
//!   ([`RaftConfig::default`]): heartbeats every 100 ms, election timeouts
//!   of 300-600 ms.
//! - **The service layer** is the library's `KvServer` in miniature: a
//!   request is proposed at once and remembered by the index and term the
//!   leader gave it; it is answered only when the entry applied at that
//!   index has that term and that client and sequence number (§5.3: a
//!   deposed leader's uncommitted entry may be overwritten; §8: commands
//!   carry serial numbers so that none executes twice), and refused (the clerk tries
//!   elsewhere) as soon as the server loses its term or its office, or a
//!   different entry is applied there. A retried write already applied is
//!   answered from the store's session table.
//! - **Snapshots** (§7): a server snapshots its store once it has applied
//!   [`SNAPSHOT_EVERY`] entries past its last snapshot; InstallSnapshot
//!   replaces the store (never backwards); a restarted server restores its
//!   persisted snapshot and re-applies what the core hands it.
//! - **Clients** are simulated clerks ([`ClerkConfig::default`]: 250 ms
//!   attempts, back-off of 10-100 ms after a round of servers) with
//!   Jepsen's processes: process `c` of client slot `c` continues as
//!   `c + clients` after an indeterminate (`info`) operation, with a new
//!   client id. All draw from one shared [`Generator`].
//! - **The network** delays every message by 1-5 ms. The `unreliable`
//!   fault loses 10% of messages and adds up to 30 ms; `reorder` adds
//!   200 ms-2 s to a fifth of them. Partitions cut server-to-server links
//!   only, and are checked both when a message is sent and when it would
//!   be delivered: a message is lost if a cut was in force at either end
//!   of its flight. Client links are never partitioned, but lose and
//!   delay messages like the others; messages to a killed server are lost.
//! - **Safety checks** run as it goes (§5.4.3, Figure 3): every server's
//!   own invariants after each of its steps, one leader per term, one
//!   entry applied per index across the cluster, and byte-identical store
//!   snapshots at equal indices. A violation ends the run with an error:
//!   the simulator is a safety checker as well as a history generator.
//!
//! `--bug local-reads` is carried out here by the simulated service
//! itself (every server answers a get from its own store at once), so it
//! needs no `bug-catalogue` build.

use crate::harness::event::{self, Event, Kind, Process};
use crate::harness::generator::{self, ClientOp, Generator};
use crate::harness::nemesis::{self, Fault, Grudge};
use crate::harness::{BackendRun, Progress, RunOptions, ServiceBug};
use anyhow::{Result, anyhow, bail};
use checked_raft::kv::{
    ClerkConfig, ClientId, Command, Indeterminate, Op, Output, Refusal, Reply, Store,
};
use checked_raft::runtime::RaftConfig;
use checked_raft::{
    Config, Effect, Entry, LogIndex, Message, Node, NodeId, Snapshot, Stored, Term,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// A server snapshots its store once it has applied this many entries past
/// its last snapshot: often enough that every run of a few seconds
/// compacts and installs snapshots, rarely enough that encoding the store
/// stays a small part of the cost.
pub const SNAPSHOT_EVERY: u64 = 200;

const MS: u64 = 1_000_000;
/// Every message takes `1..=5` ms.
const DELAY_NS: (u64, u64) = (MS, 5 * MS);
/// Under `unreliable`: the share of messages lost, and the extra delay.
const UNRELIABLE_LOSS: f64 = 0.1;
const UNRELIABLE_EXTRA_NS: u64 = 30 * MS;
/// Under `reorder`: the share of messages held back, and for how long.
const REORDER_SHARE: f64 = 0.2;
const REORDER_NS: (u64, u64) = (200 * MS, 2_000 * MS);
/// Progress is reported every 100 ms of virtual time.
const TICK_NS: u64 = 100 * MS;
/// The key the recovery probe writes (no workload key looks like it).
const PROBE_KEY: &str = "jepsen-lite/recovery";

/// Runs the test in virtual time: clients for `options.time` under the
/// nemesis, then the heal, the wait for recovery and the final reads.
/// Fails if the options are invalid or the cluster breaks a safety
/// property (the error says which, when and with which seed).
pub fn run(options: &RunOptions, progress: &mut dyn FnMut(&Progress)) -> Result<BackendRun> {
    options.validate().map_err(|e| anyhow!(e))?;
    let mut sim = Sim::new(options)?;
    if let Err(e) = sim.run(progress) {
        return Err(e.context(format!(
            "simulation with seed {} failed at {:.3} s (virtual)",
            options.seed,
            secs(sim.now)
        )));
    }
    Ok(BackendRun {
        events: sim.events,
        log: sim.log,
    })
}

/// One simulated event.
enum Ev {
    /// A Raft message between servers.
    Raft {
        from: usize,
        to: usize,
        message: Message,
    },
    /// A clerk's request (attempt `attempt` of its current operation).
    Request {
        slot: usize,
        attempt: u64,
        server: usize,
        command: Command,
    },
    /// A server's reply to the request of that attempt.
    Reply {
        slot: usize,
        attempt: u64,
        reply: Reply,
    },
    /// A server's election (or heartbeat) timer fires, if this is still
    /// the timer's current generation.
    Timer {
        server: usize,
        heartbeat: bool,
        generation: u64,
    },
    /// A client starts its next operation (if still current).
    ClientStart {
        slot: usize,
        generation: u64,
    },
    /// A client resends after backing off.
    ClientSend {
        slot: usize,
        attempt: u64,
    },
    /// A client has waited long enough for an answer to this attempt.
    AttemptTimeout {
        slot: usize,
        attempt: u64,
    },
    /// The nemesis starts or stops a fault.
    Nemesis,
    /// The load ends: heal, recover, read.
    EndLoad,
    Tick,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Load,
    Heal,
    FinalReads,
    Done,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Load => "load",
            Phase::Heal => "heal",
            Phase::FinalReads | Phase::Done => "final reads",
        }
    }
}

/// A request waiting for the entry proposed for it (as in `KvServer`).
struct Pending {
    term: Term,
    client: ClientId,
    seq: u64,
    slot: usize,
    attempt: u64,
}

/// One server: the core (absent while killed), what it persisted, its
/// store and the requests it waits on.
struct Server {
    node: Option<Node>,
    stored: Stored,
    store: Store,
    applied: LogIndex,
    pending: BTreeMap<LogIndex, Pending>,
    election_generation: u64,
    heartbeat_generation: u64,
    /// The term this server was last seen leading (for the log).
    led: Option<Term>,
    /// True while the restart effects run (a snapshot applied then is the
    /// server's own, not an InstallSnapshot).
    restoring: bool,
}

/// An operation a client is running.
struct InFlight {
    op: ClientOp,
    command: Command,
    deadline: u64,
    attempt: u64,
    /// Servers tried in this round.
    tried: usize,
    backoff: u64,
}

/// A client slot: one process at a time (the probe's is not recorded).
struct Client {
    process: u64,
    id: ClientId,
    recorded: bool,
    seq: u64,
    leader: usize,
    generation: u64,
    next_at: u64,
    op: Option<InFlight>,
    final_reads: VecDeque<ClientOp>,
}

#[derive(Default)]
struct Stats {
    ops: u64,
    ok: u64,
    fail: u64,
    info: u64,
    raft_sent: u64,
    raft_cut: u64,
    raft_lost: u64,
    raft_to_dead: u64,
    client_sent: u64,
    client_lost: u64,
    client_to_dead: u64,
    elections: u64,
    kills: u64,
    restarts: u64,
    snapshots_taken: u64,
    snapshots_installed: u64,
    steps: u64,
}

struct Timing {
    election: (u64, u64),
    heartbeat: u64,
    max_entries: usize,
    attempt: u64,
    min_backoff: u64,
    max_backoff: u64,
}

struct Sim<'a> {
    options: &'a RunOptions,
    timing: Timing,
    rng: StdRng,
    nemesis_rng: StdRng,
    generator: Generator,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    servers: Vec<Server>,
    clients: Vec<Client>,
    grudge: Grudge,
    unreliable: bool,
    reorder: bool,
    fault: Option<Fault>,
    phase: Phase,
    healed_at: u64,
    events: Vec<Event>,
    log: Vec<String>,
    stats: Stats,
    /// Election Safety: the leader of each term seen.
    leaders: BTreeMap<Term, usize>,
    /// State Machine Safety: the entry applied at each index, above the
    /// lowest snapshot any server keeps (nothing lower is applied again).
    applied: BTreeMap<LogIndex, Entry>,
    /// A digest of the store at each snapshot index, likewise pruned.
    snapshots: BTreeMap<LogIndex, u64>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn node_id(server: usize) -> NodeId {
    NodeId(server as u64)
}

/// A log entry's command, for error messages.
fn describe(command: &[u8]) -> String {
    match Command::decode(command) {
        Ok(command) => format!("{command:?}"),
        Err(_) => format!("{} undecodable bytes", command.len()),
    }
}

/// FNV-1a, to compare snapshots without keeping them.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl<'a> Sim<'a> {
    fn new(options: &'a RunOptions) -> Result<Sim<'a>> {
        let raft = RaftConfig::default();
        let clerk = ClerkConfig::default();
        let nodes = options.nodes;
        let mut sim = Sim {
            options,
            timing: Timing {
                election: (
                    nanos(raft.election_timeout.start),
                    nanos(raft.election_timeout.end),
                ),
                heartbeat: nanos(raft.heartbeat_interval),
                max_entries: raft.max_entries_per_message,
                attempt: nanos(clerk.attempt_timeout),
                min_backoff: nanos(clerk.min_backoff),
                max_backoff: nanos(clerk.max_backoff),
            },
            rng: StdRng::seed_from_u64(options.seed),
            // The same streams as the threads backend: the same operations,
            // and the same faults where the leader does not matter.
            nemesis_rng: StdRng::seed_from_u64(
                options.seed.rotate_left(17) ^ 0x006e_656d_6573_6973,
            ),
            generator: Generator::new(
                options.workload,
                options.seed,
                options.keys,
                options.ops_per_key,
            ),
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            servers: Vec::with_capacity(nodes),
            clients: Vec::with_capacity(options.clients + 1),
            grudge: Grudge::healed(nodes),
            unreliable: false,
            reorder: false,
            fault: None,
            phase: Phase::Load,
            healed_at: 0,
            events: Vec::new(),
            log: Vec::new(),
            stats: Stats::default(),
            leaders: BTreeMap::new(),
            applied: BTreeMap::new(),
            snapshots: BTreeMap::new(),
        };
        sim.note(format!(
            "started {nodes} servers and {} clients (sim backend, seed {}, virtual time)",
            options.clients, options.seed
        ));
        for _ in 0..nodes {
            sim.servers.push(Server {
                node: None,
                stored: Stored::default(),
                store: Store::new(),
                applied: LogIndex(0),
                pending: BTreeMap::new(),
                election_generation: 0,
                heartbeat_generation: 0,
                led: None,
                restoring: false,
            });
        }
        for server in 0..nodes {
            sim.start(server)?;
        }
        // The client slots, then the recovery probe (not recorded).
        for slot in 0..=options.clients {
            let recorded = slot < options.clients;
            let leader = sim.rng.random_range(0..nodes);
            sim.clients.push(Client {
                process: slot as u64,
                id: if recorded {
                    slot as ClientId
                } else {
                    ClientId::MAX
                },
                recorded,
                seq: 0,
                leader,
                generation: 0,
                next_at: 0,
                op: None,
                final_reads: VecDeque::new(),
            });
            if recorded {
                sim.schedule_next_op(slot);
            }
        }
        let time = nanos(options.time);
        if !options.nemesis.is_empty() {
            let first = nanos(options.nemesis_off);
            if first < time {
                sim.schedule(first, Ev::Nemesis);
            }
        }
        sim.schedule(time, Ev::EndLoad);
        sim.schedule(TICK_NS, Ev::Tick);
        Ok(sim)
    }

    /// Processes events until the final reads are done.
    fn run(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<()> {
        // Every operation has a deadline, so the run ends; this bound only
        // turns a bug into an error instead of a hang.
        let reads_per_client = self.options.keys.div_ceil(self.options.clients) as u64 + 2;
        let limit = nanos(self.options.time)
            .saturating_add(nanos(self.options.recovery))
            .saturating_add(nanos(self.options.op_timeout).saturating_mul(reads_per_client))
            .saturating_add(60_000 * MS);
        while self.phase != Phase::Done {
            let Some(((at, _), event)) = self.queue.pop_first() else {
                bail!("the event queue ran dry");
            };
            if at > limit {
                bail!("the run did not finish by {:.3} s", secs(limit));
            }
            self.now = at;
            self.stats.steps += 1;
            if let Ev::Tick = event {
                progress(&self.progress());
                self.schedule(TICK_NS, Ev::Tick);
            } else {
                self.handle(event)?;
            }
        }
        progress(&self.progress());
        self.summarize();
        Ok(())
    }

    fn progress(&self) -> Progress {
        Progress {
            elapsed: Duration::from_nanos(self.now),
            ops: self.stats.ops,
            ok: self.stats.ok,
            nemesis: self.fault.as_ref().map(Fault::description),
            phase: self.phase.name(),
        }
    }

    fn handle(&mut self, event: Ev) -> Result<()> {
        match event {
            Ev::Raft { from, to, message } => self.deliver(from, to, message),
            Ev::Request {
                slot,
                attempt,
                server,
                command,
            } => self.request(server, slot, attempt, command),
            Ev::Reply {
                slot,
                attempt,
                reply,
            } => {
                self.reply_arrives(slot, attempt, reply);
                Ok(())
            }
            Ev::Timer {
                server,
                heartbeat,
                generation,
            } => {
                let s = &mut self.servers[server];
                let current = match heartbeat {
                    true => s.heartbeat_generation,
                    false => s.election_generation,
                };
                match s.node.as_mut() {
                    Some(node) if current == generation => {
                        let effects = match heartbeat {
                            true => node.handle_heartbeat_timeout(),
                            false => node.handle_election_timeout(),
                        };
                        self.step_done(server, effects)
                    }
                    _ => Ok(()),
                }
            }
            Ev::ClientStart { slot, generation } => {
                if self.clients[slot].generation == generation && self.clients[slot].op.is_none() {
                    self.next_op(slot);
                }
                Ok(())
            }
            Ev::ClientSend { slot, attempt } => {
                if self.clients[slot]
                    .op
                    .as_ref()
                    .is_some_and(|f| f.attempt == attempt)
                {
                    self.send_attempt(slot);
                }
                Ok(())
            }
            Ev::AttemptTimeout { slot, attempt } => {
                if let Some(f) = self.clients[slot]
                    .op
                    .as_ref()
                    .filter(|f| f.attempt == attempt)
                {
                    if self.now >= f.deadline {
                        self.complete(slot, Err(Indeterminate));
                    } else {
                        self.advance(slot, None);
                    }
                }
                Ok(())
            }
            Ev::Nemesis => self.nemesis(),
            Ev::EndLoad => self.end_load(),
            Ev::Tick => Ok(()),
        }
    }

    // ----- servers -----

    /// Starts (or restarts) a server from what it persisted: the core
    /// comes back as a follower and hands back its snapshot, if any, for
    /// the store.
    fn start(&mut self, server: usize) -> Result<()> {
        let members = (0..self.servers.len()).map(node_id).collect();
        let config = Config {
            max_entries_per_message: self.timing.max_entries,
            ..Config::new(node_id(server), members)
        };
        let s = &mut self.servers[server];
        let (node, effects) = Node::restart(config, &s.stored)
            .map_err(|e| anyhow!("server {server} cannot start from its storage: {e}"))?;
        s.node = Some(node);
        s.store = Store::new();
        s.applied = LogIndex(0);
        s.restoring = true;
        let result = self.step_done(server, effects);
        self.servers[server].restoring = false;
        result
    }

    /// Kills a server: its core, store, waiting requests and timers are
    /// gone; only what it persisted remains.
    fn kill(&mut self, server: usize) {
        let Some(s) = self.servers.get_mut(server) else {
            return;
        };
        if s.node.take().is_none() {
            return;
        }
        s.store = Store::new();
        s.applied = LogIndex(0);
        s.pending.clear();
        s.election_generation += 1;
        s.heartbeat_generation += 1;
        s.led = None;
        self.stats.kills += 1;
        self.note(format!("server {server} killed"));
    }

    /// Carries out a handler's effects in order, then checks the server.
    fn step_done(&mut self, server: usize, effects: Vec<Effect>) -> Result<()> {
        for effect in effects {
            self.execute(server, effect)?;
        }
        self.maybe_snapshot(server)?;
        self.after_step(server)
    }

    fn execute(&mut self, server: usize, effect: Effect) -> Result<()> {
        match effect {
            Effect::Persist(op) => self.servers[server]
                .stored
                .apply(&op)
                .map_err(|e| anyhow!("server {server}'s storage refused a write: {e}")),
            Effect::Send { to, message } => {
                self.send_raft(server, to, message);
                Ok(())
            }
            Effect::ResetElectionTimer => {
                let s = &mut self.servers[server];
                s.election_generation += 1;
                let generation = s.election_generation;
                let (min, max) = self.timing.election;
                let after = match max > min {
                    true => self.rng.random_range(min..max),
                    false => min,
                };
                let heartbeat = false;
                let event = Ev::Timer {
                    server,
                    heartbeat,
                    generation,
                };
                self.schedule(after, event);
                Ok(())
            }
            Effect::SetHeartbeatTimer => {
                let s = &mut self.servers[server];
                s.heartbeat_generation += 1;
                let (heartbeat, generation) = (true, s.heartbeat_generation);
                let event = Ev::Timer {
                    server,
                    heartbeat,
                    generation,
                };
                self.schedule(self.timing.heartbeat, event);
                Ok(())
            }
            Effect::ApplyEntries(entries) => entries
                .iter()
                .try_for_each(|entry| self.apply(server, entry)),
            Effect::ApplySnapshot(snapshot) => self.restore(server, &snapshot),
        }
    }

    /// Applies one committed entry to the server's store and answers the
    /// request waiting on it, if the entry is the one proposed for it.
    fn apply(&mut self, server: usize, entry: &Entry) -> Result<()> {
        let s = &mut self.servers[server];
        if entry.index != s.applied.next() {
            bail!(
                "server {server} was handed {} to apply after {}",
                entry.index,
                s.applied
            );
        }
        // State Machine Safety (§5.4.3): no two servers apply different
        // entries at the same index.
        match self.applied.get(&entry.index) {
            Some(seen) if seen != entry => bail!(
                "State Machine Safety: server {server} applied {} of {} at {} where {} of {} was applied",
                describe(&entry.command),
                entry.term,
                entry.index,
                describe(&seen.command),
                seen.term
            ),
            Some(_) => {}
            None => {
                self.applied.insert(entry.index, entry.clone());
            }
        }
        let command = Command::decode(&entry.command).map_err(|e| {
            anyhow!(
                "server {server}: entry {} is not a command: {e}",
                entry.index
            )
        })?;
        let output = s.store.apply(&command);
        s.applied = entry.index;
        let Some(pending) = s.pending.remove(&entry.index) else {
            return Ok(());
        };
        match output {
            Some(output)
                if pending.term == entry.term
                    && pending.client == command.client
                    && pending.seq == command.seq =>
            {
                self.answer(&pending, Ok(output));
            }
            _ => self.refuse(server, &pending),
        }
        Ok(())
    }

    /// Replaces the store with a snapshot's (the server's own at restart,
    /// or a leader's through InstallSnapshot), never moving it back (§7).
    fn restore(&mut self, server: usize, snapshot: &Snapshot) -> Result<()> {
        let index = snapshot.meta.last_included_index;
        let s = &self.servers[server];
        if index <= s.applied {
            bail!(
                "server {server}: a snapshot through {index} would move its store back from {}",
                s.applied
            );
        }
        let store = Store::decode(&snapshot.data).map_err(|e| {
            anyhow!("server {server}: the snapshot through {index} is not a store: {e}")
        })?;
        self.check_snapshot(server, index, &snapshot.data)?;
        let s = &mut self.servers[server];
        s.store = store;
        s.applied = index;
        let covered: Vec<LogIndex> = s.pending.range(..=index).map(|(&i, _)| i).collect();
        for i in covered {
            let s = &mut self.servers[server];
            let Some(pending) = s.pending.remove(&i) else {
                continue;
            };
            match s.store.applied_output(pending.client, pending.seq).cloned() {
                Some(output) => self.answer(&pending, Ok(output)),
                None => self.refuse(server, &pending),
            }
        }
        if !self.servers[server].restoring {
            self.stats.snapshots_installed += 1;
            self.note(format!(
                "server {server} installs a snapshot through {index}"
            ));
            self.prune();
        }
        Ok(())
    }

    /// Snapshots the store once enough entries were applied past the last
    /// snapshot (§7: each server snapshots independently).
    fn maybe_snapshot(&mut self, server: usize) -> Result<()> {
        let s = &mut self.servers[server];
        let Some(node) = s.node.as_mut() else {
            return Ok(());
        };
        if s.applied.0 < node.log().snapshot_index().0.saturating_add(SNAPSHOT_EVERY) {
            return Ok(());
        }
        let index = s.applied;
        let data = s.store.encode();
        let effects = node
            .compact(index, data.clone())
            .map_err(|e| anyhow!("server {server} cannot snapshot through {index}: {e}"))?;
        self.check_snapshot(server, index, &data)?;
        for effect in effects {
            self.execute(server, effect)?;
        }
        self.stats.snapshots_taken += 1;
        self.prune();
        Ok(())
    }

    /// Two stores at the same index must be the same, byte for byte.
    fn check_snapshot(&mut self, server: usize, index: LogIndex, data: &[u8]) -> Result<()> {
        let d = digest(data);
        if *self.snapshots.entry(index).or_insert(d) != d {
            bail!(
                "State Machine Safety: server {server}'s store at {index} differs from another's"
            );
        }
        Ok(())
    }

    /// Forgets what no server can apply again: everything up to the
    /// lowest snapshot any server has persisted.
    fn prune(&mut self) {
        let floor = self
            .servers
            .iter()
            .map(|s| s.stored.snapshot_meta().last_included_index)
            .min()
            .unwrap_or_default();
        self.applied = self.applied.split_off(&floor.next());
        self.snapshots = self.snapshots.split_off(&floor.next());
    }

    /// After each step of a server: its invariants, Election Safety, the
    /// log, and the requests it can no longer answer.
    fn after_step(&mut self, server: usize) -> Result<()> {
        let Some(node) = self.servers[server].node.as_ref() else {
            return Ok(());
        };
        node.check_invariants()
            .map_err(|e| anyhow!("server {server} broke an invariant: {e}"))?;
        let (term, leads) = (node.current_term(), node.is_leader());
        if leads && self.servers[server].led != Some(term) {
            // Election Safety (§5.2): at most one leader per term.
            if let Some(&other) = self.leaders.get(&term).filter(|&&l| l != server) {
                bail!("Election Safety: servers {other} and {server} both lead {term}");
            }
            self.leaders.insert(term, server);
            self.servers[server].led = Some(term);
            self.stats.elections += 1;
            self.note(format!("server {server} leads in term {}", term.0));
        }
        // As KvServer's watchdog: a request whose leader lost its term or
        // its office is refused, so its clerk tries elsewhere.
        let s = &mut self.servers[server];
        let lost: Vec<LogIndex> = s
            .pending
            .iter()
            .filter(|(_, p)| !leads || p.term != term)
            .map(|(&i, _)| i)
            .collect();
        for i in lost {
            if let Some(pending) = self.servers[server].pending.remove(&i) {
                self.refuse(server, &pending);
            }
        }
        Ok(())
    }

    /// A clerk's request arrives at a server.
    fn request(
        &mut self,
        server: usize,
        slot: usize,
        attempt: u64,
        command: Command,
    ) -> Result<()> {
        let local_reads = self.options.bug == Some(ServiceBug::LocalReads);
        let s = &mut self.servers[server];
        if s.node.is_none() {
            self.stats.client_to_dead += 1;
            return Ok(());
        }
        let reply = |result| Reply {
            client: command.client,
            seq: command.seq,
            result,
        };
        let at_once = match &command.op {
            // The bug: a read served from this server's copy, which may
            // lag the cluster (a follower, a deposed leader).
            Op::Get { key } if local_reads => Some(Output::Value(s.store.get(key).to_owned())),
            // A retried write already applied: its output, again.
            _ => s.store.applied_output(command.client, command.seq).cloned(),
        };
        if let Some(output) = at_once {
            self.send_reply(slot, attempt, reply(Ok(output)));
            return Ok(());
        }
        let Some(node) = s.node.as_mut() else {
            return Ok(());
        };
        match node.propose([command.encode()]) {
            Ok((proposed, effects)) => {
                let pending = Pending {
                    term: proposed.term,
                    client: command.client,
                    seq: command.seq,
                    slot,
                    attempt,
                };
                // Waiting before the effects run: a one-server cluster
                // commits and applies within them.
                if let Some(old) = s.pending.insert(proposed.index, pending) {
                    self.refuse(server, &old);
                }
                self.step_done(server, effects)
            }
            Err(not_leader) => {
                let hint = not_leader.leader_hint.map(|id| id.0);
                self.send_reply(slot, attempt, reply(Err(Refusal::WrongLeader { hint })));
                Ok(())
            }
        }
    }

    fn answer(&mut self, pending: &Pending, result: Result<Output, Refusal>) {
        let reply = Reply {
            client: pending.client,
            seq: pending.seq,
            result,
        };
        self.send_reply(pending.slot, pending.attempt, reply);
    }

    /// Fails a waiting request (its entry or its leader was lost), with a
    /// hint of who leads now.
    fn refuse(&mut self, server: usize, pending: &Pending) {
        let hint = self.servers[server]
            .node
            .as_ref()
            .and_then(Node::leader_id)
            .map(|id| id.0);
        self.answer(pending, Err(Refusal::WrongLeader { hint }));
    }

    // ----- the network -----

    /// How long a message takes, or `None` if it is lost.
    fn flight(&mut self) -> Option<u64> {
        if self.unreliable && self.rng.random_bool(UNRELIABLE_LOSS) {
            return None;
        }
        let mut delay = self.rng.random_range(DELAY_NS.0..=DELAY_NS.1);
        if self.unreliable {
            delay += self.rng.random_range(0..=UNRELIABLE_EXTRA_NS);
        }
        if self.reorder && self.rng.random_bool(REORDER_SHARE) {
            delay += self.rng.random_range(REORDER_NS.0..=REORDER_NS.1);
        }
        Some(delay)
    }

    fn send_raft(&mut self, from: usize, to: NodeId, message: Message) {
        self.stats.raft_sent += 1;
        let to = usize::try_from(to.0).unwrap_or(usize::MAX);
        if to >= self.servers.len() || !self.grudge.connected(from, to) {
            self.stats.raft_cut += 1;
            return;
        }
        match self.flight() {
            Some(delay) => self.schedule(delay, Ev::Raft { from, to, message }),
            None => self.stats.raft_lost += 1,
        }
    }

    fn deliver(&mut self, from: usize, to: usize, message: Message) -> Result<()> {
        if !self.grudge.connected(from, to) {
            self.stats.raft_cut += 1;
            return Ok(());
        }
        let Some(node) = self.servers[to].node.as_mut() else {
            self.stats.raft_to_dead += 1;
            return Ok(());
        };
        let effects = node
            .step(node_id(from), message)
            .map_err(|e| anyhow!("server {to} refused a message from server {from}: {e}"))?;
        self.step_done(to, effects)
    }

    /// A request or reply between a clerk and a server: never cut by a
    /// partition, but lost and delayed like any message.
    fn send_client(&mut self, event: Ev) {
        self.stats.client_sent += 1;
        match self.flight() {
            Some(delay) => self.schedule(delay, event),
            None => self.stats.client_lost += 1,
        }
    }

    fn send_reply(&mut self, slot: usize, attempt: u64, reply: Reply) {
        let event = Ev::Reply {
            slot,
            attempt,
            reply,
        };
        self.send_client(event);
    }

    // ----- clients -----

    /// Schedules a client's next operation: at its share of the rate (a
    /// pause uniform in `0..2 × clients / rate`, paced from the previous
    /// start as the threads backend does), or at once without a rate.
    fn schedule_next_op(&mut self, slot: usize) {
        let gap = match self.options.rate {
            Some(rate) => {
                let mean = self.options.clients as f64 / rate;
                let gap = mean * self.rng.random_range(0.0..2.0);
                Duration::try_from_secs_f64(gap).map_or(u64::MAX, nanos)
            }
            None => 0,
        };
        let c = &mut self.clients[slot];
        c.next_at = c.next_at.saturating_add(gap).max(self.now);
        c.generation += 1;
        let (at, generation) = (c.next_at, c.generation);
        self.schedule_at(at, Ev::ClientStart { slot, generation });
    }

    fn next_op(&mut self, slot: usize) {
        let op = match self.phase {
            Phase::Load => self.generator.next_op(slot),
            Phase::FinalReads => match self.clients[slot].final_reads.pop_front() {
                Some(op) => op,
                None => return,
            },
            Phase::Heal | Phase::Done => return,
        };
        let deadline = self.now.saturating_add(nanos(self.options.op_timeout));
        self.invoke(slot, op, deadline);
    }

    fn invoke(&mut self, slot: usize, op: ClientOp, deadline: u64) {
        let c = &mut self.clients[slot];
        c.seq += 1;
        let command = Command {
            client: c.id,
            seq: c.seq,
            op: op.op.clone(),
        };
        let (process, recorded) = (c.process, c.recorded);
        c.op = Some(InFlight {
            op,
            command,
            deadline,
            attempt: 1,
            tried: 0,
            backoff: self.timing.min_backoff,
        });
        if recorded && let Some(f) = &self.clients[slot].op {
            let (name, key, value) = (f.op.f, f.op.key.clone(), f.op.value.clone());
            let process = Process::Client(process);
            self.record(process, Kind::Invoke, name, Some(key), value, None);
        }
        self.send_attempt(slot);
    }

    /// Sends the current attempt to the server the client believes leads.
    fn send_attempt(&mut self, slot: usize) {
        let c = &self.clients[slot];
        let Some(f) = &c.op else { return };
        if self.now >= f.deadline {
            self.complete(slot, Err(Indeterminate));
            return;
        }
        let (server, attempt, command) = (c.leader, f.attempt, f.command.clone());
        let timeout = self.now.saturating_add(self.timing.attempt).min(f.deadline);
        self.send_client(Ev::Request {
            slot,
            attempt,
            server,
            command,
        });
        self.schedule_at(timeout, Ev::AttemptTimeout { slot, attempt });
    }

    /// Moves on after a refusal or silence: to the hinted leader, else the
    /// next server; after a whole round, backs off first.
    fn advance(&mut self, slot: usize, hint: Option<u64>) {
        let nodes = self.servers.len();
        let c = &mut self.clients[slot];
        let Some(f) = c.op.as_mut() else { return };
        c.leader = match hint.and_then(|h| usize::try_from(h).ok()) {
            Some(h) if h < nodes && h != c.leader => h,
            _ => (c.leader + 1) % nodes,
        };
        f.attempt += 1;
        f.tried += 1;
        if f.tried < nodes {
            self.send_attempt(slot);
            return;
        }
        f.tried = 0;
        let at = self.now.saturating_add(f.backoff).min(f.deadline);
        f.backoff = (f.backoff * 2).min(self.timing.max_backoff);
        let attempt = f.attempt;
        self.schedule_at(at, Ev::ClientSend { slot, attempt });
    }

    fn reply_arrives(&mut self, slot: usize, attempt: u64, reply: Reply) {
        let c = &self.clients[slot];
        let Some(f) = &c.op else { return };
        if reply.client != c.id || reply.seq != f.command.seq {
            return;
        }
        let current = attempt == f.attempt;
        match reply.result {
            // An answer from any attempt is the operation's.
            Ok(output) => self.complete(slot, Ok(output)),
            Err(Refusal::WrongLeader { hint }) if current => self.advance(slot, hint),
            Err(_) if current => self.advance(slot, None),
            Err(_) => {}
        }
    }

    /// Ends the client's operation and records it; an indeterminate one
    /// retires the process (a new process, with a new client id, follows).
    fn complete(&mut self, slot: usize, result: Result<Output, Indeterminate>) {
        let Some(f) = self.clients[slot].op.take() else {
            return;
        };
        if !self.clients[slot].recorded {
            self.probe_done(result.is_ok());
            return;
        }
        let (kind, value, error) = generator::completion(self.options.workload, &f.op, result);
        if kind == Kind::Info {
            self.generator.indeterminate(&f.op.key);
        }
        let process = self.clients[slot].process;
        let (process, key) = (Process::Client(process), Some(f.op.key));
        self.record(process, kind, f.op.f, key, value, error);
        self.stats.ops += 1;
        match kind {
            Kind::Ok => self.stats.ok += 1,
            Kind::Fail => self.stats.fail += 1,
            Kind::Info | Kind::Invoke => self.stats.info += 1,
        }
        let clients = self.options.clients as u64;
        let c = &mut self.clients[slot];
        if kind == Kind::Info {
            c.process += clients;
            c.id = c.process;
            c.seq = 0;
        }
        match self.phase {
            Phase::Load => self.schedule_next_op(slot),
            Phase::FinalReads => {
                c.generation += 1;
                let generation = c.generation;
                self.schedule(0, Ev::ClientStart { slot, generation });
                self.maybe_done();
            }
            Phase::Heal | Phase::Done => {}
        }
    }

    fn maybe_done(&mut self) {
        let idle = self.clients.iter().filter(|c| c.recorded);
        if self.phase == Phase::FinalReads
            && idle.clone().all(|c| c.op.is_none())
            && idle.clone().all(|c| c.final_reads.is_empty())
        {
            self.phase = Phase::Done;
        }
    }

    // ----- the nemesis and the phases -----

    /// The server that leads in the highest term, if any.
    fn leader(&self) -> Option<usize> {
        self.servers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.node
                    .as_ref()
                    .filter(|n| n.is_leader())
                    .map(|n| (n.current_term(), i))
            })
            .max()
            .map(|(_, i)| i)
    }

    fn nemesis(&mut self) -> Result<()> {
        if self.phase != Phase::Load {
            return Ok(());
        }
        let next = match self.fault.take() {
            Some(fault) => {
                self.stop_fault(&fault)?;
                self.options.nemesis_off
            }
            None => {
                let leader = self.leader();
                let drawn = nemesis::draw(
                    &mut self.nemesis_rng,
                    &self.options.nemesis,
                    self.servers.len(),
                    leader,
                );
                if let Some(fault) = drawn {
                    self.start_fault(&fault);
                    self.fault = Some(fault);
                }
                self.options.nemesis_on
            }
        };
        let at = self.now.saturating_add(nanos(next));
        if at < nanos(self.options.time) {
            self.schedule_at(at, Ev::Nemesis);
        }
        Ok(())
    }

    fn start_fault(&mut self, fault: &Fault) {
        let (name, value) = (format!("start-{}", fault.name()), fault.description());
        let value = Json::String(value);
        self.record(Process::Nemesis, Kind::Info, &name, None, value, None);
        self.note(format!("start {}: {}", fault.name(), fault.description()));
        match fault {
            Fault::Partition(grudge) => self.grudge = grudge.clone(),
            Fault::Kill(nodes) => nodes.iter().for_each(|&i| self.kill(i)),
            Fault::Unreliable => self.unreliable = true,
            Fault::Reorder => self.reorder = true,
        }
    }

    fn stop_fault(&mut self, fault: &Fault) -> Result<()> {
        match fault {
            Fault::Partition(_) => self.grudge = Grudge::healed(self.servers.len()),
            Fault::Kill(nodes) => {
                for &i in nodes {
                    self.restart(i)?;
                }
            }
            Fault::Unreliable => self.unreliable = false,
            Fault::Reorder => self.reorder = false,
        }
        let name = format!("stop-{}", fault.name());
        self.record(Process::Nemesis, Kind::Info, &name, None, Json::Null, None);
        self.note(format!("stop {}", fault.name()));
        Ok(())
    }

    fn restart(&mut self, server: usize) -> Result<()> {
        if server >= self.servers.len() || self.servers[server].node.is_some() {
            return Ok(());
        }
        self.stats.restarts += 1;
        let stored = &self.servers[server].stored;
        self.note(format!(
            "server {server} restarts from its storage (term {}, snapshot through {}, log through {})",
            stored.hard_state.current_term.0,
            stored.snapshot_meta().last_included_index.0,
            stored.last_index().0
        ));
        self.start(server)
    }

    /// The load ends: the fault stops, everything heals, and a probe (not
    /// recorded) waits for a write to commit before the final reads.
    fn end_load(&mut self) -> Result<()> {
        self.phase = Phase::Heal;
        if let Some(fault) = self.fault.take() {
            self.stop_fault(&fault)?;
        }
        self.grudge = Grudge::healed(self.servers.len());
        self.unreliable = false;
        self.reorder = false;
        for server in 0..self.servers.len() {
            self.restart(server)?;
        }
        self.note("healed: every link up, reliable network, every server up".into());
        self.healed_at = self.now;
        let probe = ClientOp {
            f: "write",
            key: PROBE_KEY.into(),
            value: Json::Null,
            op: Op::Put {
                key: PROBE_KEY.into(),
                value: "1".into(),
            },
        };
        let deadline = self.now.saturating_add(nanos(self.options.recovery));
        self.invoke(self.options.clients, probe, deadline);
        Ok(())
    }

    fn probe_done(&mut self, recovered: bool) {
        let after = secs(self.now - self.healed_at);
        self.note(if recovered {
            format!("recovered: a write committed {after:.3} s after the heal")
        } else {
            format!("not recovered {after:.3} s after the heal; reading anyway")
        });
        self.phase = Phase::FinalReads;
        let reads = self.generator.final_reads();
        self.note(format!("final reads of {} keys", reads.len()));
        let clients = self.options.clients;
        for (k, op) in reads.into_iter().enumerate() {
            self.clients[k % clients].final_reads.push_back(op);
        }
        for slot in 0..clients {
            let c = &mut self.clients[slot];
            if c.op.is_none() {
                c.generation += 1;
                let generation = c.generation;
                self.schedule(0, Ev::ClientStart { slot, generation });
            }
        }
        self.maybe_done();
    }

    fn summarize(&mut self) {
        let s = &self.stats;
        let highest = self.servers.iter().map(|s| s.applied.0).max().unwrap_or(0);
        let lines = [
            format!(
                "operations: {} ({} ok, {} fail, {} info); {} processes",
                s.ops,
                s.ok,
                s.fail,
                s.info,
                self.options.clients as u64 + s.info
            ),
            format!(
                "raft messages: {} sent, {} cut by partitions, {} lost, {} to killed servers",
                s.raft_sent, s.raft_cut, s.raft_lost, s.raft_to_dead
            ),
            format!(
                "client messages: {} sent, {} lost, {} to killed servers",
                s.client_sent, s.client_lost, s.client_to_dead
            ),
            format!(
                "{} elections (last term {}); {} kills, {} restarts; {} snapshots taken, {} installed; applied through index {highest}; {} events simulated",
                s.elections,
                self.leaders.keys().next_back().map_or(0, |t| t.0),
                s.kills,
                s.restarts,
                s.snapshots_taken,
                s.snapshots_installed,
                s.steps
            ),
        ];
        for line in lines {
            self.note(line);
        }
    }

    // ----- plumbing -----

    fn record(
        &mut self,
        process: Process,
        kind: Kind,
        f: &str,
        key: Option<String>,
        value: Json,
        error: Option<String>,
    ) {
        // Times strictly increase in the order things happened (see
        // `event::next_time`).
        let time = event::next_time(self.events.last().map(|e| e.time), self.now);
        self.events.push(Event {
            index: self.events.len() as u64,
            process,
            kind,
            f: f.to_string(),
            key,
            value,
            time,
            error,
        });
    }

    fn note(&mut self, line: String) {
        self.log.push(format!("{:>9.3} s  {line}", secs(self.now)));
    }

    fn schedule(&mut self, after: u64, event: Ev) {
        self.schedule_at(self.now.saturating_add(after), event);
    }

    fn schedule_at(&mut self, at: u64, event: Ev) {
        self.seq += 1;
        self.queue.insert((at.max(self.now), self.seq), event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::jsonl;
    use crate::harness::event::{to_jsonl, windows};
    use crate::harness::{Backend, NemesisKind, Workload};
    use crate::models::{Kv, Register};
    use crate::{CheckOptions, Verdict, check};

    fn options(seed: u64, nemesis: &[NemesisKind], secs: u64) -> RunOptions {
        RunOptions {
            time: Duration::from_secs(secs),
            nemesis: nemesis.to_vec(),
            seed,
            nemesis_on: Duration::from_secs(1),
            nemesis_off: Duration::from_secs(1),
            backend: Backend::Sim,
            ..RunOptions::default()
        }
    }

    fn run_quietly(options: &RunOptions) -> BackendRun {
        run(options, &mut |_| {}).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// The checker's verdict on a run's history, read back from its JSON
    /// lines as `jepsen-lite check` would.
    fn verdict(options: &RunOptions, run: &BackendRun) -> Verdict {
        let text = to_jsonl(&run.events);
        let check_options = CheckOptions {
            timeout: Some(Duration::from_secs(60)),
            threads: 1,
            explain: false,
        };
        match options.workload {
            Workload::Register => {
                let history = jsonl::parse_register("sim", &text).unwrap();
                check(&Register, &history.operations, &check_options)
                    .unwrap()
                    .verdict
            }
            Workload::Kv | Workload::Append => {
                let history = jsonl::parse_kv("sim", &text).unwrap();
                check(&Kv, &history.operations, &check_options)
                    .unwrap()
                    .verdict
            }
        }
    }

    fn count(run: &BackendRun, kind: Kind) -> usize {
        run.events
            .iter()
            .filter(|e| e.is_client() && e.kind == kind)
            .count()
    }

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let options = options(7, &NemesisKind::ALL, 4);
        let (a, b) = (run_quietly(&options), run_quietly(&options));
        assert_eq!(to_jsonl(&a.events), to_jsonl(&b.events));
        assert_eq!(a.log, b.log);
        let other = run_quietly(&RunOptions { seed: 8, ..options });
        assert_ne!(to_jsonl(&a.events), to_jsonl(&other.events));
    }

    #[test]
    fn histories_are_in_time_order_with_paired_windows_and_final_reads() {
        for workload in [Workload::Register, Workload::Kv, Workload::Append] {
            let options = RunOptions {
                workload,
                ..options(3, &NemesisKind::ALL, 6)
            };
            let mut reports = Vec::new();
            let run = run(&options, &mut |p| reports.push(p.clone())).unwrap();
            for (i, event) in run.events.iter().enumerate() {
                assert_eq!(event.index, i as u64);
            }
            assert!(run.events.windows(2).all(|w| w[0].time <= w[1].time));
            let faults = windows(&run.events);
            assert!(faults.len() >= 2, "{faults:?}");
            assert!(faults.iter().all(|w| w.end.is_some()), "{faults:?}");
            let last_fault = faults.iter().filter_map(|w| w.end).max().unwrap_or(0);
            let final_reads = run
                .events
                .iter()
                .filter(|e| {
                    e.kind == Kind::Ok
                        && e.time > last_fault
                        && matches!(e.f.as_str(), "read" | "get")
                })
                .count();
            assert!(
                final_reads >= options.keys,
                "{workload:?}: {final_reads} final reads"
            );
            assert!(
                count(&run, Kind::Ok) > 500,
                "{workload:?}: {} ok",
                count(&run, Kind::Ok)
            );
            assert_eq!(
                count(&run, Kind::Invoke),
                run.events.iter().filter(|e| e.is_client()).count() / 2
            );
            assert_eq!(reports.last().map(|p| p.phase), Some("final reads"));
            assert!(reports.iter().any(|p| p.nemesis.is_some()));
            assert_eq!(
                reports.last().map(|p| p.ops),
                Some(count(&run, Kind::Invoke) as u64)
            );
            assert!(
                run.log
                    .iter()
                    .any(|l| l.contains("recovered: a write committed")),
                "{:#?}",
                run.log
            );
        }
    }

    #[test]
    fn runs_under_every_fault_are_linearizable() {
        let kinds: Vec<Vec<NemesisKind>> = vec![
            vec![],
            vec![NemesisKind::Partition],
            vec![NemesisKind::Kill],
            vec![NemesisKind::Unreliable],
            vec![NemesisKind::Reorder],
            NemesisKind::ALL.to_vec(),
        ];
        for nemesis in &kinds {
            for seed in 0..3 {
                let options = options(seed, nemesis, 5);
                let run = run_quietly(&options);
                assert!(
                    count(&run, Kind::Ok) > 300,
                    "{nemesis:?} seed {seed}: {:#?}",
                    run.log
                );
                assert_eq!(
                    verdict(&options, &run),
                    Verdict::Linearizable,
                    "{nemesis:?} seed {seed}"
                );
            }
        }
        // The kv workload too. Not the append workload: its indeterminate
        // appends on keys never read again can make a history too costly
        // to check.
        for seed in 0..2 {
            let options = RunOptions {
                workload: Workload::Kv,
                ..options(seed, &NemesisKind::ALL, 5)
            };
            let run = run_quietly(&options);
            assert_eq!(
                verdict(&options, &run),
                Verdict::Linearizable,
                "kv seed {seed}"
            );
        }
    }

    #[test]
    fn kills_restart_servers_and_snapshots_travel() {
        let options = options(1, &[NemesisKind::Kill], 20);
        let run = run_quietly(&options);
        let mentions = |what: &str| run.log.iter().filter(|l| l.contains(what)).count();
        assert!(mentions("killed") > 0 && mentions("restarts from its storage") > 0);
        assert!(mentions("installs a snapshot") > 0, "{:#?}", run.log);
        assert_eq!(verdict(&options, &run), Verdict::Linearizable);
    }

    #[test]
    fn local_reads_are_caught() {
        let found = (0..5).any(|seed| {
            let options = RunOptions {
                bug: Some(ServiceBug::LocalReads),
                ..options(seed, &[NemesisKind::Partition], 5)
            };
            verdict(&options, &run_quietly(&options)) == Verdict::NotLinearizable
        });
        assert!(found, "no stale read found in 5 runs with local reads");
    }

    #[test]
    fn one_server_and_no_rate_work_too() {
        let options = RunOptions {
            nodes: 1,
            clients: 3,
            rate: None,
            ..options(2, &[NemesisKind::Kill, NemesisKind::Reorder], 3)
        };
        let run = run_quietly(&options);
        assert!(count(&run, Kind::Ok) > 100);
        assert_eq!(verdict(&options, &run), Verdict::Linearizable);
    }

    #[test]
    fn servers_that_diverge_are_an_error() {
        let options = options(0, &[], 1);
        let mut sim = Sim::new(&options).unwrap();
        let entry = |value: &str| Entry {
            index: LogIndex(1),
            term: Term(1),
            command: Command {
                client: 1,
                seq: 1,
                op: Op::Put {
                    key: "k".into(),
                    value: value.into(),
                },
            }
            .encode(),
        };
        sim.apply(0, &entry("a")).unwrap();
        sim.apply(1, &entry("a")).unwrap();
        let error = sim.apply(2, &entry("b")).unwrap_err().to_string();
        assert!(error.contains("State Machine Safety"), "{error}");
        assert!(sim.apply(0, &entry("a")).is_err(), "applied twice");
        sim.check_snapshot(0, LogIndex(1), b"one").unwrap();
        assert!(sim.check_snapshot(1, LogIndex(1), b"two").is_err());
    }

    #[test]
    fn bad_options_are_an_error() {
        let options = RunOptions {
            nodes: 0,
            ..options(0, &[], 1)
        };
        assert!(run(&options, &mut |_| {}).is_err());
    }

    /// `cargo test --release -p jepsen-lite --lib harness::sim::tests::an_hour -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement: an hour of virtual time at the default options"]
    fn an_hour_of_virtual_time() {
        let options = RunOptions {
            time: Duration::from_secs(3600),
            backend: Backend::Sim,
            ..RunOptions::default()
        };
        let start = std::time::Instant::now();
        let run = run_quietly(&options);
        println!(
            "{:.1} s for {} events",
            start.elapsed().as_secs_f64(),
            run.events.len()
        );
        for line in run.log.iter().rev().take(6).rev() {
            println!("{line}");
        }
    }
}
