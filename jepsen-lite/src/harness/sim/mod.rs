//! The `sim` backend: the whole cluster in virtual time, on the
//! library's one simulator ([`checked_raft::sim::Servers`]) running the
//! library's one key/value service ([`checked_raft::sim::kv::KvApp`], the
//! [`checked_raft::kv::KvService`] the thread server drives too), with
//! clients that are the library's clerk ([`ClerkState`]). One seed decides
//! everything, so a run is exactly reproducible from `--seed`, and an hour
//! of faults takes seconds.
//!
//! What is jepsen-lite's here, and only that:
//!
//! - **Clients**: Jepsen's processes on top of clerks. Process `c` of
//!   client slot `c` continues as `c + clients` after an indeterminate
//!   (`info`) operation, with a new client id. All draw from one shared
//!   [`Generator`]; the clerk ([`ClerkConfig::default`]: 250 ms attempts,
//!   back-off of 10-100 ms after a round of servers) decides where each
//!   attempt goes and when to give up.
//! - **The nemesis schedule** ([`nemesis::draw`]): partitions, kills,
//!   an unreliable network, long reordering, in windows.
//! - **The network faults** (in the library simulator's message model,
//!   [`MessageFaults`]): every message takes 1-5 ms. The `unreliable` fault
//!   loses 10% of messages and adds up to 30 ms; `reorder` adds 200 ms-2 s
//!   to a fifth of them. Partitions cut server-to-server links only, and
//!   are checked both when a message is sent and when it would be
//!   delivered. Client links are never partitioned, but lose and delay
//!   messages like the others; messages to a killed server are lost.
//! - **The history** and the phases: load, heal, a recovery probe, final
//!   reads.
//!
//! Everything else is the library's: the servers' handlers and effects,
//! timers, crashes and restarts from storage, snapshots (at
//! [`MAX_RAFT_STATE`] bytes of persisted Raft state), and safety checks
//! after every step through [`checked_raft::invariants::check_invariants`]
//! (Figure 3's properties), plus byte-identical snapshots at equal
//! indices. A violation ends the run with an error: the simulator is a
//! safety checker as well as a history generator. Timings are the thread
//! runtime's ([`RaftConfig::default`]): heartbeats every 100 ms, election
//! timeouts of 300-600 ms.
//!
//! `--bug local-reads` (a `bug-catalogue` build) switches on the service's
//! own broken reads ([`checked_raft::kv::KvService`]), the same switch the
//! threads backend uses.

use crate::harness::event::{self, Event, Kind, Process};
use crate::harness::generator::{self, ClientOp, Generator};
use crate::harness::nemesis::{self, Fault, Grudge};
use crate::harness::{BackendRun, LeaderSeen, Progress, RunOptions, Storage};
use anyhow::{Result, anyhow, bail};
use checked_raft::kv::{
    ClerkConfig, ClerkEffect, ClerkState, ClientId, Indeterminate, KvEffect, Op, Output, Proposal,
    Reply, Request,
};
use checked_raft::runtime::RaftConfig;
use checked_raft::sim::kv::KvApp;
use checked_raft::sim::servers::id;
use checked_raft::sim::{
    Driver, EventQueue, FailureReason, Fate, MessageFaults, Servers, Timer, fate,
};
use checked_raft::storage::{CrashMode, DiskOptions};
use checked_raft::{Config, Message, NodeId, Term};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::collections::VecDeque;
use std::time::Duration;

/// A server snapshots once its persisted Raft state reaches this many
/// bytes (the lab's `maxraftstate`): about two hundred entries of the
/// workloads, so every run of a few seconds compacts and installs
/// snapshots, while the logs the checks walk after every step stay short.
pub const MAX_RAFT_STATE: usize = 2 * 1024;

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
/// Lines of the servers' trace kept for an error's context.
const TRACE_LINES: usize = 30;
/// With `--storage disk`: a server's write completes this long after it
/// is made (virtual time; the leader's AppendEntries leave meanwhile).
const WRITE_NS: (u64, u64) = (MS / 10, 2 * MS);
/// With `--storage disk`: each server's write-ahead log's segment size
/// (small, so that rotation and compaction happen in every run).
const SEGMENT_BYTES: u64 = 64 << 10;

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
            secs(sim.world.queue.now())
        )));
    }
    Ok(BackendRun {
        events: sim.events,
        log: sim.world.log,
        files: Vec::new(),
        leaders: sim.leaders,
    })
}

