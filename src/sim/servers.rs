//! The simulated servers: the one place where a simulation runs the
//! core's handlers and carries out their effects. Every simulator drives
//! its cluster through [`Servers`] (`simulate`'s [`crate::sim::Simulation`],
//! jepsen-lite's sim backend, tests), generic over the application on top
//! ([`Application`]: the digest [`crate::sim::app::App`], the key/value
//! service of [`crate::sim::kv::KvApp`]).
//!
//! What it does, for each server: keeps the core (absent while crashed),
//! what its persist effects stored (all a crash keeps), its application
//! and its timer generations; executes effects in order (persist, send,
//! arm timers, apply, snapshot), possibly crashing between two of them;
//! restarts a crashed server from its storage alone; checks, on every
//! delivery of a message the core calls stale, that it changes nothing
//! (the claim the model checker's reduction rests on); and after every
//! step checks every property of [`crate::invariants`] (through
//! [`check_after_step`]: [`crate::invariants::check_invariants`] narrowed
//! to the one server that stepped), plus that two applications at the same
//! index hold the same state.
//!
//! What it leaves to its driver ([`Driver`]): the clock, the network
//! (where and when a message arrives, or whether it is lost), timer
//! delays, randomness, and what the application's outputs mean.

use crate::consensus::storage::encoded_entry_size;
use crate::consensus::{
    Config, Effect, LogIndex, Message, Node, NodeId, NotLeader, Persist, Proposed, Stored,
};
use crate::invariants::{
    History, Property, Violation, check_after_step, check_committed_durable, check_durable,
    check_invariants,
};
use crate::sim::disk::{Opened, SimDisk, Written};
pub use crate::sim::driver::{
    AppEffect, Application, Driver, FailureReason, ServerStats, Step, StorageInfo, Timer,
};
use crate::sim::writes::{first_batch_len, waits_for_write};
use crate::storage::DiskOptions;
use bytes::Bytes;
use std::collections::BTreeMap;

/// One simulated server.
#[derive(Debug)]
struct Server<A> {
    node: Option<Node>,
    stored: Stored,
    /// `stored.raft_state_size()`, followed effect by effect.
    raft_state_size: usize,
    app: A,
    election_generation: u64,
    heartbeat_generation: u64,
    started: bool,
    /// True while a start's effects run: a snapshot applied then is the
    /// server's own, not an InstallSnapshot.
    restoring: bool,
    /// With asynchronous writes: the effects waiting for a write, in order
    /// ([`crate::sim::writes`]). Lost in a crash.
    pending: Vec<Effect>,
    write_generation: u64,
    /// With [`Servers::use_disks`]: the disk under `stored`.
    disk: Option<SimDisk>,
}

/// Server position `k` has id `k + 1` (ids 1..=n everywhere: the
/// simulators, the model checker, jepsen-lite).
pub fn id(server: usize) -> NodeId {
    NodeId(server as u64 + 1)
}

/// The position of the server with id `node`.
pub fn position(node: NodeId) -> Option<usize> {
    usize::try_from(node.0).ok()?.checked_sub(1)
}

/// A cluster of simulated servers and the history that judges them.
pub struct Servers<A: Application> {
    servers: Vec<Server<A>>,
    config: Config,
    new_app: Box<dyn Fn(usize) -> A>,
    history: History,
    /// With [`Servers::audit_narrowed_checks`] on: a second history, judged
    /// by the full [`check_invariants`] after every step.
    audit: Option<History>,
    /// The applications' fingerprints at each index.
    fingerprints: BTreeMap<LogIndex, u64>,
    /// A digest of the snapshot data taken or installed at each index.
    snapshots: BTreeMap<LogIndex, u64>,
    stats: ServerStats,
    /// Writes complete in events of their own ([`Timer::Write`]).
    async_writes: bool,
}

