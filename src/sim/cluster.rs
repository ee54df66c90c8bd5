//! `simulate`'s simulation: the digest application on [`Servers`], a
//! random nemesis (crashes, restarts, partitions), a lossy duplicating
//! network, client proposals, and a liveness check once chaos ends.

use crate::consensus::{Config, Entry, LogIndex, Message, Node, NodeId, Proposed};
use crate::invariants::History;
use crate::sim::acknowledged::Acknowledgements;
use crate::sim::app::{App, DigestApp};
use crate::sim::network::{Delays, Fate, Faults, MessageFaults, Partition, fate};
use crate::sim::queue::EventQueue;
use crate::sim::servers::{Driver, FailureReason, ServerStats, Servers, Step, Timer};
use crate::storage::{CrashMode, DiskOptions};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::fmt;

/// Servers on disks: the real write-ahead log on simulated disks that
/// crash ([`crate::sim::disk`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DiskConfig {
    /// The logs' settings (small segments rotate and get deleted often).
    pub options: DiskOptions,
    /// Stop the machine of server `.0` at its file-system operation `.1`
    /// (counted from 1 over the run): one crash point.
    pub crash_at: Option<(usize, u64)>,
    /// Check at each start that the reopened log holds exactly the
    /// acknowledged state (or it and the batch in flight). Turned off only
    /// to show that the cluster's own checks (the Raft properties, no
    /// acknowledged write lost) catch a log that loses writes by
    /// themselves.
    pub check_recovery: bool,
}

impl DiskConfig {
    /// Disks with `options`, no planned crash point, recovery checked.
    pub fn new(options: DiskOptions) -> DiskConfig {
        DiskConfig {
            options,
            crash_at: None,
            check_recovery: true,
        }
    }
}

/// Everything that shapes one simulated run. Same config, same run.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Cluster size.
    pub servers: usize,
    /// Faults injected while chaos lasts.
    pub faults: Faults,
    /// Message delays.
    pub delays: Delays,
    /// Virtual milliseconds of chaos before the network heals.
    pub chaos_ms: u64,
    /// After healing, how long a leader and a fresh commit on every server
    /// may take before the run fails for lack of liveness.
    pub settle_ms: u64,
    /// Election timeouts are drawn from `min..max` milliseconds.
    pub election_timeout_ms: (u64, u64),
    /// Leaders send heartbeats this often.
    pub heartbeat_ms: u64,
    /// Clients propose a command every `1..=propose_every_ms` ms on average.
    pub propose_every_ms: u64,
    /// The nemesis acts every `1..=nemesis_every_ms` ms.
    pub nemesis_every_ms: u64,
    /// Each server's application snapshots once it has applied this many
    /// entries past its last snapshot (`None`: never).
    pub snapshot_every: Option<u64>,
    /// Most entries per AppendEntries.
    pub max_entries_per_message: usize,
    /// Clients' commands are padded to this many bytes (0: a few), so
    /// that writes span disk sectors and can tear.
    pub command_bytes: usize,
    /// Also judge every step with the full `check_invariants` and fail if
    /// the narrowed per-step check ever disagrees
    /// ([`Servers::audit_narrowed_checks`]; for tests, it costs a full
    /// check per step).
    pub audit_checks: bool,
    /// With `Some((min, max))`, every server's writes complete in events
    /// of their own, `min..max` ms after the first of them is made, as on
    /// a disk ([`Servers::write_asynchronously`]); `None`: durable within
    /// the step that makes them.
    pub write_ms: Option<(u64, u64)>,
    /// With `Some`, every server keeps its state in the real
    /// [`crate::storage::DiskStorage`] on a simulated disk; every crash
    /// reboots the disk to what a random [`CrashMode`] keeps of what was
    /// not synced. `None`: storage is the acknowledged state itself.
    pub disk: Option<DiskConfig>,
    /// The catalogue bug every server reintroduces (mutation testing).
    #[cfg(feature = "bug-catalogue")]
    pub bug: Option<crate::bugs::Bug>,
}