/// A clerk's address as the service sees it: the client slot, and the
/// attempt a reply answers.
type Addr = (usize, u64);

/// One simulated event.
enum Ev {
    /// A Raft message between servers (positions).
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
        request: Request,
    },
    /// A server's reply to the request of that attempt, from the server
    /// at position `server`.
    Reply {
        slot: usize,
        attempt: u64,
        server: usize,
        reply: Reply,
    },
    /// A server's timer, for [`Servers::fire`].
    Timer {
        server: usize,
        timer: Timer,
        generation: u64,
    },
    /// A client starts its next operation (if still current).
    ClientStart {
        slot: usize,
        generation: u64,
    },
    /// A clerk's back-off is over.
    ClientResume {
        slot: usize,
        attempt: u64,
    },
    /// A clerk has waited long enough for an answer to this attempt.
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

/// A client slot: one Jepsen process at a time (the probe's is not
/// recorded), on a clerk.
struct Client {
    process: u64,
    recorded: bool,
    clerk: ClerkState,
    generation: u64,
    next_at: u64,
    /// The operation in flight, as the generator made it.
    op: Option<ClientOp>,
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
    steps: u64,
}

/// The network's faults now.
#[derive(Default)]
struct Net {
    grudge: Option<Grudge>,
    unreliable: bool,
    reorder: bool,
}

/// Everything around the servers: the clock and its events, the network,
/// randomness, the log. The servers' [`Driver`].
struct World {
    queue: EventQueue<Ev>,
    rng: StdRng,
    election: (u64, u64),
    heartbeat: u64,
    net: Net,
    stats: Stats,
    log: Vec<String>,
    /// The servers' latest steps, for an error's context.
    trace: VecDeque<String>,
}

struct Sim<'a> {
    options: &'a RunOptions,
    servers: Servers<KvApp<Addr>>,
    world: World,
    nemesis_rng: StdRng,
    generator: Generator,
    clients: Vec<Client>,
    fault: Option<Fault>,
    phase: Phase,
    healed_at: u64,
    events: Vec<Event>,
    /// Leaders already logged.
    leaders_seen: usize,
    /// Each leader logged, with the time it was (for the timeline).
    leaders: Vec<LeaderSeen>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