impl<A: Application> Servers<A> {
    /// `n` servers, none started, with ids 1..=n. Each core gets `config`
    /// with its own id and the members filled in; `new_app` makes a
    /// server's application when it (re)starts.
    pub fn new(n: usize, config: Config, new_app: impl Fn(usize) -> A + 'static) -> Servers<A> {
        Servers {
            servers: (0..n)
                .map(|k| Server {
                    node: None,
                    stored: Stored::default(),
                    raft_state_size: Stored::default().raft_state_size(),
                    app: new_app(k),
                    election_generation: 0,
                    heartbeat_generation: 0,
                    started: false,
                    restoring: false,
                    pending: Vec::new(),
                    write_generation: 0,
                    disk: None,
                })
                .collect(),
            config,
            new_app: Box::new(new_app),
            history: History::new(),
            audit: None,
            fingerprints: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            stats: ServerStats::default(),
            async_writes: false,
        }
    }

    /// From now on a server's writes complete in events of their own
    /// ([`Timer::Write`], armed through the driver), as on a disk: a
    /// leader's AppendEntries leave before its own write (thesis §10.2.1),
    /// replies and votes wait for theirs, and a crash loses what is not
    /// yet written ([`crate::sim::writes`]).
    pub fn write_asynchronously(&mut self) {
        self.async_writes = true;
    }

    /// From now on every server keeps its state in the real
    /// [`crate::storage::DiskStorage`] on a simulated disk that can crash
    /// ([`crate::sim::disk`]): at a start it reopens the log, which must
    /// hold exactly what its acknowledged writes stored (or that and the
    /// batch in flight at the crash). Call before the first start.
    /// (`check_recovery` off: the reopened log is trusted, to show that
    /// the other checks catch a log that loses writes.)
    pub fn use_disks(&mut self, options: DiskOptions, check_recovery: bool) {
        for s in &mut self.servers {
            s.disk = Some(SimDisk::new(options.clone(), check_recovery));
        }
    }

    /// With disks: stops the machine of `server` at its file-system
    /// operation number `at` (counted over the run), a crash point.
    pub fn disk_crash_at(&mut self, server: usize, at: u64) {
        if let Some(disk) = &mut self.servers[server].disk {
            disk.crash_at(at);
        }
    }

    /// With disks: the file-system operations (crash points) of `server`
    /// so far.
    pub fn disk_operations(&self, server: usize) -> u64 {
        self.servers[server]
            .disk
            .as_ref()
            .map_or(0, SimDisk::operations)
    }

    /// How many servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Whether `server` is up.
    pub fn is_up(&self, server: usize) -> bool {
        self.servers.get(server).is_some_and(|s| s.node.is_some())
    }

    /// The core of `server`, while it is up.
    pub fn node(&self, server: usize) -> Option<&Node> {
        self.servers.get(server)?.node.as_ref()
    }

    /// The live servers' cores.
    pub fn nodes(&self) -> Vec<&Node> {
        self.servers
            .iter()
            .filter_map(|s| s.node.as_ref())
            .collect()
    }

    /// What `server` has in stable storage.
    pub fn stored(&self, server: usize) -> &Stored {
        &self.servers[server].stored
    }

    /// The application of `server`.
    pub fn app(&self, server: usize) -> &A {
        &self.servers[server].app
    }

    /// The application of `server`, to feed it the driver's inputs.
    pub fn app_mut(&mut self, server: usize) -> &mut A {
        &mut self.servers[server].app
    }

    /// The run's history.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Counts so far.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Starts `server` (first start, or restart after a crash) from what
    /// it stored, with a fresh application; nothing if it is up.
    pub fn start(&mut self, server: usize, driver: &mut impl Driver<A::Output>) -> Step {
        if self.is_up(server) {
            return Ok(());
        }
        let config = Config {
            id: id(server),
            members: (0..self.servers.len()).map(id).collect(),
            ..self.config.clone()
        };
        let s = &mut self.servers[server];
        if let Some(disk) = &mut s.disk {
            let opened = disk
                .open(&s.stored)
                .map_err(|e| FailureReason::Storage(format!("{} at its start: {e}", id(server))))?;
            match opened {
                Opened::Recovered { stored, repaired } => {
                    s.raft_state_size = stored.raft_state_size();
                    s.stored = stored;
                    self.stats.disk_repairs += u64::from(repaired);
                }
                Opened::Stopped => {
                    self.stats.disk_crashes += 1;
                    driver
                        .note(|| format!("{} stops at a crash point while recovering", id(server)));
                    let (mode, seed) = driver.reboot(server);
                    disk.crash(mode, seed);
                    return Ok(());
                }
            }
        }
        let (node, effects) = Node::restart(config, &s.stored).map_err(FailureReason::Refused)?;
        if s.started {
            self.stats.restarts += 1;
        }
        s.started = true;
        s.node = Some(node);
        s.app = (self.new_app)(server);
        s.restoring = true;
        driver.note(|| format!("{} starts from storage", id(server)));
        let result = self.execute(server, effects, driver);
        self.servers[server].restoring = false;
        result?;
        self.check(server)
    }

