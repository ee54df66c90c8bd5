//! [`Raft`]: one peer, driven by OS threads, with the lab's API
//! (`Make`/`Start`/`GetState`/`Snapshot`/`Kill`/`ApplyMsg`).
//!
//! The runtime adds no protocol logic: every decision is the core's
//! ([`Node`]). It feeds the core its inputs (messages from the transport,
//! timers, proposals, snapshots) under one lock and executes the effects
//! in order: timers re-armed and everything else appended to the
//! journal (`crate::runtime::journal`) while the lock is held, in the
//! core's order; the handler then returns at once.
//!
//! Two threads of its own. The storage loop ([`StorageLoop`]) writes what
//! handlers appended in rounds: each round writes every pending persist
//! effect with one batch (one write and one sync on a disk: group commit),
//! with no lock held, and only then hands the committed entries to the
//! application's apply queue and sends the messages, in the order the
//! handlers left them. So no message leaves before the state it depends
//! on is durable (Figure 2), no handler waits for the disk, and a full
//! apply queue (it is bounded) slows the peer down without anything
//! waiting with the node lock held (the application may call back into
//! the peer meanwhile). The ticker ([`Ticker`]) fires the election and
//! heartbeat timers: it sleeps on a condition variable until the earliest
//! deadline (no polling) and is woken only when a timer is armed earlier
//! than that. Incoming messages are handled on the transport's thread,
//! proposals on the caller's.
//!
//! Lock order: the node lock (`core`) may be held while taking the
//! journal's lock, the apply queue's or the leadership watch's, never the
//! other way round; no lock is held while writing, sending to a peer or
//! waiting for room in the queue.
//!
//! The storage round (`Shared::round`) is a sequence of small named
//! steps. The loom build's mutation tests substitute a different sequence
//! of the same steps through `hook` (`raft/mutants.rs`, compiled only with
//! the `loom` feature); every other build calls the steps straight.
//!
//! Both loops are values: [`Raft::new`] runs each on a thread of its own,
//! and [`Raft::unstarted`] hands them to an embedder that runs them itself
//! (the loom models do, to stay within loom's thread budget). Either way
//! it is the same code.

use crate::consensus::{
    Config, Effect, Error, LogIndex, Message, Node, NodeId, NotLeader, Proposed, Role, Term,
};
use crate::runtime::apply_queue::{ApplyQueue, ApplyQueueStats, ApplyReceiver};
use crate::runtime::clock::{Clock, RealClock};
use crate::runtime::config::{RaftConfig, RaftError, StartError};
use crate::runtime::journal::Journal;
use crate::runtime::leadership::{LeaderWatch, Leadership, Publisher};
use crate::runtime::persister::{Persister, StorageError};
use crate::runtime::sync::{
    Arc, AtomicBool, AtomicU64, Condvar, Mutex, MutexGuard, Ordering, lock, thread, wait,
    wait_timeout,
};
use crate::runtime::transport::{Handler, Transport};
use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;

/// The loom build's mutants: other sequences of the effect loop's steps,
/// chosen per peer by `RaftConfig::mutation`.
#[cfg(feature = "loom")]
mod mutants;
#[cfg(feature = "loom")]
use mutants as hook;
mod plan;
mod storage_loop;
pub use storage_loop::StorageLoop;

/// A handle on one running peer; clones share it.
#[derive(Clone)]
pub struct Raft {
    shared: Arc<Shared>,
}

struct Shared {
    id: NodeId,
    config: RaftConfig,
    core: Mutex<Core>,
    /// Signalled when a timer is armed earlier than the ticker's wakeup, or
    /// the peer stops (the ticker waits on it, with `core`).
    timers_changed: Condvar,
    /// The bounded queue of committed entries and snapshots on their way
    /// to the application; only storage rounds hand entries to it, with no
    /// lock held.
    apply: Arc<ApplyQueue>,
    /// Group commit ([`crate::runtime::journal`]): persist effects, and
    /// what must wait for them, appended under the node lock and written
    /// by the storage loop outside it.
    journal: Journal,
    /// Set first thing by [`Raft::shutdown`]: the one stop flag. Every
    /// handler checks it under the node lock, the lock the ticker waits
    /// with, and `shutdown` takes that lock after setting it, before
    /// notifying, so no wakeup is lost; then it closes the journal and the
    /// apply queue, so that nothing is written or handed over once it
    /// returns.
    stopped: AtomicBool,
    refused: AtomicU64,
    transport: std::sync::Arc<dyn Transport>,
    persister: std::sync::Arc<dyn Persister>,
    clock: std::sync::Arc<dyn Clock>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// Who leads, for [`Raft::leader_watch`]: updated under the node lock.
    leadership: Arc<Publisher>,
}

