//! [`Raft`]: one peer, driven by OS threads, with the lab's API
//! (`Make`/`Start`/`GetState`/`Snapshot`/`Kill`/`ApplyMsg`).
//!
//! The runtime adds no protocol logic: every decision is the core's
//! ([`Node`]). It feeds the core its inputs (messages from the transport,
//! timers, proposals, snapshots) under one lock and executes the effects
//! in order: persist effects while the lock is held, before any message
//! that depends on them leaves; timers re-armed; committed entries queued
//! for the applier; messages sent once the lock is released.
//!
//! Threads: a ticker that fires the election and heartbeat timers (it
//! sleeps on a condition variable until the earliest deadline: no polling),
//! and an applier that hands queued [`ApplyMsg`]s to the application
//! without holding the node's lock. Incoming messages are handled on the
//! transport's thread, proposals on the caller's.
//!
//! Lock order: the node lock (`core`) may be held while taking the apply
//! queue's lock, never the other way round; neither is held while sending.
//!
//! The two loops are values ([`Ticker`], [`Applier`]): [`Raft::new`] runs
//! each on a thread of its own, and [`Raft::unstarted`] hands them to an
//! embedder that runs them itself (the loom models do, to stay within
//! loom's thread budget). Either way it is the same code.

use crate::consensus::{Config, Effect, Error, LogIndex, Message, Node, NodeId, Term};
use crate::runtime::clock::{Clock, RealClock};
use crate::runtime::config::{ApplyMsg, RaftConfig, StartError};
#[cfg(feature = "loom")]
use crate::runtime::mutation::Mutation;
use crate::runtime::persister::Persister;
use crate::runtime::sync::{
    Arc, AtomicBool, AtomicU64, Condvar, Mutex, MutexGuard, Ordering, lock, mpsc, thread, wait,
    wait_timeout,
};
use crate::runtime::transport::{Handler, Transport};
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::time::Instant;

/// Whether `shared`'s peer runs with the loom-only [`Mutation`] `$m`;
/// always false without the `loom` feature.
macro_rules! mutated {
    ($shared:expr, $m:ident) => {{
        #[cfg(feature = "loom")]
        let on = $shared.config.mutation == Some(Mutation::$m);
        #[cfg(not(feature = "loom"))]
        let on = false;
        on
    }};
}

/// A handle on one running peer; clones share it.
#[derive(Clone)]
pub struct Raft {
    shared: Arc<Shared>,
}

struct Shared {
    id: NodeId,
    config: RaftConfig,
    core: Mutex<Core>,
    /// Signalled when a timer is re-armed or the peer stops (the ticker
    /// waits on it, with `core`).
    timers_changed: Condvar,
    apply: Mutex<ApplyQueue>,
    /// Signalled when messages are queued or the peer stops.
    apply_ready: Condvar,
    /// Set first thing by [`Raft::shutdown`]: the one stop flag. Every
    /// thread checks it under the lock it waits with (and the applier
    /// again before each delivery), and `shutdown` takes each such lock
    /// after setting it, before notifying, so no wakeup is lost.
    stopped: AtomicBool,
    refused: AtomicU64,
    transport: std::sync::Arc<dyn Transport>,
    persister: std::sync::Arc<dyn Persister>,
    clock: std::sync::Arc<dyn Clock>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

/// Everything guarded by the node lock.
struct Core {
    node: Node,
    election_deadline: Option<Instant>,
    heartbeat_deadline: Option<Instant>,
    rng: StdRng,
    /// Set when stable storage refused an effect: the peer then takes no
    /// further input (it cannot promise what it failed to persist).
    fault: Option<Error>,
}

struct ApplyQueue {
    pending: VecDeque<ApplyMsg>,
}

/// A peer built but not yet running: its handle, its two loops and the
/// channel on which committed commands and snapshots arrive. Nothing
/// happens until the loops run (each on a thread of its own, say).
pub struct Unstarted {
    /// The handle.
    pub raft: Raft,
    /// The loop that fires the election and heartbeat timers.
    pub ticker: Ticker,
    /// The loop that hands committed entries to the application.
    pub applier: Applier,
    /// Where the applier delivers, in log order.
    pub applied: mpsc::Receiver<ApplyMsg>,
}

/// The loop that fires a peer's election and heartbeat timers.
pub struct Ticker {
    shared: Arc<Shared>,
}

impl Ticker {
    /// Runs the loop until the peer stops: sleeps until the earliest armed
    /// timer (on a condition variable, no polling), fires it through the
    /// core, and repeats.
    pub fn run(self) {
        self.shared.run_ticker();
    }