    /// Crashes `server`: its core and application are gone, its timers
    /// will not fire; only what it stored remains.
    pub fn crash(&mut self, server: usize, driver: &mut impl Driver<A::Output>) {
        let new_app = &self.new_app;
        let Some(s) = self.servers.get_mut(server).filter(|s| s.node.is_some()) else {
            return;
        };
        s.node = None;
        s.app = new_app(server);
        s.election_generation += 1;
        s.heartbeat_generation += 1;
        s.write_generation += 1;
        s.pending.clear();
        if let Some(disk) = &mut s.disk {
            let (mode, seed) = driver.reboot(server);
            disk.crash(mode, seed);
        }
        self.stats.crashes += 1;
        driver.note(|| format!("{} crashes", id(server)));
    }

    /// A timer of `server` fires (if `generation` is still its current one
    /// and the server is up).
    pub fn fire(
        &mut self,
        server: usize,
        timer: Timer,
        generation: u64,
        driver: &mut impl Driver<A::Output>,
    ) -> Step {
        let s = &mut self.servers[server];
        let current = match timer {
            Timer::Election => s.election_generation,
            Timer::Heartbeat => s.heartbeat_generation,
            Timer::Write => s.write_generation,
        };
        let Some(node) = s.node.as_mut().filter(|_| current == generation) else {
            return Ok(());
        };
        let effects = match timer {
            Timer::Election => {
                driver.note(|| format!("{} election timeout", id(server)));
                node.handle_election_timeout()
            }
            Timer::Heartbeat => node.handle_heartbeat_timeout(),
            Timer::Write => {
                // The oldest batch is durable; what waited for it goes out.
                let cut = first_batch_len(&s.pending);
                let rest = s.pending.split_off(cut);
                let written = std::mem::replace(&mut s.pending, rest);
                driver.note(|| format!("{} writes {} effect(s)", id(server), written.len()));
                self.execute_with(server, written, false, driver)?;
                let s = &mut self.servers[server];
                if !s.pending.is_empty() && s.node.is_some() {
                    s.write_generation += 1;
                    driver.arm(server, Timer::Write, s.write_generation);
                }
                return self.check(server);
            }
        };
        self.execute(server, effects, driver)?;
        self.check(server)
    }

    /// Delivers `message` from `from` to `to`; returns false (and does
    /// nothing) if `to` is down. A message the core calls stale must
    /// change nothing.
    pub fn deliver(
        &mut self,
        from: usize,
        to: usize,
        message: Message,
        driver: &mut impl Driver<A::Output>,
    ) -> Step<bool> {
        let Some(node) = self.servers.get_mut(to).and_then(|s| s.node.as_mut()) else {
            return Ok(false);
        };
        driver.note(|| format!("{} -> {}: {}", id(from), id(to), describe(&message)));
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
        self.execute(to, effects, driver)?;
        self.check(to)?;
        Ok(true)
    }

    /// Proposes `commands` at `server`: `None` if it is down, else what
    /// the core said (the leader's index and term, or who leads).
    pub fn propose(
        &mut self,
        server: usize,
        commands: impl IntoIterator<Item = Bytes>,
        driver: &mut impl Driver<A::Output>,
    ) -> Step<Option<Result<Proposed, NotLeader>>> {
        let Some(node) = self.servers.get_mut(server).and_then(|s| s.node.as_mut()) else {
            return Ok(None);
        };
        match node.propose(commands) {
            Ok((proposed, effects)) => {
                self.stats.proposals += 1;
                driver.note(|| format!("{} accepts proposal at {}", id(server), proposed.index));
                self.execute(server, effects, driver)?;
                self.check(server)?;
                Ok(Some(Ok(proposed)))
            }
            Err(not_leader) => Ok(Some(Err(not_leader))),
        }
    }