/// Everything guarded by the node lock.
struct Core {
    node: Node,
    election_deadline: Option<Instant>,
    heartbeat_deadline: Option<Instant>,
    rng: StdRng,
    /// Set when stable storage refused an effect: the peer then takes no
    /// further input (it cannot promise what it failed to persist).
    fault: Option<StorageError>,
    /// The leadership last published, and the role last seen (for the
    /// log's election events).
    published: Leadership,
    role: RoleKind,
}

/// A role without its data, to tell role changes apart in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RoleKind {
    Follower,
    Candidate,
    Leader,
}

impl RoleKind {
    fn of(node: &Node) -> RoleKind {
        match node.role() {
            Role::Follower => RoleKind::Follower,
            Role::Candidate { .. } => RoleKind::Candidate,
            Role::Leader { .. } => RoleKind::Leader,
        }
    }
}

/// `node`'s view of who leads.
fn leadership(node: &Node) -> Leadership {
    Leadership {
        term: node.current_term(),
        leader: node.leader_id(),
        is_me: node.is_leader(),
    }
}

impl Core {
    /// The earliest armed timer's deadline, which the ticker sleeps until.
    fn earliest_deadline(&self) -> Option<Instant> {
        self.election_deadline
            .into_iter()
            .chain(self.heartbeat_deadline)
            .min()
    }
}

/// A peer built but not yet running: its handle, its timer loop, its
/// storage loop and the queue on which committed commands and snapshots
/// arrive. No timer fires until the ticker runs (on a thread of its own,
/// say, as [`Raft::new`] does). When the persister's writes are not cheap
/// (a disk), nothing is written, sent or applied until the storage loop
/// runs; when they are ([`Persister::writes_are_cheap`]: memory), handlers
/// run storage rounds themselves, and the storage loop takes only what is
/// left when one was already in progress.
pub struct Unstarted {
    /// The handle.
    pub raft: Raft,
    /// The loop that fires the election and heartbeat timers.
    pub ticker: Ticker,
    /// The loop that writes what the peer decided and then lets out what
    /// depends on it.
    pub storage: StorageLoop,
    /// Committed commands and snapshots, in log order.
    pub applied: ApplyReceiver,
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

impl Raft {
    /// Starts peer `me` of the cluster `members` (every peer, `me`
    /// included) from what `persister` holds (empty storage: a fresh
    /// peer), sending through `transport`. Returns the handle and the
    /// queue on which committed commands and snapshots arrive, in log
    /// order (bounded by [`RaftConfig::apply_queue_capacity`]: the peer
    /// waits while it is full, so take from it promptly, from a thread of
    /// your own). Give the network [`Raft::handler`] to deliver messages
    /// to it.
    pub fn new(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: RaftConfig,
        transport: std::sync::Arc<dyn Transport>,
    ) -> Result<(Raft, ApplyReceiver), RaftError> {
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
    ) -> Result<(Raft, ApplyReceiver), RaftError> {
        let Unstarted {
            raft,
            ticker,
            storage,
            applied,
        } = Raft::unstarted(members, me, persister, config, transport, clock)?;
        raft.spawn("storage", move || storage.run())?;
        raft.spawn("ticker", move || ticker.run())?;
        Ok((raft, applied))
    }

    /// Runs `body` on a thread of the peer's own, named after it, joined at
    /// shutdown; if the thread cannot start, the peer shuts down.
    fn spawn(&self, name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), RaftError> {
        match thread::Builder::new()
            .name(format!("raft-{}-{name}", self.shared.id.0))
            .spawn(body)
        {
            Ok(handle) => {
                lock(&self.shared.threads).push(handle);
                Ok(())
            }
            Err(e) => {
                self.shutdown();
                Err(RaftError::Thread(std::sync::Arc::new(e)))
            }
        }
    }