impl SimConfig {
    /// A run of `servers` servers under every fault, with snapshots.
    pub fn new(seed: u64, servers: usize) -> SimConfig {
        SimConfig {
            seed,
            servers,
            faults: Faults::all(),
            delays: Delays {
                normal_ms: 10,
                long_ms: 300,
            },
            chaos_ms: 4_000,
            settle_ms: 10_000,
            election_timeout_ms: (150, 300),
            heartbeat_ms: 50,
            propose_every_ms: 40,
            nemesis_every_ms: 200,
            snapshot_every: Some(8),
            max_entries_per_message: 8,
            audit_checks: false,
            write_ms: None,
            command_bytes: 0,
            disk: None,
            #[cfg(feature = "bug-catalogue")]
            bug: None,
        }
    }
}

/// Counts of what happened in a run, to show that it was not vacuous.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events processed (each followed by a check of every property).
    pub steps: u64,
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages lost, or dropped by a partition or a crashed receiver.
    pub dropped: u64,
    /// Messages delivered twice.
    pub duplicated: u64,
    /// What the servers did: proposals, crashes, restarts, snapshots.
    pub servers: ServerStats,
    /// Partitions the nemesis created.
    pub partitions: u64,
}

impl Stats {
    /// Adds another run's counts to these.
    pub fn add(&mut self, other: &Stats) {
        self.steps += other.steps;
        self.sent += other.sent;
        self.dropped += other.dropped;
        self.duplicated += other.duplicated;
        self.servers.add(&other.servers);
        self.partitions += other.partitions;
    }
}

/// What a completed run showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Counts of what happened.
    pub stats: Stats,
    /// Terms in which a leader was elected.
    pub elections: usize,
    /// Highest index committed.
    pub committed: LogIndex,
    /// Virtual milliseconds from healing to the fresh commit on every server.
    pub recovery_ms: u64,
    /// Writes clients saw acknowledged (each found in every server's
    /// final state).
    pub acknowledged: usize,
    /// With disks: each server's file-system operations (crash points)
    /// during chaos.
    pub chaos_disk_operations: Vec<u64>,
}

/// Why a run failed, with the last events before it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed that reproduces it.
    pub seed: u64,
    /// Virtual time of the failure.
    pub time_ms: u64,
    /// What went wrong.
    pub reason: FailureReason,
    /// The last events, oldest first.
    pub trace: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} failed at {} ms: {}",
            self.seed, self.time_ms, self.reason
        )?;
        writeln!(f, "last events:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: usize,
        to: usize,
        message: Message,
    },
    Timer {
        server: usize,
        timer: Timer,
        generation: u64,
    },
    Propose,
    Nemesis,
}

/// Everything around the servers: the clock and its events, the network,
/// randomness, and the trace. The servers' [`Driver`].
struct World {
    config: SimConfig,
    rng: StdRng,
    queue: EventQueue<Event>,
    partition: Partition,
    chaos: bool,
    stats: Stats,
    trace: VecDeque<String>,
    /// The liveness phase's latest command, and the indices at which any of
    /// its commands were applied.
    fresh: Option<(Bytes, Vec<LogIndex>)>,
    /// What clients were told: no acknowledged write may be lost.
    acknowledgements: Acknowledgements,
}

/// A whole cluster of cores under a seeded scheduler. Drive it with
/// [`Simulation::run`], or step by step with [`Simulation::step`] and the
/// fault controls.
pub struct Simulation {
    servers: Servers<DigestApp>,
    world: World,
    next_command: u64,
}

const TRACE_LINES: usize = 40;

impl Simulation {
    /// Starts every server with empty storage; chaos is on.
    pub fn new(config: SimConfig) -> Result<Simulation, Failure> {
        let core = Config {
            max_entries_per_message: config.max_entries_per_message,
            #[cfg(feature = "bug-catalogue")]
            bug: config.bug,
            ..Config::new(NodeId(0), Vec::new())
        };
        let snapshot_every = config.snapshot_every;
        let mut sim = Simulation {
            servers: Servers::new(config.servers, core, move |_| {
                DigestApp::new(snapshot_every)
            }),
            world: World {
                rng: StdRng::seed_from_u64(config.seed),
                queue: EventQueue::new(),
                partition: Partition::healed(config.servers),
                chaos: true,
                stats: Stats::default(),
                trace: VecDeque::new(),
                fresh: None,
                acknowledgements: Acknowledgements::new(),
                config,
            },
            next_command: 0,
        };
        if sim.world.config.audit_checks {
            sim.servers.audit_narrowed_checks();
        }
        if sim.world.config.write_ms.is_some() {
            sim.servers.write_asynchronously();
        }
        if let Some(disk) = sim.world.config.disk.clone() {
            sim.servers.use_disks(disk.options, disk.check_recovery);
            if let Some((server, at)) = disk.crash_at {
                sim.servers.disk_crash_at(server, at);
            }
        }
        for server in 0..sim.servers.len() {
            sim.servers
                .start(server, &mut sim.world)
                .map_err(|r| sim.failure(r))?;
        }
        let world = &mut sim.world;
        let propose_at = world.rng.random_range(1..=world.config.propose_every_ms);
        world.queue.schedule(propose_at, Event::Propose);
        let nemesis_at = world.rng.random_range(1..=world.config.nemesis_every_ms);
        world.queue.schedule(nemesis_at, Event::Nemesis);
        Ok(sim)
    }