    /// From now on, also judges every step with the full
    /// [`check_invariants`] over a second history, and fails the run with
    /// [`FailureReason::NarrowedCheck`] if the narrowed check
    /// ([`check_after_step`], which every run relies on) ever gives another
    /// verdict or leaves another history. For tests: the narrowing is an
    /// argument (see [`check_after_step`]), and this checks it on real
    /// runs. It costs a full check per step.
    pub fn audit_narrowed_checks(&mut self) {
        self.audit = Some(self.history.clone());
    }

    /// The narrowed check's history, to break it on purpose (the audit's
    /// own test).
    #[cfg(test)]
    pub(crate) fn history_mut(&mut self) -> &mut History {
        &mut self.history
    }

    /// Every property over the live servers, after a step of `server`
    /// (the only one that changed since the last check).
    fn check(&mut self, server: usize) -> Step {
        if let Some(node) = self.servers[server].node.as_ref() {
            check_durable(node, &self.servers[server].stored).map_err(FailureReason::Violation)?;
        }
        let nodes: Vec<&Node> = self
            .servers
            .iter()
            .filter_map(|s| s.node.as_ref())
            .collect();
        let disks: Vec<&Stored> = self.servers.iter().map(|s| &s.stored).collect();
        check_committed_durable(&nodes, &disks).map_err(FailureReason::Violation)?;
        let narrowed = check_after_step(&nodes, id(server), &mut self.history);
        if let Some(audit) = &mut self.audit {
            let full = check_invariants(&nodes, audit);
            let agree = match (&narrowed, &full) {
                (Ok(()), Ok(())) => *audit == self.history,
                (Err(a), Err(b)) => a.property == b.property,
                _ => false,
            };
            if !agree {
                let (ours, theirs) = (verdict(&narrowed), verdict(&full));
                return Err(FailureReason::NarrowedCheck(match ours == theirs {
                    true => format!(
                        "after a step of {}: both {ours}, histories differ",
                        id(server)
                    ),
                    false => format!(
                        "after a step of {}: narrowed {ours}, full {theirs}",
                        id(server)
                    ),
                }));
            }
        }
        narrowed.map_err(FailureReason::Violation)
    }

    /// Carries out a handler's effects in order, as a driver must (storage
    /// first where the order says so); the driver may crash the server
    /// before any of them. Then the application sees the core, and takes
    /// the snapshot it asked for.
    fn execute(
        &mut self,
        server: usize,
        effects: Vec<Effect>,
        driver: &mut impl Driver<A::Output>,
    ) -> Step {
        self.execute_with(server, effects, self.async_writes, driver)
    }

    /// [`Servers::execute`], with `defer` whether writes wait for a
    /// [`Timer::Write`] of their own (off for the write's own event).
    fn execute_with(
        &mut self,
        server: usize,
        effects: Vec<Effect>,
        defer: bool,
        driver: &mut impl Driver<A::Output>,
    ) -> Step {
        let mut snapshot = None;
        // Durability reports reach the core after the rest of the effects
        // (the runtime reports after its round), so that what they decide
        // comes after what was decided before them.
        let mut reports = Vec::new();
        let mut effects = effects.into_iter().peekable();
        while let Some(effect) = effects.next() {
            let s = &mut self.servers[server];
            if defer && s.node.is_some() && waits_for_write(&effect, !s.pending.is_empty()) {
                if s.pending.is_empty() {
                    s.write_generation += 1;
                    driver.arm(server, Timer::Write, s.write_generation);
                }
                s.pending.push(effect);
                continue;
            }
            if driver.crash_before_effect(server) {
                self.stats.crashes_mid_step += 1;
                self.crash(server, driver);
                return Ok(());
            }
            if let Effect::Durable { index, term } = effect {
                reports.push((index, term));
                continue;
            }
            let effect = match effect {
                // On a disk, a handler's consecutive writes are one batch:
                // one write and one fdatasync, as the runtime's group
                // commit makes them.
                Effect::Persist(op) if self.servers[server].disk.is_some() => {
                    let mut batch = vec![op];
                    while let Some(Effect::Persist(_)) = effects.peek() {
                        if let Some(Effect::Persist(op)) = effects.next() {
                            batch.push(op);
                        }
                    }
                    if !self.persist(server, batch, driver)? {
                        return Ok(());
                    }
                    continue;
                }
                effect => effect,
            };
            let app_effects = self.execute_one(server, effect, driver)?;
            if self.servers[server].node.is_none() {
                return Ok(());
            }
            self.carry_out(server, app_effects, &mut snapshot, driver);
        }
        for (index, term) in reports {
            let decided = match self.servers[server].node.as_mut() {
                Some(node) => node.handle_persisted(index, term),
                None => Vec::new(),
            };
            self.execute(server, decided, driver)?;
        }
        let s = &mut self.servers[server];
        let Some(node) = s.node.as_ref() else {
            return Ok(());
        };
        let app_effects = s.app.observe(node);
        self.carry_out(server, app_effects, &mut snapshot, driver);
        match snapshot {
            Some((index, data)) => self.take_snapshot(server, index, data, driver),
            None => Ok(()),
        }
    }