    /// Fires the earliest armed timer if it is due by the peer's clock,
    /// without waiting; returns whether one fired. For tests that drive
    /// time themselves (a [`crate::runtime::ManualClock`]).
    pub fn fire_due(&self) -> bool {
        let mut core = lock(&self.shared.core);
        if self.shared.halted(&core) {
            return false;
        }
        let now = self.shared.clock.now();
        match self.shared.due_timer(&mut core, now) {
            Some(effects) => {
                self.shared.run(core, effects);
                true
            }
            None => false,
        }
    }
}

/// The loop that hands a peer's committed entries and snapshots to the
/// application, without holding the node lock.
pub struct Applier {
    shared: Arc<Shared>,
    tx: mpsc::Sender<ApplyMsg>,
}

impl Applier {
    /// Runs the loop until the peer stops or the application drops its
    /// receiver.
    pub fn run(self) {
        self.shared.run_applier(self.tx);
    }
}

impl Raft {
    /// Starts peer `me` of the cluster `members` (every peer, `me`
    /// included) from what `persister` holds (empty storage: a fresh
    /// peer), sending through `transport`. Returns the handle and the
    /// channel on which committed commands and snapshots arrive, in log
    /// order. Give the network [`Raft::handler`] to deliver messages to it.
    pub fn new(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: RaftConfig,
        transport: std::sync::Arc<dyn Transport>,
    ) -> Result<(Raft, mpsc::Receiver<ApplyMsg>), Error> {
        Raft::with_clock(
            members,
            me,
            persister,
            config,
            transport,
            std::sync::Arc::new(RealClock),
        )
    }