    /// Runs chaos for `chaos_ms`, heals everything, and checks that a leader
    /// is elected and a fresh proposal commits on every server within
    /// `settle_ms`. Every property is checked after every step.
    pub fn run(mut self) -> Result<Report, Failure> {
        let chaos_until = self.world.config.chaos_ms;
        self.run_until(chaos_until)?;
        let chaos_disk_operations = (0..self.servers.len())
            .map(|s| self.servers.disk_operations(s))
            .collect();
        self.heal().map_err(|r| self.failure(r))?;
        let healed_at = self.now();
        let recovered_at = self.await_fresh_commit().map_err(|r| self.failure(r))?;
        self.await_acknowledged_applied()
            .map_err(|r| self.failure(r))?;
        let apps: Vec<&App> = (0..self.servers.len())
            .map(|s| &self.servers.app(s).app)
            .collect();
        let judged = self.world.acknowledgements.check(&apps);
        judged.map_err(|r| self.failure(r))?;
        Ok(Report {
            stats: self.stats(),
            elections: self.history().leaders().len(),
            committed: self.history().max_committed(),
            recovery_ms: recovered_at - healed_at,
            acknowledged: self.world.acknowledgements.len(),
            chaos_disk_operations,
        })
    }

    /// Runs on (no new proposals) until every server has applied through
    /// the last acknowledged write: a retried fresh command may have been
    /// acknowledged by its leader just as the first one was applied
    /// everywhere.
    fn await_acknowledged_applied(&mut self) -> Step {
        let Some(last) = self.world.acknowledgements.last() else {
            return Ok(());
        };
        let deadline = self.now() + self.world.config.settle_ms;
        while (0..self.servers.len()).any(|s| self.servers.app(s).app.applied_index < last)
            && self.now() <= deadline
        {
            let Some(event) = self.world.queue.pop() else {
                break;
            };
            self.world.stats.steps += 1;
            self.handle(event)?;
        }
        Ok(())
    }

    /// Processes events until virtual time `until` (or the queue empties).
    pub fn run_until(&mut self, until: u64) -> Result<(), Failure> {
        while self.world.queue.next_time().is_some_and(|at| at <= until) {
            self.step()?;
        }
        self.world.queue.advance_to(until);
        Ok(())
    }

    /// Processes the next event (every property is checked after it).
    /// Returns false when no event is left.
    pub fn step(&mut self) -> Result<bool, Failure> {
        let Some(event) = self.world.queue.pop() else {
            return Ok(false);
        };
        self.world.stats.steps += 1;
        self.handle(event).map_err(|r| self.failure(r))?;
        Ok(true)
    }

    /// Ends chaos: heals the partition, stops faults and the nemesis, and
    /// restarts every crashed server.
    pub fn heal(&mut self) -> Step {
        let world = &mut self.world;
        world.chaos = false;
        world.partition = Partition::healed(self.servers.len());
        world.note(|| "heal: partition healed, faults off, crashed servers restart".into());
        for server in 0..self.servers.len() {
            self.servers.start(server, &mut self.world)?;
        }
        Ok(())
    }

    /// The live servers' cores.
    pub fn nodes(&self) -> Vec<&Node> {
        self.servers.nodes()
    }

    /// The history of the run so far.
    pub fn history(&self) -> &History {
        self.servers.history()
    }

    /// Counts so far.
    pub fn stats(&self) -> Stats {
        Stats {
            servers: self.servers.stats().clone(),
            ..self.world.stats.clone()
        }
    }

    /// Virtual time now, in milliseconds.
    pub fn now(&self) -> u64 {
        self.world.queue.now()
    }

    // ----- liveness -----