    fn carry_out(
        &mut self,
        server: usize,
        effects: Vec<AppEffect<A::Output>>,
        snapshot: &mut Option<(LogIndex, Bytes)>,
        driver: &mut impl Driver<A::Output>,
    ) {
        for effect in effects {
            match effect {
                AppEffect::Output(output) => driver.output(server, output),
                AppEffect::Snapshot { index, data } => *snapshot = Some((index, data)),
            }
        }
    }

    fn execute_one(
        &mut self,
        server: usize,
        effect: Effect,
        driver: &mut impl Driver<A::Output>,
    ) -> Step<Vec<AppEffect<A::Output>>> {
        let s = &mut self.servers[server];
        match effect {
            Effect::Persist(op) => {
                self.persist(server, vec![op], driver)?;
                Ok(Vec::new())
            }
            // `execute_with` reports these after the other effects.
            Effect::Durable { .. } => Ok(Vec::new()),
            Effect::Send { to, message } => {
                match position(to).filter(|&t| t < self.servers.len()) {
                    Some(to) => driver.send(server, to, message),
                    None => driver.note(|| format!("{} sends to unknown {to}", id(server))),
                }
                Ok(Vec::new())
            }
            Effect::ResetElectionTimer => {
                s.election_generation += 1;
                driver.arm(server, Timer::Election, s.election_generation);
                Ok(Vec::new())
            }
            Effect::SetHeartbeatTimer => {
                s.heartbeat_generation += 1;
                driver.arm(server, Timer::Heartbeat, s.heartbeat_generation);
                Ok(Vec::new())
            }
            Effect::ApplyEntries(entries) => {
                let mut out = Vec::new();
                for entry in &entries {
                    if let Some(audit) = &mut self.audit {
                        // Its verdict is the narrowed history's: compared below.
                        let _ = audit.observe_applied(id(server), entry);
                    }
                    self.history
                        .observe_applied(id(server), entry)
                        .map_err(FailureReason::Violation)?;
                    let s = &mut self.servers[server];
                    let storage = StorageInfo {
                        snapshot_index: s.stored.snapshot_meta().last_included_index,
                        raft_state_size: s.raft_state_size,
                    };
                    let effects = s
                        .app
                        .apply(entry, storage)
                        .map_err(|e| FailureReason::Apply(format!("{}: {e}", id(server))))?;
                    out.extend(effects);
                    self.check_fingerprint(server)?;
                }
                Ok(out)
            }
            Effect::ApplySnapshot(snapshot) => {
                let index = snapshot.meta.last_included_index;
                let effects = s
                    .app
                    .restore(&snapshot)
                    .map_err(|e| FailureReason::Apply(format!("{}: {e}", id(server))))?;
                if !s.restoring {
                    self.stats.snapshots_installed += 1;
                }
                driver.note(|| format!("{} applies snapshot through {index}", id(server)));
                self.check_snapshot(server, index, &snapshot.data)?;
                self.check_fingerprint(server)?;
                self.forget_compacted();
                Ok(effects)
            }
        }
    }