impl<'a> Sim<'a> {
    fn new(options: &'a RunOptions) -> Result<Sim<'a>> {
        let raft = RaftConfig::default();
        let nodes = options.nodes;
        let members: Vec<NodeId> = (0..nodes).map(id).collect();
        let core = Config {
            max_entries_per_message: raft.max_entries_per_message,
            ..Config::new(NodeId(0), Vec::new())
        };
        let local_reads = break_service(options)?;
        let servers = Servers::new(nodes, core, move |_| {
            #[allow(unused_mut)]
            let mut app = KvApp::new(members.clone(), Some(MAX_RAFT_STATE));
            #[cfg(feature = "bug-catalogue")]
            if local_reads {
                app.service_mut().serve_local_reads();
            }
            let _ = local_reads;
            app
        });
        let mut servers = servers;
        if options.storage == Storage::Disk {
            // The real write-ahead log on simulated disks that crash: a
            // kill reboots its disk to a random crash mode, and the
            // restart must find exactly what was acknowledged.
            servers.use_disks(DiskOptions::with_segment_size(SEGMENT_BYTES), true);
            servers.write_asynchronously();
        }
        let mut sim = Sim {
            options,
            servers,
            world: World {
                queue: EventQueue::new(),
                rng: StdRng::seed_from_u64(options.seed),
                election: (
                    nanos(raft.election_timeout.start),
                    nanos(raft.election_timeout.end),
                ),
                heartbeat: nanos(raft.heartbeat_interval),
                net: Net::default(),
                stats: Stats::default(),
                log: Vec::new(),
                trace: VecDeque::new(),
            },
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
            clients: Vec::with_capacity(options.clients + 1),
            fault: None,
            phase: Phase::Load,
            healed_at: 0,
            events: Vec::new(),
            leaders_seen: 0,
            leaders: Vec::new(),
        };
        sim.world.note_log(format!(
            "started {nodes} servers and {} clients (sim backend, seed {}, virtual time)",
            options.clients, options.seed
        ));
        for server in 0..nodes {
            let result = sim.servers.start(server, &mut sim.world);
            sim.checked(result)?;
        }
        // The client slots, then the recovery probe (not recorded).
        for slot in 0..=options.clients {
            let recorded = slot < options.clients;
            let leader = sim.world.rng.random_range(0..nodes);
            // Client id 0 is NO_SESSION (never deduplicated): ids from 1.
            let id = if recorded {
                slot as ClientId + 1
            } else {
                ClientId::MAX
            };
            sim.clients.push(Client {
                process: slot as u64,
                recorded,
                clerk: ClerkState::new(id, nodes, leader, ClerkConfig::default()),
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
            // A fault starts only if it ends before the clients stop.
            if first + nanos(options.nemesis_on) <= time {
                sim.world.queue.schedule(first, Ev::Nemesis);
            }
        }
        sim.world.queue.schedule(time, Ev::EndLoad);
        sim.world.queue.schedule(TICK_NS, Ev::Tick);
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
            if self.world.queue.next_time().is_some_and(|at| at > limit) {
                bail!("the run did not finish by {:.3} s", secs(limit));
            }
            let Some(event) = self.world.queue.pop() else {
                bail!("the event queue ran dry");
            };
            self.world.stats.steps += 1;
            if let Ev::Tick = event {
                progress(&self.progress());
                self.world.queue.schedule(TICK_NS, Ev::Tick);
            } else {
                self.handle(event)?;
                self.log_new_leaders();
            }
        }
        progress(&self.progress());
        self.summarize();
        Ok(())
    }

    fn progress(&self) -> Progress {
        Progress {
            elapsed: Duration::from_nanos(self.world.queue.now()),
            ops: self.world.stats.ops,
            ok: self.world.stats.ok,
            nemesis: self.fault.as_ref().map(Fault::description),
            phase: self.phase.name(),
        }
    }

    /// A step of the servers, or the violation it found, with the trace.
    fn checked<T>(&self, result: Result<T, FailureReason>) -> Result<T> {
        result.map_err(|reason| {
            let trace: Vec<&str> = self.world.trace.iter().map(String::as_str).collect();
            anyhow!(
                "{reason}\nlast steps of the servers:\n  {}",
                trace.join("\n  ")
            )
        })
    }

    fn handle(&mut self, event: Ev) -> Result<()> {
        let now = Duration::from_nanos(self.world.queue.now());
        match event {
            Ev::Raft { from, to, message } => {
                if !self.world.net.connected(from, to) {
                    self.world.stats.raft_cut += 1;
                    return Ok(());
                }
                let delivered = self.servers.deliver(from, to, message, &mut self.world);
                if !self.checked(delivered)? {
                    self.world.stats.raft_to_dead += 1;
                }
                Ok(())
            }
            Ev::Request {
                slot,
                attempt,
                server,
                request,
            } => self.request(server, (slot, attempt), request),
            Ev::Reply {
                slot,
                attempt,
                server,
                reply,
            } => {
                let effect = self.clients[slot].clerk.replied(reply, Some(attempt), now);
                self.clerk_effect_from(slot, effect, Some(server));
                Ok(())
            }
            Ev::Timer {
                server,
                timer,
                generation,
            } => {
                let fired = self
                    .servers
                    .fire(server, timer, generation, &mut self.world);
                self.checked(fired)
            }
            Ev::ClientStart { slot, generation } => {
                let c = &self.clients[slot];
                if c.generation == generation && c.op.is_none() {
                    self.next_op(slot);
                }
                Ok(())
            }
            Ev::ClientResume { slot, attempt } => {
                let effect = self.clients[slot].clerk.resume(attempt, now);
                self.clerk_effect(slot, effect);
                Ok(())
            }
            Ev::AttemptTimeout { slot, attempt } => {
                let effect = self.clients[slot].clerk.timed_out(attempt, now);
                self.clerk_effect(slot, effect);
                Ok(())
            }
            Ev::Nemesis => self.nemesis(),
            Ev::EndLoad => self.end_load(),
            Ev::Tick => Ok(()),
        }
    }

    // ----- servers: wiring only -----

    /// A clerk's request arrives at a server: the service decides; a
    /// proposal it asks for goes to the core, and the outcome back to it.
    fn request(&mut self, server: usize, from: Addr, request: Request) -> Result<()> {
        if !self.servers.is_up(server) {
            self.world.stats.client_to_dead += 1;
            return Ok(());
        }
        let effects = self
            .servers
            .app_mut(server)
            .service_mut()
            .request(from, request);
        self.serve(server, effects)
    }

    fn serve(&mut self, server: usize, effects: Vec<KvEffect<Addr>>) -> Result<()> {
        let mut effects = VecDeque::from(effects);
        while let Some(effect) = effects.pop_front() {
            match effect {
                KvEffect::Reply { to, reply } => self.world.output(server, (to, reply)),
                KvEffect::Propose { command, reply_to } => {
                    let proposed =
                        self.servers
                            .propose(server, [command.encode()], &mut self.world);
                    let proposal = match self.checked(proposed)? {
                        Some(Ok(p)) => Proposal::Accepted {
                            index: p.index,
                            term: p.term,
                        },
                        Some(Err(not_leader)) => Proposal::NotLeader {
                            leader_hint: not_leader.leader_hint,
                        },
                        // Crashed while it ran the proposal's effects.
                        None => Proposal::Stopped,
                    };
                    if !self.servers.is_up(server) {
                        continue;
                    }
                    let more = self
                        .servers
                        .app_mut(server)
                        .service_mut()
                        .proposed(reply_to, &command, proposal);
                    effects.extend(more);
                }
                KvEffect::Snapshot { index, .. } => {
                    bail!("the service asked for a snapshot through {index} outside applying")
                }
            }
        }
        Ok(())
    }

    /// Logs each leader the history saw elected since the last look.
    fn log_new_leaders(&mut self) {
        let leaders = self.servers.history().leaders();
        if leaders.len() == self.leaders_seen {
            return;
        }
        let new: Vec<(Term, NodeId)> = leaders
            .iter()
            .rev()
            .take(leaders.len() - self.leaders_seen)
            .map(|(&t, &n)| (t, n))
            .collect();
        self.leaders_seen = leaders.len();
        for (term, leader) in new.into_iter().rev() {
            self.world
                .note_log(format!("server {} leads in term {}", leader.0, term.0));
            self.leaders.push(LeaderSeen {
                time: self.world.queue.now(),
                leader: leader.0,
                term: term.0,
            });
        }
    }

    // ----- clients -----

    /// Schedules a client's next operation: at its share of the rate (a
    /// pause uniform in `0..2 × clients / rate`, paced from the previous
    /// start as the threads backend does), or at once without a rate.
    fn schedule_next_op(&mut self, slot: usize) {
        let gap = match self.options.rate {
            Some(rate) => {
                let mean = self.options.clients as f64 / rate;
                let gap = mean * self.world.rng.random_range(0.0..2.0);
                Duration::try_from_secs_f64(gap).map_or(u64::MAX, nanos)
            }
            None => 0,
        };
        let now = self.world.queue.now();
        let c = &mut self.clients[slot];
        c.next_at = c.next_at.saturating_add(gap).max(now);
        c.generation += 1;
        let (at, generation) = (c.next_at, c.generation);
        self.world
            .queue
            .schedule_at(at, Ev::ClientStart { slot, generation });
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
        let deadline = self
            .world
            .queue
            .now()
            .saturating_add(nanos(self.options.op_timeout));
        self.invoke(slot, op, deadline);
    }

    fn invoke(&mut self, slot: usize, op: ClientOp, deadline: u64) {
        let c = &mut self.clients[slot];
        if c.recorded {
            let (name, key, value) = (op.f, op.key.clone(), op.value.clone());
            let process = Process::Client(c.process);
            self.record(process, Kind::Invoke, name, key, value, None);
        }
        let now = Duration::from_nanos(self.world.queue.now());
        let c = &mut self.clients[slot];
        let effect = c
            .clerk
            .invoke(op.op.clone(), now, Some(Duration::from_nanos(deadline)));
        c.op = Some(op);
        self.clerk_effect(slot, Some(effect));
    }

    /// Carries out what a clerk decided.
    fn clerk_effect(&mut self, slot: usize, effect: Option<ClerkEffect>) {
        self.clerk_effect_from(slot, effect, None);
    }

    /// Carries out what a clerk decided on a reply from the server at
    /// position `from` (`None`: on a timeout or a back-off): an output it
    /// accepted is that server's answer.
    fn clerk_effect_from(&mut self, slot: usize, effect: Option<ClerkEffect>, from: Option<usize>) {
        match effect {
            None => {}
            Some(ClerkEffect::Send {
                server,
                attempt,
                request,
                timeout_at,
            }) => {
                self.world.send_client(Ev::Request {
                    slot,
                    attempt,
                    server,
                    request,
                });
                let at = nanos(timeout_at);
                self.world
                    .queue
                    .schedule_at(at, Ev::AttemptTimeout { slot, attempt });
            }
            Some(ClerkEffect::Wait { attempt, until }) => {
                let at = nanos(until);
                self.world
                    .queue
                    .schedule_at(at, Ev::ClientResume { slot, attempt });
            }
            Some(ClerkEffect::Done(result)) => {
                // Only a reply carries an output: a timeout's `Done` is
                // indeterminate and has no server.
                let node = from.filter(|_| result.is_ok()).map(|s| id(s).0);
                self.complete(slot, result, node);
            }
        }
    }

    /// Ends the client's operation and records it, with the id of the
    /// server that answered it (`node`) if one did; an indeterminate one
    /// retires the process (a new process, with a new client id, follows).
    fn complete(&mut self, slot: usize, result: Result<Output, Indeterminate>, node: Option<u64>) {
        let Some(op) = self.clients[slot].op.take() else {
            return;
        };
        if !self.clients[slot].recorded {
            self.probe_done(result.is_ok());
            return;
        }
        let (kind, value, error) = generator::completion(self.options.workload, &op, result);
        if kind == Kind::Info {
            self.generator.indeterminate(op.key.as_deref());
        }
        let process = self.clients[slot].process;
        let (process, key) = (Process::Client(process), op.key);
        self.record(process, kind, op.f, key, value, error).node = node;
        let stats = &mut self.world.stats;
        stats.ops += 1;
        match kind {
            Kind::Ok => stats.ok += 1,
            Kind::Fail => stats.fail += 1,
            Kind::Info | Kind::Invoke => stats.info += 1,
        }
        let clients = self.options.clients as u64;
        let nodes = self.servers.len();
        let c = &mut self.clients[slot];
        if kind == Kind::Info {
            c.process += clients;
            let leader = c.clerk.leader();
            c.clerk = ClerkState::new(c.process + 1, nodes, leader, ClerkConfig::default());
        }
        match self.phase {
            Phase::Load => self.schedule_next_op(slot),
            Phase::FinalReads => {
                c.generation += 1;
                let generation = c.generation;
                self.world
                    .queue
                    .schedule(0, Ev::ClientStart { slot, generation });
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
        (0..self.servers.len())
            .filter_map(|i| {
                self.servers
                    .node(i)
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
        let at = self.world.queue.now().saturating_add(nanos(next));
        let time = nanos(self.options.time);
        // The next event stops the fault just started (if before the
        // clients stop: the heal stops it otherwise), or starts one, only
        // if that one ends before the clients stop.
        let due = match self.fault {
            Some(_) => at < time,
            None => at.saturating_add(nanos(self.options.nemesis_on)) <= time,
        };
        if due {
            self.world.queue.schedule_at(at, Ev::Nemesis);
        }
        Ok(())
    }

    fn start_fault(&mut self, fault: &Fault) {
        let (name, value) = (format!("start-{}", fault.name()), fault.description());
        let value = Json::String(value);
        self.record(Process::Nemesis, Kind::Info, &name, None, value, None);
        self.world
            .note_log(format!("start {}: {}", fault.name(), fault.description()));
        match fault {
            Fault::Partition(grudge) => self.world.net.grudge = Some(grudge.clone()),
            Fault::Kill(nodes) => {
                for &i in nodes {
                    if self.servers.is_up(i) {
                        self.servers.crash(i, &mut self.world);
                        self.world.note_log(format!("server {} killed", id(i).0));
                    }
                }
            }
            Fault::Unreliable => self.world.net.unreliable = true,
            Fault::Reorder => self.world.net.reorder = true,
            Fault::Pause(_) => {
                unreachable!("RunOptions::validate refuses pause outside the process backend")
            }
        }
    }

    fn stop_fault(&mut self, fault: &Fault) -> Result<()> {
        match fault {
            Fault::Partition(_) => self.world.net.grudge = None,
            Fault::Kill(nodes) => {
                for &i in nodes {
                    self.restart(i)?;
                }
            }
            Fault::Unreliable => self.world.net.unreliable = false,
            Fault::Reorder => self.world.net.reorder = false,
            Fault::Pause(_) => {
                unreachable!("RunOptions::validate refuses pause outside the process backend")
            }
        }
        let name = format!("stop-{}", fault.name());
        self.record(Process::Nemesis, Kind::Info, &name, None, Json::Null, None);
        self.world.note_log(format!("stop {}", fault.name()));
        Ok(())
    }

    fn restart(&mut self, server: usize) -> Result<()> {
        if server >= self.servers.len() || self.servers.is_up(server) {
            return Ok(());
        }
        let stored = self.servers.stored(server);
        let line = format!(
            "server {} restarts from its storage (term {}, snapshot through {}, log through {})",
            id(server).0,
            stored.hard_state.current_term.0,
            stored.snapshot_meta().last_included_index.0,
            stored.last_index().0
        );
        self.world.note_log(line);
        let started = self.servers.start(server, &mut self.world);
        self.checked(started)
    }

    /// The load ends: the fault stops, everything heals, and a probe (not
    /// recorded) waits for a write to commit before the final reads.
    fn end_load(&mut self) -> Result<()> {
        self.phase = Phase::Heal;
        if let Some(fault) = self.fault.take() {
            self.stop_fault(&fault)?;
        }
        self.world.net = Net::default();
        for server in 0..self.servers.len() {
            self.restart(server)?;
        }
        self.world
            .note_log("healed: every link up, reliable network, every server up".into());
        self.healed_at = self.world.queue.now();
        let probe = ClientOp {
            f: "write",
            key: Some(PROBE_KEY.into()),
            value: Json::Null,
            op: Op::Put {
                key: PROBE_KEY.into(),
                value: "1".into(),
            },
        };
        let deadline = self
            .world
            .queue
            .now()
            .saturating_add(nanos(self.options.recovery));
        self.invoke(self.options.clients, probe, deadline);
        Ok(())
    }

    fn probe_done(&mut self, recovered: bool) {
        let after = secs(self.world.queue.now() - self.healed_at);
        self.world.note_log(if recovered {
            format!("recovered: a write committed {after:.3} s after the heal")
        } else {
            format!("not recovered {after:.3} s after the heal; reading anyway")
        });
        self.phase = Phase::FinalReads;
        let reads = self.generator.final_reads();
        self.world
            .note_log(format!("final reads of {} keys", reads.len()));
        let clients = self.options.clients;
        for (k, op) in reads.into_iter().enumerate() {
            self.clients[k % clients].final_reads.push_back(op);
        }
        for slot in 0..clients {
            let c = &mut self.clients[slot];
            if c.op.is_none() {
                c.generation += 1;
                let generation = c.generation;
                self.world
                    .queue
                    .schedule(0, Ev::ClientStart { slot, generation });
            }
        }
        self.maybe_done();
    }

    fn summarize(&mut self) {
        let s = &self.world.stats;
        let servers = self.servers.stats();
        let highest = (0..self.servers.len())
            .map(|i| self.servers.app(i).service().applied_index().0)
            .max()
            .unwrap_or(0);
        let leaders = self.servers.history().leaders();
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
                leaders.len(),
                leaders.keys().next_back().map_or(0, |t| t.0),
                servers.crashes,
                servers.restarts,
                servers.snapshots_taken,
                servers.snapshots_installed,
                s.steps
            ),
        ];
        let mut lines = lines.to_vec();
        if self.options.storage == Storage::Disk {
            lines.push(format!(
                "on disk: every restart reopened its write-ahead log and found exactly what was acknowledged; {} restarts cut a torn or unsynced tail",
                servers.disk_repairs
            ));
        }
        for line in lines {
            self.world.note_log(line);
        }
    }

    // ----- plumbing -----

    /// Appends an event (without a server: the caller sets the `node`
    /// of a completion a server answered) and returns it.
    fn record(
        &mut self,
        process: Process,
        kind: Kind,
        f: &str,
        key: Option<String>,
        value: Json,
        error: Option<String>,
    ) -> &mut Event {
        // Times strictly increase in the order things happened (see
        // `event::next_time`).
        let now = self.world.queue.now();
        let time = event::next_time(self.events.last().map(|e| e.time), now);
        self.events.push(Event {
            index: self.events.len() as u64,
            process,
            kind,
            f: f.to_string(),
            key,
            value,
            time,
            error,
            node: None,
        });
        let last = self.events.len() - 1;
        &mut self.events[last]
    }
}

/// Whether the run's servers serve local reads (`--bug local-reads`),
/// which needs a `bug-catalogue` build.
fn break_service(options: &RunOptions) -> Result<bool> {
    match options.bug {
        None => Ok(false),
        #[cfg(feature = "bug-catalogue")]
        Some(crate::harness::ServiceBug::LocalReads) => Ok(true),
        #[cfg(not(feature = "bug-catalogue"))]
        Some(bug) => bail!(
            "--bug {bug:?} needs a build with the bug-catalogue feature \
             (cargo run -p jepsen-lite --features bug-catalogue ...)"
        ),
    }
}

impl Net {
    /// Whether a partition lets `a` and `b` (positions) talk now.
    fn connected(&self, a: usize, b: usize) -> bool {
        self.grudge.as_ref().is_none_or(|g| g.connected(a, b))
    }
}

impl World {
    /// The messages' faults now, in the library simulator's message model.
    fn faults(&self) -> MessageFaults {
        MessageFaults {
            loss: if self.net.unreliable {
                UNRELIABLE_LOSS
            } else {
                0.0
            },
            jitter: if self.net.unreliable {
                UNRELIABLE_EXTRA_NS
            } else {
                0
            },
            long_delay: if self.net.reorder { REORDER_SHARE } else { 0.0 },
            long: REORDER_NS,
            ..MessageFaults::reliable(DELAY_NS)
        }
    }

    /// How long a message takes, or `None` if it is lost.
    fn flight(&mut self) -> Option<u64> {
        let faults = self.faults();
        match fate(&mut self.rng, &faults) {
            Fate::Lost => None,
            Fate::Delivered(delays) => delays.first().copied(),
        }
    }

    /// A request or reply between a clerk and a server: never cut by a
    /// partition, but lost and delayed like any message.
    fn send_client(&mut self, event: Ev) {
        self.stats.client_sent += 1;
        match self.flight() {
            Some(delay) => self.queue.schedule(delay, event),
            None => self.stats.client_lost += 1,
        }
    }

    fn note_log(&mut self, line: String) {
        let line = format!("{:>9.3} s  {line}", secs(self.queue.now()));
        self.log.push(line);
    }
}

impl Driver<(Addr, Reply)> for World {
    fn send(&mut self, from: usize, to: usize, message: Message) {
        self.stats.raft_sent += 1;
        if !self.net.connected(from, to) {
            self.stats.raft_cut += 1;
            return;
        }
        match self.flight() {
            Some(delay) => self.queue.schedule(delay, Ev::Raft { from, to, message }),
            None => self.stats.raft_lost += 1,
        }
    }

    fn arm(&mut self, server: usize, timer: Timer, generation: u64) {
        let after = match timer {
            Timer::Election => {
                let (min, max) = self.election;
                match max > min {
                    true => self.rng.random_range(min..max),
                    false => min,
                }
            }
            Timer::Heartbeat => self.heartbeat,
            // Only with `--storage disk`.
            Timer::Write => self.rng.random_range(WRITE_NS.0..WRITE_NS.1),
        };
        let event = Ev::Timer {
            server,
            timer,
            generation,
        };
        self.queue.schedule(after, event);
    }

    /// With `--storage disk`: a killed server's disk keeps what a random
    /// crash mode keeps of what it had not synced.
    fn reboot(&mut self, _server: usize) -> (CrashMode, u64) {
        let mode = CrashMode::ALL[self.rng.random_range(0..CrashMode::ALL.len())];
        (mode, self.rng.random())
    }

    /// A service's reply goes back to the clerk's slot, tagged with the
    /// attempt it answers.
    fn output(&mut self, server: usize, ((slot, attempt), reply): (Addr, Reply)) {
        self.send_client(Ev::Reply {
            slot,
            attempt,
            server,
            reply,
        });
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        let line = format!("{:>9.3} s  {}", secs(self.queue.now()), line());
        self.trace.push_back(line);
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
            Workload::ListAppend => {
                let txns = crate::elle::parse_jsonl(&text).unwrap();
                let report = crate::elle::check(&txns, &Default::default()).unwrap();
                if report.valid {
                    Verdict::Linearizable
                } else {
                    Verdict::NotLinearizable
                }
            }
        }
    }

    fn count(run: &BackendRun, kind: Kind) -> usize {
        run.events
            .iter()
            .filter(|e| e.is_client() && e.kind == kind)
            .count()
    }

    /// The per-step check the simulator relies on (`check_after_step`)
    /// judges every step of key/value runs under every fault as the full
    /// `check_invariants` does, and leaves the same history.
    #[test]
    fn the_narrowed_check_agrees_with_the_full_check() {
        for seed in 0..6 {
            let options = RunOptions {
                workload: [Workload::Register, Workload::Kv, Workload::Append][seed as usize % 3],
                ..options(seed, &NemesisKind::ALL, 20)
            };
            let mut sim = Sim::new(&options).unwrap();
            sim.servers.audit_narrowed_checks();
            if let Err(e) = sim.run(&mut |_| {}) {
                panic!("seed {seed}: {e:#}");
            }
        }
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
        // And list-append transactions, judged by the Elle-style checker.
        for seed in 0..3 {
            let options = RunOptions {
                workload: Workload::ListAppend,
                ..options(seed, &NemesisKind::ALL, 5)
            };
            let run = run_quietly(&options);
            assert!(count(&run, Kind::Ok) > 300, "list-append seed {seed}");
            assert_eq!(
                verdict(&options, &run),
                Verdict::Linearizable,
                "list-append seed {seed}"
            );
        }
    }

    #[test]
    fn kills_on_simulated_disks_are_valid() {
        // Each server on the real write-ahead log on a simulated disk;
        // each kill reboots the disk to a random crash mode.
        for seed in 0..2 {
            let options = RunOptions {
                workload: Workload::Kv,
                storage: Storage::Disk,
                ..options(seed, &[NemesisKind::Kill], 10)
            };
            let run = run_quietly(&options);
            let mentions = |what: &str| run.log.iter().filter(|l| l.contains(what)).count();
            assert!(mentions("killed") > 0 && mentions("restarts from its storage") > 0);
            assert_eq!(mentions("found exactly what was acknowledged"), 1);
            assert_eq!(
                verdict(&options, &run),
                Verdict::Linearizable,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn kills_restart_servers_and_snapshots_travel() {
        let options = options(1, &[NemesisKind::Kill], 20);
        let run = run_quietly(&options);
        let mentions = |what: &str| run.log.iter().filter(|l| l.contains(what)).count();
        assert!(mentions("killed") > 0 && mentions("restarts from its storage") > 0);
        // The summary: "... N snapshots taken, M installed; ..."
        let installed = run
            .log
            .iter()
            .find_map(|l| l.split(" snapshots taken, ").nth(1))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok());
        assert!(installed > Some(0), "{:#?}", run.log);
        assert_eq!(verdict(&options, &run), Verdict::Linearizable);
    }

    #[cfg(feature = "bug-catalogue")]
    #[test]
    fn local_reads_are_caught() {
        let found = (0..5).any(|seed| {
            let options = RunOptions {
                bug: Some(crate::harness::ServiceBug::LocalReads),
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