    /// Builds peer `me` as [`Raft::with_clock`] does, but leaves running
    /// its timer loop and its storage loop to the caller (blocking on
    /// threads of the caller's, or stepped by hand with
    /// [`Ticker::fire_due`] and [`StorageLoop::flush`]). [`Raft::shutdown`]
    /// makes both loops return; it joins only threads [`Raft::with_clock`]
    /// spawned, so the caller joins its own.
    pub fn unstarted(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: RaftConfig,
        transport: std::sync::Arc<dyn Transport>,
        clock: std::sync::Arc<dyn Clock>,
    ) -> Result<Unstarted, RaftError> {
        if config.election_timeout.is_empty() {
            return Err(RaftError::Core(Error::InvalidConfig(format!(
                "empty election timeout range {:?}",
                config.election_timeout
            ))));
        }
        if config.apply_queue_capacity == 0 {
            return Err(RaftError::Core(Error::InvalidConfig(
                "an apply queue of capacity 0".to_string(),
            )));
        }
        let core_config = Config {
            max_entries_per_message: config.max_entries_per_message,
            max_inflight: config.max_inflight,
            ..Config::new(me, members)
        };
        let (node, effects) = Node::restart(core_config, &persister.load()?)?;
        let apply = ApplyQueue::new(config.apply_queue_capacity);
        let applied = ApplyReceiver::new(Arc::clone(&apply));
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed ^ me.0),
            None => StdRng::from_os_rng(),
        };
        let published = leadership(&node);
        let role = RoleKind::of(&node);
        let shared = Arc::new(Shared {
            id: me,
            config,
            leadership: Publisher::new(published),
            core: Mutex::new(Core {
                node,
                election_deadline: None,
                heartbeat_deadline: None,
                rng,
                fault: None,
                published,
                role,
            }),
            timers_changed: Condvar::new(),
            apply,
            journal: Journal::new(),
            stopped: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            transport,
            persister,
            clock,
            threads: Mutex::new(Vec::new()),
        });
        shared.run(lock(&shared.core), effects);
        Ok(Unstarted {
            raft: Raft {
                shared: Arc::clone(&shared),
            },
            ticker: Ticker {
                shared: Arc::clone(&shared),
            },
            storage: StorageLoop::new(shared),
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
        self.propose_with(|node| node.propose([command]))
    }

    /// Proposes several commands at once ([`Raft::start`] for a batch):
    /// appended in order under one acquisition of the node lock, persisted
    /// in one write and replicated together. Returns the index of the last
    /// one (the first is `commands.len() - 1` before it) and the term. An
    /// empty batch places nothing and returns the last index there is.
    pub fn start_batch(&self, commands: Vec<Bytes>) -> Result<(LogIndex, Term), StartError> {
        self.propose_with(|node| node.propose(commands))
    }

    /// [`Raft::start`], calling `placed` with the index and term the core
    /// gave the command while the node lock is still held: before any
    /// thread can see the entry committed (how [`crate::runtime::Replicated`]
    /// registers its waiter without a race). `placed` must not block.
    pub(crate) fn start_placed(
        &self,
        command: Bytes,
        placed: impl FnOnce(LogIndex, Term),
    ) -> Result<(LogIndex, Term), StartError> {
        self.propose_with(|node| {
            let (proposed, effects) = node.propose([command])?;
            placed(proposed.index, proposed.term);
            Ok((proposed, effects))
        })
    }

    /// Runs a proposal on the core under the node lock and executes its
    /// effects.
    fn propose_with(
        &self,
        propose: impl FnOnce(&mut Node) -> Result<(Proposed, Vec<Effect>), NotLeader>,
    ) -> Result<(LogIndex, Term), StartError> {
        let mut core = lock(&self.shared.core);
        if self.shared.halted(&core) {
            return Err(StartError::Shutdown);
        }
        let (proposed, effects) = propose(&mut core.node).map_err(|e| StartError::NotLeader {
            leader_hint: e.leader_hint,
        })?;
        self.shared.run(core, effects);
        Ok((proposed.index, proposed.term))
    }

    /// The current term and whether this peer believes it is the leader,
    /// read together (the lab's `GetState`). A stopped peer is no leader.
    pub fn state(&self) -> (Term, bool) {
        hook::state(&self.shared)
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
            Err(error) => {
                self.shared.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(peer = self.shared.id.0, from = from.0, %error, "refused a message");
            }
        }
    }

