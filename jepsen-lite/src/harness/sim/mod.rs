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
//!
//! [`nemesis::draw`]: crate::harness::nemesis::draw

use crate::harness::event::{self, Event, Kind, Process};
use crate::harness::generator::{ClientOp, Generator};
use crate::harness::nemesis::{Fault, Grudge};
use crate::harness::{BackendRun, LeaderSeen, Progress, RunOptions, Storage};
use anyhow::{Result, anyhow, bail};
use checked_raft::kv::{ClerkConfig, ClerkState, ClientId, Reply, Request};
use checked_raft::runtime::RaftConfig;
use checked_raft::sim::kv::KvApp;
use checked_raft::sim::servers::id;
use checked_raft::sim::{
    Driver, EventQueue, FailureReason, Fate, MessageFaults, Servers, Timer, fate,
};
use checked_raft::storage::{CrashMode, DiskOptions};
use checked_raft::{Config, Message, NodeId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::collections::VecDeque;
use std::time::Duration;

mod clients;
mod faults;
mod servers;
#[cfg(test)]
mod tests;

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