    /// Makes `batch` durable on `server`'s storage: false if its disk's
    /// machine stopped at a crash point in the middle (the server has
    /// crashed, with the batch in flight).
    fn persist(
        &mut self,
        server: usize,
        batch: Vec<Persist>,
        driver: &mut impl Driver<A::Output>,
    ) -> Step<bool> {
        let written = match &mut self.servers[server].disk {
            Some(disk) => disk
                .write(&batch)
                .map_err(|e| FailureReason::Storage(format!("{}: {e}", id(server))))?,
            None => Written::Durable,
        };
        if written == Written::Stopped {
            self.stats.disk_crashes += 1;
            driver.note(|| format!("{} stops at a crash point while writing", id(server)));
            self.crash(server, driver);
            return Ok(false);
        }
        let s = &mut self.servers[server];
        for op in &batch {
            s.stored.apply(op).map_err(FailureReason::Refused)?;
            s.raft_state_size = match op {
                Persist::Append(entries) => {
                    s.raft_state_size + entries.iter().map(encoded_entry_size).sum::<usize>()
                }
                _ => s.stored.raft_state_size(),
            };
        }
        Ok(true)
    }

    /// The application's snapshot through `index`: the core compacts its
    /// log, and the storage follows.
    fn take_snapshot(
        &mut self,
        server: usize,
        index: LogIndex,
        data: Bytes,
        driver: &mut impl Driver<A::Output>,
    ) -> Step {
        self.check_snapshot(server, index, &data)?;
        let Some(node) = self.servers[server].node.as_mut() else {
            return Ok(());
        };
        let effects = node.compact(index, data).map_err(FailureReason::Refused)?;
        self.stats.snapshots_taken += 1;
        driver.note(|| format!("{} snapshots through {index}", id(server)));
        for effect in effects {
            // A compaction only persists the snapshot: with asynchronous
            // writes, after the writes already pending, as the runtime's
            // journal orders it.
            let s = &mut self.servers[server];
            if self.async_writes && waits_for_write(&effect, !s.pending.is_empty()) {
                if s.pending.is_empty() {
                    s.write_generation += 1;
                    driver.arm(server, Timer::Write, s.write_generation);
                }
                s.pending.push(effect);
                continue;
            }
            self.execute_one(server, effect, driver)?;
            if self.servers[server].node.is_none() {
                return Ok(());
            }
        }
        self.forget_compacted();
        Ok(())
    }

    /// Two applications at the same index must hold the same state.
    fn check_fingerprint(&mut self, server: usize) -> Step {
        match self.servers[server].app.fingerprint() {
            Some((index, digest)) => same(&mut self.fingerprints, server, index, digest, "state"),
            None => Ok(()),
        }
    }

    /// Two snapshots through the same index must hold the same bytes.
    fn check_snapshot(&mut self, server: usize, index: LogIndex, data: &[u8]) -> Step {
        same(&mut self.snapshots, server, index, digest(data), "snapshot")
    }

    /// Forgets the history below the oldest snapshot any server keeps: no
    /// server can hold, commit or apply those entries again, and a long
    /// run's checks stay as cheap as a short one's.
    fn forget_compacted(&mut self) {
        let floor = self
            .servers
            .iter()
            .map(|s| s.stored.snapshot_meta().last_included_index)
            .min()
            .unwrap_or_default();
        self.history.forget_before(floor);
        if let Some(audit) = &mut self.audit {
            audit.forget_before(floor);
        }
        self.fingerprints = self.fingerprints.split_off(&floor);
        self.snapshots = self.snapshots.split_off(&floor);
    }
}

/// Records `digest` as `what` at `index`, or checks it against the one
/// recorded: State Machine Safety as the applications see it.
fn same(
    seen: &mut BTreeMap<LogIndex, u64>,
    server: usize,
    index: LogIndex,
    digest: u64,
    what: &str,
) -> Step {
    if *seen.entry(index).or_insert(digest) != digest {
        return Err(FailureReason::Violation(Violation {
            property: Property::StateMachineSafety,
            detail: format!(
                "{}'s {what} at {index} differs from another server's",
                id(server)
            ),
        }));
    }
    Ok(())
}

/// A check's verdict in a word: `holds`, or the property it found broken.
fn verdict(result: &Result<(), Violation>) -> String {
    match result {
        Ok(()) => "holds".to_string(),
        Err(v) => format!("{:?} broken", v.property),
    }
}

/// FNV-1a, to compare states without keeping them.
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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