    /// Delivers several messages at once, in order, under one acquisition
    /// of the node lock, and then sends what they all produced: what a
    /// transport that drains a queue calls (see
    /// [`crate::runtime::LocalNetwork`]). Each message is handled exactly
    /// as [`Raft::receive`] handles it; persist effects still run, in
    /// order, before any message leaves.
    pub fn receive_batch(&self, messages: impl IntoIterator<Item = (NodeId, Message)>) {
        let mut core = lock(&self.shared.core);
        if self.shared.halted(&core) {
            return;
        }
        let mut effects = Vec::new();
        for (from, message) in messages {
            match core.node.step(from, message) {
                Ok(mut produced) => effects.append(&mut produced),
                Err(error) => {
                    self.shared.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(peer = self.shared.id.0, from = from.0, %error, "refused a message");
                }
            }
        }
        self.shared.run(core, effects);
    }

    /// [`Raft::receive`] as a network [`Handler`].
    pub fn handler(&self) -> Handler {
        let raft = self.clone();
        std::sync::Arc::new(move |from, message| raft.receive(from, message))
    }

    /// A watcher of who leads, as this peer sees it: woken at every change
    /// of term or leader, and when the peer shuts down or a storage fault
    /// halts it.
    pub fn leader_watch(&self) -> LeaderWatch {
        LeaderWatch::new(Arc::clone(&self.shared.leadership))
    }