    /// After healing, a client writes a fresh command through whichever
    /// server leads, and the run waits until every server has applied it.
    /// Like a real client, it proposes a new command when its leader loses
    /// office or after `CLIENT_TIMEOUT_MS` without the write applied
    /// everywhere: a command committed in an old term is only applied
    /// everywhere once an entry of the new leader's term commits (§5.4.2).
    /// Returns the time a fresh command was applied on every server.
    fn await_fresh_commit(&mut self) -> Step<u64> {
        const CLIENT_TIMEOUT_MS: u64 = 1_000;
        let deadline = self.now() + self.world.config.settle_ms;
        let mut attempt = 0;
        let mut proposed: Option<(usize, Proposed, u64)> = None;
        self.world.fresh = Some((Bytes::new(), Vec::new()));
        while self.now() <= deadline {
            let min_applied = (0..self.servers.len())
                .map(|s| self.servers.app(s).app.applied_index)
                .min();
            if self
                .world
                .fresh_indices()
                .iter()
                .any(|&i| Some(i) <= min_applied)
            {
                return Ok(self.now());
            }
            let retry = proposed.is_none_or(|(server, p, at)| {
                self.now() >= at + CLIENT_TIMEOUT_MS
                    || self
                        .servers
                        .node(server)
                        .is_none_or(|n| n.current_term() != p.term || !n.is_leader())
            });
            if retry {
                attempt += 1;
                let command = Bytes::from(format!("fresh-{attempt}@{}", self.world.config.seed));
                if let Some(fresh) = &mut self.world.fresh {
                    fresh.0 = command.clone();
                }
                let now = self.now();
                proposed = self
                    .propose_to_leader(command)?
                    .map(|(server, p)| (server, p, now));
            }
            let Some(event) = self.world.queue.pop() else {
                break;
            };
            self.world.stats.steps += 1;
            self.handle(event)?;
        }
        let leaders: Vec<NodeId> = self
            .nodes()
            .iter()
            .filter(|n| n.is_leader())
            .map(|n| n.id())
            .collect();
        Err(FailureReason::Liveness(format!(
            "{} ms after healing: leaders {leaders:?}, fresh commands applied at {:?}, servers applied through {:?}",
            self.world.config.settle_ms,
            self.world.fresh_indices(),
            (0..self.servers.len())
                .map(|s| self.servers.app(s).app.applied_index.0)
                .collect::<Vec<_>>()
        )))
    }

    fn propose_to_leader(&mut self, command: Bytes) -> Step<Option<(usize, Proposed)>> {
        let leader =
            (0..self.servers.len()).find(|&s| self.servers.node(s).is_some_and(Node::is_leader));
        let Some(server) = leader else {
            return Ok(None);
        };
        self.propose(server, command)
    }

    // ----- events -----

    fn handle(&mut self, event: Event) -> Step {
        match event {
            Event::Deliver { from, to, message } => {
                if !self.world.partition.connected(from, to)
                    || !self.servers.deliver(from, to, message, &mut self.world)?
                {
                    self.world.stats.dropped += 1;
                }
                Ok(())
            }
            Event::Timer {
                server,
                timer,
                generation,
            } => self
                .servers
                .fire(server, timer, generation, &mut self.world),
            Event::Propose => {
                if self.world.chaos {
                    let server = self.world.rng.random_range(0..self.servers.len());
                    self.next_command += 1;
                    let mut command = format!("c{}", self.next_command).into_bytes();
                    // Padded with the command's own number's last digit.
                    let pad = b'0' + (self.next_command % 10) as u8;
                    command.resize(command.len().max(self.world.config.command_bytes), pad);
                    let command = Bytes::from(command);
                    self.propose(server, command)?;
                    let every = self.world.config.propose_every_ms;
                    let next = self.world.rng.random_range(1..=2 * every);
                    self.world.queue.schedule(next, Event::Propose);
                }
                Ok(())
            }
            Event::Nemesis => {
                if self.world.chaos {
                    self.nemesis()?;
                    let every = self.world.config.nemesis_every_ms;
                    let next = self.world.rng.random_range(1..=every);
                    self.world.queue.schedule(next, Event::Nemesis);
                }
                Ok(())
            }
        }
    }