    /// [`Raft::new`] with an injected clock.
    pub fn with_clock(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: RaftConfig,
        transport: std::sync::Arc<dyn Transport>,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<(Raft, mpsc::Receiver<ApplyMsg>), Error> {
        let Unstarted {
            raft,
            ticker,
            applier,
            applied,
        } = Raft::unstarted(members, me, persister, config, transport, clock)?;
        let spawned = [
            thread::Builder::new()
                .name(format!("raft-{}-ticker", me.0))
                .spawn(move || ticker.run()),
            thread::Builder::new()
                .name(format!("raft-{}-applier", me.0))
                .spawn(move || applier.run()),
        ];
        // Register every thread that did start before giving up on one
        // that did not, so that `shutdown` joins them all.
        let mut failure = None;
        for spawned in spawned {
            match spawned {
                Ok(handle) => lock(&raft.shared.threads).push(handle),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            raft.shutdown();
            return Err(Error::InvalidConfig(format!("cannot spawn a thread: {e}")));
        }
        Ok((raft, applied))
    }

    /// Builds peer `me` as [`Raft::with_clock`] does, but leaves running
    /// its two loops to the caller. [`Raft::shutdown`] makes both loops
    /// return; it joins only the threads [`Raft::with_clock`] spawned, so
    /// the caller joins its own.
    pub fn unstarted(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: RaftConfig,
        transport: std::sync::Arc<dyn Transport>,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<Unstarted, Error> {
        if config.election_timeout.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "empty election timeout range {:?}",
                config.election_timeout
            )));
        }
        let core_config = Config {
            max_entries_per_message: config.max_entries_per_message,
            ..Config::new(me, members)
        };
        let (node, effects) = Node::restart(core_config, &persister.load())?;
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed ^ me.0),
            None => StdRng::from_os_rng(),
        };
        let shared = Arc::new(Shared {
            id: me,
            config,
            core: Mutex::new(Core {
                node,
                election_deadline: None,
                heartbeat_deadline: None,
                rng,
                fault: None,
            }),
            timers_changed: Condvar::new(),
            apply: Mutex::new(ApplyQueue {
                pending: VecDeque::new(),
            }),
            apply_ready: Condvar::new(),
            stopped: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            transport,
            persister,
            clock,
            threads: Mutex::new(Vec::new()),
        });
        let (tx, applied) = mpsc::channel();
        shared.run(lock(&shared.core), effects);
        Ok(Unstarted {
            raft: Raft {
                shared: Arc::clone(&shared),
            },
            ticker: Ticker {
                shared: Arc::clone(&shared),
            },
            applier: Applier { shared, tx },
            applied,
        })
    }

    /// This peer's id.
    pub fn id(&self) -> NodeId {
        self.shared.id
    }

    /// Proposes `command` (the lab's `Start`). Returns at once, without
    /// waiting for the command to commit, with the index it will have and
    /// the current term; replication starts immediately. There is no
    /// guarantee it will ever commit (the leader may lose its office).
    pub fn start(&self, command: Bytes) -> Result<(LogIndex, Term), StartError> {
        let mut core = lock(&self.shared.core);
        if self.shared.halted(&core) {
            return Err(StartError::Shutdown);
        }
        let (proposed, effects) =
            core.node
                .propose(command)
                .map_err(|e| StartError::NotLeader {
                    leader_hint: e.leader_hint,
                })?;
        self.shared.run(core, effects);
        Ok((proposed.index, proposed.term))
    }

    /// The current term and whether this peer believes it is the leader,
    /// read together (the lab's `GetState`). A stopped peer is no leader.
    pub fn state(&self) -> (Term, bool) {
        if mutated!(self.shared, TornState) {
            let term = lock(&self.shared.core).node.current_term();
            let core = lock(&self.shared.core);
            return (term, core.node.is_leader() && !self.shared.halted(&core));
        }
        let core = lock(&self.shared.core);
        (
            core.node.current_term(),
            core.node.is_leader() && !self.shared.halted(&core),
        )
    }

    /// The application has snapshotted its state through `index` (it has
    /// been handed every entry up to it): the log up to there is
    /// discarded. An index no newer than the current snapshot is ignored.
    pub fn snapshot(&self, index: LogIndex, data: Bytes) -> Result<(), Error> {
        let mut core = lock(&self.shared.core);
        if self.shared.halted(&core) {
            return Ok(());
        }
        let effects = core.node.compact(index, data)?;
        self.shared.run(core, effects);
        Ok(())
    }

    /// Delivers a message from peer `from` (what a network calls). A
    /// message the core refuses (malformed, from a stranger, impossible) is
    /// counted and changes nothing.
    pub fn receive(&self, from: NodeId, message: Message) {
        let mut core = lock(&self.shared.core);
        if self.shared.halted(&core) {
            return;
        }
        match core.node.step(from, message) {
            Ok(effects) => self.shared.run(core, effects),
            Err(_) => {
                self.shared.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// [`Raft::receive`] as a network [`Handler`].
    pub fn handler(&self) -> Handler {
        let raft = self.clone();
        std::sync::Arc::new(move |from, message| raft.receive(from, message))
    }

    /// How many received messages the core refused.
    pub fn refused_messages(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// The storage error that halted this peer, if one did.
    pub fn fault(&self) -> Option<Error> {
        lock(&self.shared.core).fault.clone()
    }

    /// The persister this peer writes to.
    pub fn persister(&self) -> &std::sync::Arc<dyn Persister> {
        &self.shared.persister
    }

    /// Runs `f` on the peer's core under the node lock and returns what it
    /// returns: a read-only view, for diagnostics and tests. Every handler
    /// of the peer waits while `f` runs, so it must not block.
    pub fn with_node<R>(&self, f: impl FnOnce(&Node) -> R) -> R {
        f(&lock(&self.shared.core).node)
    }

    /// Stops the peer (the lab's `Kill`): it takes no further input, and
    /// once this returns it persists and applies nothing more and every
    /// thread it started has ended. Messages a handler decided before the
    /// stop may still be leaving on the caller's thread (sends happen after
    /// the node lock is released); a network drops them once the server is
    /// deleted, as the lab's harness does before `Kill`. Calling it again
    /// (from any thread) waits for the same.
    pub fn shutdown(&self) {
        let shared = &self.shared;
        shared.stopped.store(true, Ordering::SeqCst);
        // Taking each lock after the store: a thread that read the flag
        // before it is now waiting, and hears the notification.
        let take_locks = !mutated!(shared, UnlockedShutdown);
        if take_locks {
            drop(lock(&shared.core));
        }
        shared.timers_changed.notify_all();
        if take_locks {
            drop(lock(&shared.apply));
        }
        shared.apply_ready.notify_all();
        let mut threads = lock(&shared.threads);
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Shared {
    /// Whether the peer takes no more input: shut down, or halted by a
    /// storage error.
    fn halted(&self, core: &Core) -> bool {
        self.stopped.load(Ordering::SeqCst) || core.fault.is_some()
    }

    /// Executes `effects` in order: persists and timers with the node lock
    /// held (so that storage and timers follow the core's decisions in the
    /// same order), committed entries queued for the applier, then the
    /// lock released and the messages sent. A message leaves only after
    /// every persist effect before it has returned.
    fn run(&self, mut core: MutexGuard<'_, Core>, effects: Vec<Effect>) {
        let mut outbox = Vec::new();
        let mut applied = Vec::new();
        let mut timers_changed = false;
        let mut deferred = Vec::new();
        for effect in effects {
            match effect {
                Effect::Persist(op) if mutated!(self, PersistAfterSend) => deferred.push(op),
                Effect::Persist(op) => {
                    if let Err(e) = self.persister.persist(&op) {
                        core.fault = Some(e);
                        break;
                    }
                }
                Effect::Send { to, message } => outbox.push((to, message)),
                Effect::ResetElectionTimer => {
                    let timeout = core.rng.random_range(self.config.election_timeout.clone());
                    core.election_deadline = Some(self.clock.now() + timeout);
                    timers_changed = true;
                }
                Effect::SetHeartbeatTimer => {
                    core.heartbeat_deadline =
                        Some(self.clock.now() + self.config.heartbeat_interval);
                    timers_changed = true;
                }
                Effect::ApplyEntries(entries) => {
                    applied.extend(entries.into_iter().map(|e| ApplyMsg::Command {
                        index: e.index,
                        term: e.term,
                        command: e.command,
                    }));
                }
                Effect::ApplySnapshot(s) => applied.push(ApplyMsg::Snapshot {
                    index: s.meta.last_included_index,
                    term: s.meta.last_included_term,
                    data: s.data,
                }),
            }
        }
        if !applied.is_empty() {
            lock(&self.apply).pending.extend(applied);
            self.apply_ready.notify_one();
        }
        if mutated!(self, SendUnderLock) {
            self.send_all(std::mem::take(&mut outbox));
        }
        drop(core);
        if timers_changed {
            self.timers_changed.notify_one();
        }
        self.send_all(outbox);
        for op in deferred {
            let _ = self.persister.persist(&op);
        }
    }

    /// Sends `outbox` in order, unless the peer has stopped.
    fn send_all(&self, outbox: Vec<(NodeId, Message)>) {
        for (to, message) in outbox {
            if self.stopped.load(Ordering::SeqCst) {
                break;
            }
            self.transport.send(to, message);
        }
    }

    /// Takes the earliest armed timer if it is due and fires it through the
    /// core, returning the effects to run.
    fn due_timer(&self, core: &mut Core, now: Instant) -> Option<Vec<Effect>> {
        if core.election_deadline.is_some_and(|d| d <= now) {
            core.election_deadline = None;
            Some(core.node.handle_election_timeout())
        } else if core.heartbeat_deadline.is_some_and(|d| d <= now) {
            core.heartbeat_deadline = None;
            Some(core.node.handle_heartbeat_timeout())
        } else {
            None
        }
    }

    /// The ticker thread: sleeps until the earliest armed timer, fires it
    /// through the core, and repeats until the peer stops.
    fn run_ticker(&self) {
        let mut core = lock(&self.core);
        loop {
            if self.halted(&core) {
                return;
            }
            let now = self.clock.now();
            let Some(effects) = self.due_timer(&mut core, now) else {
                core = match core
                    .election_deadline
                    .into_iter()
                    .chain(core.heartbeat_deadline)
                    .min()
                {
                    Some(deadline) => wait_timeout(&self.timers_changed, core, deadline - now),
                    None => wait(&self.timers_changed, core),
                };
                continue;
            };
            self.run(core, effects);
            core = lock(&self.core);
        }
    }

    /// The applier thread: hands queued messages to the application in
    /// order, without holding the node lock, until the peer stops or the
    /// application drops its receiver.
    fn run_applier(&self, tx: mpsc::Sender<ApplyMsg>) {
        loop {
            let batch = {
                let mut queue = lock(&self.apply);
                loop {
                    if self.stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    if !queue.pending.is_empty() {
                        if mutated!(self, LockOrderInversion) {
                            // The apply lock held while taking the node lock.
                            drop(lock(&self.core));
                        }
                        break std::mem::take(&mut queue.pending);
                    }
                    if mutated!(self, LostWakeup) {
                        // Checked empty, then asleep in another critical
                        // section: a notification in between is lost.
                        drop(queue);
                        queue = lock(&self.apply);
                    }
                    queue = wait(&self.apply_ready, queue);
                }
            };
            for message in batch {
                if self.stopped.load(Ordering::SeqCst) || tx.send(message).is_err() {
                    return;
                }
            }
        }
    }
}