    /// How many received messages the core refused.
    pub fn refused_messages(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// What the apply queue holds now and has been through (its length,
    /// high-water mark and waiting producers): for diagnostics and tests.
    pub fn apply_queue_stats(&self) -> ApplyQueueStats {
        self.shared.apply.stats()
    }

    /// The storage error that halted this peer, if one did. A halted peer
    /// takes no input, hands nothing more to the application (its apply
    /// queue is closed) and closes its leadership watch.
    pub fn fault(&self) -> Option<StorageError> {
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

    /// Stops the peer (the lab's `Kill`): it takes no further input; what
    /// it decided and had not yet written is written as a last batch
    /// (the messages and entries waiting for that write are dropped);
    /// and once this returns it persists, sends and applies nothing more,
    /// its apply queue is closed (the receiver sees the end once it has
    /// taken what was handed over; a storage round waiting for room gives
    /// up what it holds) and every thread it started has ended (threads
    /// the embedder runs the loops on return by themselves, see
    /// [`Raft::unstarted`]). Calling it again (from any thread) waits for
    /// the same.
    pub fn shutdown(&self) {
        hook::shutdown(&self.shared);
    }
}

/// The steps as production runs them; the loom build's `mutants` module
/// offers the same three functions, which run a mutant's sequence when the
/// peer's configuration names one.
#[cfg(not(feature = "loom"))]
mod hook {
    use super::{Shared, Term};

    /// [`Shared::round`].
    pub(super) fn round(shared: &Shared, wait: bool) -> bool {
        shared.round(wait)
    }

    /// [`Shared::state`].
    pub(super) fn state(shared: &Shared) -> (Term, bool) {
        shared.state()
    }

    /// [`Shared::shutdown`].
    pub(super) fn shutdown(shared: &Shared) {
        shared.shutdown();
    }
}

impl Shared {
    /// Whether the peer takes no more input: shut down, or halted by a
    /// storage error.
    fn halted(&self, core: &Core) -> bool {
        self.stopped.load(Ordering::SeqCst) || core.fault.is_some()
    }

    /// The term and whether this peer leads, read under one acquisition of
    /// the node lock ([`Raft::state`]).
    fn state(&self) -> (Term, bool) {
        let core = lock(&self.core);
        (
            core.node.current_term(),
            core.node.is_leader() && !self.halted(&core),
        )
    }

    /// [`Raft::shutdown`]: the stop flag, then each lock a thread waits
    /// with taken after it (a thread that read the flag before the store
    /// is now waiting, and hears the notification), then the threads
    /// joined.
    fn shutdown(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        drop(lock(&self.core));
        self.close_journal();
        self.apply.close();
        self.timers_changed.notify_all();
        self.leadership.close();
        self.join_threads();
    }

    /// Closes the journal and writes what was still pending as the last
    /// batch (after any round's write: the journal waits for it), so a
    /// graceful stop keeps what the peer decided; nothing it held is sent
    /// or applied. Called once the stop flag is set and no handler can
    /// append any more.
    fn close_journal(&self) {
        let rest = self.journal.close();
        if rest.is_empty() {
            return;
        }
        let result = self.persister.persist_batch(&rest);
        if let Err(error) = &result {
            tracing::warn!(peer = self.id.0, %error, "the last write at shutdown failed");
        }
        self.journal.written(&result);
    }

    /// Joins every thread the peer started.
    fn join_threads(&self) {
        let mut threads = lock(&self.threads);
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
    }

    /// Executes `effects` with the node lock held: timers re-armed, and the
    /// persist effects, messages and committed entries appended to the
    /// journal in the core's order (so storage follows the core's
    /// decisions in the same order); then the lock is released. A storage
    /// round ([`Shared::round`]) writes them and only then lets the
    /// messages and entries out: the storage loop's, woken here, or, when
    /// writes are as cheap as waking it ([`Persister::writes_are_cheap`]:
    /// memory), one the caller runs itself at once unless a round is in
    /// progress (whose end wakes the storage loop for what is left). On a
    /// disk, a call with nothing to write whose turn has come (nothing
    /// else pending, no round in progress) is let out by the caller too.
    fn run(&self, mut core: MutexGuard<'_, Core>, effects: Vec<Effect>) {
        let plan = self.plan(&mut core, effects);
        let inline = self.persister.writes_are_cheap();
        // Nothing of this call's to write: if nothing else waits to be
        // written either, the caller lets its messages and entries out
        // itself, sparing a hand-off to the storage loop.
        let unwritten = !inline && plan.persists.is_empty();
        self.journal.append(
            plan.persists,
            plan.outbox,
            plan.applied,
            plan.durable,
            !inline && !unwritten,
        );
        self.publish_leadership(&mut core);
        drop(core);
        // The leader's own write goes in parallel with these.
        self.send_all(plan.early);
        if plan.wake_ticker {
            self.timers_changed.notify_one();
        }
        if inline {
            hook::round(self, false);
        } else if unwritten {
            // If no round can be taken now, the storage loop will take
            // this call's part: others' pending writes woke it (or will
            // be taken by the loop as it comes round), and a round in
            // progress wakes it as it ends.
            self.round_unwritten();
        }
    }

    /// A round made everything up to a [`Effect::Durable`] marker durable:
    /// the core hears of it (a leader may now count itself toward a
    /// commit), and what it decides runs as any handler's effects do.
    fn persisted(&self, index: LogIndex, term: Term) {
        let mut core = lock(&self.core);
        if self.halted(&core) {
            return;
        }
        let effects = core.node.handle_persisted(index, term);
        self.run(core, effects);
    }

    /// Publishes a change of term or leader to the watchers, and logs
    /// elections won and lost and step-downs (the core decides them; this
    /// only reports what it sees after each call).
    fn publish_leadership(&self, core: &mut Core) {
        let now = leadership(&core.node);
        let role = RoleKind::of(&core.node);
        let term = now.term.0;
        let peer = self.id.0;
        match (core.role, role) {
            (before, after) if before == after => {}
            (_, RoleKind::Candidate) => tracing::debug!(peer, term, "started an election"),
            (_, RoleKind::Leader) => tracing::info!(peer, term, "won the election: leading"),
            (RoleKind::Candidate, RoleKind::Follower) => {
                tracing::info!(peer, term, leader = ?now.leader.map(|l| l.0), "lost the election")
            }
            (RoleKind::Leader, RoleKind::Follower) => {
                tracing::info!(peer, term, leader = ?now.leader.map(|l| l.0), "stepped down")
            }
            _ => {}
        }
        core.role = role;
        if now != core.published {
            core.published = now;
            self.leadership.publish(now);
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
                core = match core.earliest_deadline() {
                    Some(deadline) => wait_timeout(&self.timers_changed, core, deadline - now),
                    None => wait(&self.timers_changed, core),
                };
                continue;
            };
            self.run(core, effects);
            core = lock(&self.core);
        }
    }
}