    fn propose(&mut self, server: usize, command: Bytes) -> Step<Option<(usize, Proposed)>> {
        // Recorded first: a single server applies its proposal at once.
        let next = self
            .servers
            .node(server)
            .map(|n| (n.log().last_index().next(), n.current_term()));
        if let Some((index, term)) = next {
            (self.world.acknowledgements).proposed(server, index, term, command.clone());
        }
        let result = self
            .servers
            .propose(server, [command.clone()], &mut self.world);
        if let Some((index, _)) = next
            && !matches!(result, Ok(Some(Ok(p))) if p.index == index)
        {
            self.world.acknowledgements.withdrawn(server, index);
        }
        match result? {
            None => Ok(None),
            Some(Ok(proposed)) => Ok(Some((server, proposed))),
            // A client follows the hint once, as a real client would.
            Some(Err(not_leader)) => {
                let hint = not_leader
                    .leader_hint
                    .and_then(crate::sim::servers::position)
                    .filter(|&l| l != server && l < self.servers.len());
                match hint {
                    Some(leader) if self.servers.node(leader).is_some_and(Node::is_leader) => {
                        self.propose(leader, command)
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    fn nemesis(&mut self) -> Step {
        let faults = self.world.config.faults.clone();
        let n = self.servers.len();
        let crashed: Vec<usize> = (0..n).filter(|&s| !self.servers.is_up(s)).collect();
        let world = &mut self.world;
        match world.rng.random_range(0..4) {
            0 if faults.crashes => {
                let server = world.rng.random_range(0..n);
                self.servers.crash(server, world);
            }
            1 if !crashed.is_empty() => {
                let server = crashed[world.rng.random_range(0..crashed.len())];
                self.servers.start(server, world)?;
            }
            2 if faults.partitions => {
                world.partition = Partition::random(&mut world.rng, n);
                world.stats.partitions += 1;
                let partition = world.partition.clone();
                world.note(|| format!("nemesis: partition {partition:?}"));
            }
            3 if !world.partition.is_healed() => {
                world.partition = Partition::healed(n);
                world.note(|| "nemesis: partition healed".into());
            }
            _ => {}
        }
        Ok(())
    }

    fn failure(&self, reason: FailureReason) -> Failure {
        Failure {
            seed: self.world.config.seed,
            time_ms: self.now(),
            reason,
            trace: self.world.trace.iter().cloned().collect(),
        }
    }
}

impl World {
    fn fresh_indices(&self) -> &[LogIndex] {
        self.fresh
            .as_ref()
            .map_or(&[], |(_, indices)| indices.as_slice())
    }
}

impl Driver<Entry> for World {
    fn send(&mut self, from: usize, to: usize, message: Message) {
        self.stats.sent += 1;
        let faults = MessageFaults::of(&self.config.faults, self.config.delays, self.chaos);
        match fate(&mut self.rng, &faults) {
            Fate::Lost => self.stats.dropped += 1,
            Fate::Delivered(delays) => {
                self.stats.duplicated += delays.len() as u64 - 1;
                for delay in delays {
                    let event = Event::Deliver {
                        from,
                        to,
                        message: message.clone(),
                    };
                    self.queue.schedule(delay, event);
                }
            }
        }
    }

    fn arm(&mut self, server: usize, timer: Timer, generation: u64) {
        let after = match timer {
            Timer::Election => {
                let (min, max) = self.config.election_timeout_ms;
                self.rng.random_range(min..max)
            }
            Timer::Heartbeat => self.config.heartbeat_ms,
            Timer::Write => {
                let (min, max) = self.config.write_ms.unwrap_or((0, 1));
                self.rng.random_range(min..max)
            }
        };
        let event = Event::Timer {
            server,
            timer,
            generation,
        };
        self.queue.schedule(after, event);
    }

    fn reboot(&mut self, _server: usize) -> (CrashMode, u64) {
        let mode = CrashMode::ALL[self.rng.random_range(0..CrashMode::ALL.len())];
        (mode, self.rng.random())
    }

    fn crash_before_effect(&mut self, _server: usize) -> bool {
        self.chaos
            && self.config.faults.crashes
            && self.rng.random_bool(self.config.faults.crash_mid_step)
    }

    /// The digest application reports every entry it applies: the liveness
    /// phase watches for its fresh command.
    fn output(&mut self, server: usize, entry: Entry) {
        self.acknowledgements.applied(server, &entry);
        if let Some((command, indices)) = &mut self.fresh
            && *command == entry.command
            && !indices.contains(&entry.index)
        {
            indices.push(entry.index);
        }
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        let line = format!("{:>6} ms  {}", self.queue.now(), line());
        self.trace.push_back(line);
    }
}
