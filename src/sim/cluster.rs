//! The simulation: servers, a virtual clock, an event queue and a nemesis.

use crate::consensus::{Config, Effect, Entry, LogIndex, Message, Node, NodeId, NotLeader, Stored};
use crate::invariants::{History, Violation, check_invariants};
use crate::sim::app::App;
use crate::sim::network::{Delays, Fate, Faults, Partition, fate};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

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
    /// Proposals accepted by a leader.
    pub proposals: u64,
    /// Crashes, counting those in the middle of a handler's effects.
    pub crashes: u64,
    /// Crashes that left only a prefix of a handler's effects executed.
    pub crashes_mid_step: u64,
    /// Restarts from stable storage.
    pub restarts: u64,
    /// Snapshots taken by applications.
    pub snapshots_taken: u64,
    /// Snapshots installed from a leader's InstallSnapshot.
    pub snapshots_installed: u64,
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
        self.proposals += other.proposals;
        self.crashes += other.crashes;
        self.crashes_mid_step += other.crashes_mid_step;
        self.restarts += other.restarts;
        self.snapshots_taken += other.snapshots_taken;
        self.snapshots_installed += other.snapshots_installed;
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

/// What went wrong in a failed run.
#[derive(Clone, Debug)]
pub enum FailureReason {
    /// A safety property broke.
    Violation(Violation),
    /// The core refused input that a correct cluster produced.
    Refused(crate::consensus::Error),
    /// A state machine was handed entries out of order, twice, or moved back.
    Apply(String),
    /// No leader, or no fresh commit on every server, in time after healing.
    Liveness(String),
    /// A message the core called stale ([`Node::is_stale`]) did something
    /// when delivered.
    StaleNotInert(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match &self.reason {
            FailureReason::Violation(v) => v.to_string(),
            FailureReason::Refused(e) => format!("core refused: {e}"),
            FailureReason::Apply(s) => format!("apply: {s}"),
            FailureReason::Liveness(s) => format!("liveness: {s}"),
            FailureReason::StaleNotInert(s) => format!("stale message not inert: {s}"),
        };
        writeln!(
            f,
            "seed {} failed at {} ms: {reason}",
            self.seed, self.time_ms
        )?;
        writeln!(f, "last events:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// One simulated server: the core (absent while crashed), what its persist
/// effects stored, its volatile state machine, and timer generations (a
/// timer event fires only if its generation is still current).
#[derive(Clone, Debug)]
struct Server {
    node: Option<Node>,
    stored: Stored,
    app: App,
    election_generation: u64,
    heartbeat_generation: u64,
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: usize,
        to: usize,
        message: Message,
    },
    ElectionTimeout {
        server: usize,
        generation: u64,
    },
    HeartbeatTimeout {
        server: usize,
        generation: u64,
    },
    Propose,
    Nemesis,
}

/// A whole cluster of cores under a seeded scheduler. Drive it with
/// [`Simulation::run`], or step by step with [`Simulation::step`] and the
/// fault controls.
pub struct Simulation {
    config: SimConfig,
    rng: StdRng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    servers: Vec<Server>,
    partition: Partition,
    chaos: bool,
    history: History,
    /// State machine digest after applying through each index.
    digests: BTreeMap<LogIndex, u64>,
    stats: Stats,
    trace: VecDeque<String>,
    next_command: u64,
    /// The liveness phase's latest command, and the indices at which any of
    /// its commands were applied.
    fresh: Option<(Bytes, Vec<LogIndex>)>,
}

const TRACE_LINES: usize = 40;

type Step<T = ()> = Result<T, FailureReason>;

impl Simulation {
    /// Starts every server with empty storage; chaos is on.
    pub fn new(config: SimConfig) -> Result<Simulation, Failure> {
        let servers = (0..config.servers)
            .map(|_| Server {
                node: None,
                stored: Stored::default(),
                app: App::new(),
                election_generation: 0,
                heartbeat_generation: 0,
            })
            .collect();
        let mut sim = Simulation {
            rng: StdRng::seed_from_u64(config.seed),
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            servers,
            partition: Partition::healed(config.servers),
            chaos: true,
            history: History::new(),
            digests: BTreeMap::new(),
            stats: Stats::default(),
            trace: VecDeque::new(),
            next_command: 0,
            fresh: None,
            config,
        };
        for server in 0..sim.servers.len() {
            sim.start(server).map_err(|r| sim.failure(r))?;
        }
        let propose_at = sim.rng.random_range(1..=sim.config.propose_every_ms);
        sim.schedule(propose_at, Event::Propose);
        let nemesis_at = sim.rng.random_range(1..=sim.config.nemesis_every_ms);
        sim.schedule(nemesis_at, Event::Nemesis);
        Ok(sim)
    }

    /// Runs chaos for `chaos_ms`, heals everything, and checks that a leader
    /// is elected and a fresh proposal commits on every server within
    /// `settle_ms`. Every property is checked after every step.
    pub fn run(mut self) -> Result<Report, Failure> {
        let chaos_until = self.config.chaos_ms;
        self.run_until(chaos_until)?;
        self.heal().map_err(|r| self.failure(r))?;
        let healed_at = self.now;
        let recovered_at = self.await_fresh_commit().map_err(|r| self.failure(r))?;
        Ok(Report {
            stats: self.stats.clone(),
            elections: self.history.leaders().len(),
            committed: self.history.max_committed(),
            recovery_ms: recovered_at - healed_at,
        })
    }

    /// Processes events until virtual time `until` (or the queue empties).
    pub fn run_until(&mut self, until: u64) -> Result<(), Failure> {
        while self
            .queue
            .first_key_value()
            .is_some_and(|(&(at, _), _)| at <= until)
        {
            self.step()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Processes the next event, then checks every property. Returns false
    /// when no event is left.
    pub fn step(&mut self) -> Result<bool, Failure> {
        let Some(((at, _), event)) = self.queue.pop_first() else {
            return Ok(false);
        };
        self.now = at;
        self.stats.steps += 1;
        self.handle(event).map_err(|r| self.failure(r))?;
        self.check().map_err(|r| self.failure(r))?;
        Ok(true)
    }

    /// Ends chaos: heals the partition, stops faults and the nemesis, and
    /// restarts every crashed server.
    pub fn heal(&mut self) -> Step {
        self.chaos = false;
        self.partition = Partition::healed(self.servers.len());
        self.note("heal: partition healed, faults off, crashed servers restart".into());
        for server in 0..self.servers.len() {
            if self.servers[server].node.is_none() {
                self.restart(server)?;
            }
        }
        Ok(())
    }

    /// The live servers' cores.
    pub fn nodes(&self) -> Vec<&Node> {
        self.servers
            .iter()
            .filter_map(|s| s.node.as_ref())
            .collect()
    }

    /// The history of the run so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Virtual time now, in milliseconds.
    pub fn now(&self) -> u64 {
        self.now
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
        let deadline = self.now + self.config.settle_ms;
        let mut attempt = 0;
        let mut proposed: Option<(usize, crate::consensus::Proposed, u64)> = None;
        self.fresh = Some((Bytes::new(), Vec::new()));
        while self.now <= deadline {
            let min_applied = self.servers.iter().map(|s| s.app.applied_index).min();
            if self.fresh_indices().iter().any(|&i| Some(i) <= min_applied) {
                return Ok(self.now);
            }
            let retry = proposed.is_none_or(|(server, p, at)| {
                self.now >= at + CLIENT_TIMEOUT_MS
                    || self.servers[server]
                        .node
                        .as_ref()
                        .is_none_or(|n| n.current_term() != p.term || !n.is_leader())
            });
            if retry {
                attempt += 1;
                let command = Bytes::from(format!("fresh-{attempt}@{}", self.config.seed));
                if let Some(fresh) = &mut self.fresh {
                    fresh.0 = command.clone();
                }
                proposed = self
                    .propose_to_leader(command)?
                    .map(|(server, p)| (server, p, self.now));
            }
            let Some(((at, _), event)) = self.queue.pop_first() else {
                break;
            };
            self.now = at;
            self.stats.steps += 1;
            self.handle(event)?;
            self.check()?;
        }
        let leaders: Vec<NodeId> = self
            .nodes()
            .iter()
            .filter(|n| n.is_leader())
            .map(|n| n.id())
            .collect();
        Err(FailureReason::Liveness(format!(
            "{} ms after healing: leaders {leaders:?}, fresh commands applied at {:?}, servers applied through {:?}",
            self.config.settle_ms,
            self.fresh_indices(),
            self.servers
                .iter()
                .map(|s| s.app.applied_index.0)
                .collect::<Vec<_>>()
        )))
    }

    fn fresh_indices(&self) -> &[LogIndex] {
        self.fresh
            .as_ref()
            .map_or(&[], |(_, indices)| indices.as_slice())
    }

    fn propose_to_leader(
        &mut self,
        command: Bytes,
    ) -> Step<Option<(usize, crate::consensus::Proposed)>> {
        let leader = self
            .servers
            .iter()
            .position(|s| s.node.as_ref().is_some_and(Node::is_leader));
        let Some(server) = leader else {
            return Ok(None);
        };
        self.propose(server, command)
    }

    // ----- events -----

    fn handle(&mut self, event: Event) -> Step {
        match event {
            Event::Deliver { from, to, message } => self.deliver(from, to, message),
            Event::ElectionTimeout { server, generation } => {
                if self.servers[server].election_generation != generation {
                    return Ok(());
                }
                let Some(node) = self.servers[server].node.as_mut() else {
                    return Ok(());
                };
                let effects = node.handle_election_timeout();
                self.note(format!("{} election timeout", id(server)));
                self.execute(server, effects)
            }
            Event::HeartbeatTimeout { server, generation } => {
                if self.servers[server].heartbeat_generation != generation {
                    return Ok(());
                }
                let Some(node) = self.servers[server].node.as_mut() else {
                    return Ok(());
                };
                let effects = node.handle_heartbeat_timeout();
                self.execute(server, effects)
            }
            Event::Propose => {
                if self.chaos {
                    let server = self.rng.random_range(0..self.servers.len());
                    self.next_command += 1;
                    let command = Bytes::from(format!("c{}", self.next_command));
                    self.propose(server, command)?;
                    let next = self.rng.random_range(1..=2 * self.config.propose_every_ms);
                    self.schedule(next, Event::Propose);
                }
                Ok(())
            }
            Event::Nemesis => {
                if self.chaos {
                    self.nemesis()?;
                    let next = self.rng.random_range(1..=self.config.nemesis_every_ms);
                    self.schedule(next, Event::Nemesis);
                }
                Ok(())
            }
        }
    }

    fn deliver(&mut self, from: usize, to: usize, message: Message) -> Step {
        if !self.partition.connected(from, to) || self.servers[to].node.is_none() {
            self.stats.dropped += 1;
            return Ok(());
        }
        self.note(format!(
            "{} -> {}: {}",
            id(from),
            id(to),
            describe(&message)
        ));
        let node = self.servers[to].node.as_mut().expect("checked live above");
        // Every delivery of a message the core calls stale checks the claim
        // the model checker's reduction rests on: it changes nothing.
        let stale = node
            .is_stale(id(from), &message)
            .then(|| (node.clone(), message.clone()));
        let effects = node
            .step(id(from), message)
            .map_err(FailureReason::Refused)?;
        if let Some((before, message)) = stale
            && (!effects.is_empty() || *node != before)
        {
            return Err(FailureReason::StaleNotInert(format!(
                "{} -> {}: {} gave {effects:?}",
                id(from),
                id(to),
                describe(&message)
            )));
        }
        self.execute(to, effects)
    }

    fn propose(
        &mut self,
        server: usize,
        command: Bytes,
    ) -> Step<Option<(usize, crate::consensus::Proposed)>> {
        let Some(node) = self.servers[server].node.as_mut() else {
            return Ok(None);
        };
        match node.propose([command.clone()]) {
            Ok((proposed, effects)) => {
                self.stats.proposals += 1;
                self.note(format!(
                    "{} accepts proposal at {}",
                    id(server),
                    proposed.index
                ));
                self.execute(server, effects)?;
                Ok(Some((server, proposed)))
            }
            // A client follows the hint once, as a real client would.
            Err(NotLeader {
                leader_hint: Some(leader),
            }) => match index_of(leader).filter(|&l| l != server && l < self.servers.len()) {
                Some(leader)
                    if self.servers[leader]
                        .node
                        .as_ref()
                        .is_some_and(Node::is_leader) =>
                {
                    self.propose(leader, command)
                }
                _ => Ok(None),
            },
            Err(NotLeader { leader_hint: None }) => Ok(None),
        }
    }

    fn nemesis(&mut self) -> Step {
        let faults = self.config.faults.clone();
        let crashed: Vec<usize> = (0..self.servers.len())
            .filter(|&s| self.servers[s].node.is_none())
            .collect();
        match self.rng.random_range(0..4) {
            0 if faults.crashes => {
                let server = self.rng.random_range(0..self.servers.len());
                if self.servers[server].node.is_some() {
                    self.crash(server);
                }
            }
            1 if !crashed.is_empty() => {
                let server = crashed[self.rng.random_range(0..crashed.len())];
                self.restart(server)?;
            }
            2 if faults.partitions => {
                self.partition = Partition::random(&mut self.rng, self.servers.len());
                self.stats.partitions += 1;
                self.note(format!("nemesis: partition {:?}", self.partition));
            }
            3 if !self.partition.is_healed() => {
                self.partition = Partition::healed(self.servers.len());
                self.note("nemesis: partition healed".into());
            }
            _ => {}
        }
        Ok(())
    }

    // ----- servers -----

    /// Starts (or restarts) a server from what it stored.
    fn start(&mut self, server: usize) -> Step {
        let config = Config {
            max_entries_per_message: self.config.max_entries_per_message,
            #[cfg(feature = "bug-catalogue")]
            bug: self.config.bug,
            ..Config::new(id(server), (0..self.servers.len()).map(id).collect())
        };
        let (node, effects) =
            Node::restart(config, &self.servers[server].stored).map_err(FailureReason::Refused)?;
        let s = &mut self.servers[server];
        s.node = Some(node);
        s.app = App::new();
        self.note(format!("{} starts from storage", id(server)));
        self.execute(server, effects)
    }

    /// Restarts a crashed server from what it stored.
    fn restart(&mut self, server: usize) -> Step {
        self.stats.restarts += 1;
        self.start(server)
    }

    /// Crashes a server: its core and state machine are gone, its timers
    /// will not fire, only what it stored remains.
    fn crash(&mut self, server: usize) {
        let s = &mut self.servers[server];
        s.node = None;
        s.app = App::new();
        s.election_generation += 1;
        s.heartbeat_generation += 1;
        self.stats.crashes += 1;
        self.note(format!("{} crashes", id(server)));
    }

    /// Carries out a handler's effects in order, as a driver must: storage
    /// first where the order says so. Under chaos the server may crash
    /// before any effect, leaving only a prefix done.
    fn execute(&mut self, server: usize, effects: Vec<Effect>) -> Step {
        for effect in effects {
            let crash_now = self.chaos
                && self.config.faults.crashes
                && self.rng.random_bool(self.config.faults.crash_mid_step);
            if crash_now {
                self.stats.crashes_mid_step += 1;
                self.crash(server);
                return Ok(());
            }
            self.execute_one(server, effect)?;
        }
        self.maybe_snapshot(server)
    }

    fn execute_one(&mut self, server: usize, effect: Effect) -> Step {
        match effect {
            Effect::Persist(op) => self.servers[server]
                .stored
                .apply(&op)
                .map_err(FailureReason::Refused),
            Effect::Send { to, message } => {
                self.send(server, to, message);
                Ok(())
            }
            Effect::ResetElectionTimer => {
                let s = &mut self.servers[server];
                s.election_generation += 1;
                let generation = s.election_generation;
                let (min, max) = self.config.election_timeout_ms;
                let after = self.rng.random_range(min..max);
                self.schedule(after, Event::ElectionTimeout { server, generation });
                Ok(())
            }
            Effect::SetHeartbeatTimer => {
                let s = &mut self.servers[server];
                s.heartbeat_generation += 1;
                let generation = s.heartbeat_generation;
                self.schedule(
                    self.config.heartbeat_ms,
                    Event::HeartbeatTimeout { server, generation },
                );
                Ok(())
            }
            Effect::ApplyEntries(entries) => {
                for entry in &entries {
                    self.apply(server, entry)?;
                }
                Ok(())
            }
            Effect::ApplySnapshot(snapshot) => {
                let app = &mut self.servers[server].app;
                let restarting = app.applied_index == LogIndex(0);
                app.restore(&snapshot).map_err(FailureReason::Apply)?;
                if !restarting {
                    self.stats.snapshots_installed += 1;
                }
                let (index, digest) = (app.applied_index, app.digest);
                self.note(format!("{} applies snapshot through {index}", id(server)));
                self.check_digest(server, index, digest)
            }
        }
    }

    fn apply(&mut self, server: usize, entry: &Entry) -> Step {
        self.history
            .observe_applied(id(server), entry)
            .map_err(FailureReason::Violation)?;
        if let Some((command, indices)) = &mut self.fresh
            && *command == entry.command
            && !indices.contains(&entry.index)
        {
            indices.push(entry.index);
        }
        let app = &mut self.servers[server].app;
        app.apply(entry).map_err(FailureReason::Apply)?;
        let (index, digest) = (app.applied_index, app.digest);
        self.check_digest(server, index, digest)
    }

    /// Two state machines at the same index must hold the same state.
    fn check_digest(&mut self, server: usize, index: LogIndex, digest: u64) -> Step {
        let seen = *self.digests.entry(index).or_insert(digest);
        if seen != digest {
            return Err(FailureReason::Violation(Violation {
                property: crate::invariants::Property::StateMachineSafety,
                detail: format!(
                    "{}'s state at {index} differs from another server's",
                    id(server)
                ),
            }));
        }
        Ok(())
    }

    /// The application snapshots once it has applied `snapshot_every`
    /// entries past its last snapshot.
    fn maybe_snapshot(&mut self, server: usize) -> Step {
        let Some(every) = self.config.snapshot_every else {
            return Ok(());
        };
        let s = &mut self.servers[server];
        let Some(node) = s.node.as_mut() else {
            return Ok(());
        };
        let applied = s.app.applied_index;
        if applied.0 < node.log().snapshot_index().0 + every {
            return Ok(());
        }
        let effects = node
            .compact(applied, s.app.snapshot_data())
            .map_err(FailureReason::Refused)?;
        self.stats.snapshots_taken += 1;
        self.note(format!("{} snapshots through {applied}", id(server)));
        for effect in effects {
            self.execute_one(server, effect)?;
        }
        Ok(())
    }

    fn send(&mut self, from: usize, to: NodeId, message: Message) {
        self.stats.sent += 1;
        let Some(to) = index_of(to).filter(|&t| t < self.servers.len()) else {
            self.stats.dropped += 1;
            return;
        };
        match fate(
            &mut self.rng,
            &self.config.faults,
            self.config.delays,
            self.chaos,
        ) {
            Fate::Lost => self.stats.dropped += 1,
            Fate::Delivered(delays) => {
                self.stats.duplicated += delays.len() as u64 - 1;
                for delay in delays {
                    let event = Event::Deliver {
                        from,
                        to,
                        message: message.clone(),
                    };
                    self.schedule(delay, event);
                }
            }
        }
    }

    // ----- checking -----

    /// Every property, over every live server.
    fn check(&mut self) -> Step {
        let nodes: Vec<&Node> = self
            .servers
            .iter()
            .filter_map(|s| s.node.as_ref())
            .collect();
        check_invariants(&nodes, &mut self.history).map_err(FailureReason::Violation)
    }

    // ----- plumbing -----

    fn schedule(&mut self, after_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + after_ms, self.seq), event);
    }

    fn note(&mut self, line: String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("{:>6} ms  {line}", self.now));
    }

    fn failure(&self, reason: FailureReason) -> Failure {
        Failure {
            seed: self.config.seed,
            time_ms: self.now,
            reason,
            trace: self.trace.iter().cloned().collect(),
        }
    }
}

/// Server position `k` has id `k + 1`.
fn id(server: usize) -> NodeId {
    NodeId(server as u64 + 1)
}

fn index_of(node: NodeId) -> Option<usize> {
    usize::try_from(node.0).ok()?.checked_sub(1)
}

/// A one-line summary of a message for traces.
pub fn describe(message: &Message) -> String {
    match message {
        Message::RequestVote(m) => format!(
            "RequestVote {} last {}@{}",
            m.term, m.last_log_index, m.last_log_term
        ),
        Message::RequestVoteReply(m) => {
            format!("RequestVoteReply {} granted={}", m.term, m.vote_granted)
        }
        Message::AppendEntries(m) => format!(
            "AppendEntries {} prev {}@{} +{} commit {}",
            m.term,
            m.prev_log_index,
            m.prev_log_term,
            m.entries.len(),
            m.leader_commit
        ),
        Message::AppendEntriesReply(m) => {
            format!(
                "AppendEntriesReply {} prev {} {:?}",
                m.term, m.prev_log_index, m.result
            )
        }
        Message::InstallSnapshot(m) => format!(
            "InstallSnapshot {} through {}@{}",
            m.term, m.snapshot.meta.last_included_index, m.snapshot.meta.last_included_term
        ),
        Message::InstallSnapshotReply(m) => {
            format!(
                "InstallSnapshotReply {} through {}",
                m.term, m.last_included_index
            )
        }
    }
}
