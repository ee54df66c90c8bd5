//! [`Replicated`]: a [`StateMachine`] replicated by one [`Raft`] peer, with
//! a proposal call that answers with what applying the command returned
//! (openraft's `client_write`, hashicorp/raft's `Apply().Response()`).
//!
//! The driver owns the peer and two threads of its own. The *applier*
//! takes committed entries and snapshots from the peer's apply queue, in
//! log order, applies them to the state machine, answers the proposal
//! waiting at that index, and snapshots when the persisted state outgrows
//! [`ReplicatedConfig::snapshot_threshold`]. The *watcher* waits on the
//! peer's [`crate::runtime::LeaderWatch`] and fails the waiting proposals
//! as soon as the peer's term or leadership changes. The driver makes no
//! protocol decision: it only reads what the peer reports.
//!
//! Lock order: the node lock, then the waiters' lock (a proposal registers
//! its waiter while the core places its entry, under the node lock, so no
//! thread can see it applied first), then the leadership watch's lock (the
//! watcher reads the latest leadership under the waiters' lock). The
//! state machine's lock is taken alone or before the waiters'; no lock of
//! the driver is held while calling into the peer.

use crate::consensus::{LogIndex, NodeId, Term};
use crate::runtime::apply_queue::ApplyReceiver;
use crate::runtime::clock::{Clock, RealClock};
use crate::runtime::config::{ApplyMsg, RaftConfig, RaftError, StartError};
use crate::runtime::leadership::LeaderWatch;
use crate::runtime::persister::{Persister, StorageError};
use crate::runtime::raft::Raft;
use crate::runtime::sync::{Arc, Condvar, Mutex, lock, thread, wait};
use crate::runtime::transport::Transport;
use bytes::Bytes;
use std::collections::BTreeMap;

/// What Raft replicates: a deterministic state machine, applied in log
/// order on every peer (hashicorp/raft's `FSM`, openraft's
/// `RaftStateMachine`).
pub trait StateMachine: Send + 'static {
    /// What applying a command answers its proposer with.
    type Response: Send + 'static;
    /// Why a snapshot could not be restored.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies the committed `command` at `index`. Must be deterministic:
    /// every peer applies the same commands in the same order and must
    /// reach the same state. A command the machine cannot make sense of
    /// (it came from a client) is answered, not panicked on.
    fn apply(&mut self, index: LogIndex, command: &[u8]) -> Self::Response;

    /// The whole state, encoded: what [`StateMachine::restore`] takes back.
    fn snapshot(&self) -> Bytes;

    /// Replaces the whole state with `data`, as [`StateMachine::snapshot`]
    /// encoded it (taken on this peer or installed from the leader). An
    /// error halts the peer: it cannot apply what follows.
    fn restore(&mut self, data: &[u8]) -> Result<(), Self::Error>;
}

/// Settings of a [`Replicated`] peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicatedConfig {
    /// The Raft peer's own settings (the apply queue's capacity among
    /// them).
    pub raft: RaftConfig,
    /// Snapshot the state machine (and let Raft discard the log it covers)
    /// once the persisted Raft state exceeds this many bytes
    /// ([`Persister::raft_state_size`]); `None`: never.
    pub snapshot_threshold: Option<usize>,
}

/// Why [`Replicated::propose`] returned no response.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProposeError {
    /// This peer is not the leader: the command was not placed in the log.
    /// The hint is the leader it last heard from in its current term.
    #[error("not the leader; try {leader_hint:?}")]
    NotLeader {
        /// Where to try next.
        leader_hint: Option<NodeId>,
    },
    /// The command was placed, but this peer lost its office (its term
    /// moved on, §5.2) before it saw it applied, or another entry was
    /// applied at its index (it was replaced, §5.3). Whether it will be
    /// applied is unknown: retry only if applying it twice is harmless
    /// (or deduplicate, §8).
    #[error("leadership lost before the command was applied: its outcome is unknown")]
    LeadershipLost,
    /// The peer has been shut down (before the command was placed, or
    /// while it waited to be applied: its outcome is then unknown).
    #[error("the peer has been shut down")]
    Shutdown,
    /// Stable storage failed and halted the peer.
    #[error("the peer halted: {0}")]
    Storage(#[from] StorageError),
    /// The state machine could not restore a snapshot, which halted the
    /// peer.
    #[error("the peer halted: restoring a snapshot failed: {0}")]
    Restore(std::sync::Arc<dyn std::error::Error + Send + Sync>),
}

/// A state machine replicated by one Raft peer: propose commands through
/// the leader and get back what applying them returned.
pub struct Replicated<S: StateMachine> {
    inner: Arc<Inner<S>>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

/// What the driver's threads share.
struct Inner<S: StateMachine> {
    raft: Raft,
    machine: Mutex<Machine<S>>,
    waiters: Mutex<Waiters<S::Response>>,
    /// Signalled when a waiter is answered or all are closed.
    answered: Condvar,
    snapshot_threshold: Option<usize>,
}

/// The state machine and how far it got.
struct Machine<S> {
    state: S,
    /// The last index applied (or restored from a snapshot).
    applied: LogIndex,
}

/// Proposals waiting to be applied, by the index and term the core gave
/// them; `None` until answered.
struct Waiters<R> {
    pending: BTreeMap<(LogIndex, Term), Option<Result<R, ProposeError>>>,
    /// Set when the applier has ended: every later answer is this.
    closed: Option<ProposeError>,
}

impl<R> Waiters<R> {
    /// Answers every unanswered waiter that `fails` picks with `error`;
    /// returns whether any was.
    fn fail(
        &mut self,
        error: &ProposeError,
        mut fails: impl FnMut(LogIndex, Term) -> bool,
    ) -> bool {
        let mut any = false;
        for (&(index, term), outcome) in self.pending.iter_mut() {
            if outcome.is_none() && fails(index, term) {
                *outcome = Some(Err(error.clone()));
                any = true;
            }
        }
        any
    }
}

impl<S: StateMachine> Replicated<S> {
    /// Starts peer `me` of the cluster `members` from what `persister`
    /// holds (as [`Raft::new`] does), with `machine` as its state machine
    /// in its initial state: a stored snapshot is restored into it before
    /// anything is applied. Give the network [`Raft::handler`] (through
    /// [`Replicated::raft`]) to deliver messages to it.
    pub fn new(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: ReplicatedConfig,
        transport: std::sync::Arc<dyn Transport>,
        machine: S,
    ) -> Result<Replicated<S>, RaftError> {
        Replicated::with_clock(
            members,
            me,
            persister,
            config,
            transport,
            std::sync::Arc::new(RealClock),
            machine,
        )
    }

    /// [`Replicated::new`] with an injected clock.
    pub fn with_clock(
        members: Vec<NodeId>,
        me: NodeId,
        persister: std::sync::Arc<dyn Persister>,
        config: ReplicatedConfig,
        transport: std::sync::Arc<dyn Transport>,
        clock: std::sync::Arc<dyn Clock>,
        machine: S,
    ) -> Result<Replicated<S>, RaftError> {
        let (raft, applied) =
            Raft::with_clock(members, me, persister, config.raft, transport, clock)?;
        let watch = raft.leader_watch();
        let inner = Arc::new(Inner {
            raft,
            machine: Mutex::new(Machine {
                state: machine,
                applied: LogIndex(0),
            }),
            waiters: Mutex::new(Waiters {
                pending: BTreeMap::new(),
                closed: None,
            }),
            answered: Condvar::new(),
            snapshot_threshold: config.snapshot_threshold,
        });
        let replicated = Replicated {
            inner: Arc::clone(&inner),
            threads: Mutex::new(Vec::new()),
        };
        let applier = {
            let inner = Arc::clone(&inner);
            thread::Builder::new()
                .name(format!("raft-{}-applier", me.0))
                .spawn(move || inner.run_applier(applied))
        };
        let watcher = {
            let inner = Arc::clone(&inner);
            thread::Builder::new()
                .name(format!("raft-{}-watch", me.0))
                .spawn(move || inner.run_watcher(watch))
        };
        for spawned in [applier, watcher] {
            match spawned {
                Ok(handle) => lock(&replicated.threads).push(handle),
                Err(e) => {
                    replicated.shutdown();
                    return Err(RaftError::Thread(std::sync::Arc::new(e)));
                }
            }
        }
        Ok(replicated)
    }

    /// The Raft peer: its id, [`Raft::handler`], [`Raft::state`],
    /// [`Raft::leader_watch`], its persister.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// Proposes `command` and waits until it is applied here, answering
    /// with what [`StateMachine::apply`] returned for it. Fails at once
    /// with [`ProposeError::NotLeader`] on a follower; with
    /// [`ProposeError::LeadershipLost`] as soon as this peer's term or
    /// leadership changes, or another entry is applied at the command's
    /// index, before it is applied; with [`ProposeError::Shutdown`] when
    /// the peer stops meanwhile. Waits without a timeout otherwise: a
    /// leader cut off from a majority keeps waiting until it learns of a
    /// newer term (or is shut down).
    pub fn propose(&self, command: Bytes) -> Result<S::Response, ProposeError> {
        let inner = &self.inner;
        let placed = inner.raft.start_placed(command, |index, term| {
            lock(&inner.waiters).pending.insert((index, term), None);
        });
        let key = match placed {
            Ok(key) => key,
            Err(StartError::NotLeader { leader_hint }) => {
                return Err(ProposeError::NotLeader { leader_hint });
            }
            Err(StartError::Shutdown) => return Err(inner.stopped()),
        };
        let mut waiters = lock(&inner.waiters);
        loop {
            match waiters.pending.get(&key) {
                Some(None) => waiters = wait(&inner.answered, waiters),
                Some(Some(_)) => {
                    if let Some(Some(outcome)) = waiters.pending.remove(&key) {
                        return outcome;
                    }
                }
                // Never registered or already taken: only after a close.
                None => return Err(waiters.closed.clone().unwrap_or(ProposeError::Shutdown)),
            }
        }
    }

    /// Runs `f` on the state machine as applied so far on this peer (a
    /// local read: on a follower, or a leader that has lost its office
    /// without knowing it yet, it may be stale). The applier waits while
    /// `f` runs.
    pub fn with_state<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        f(&lock(&self.inner.machine).state)
    }

    /// The last index applied to the state machine here (or restored from
    /// a snapshot).
    pub fn applied_index(&self) -> LogIndex {
        lock(&self.inner.machine).applied
    }

    /// Stops the peer ([`Raft::shutdown`]) and waits for the driver's
    /// threads: the applier applies what the peer had handed over and then
    /// answers every proposal still waiting with [`ProposeError::Shutdown`].
    /// Calling it again waits for the same.
    pub fn shutdown(&self) {
        self.inner.raft.shutdown();
        let mut threads = lock(&self.threads);
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
    }
}

impl<S: StateMachine> Drop for Replicated<S> {
    /// Shuts the peer down: its threads would otherwise run on.
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<S: StateMachine> Inner<S> {
    /// Why the peer takes no more proposals: its halting fault, if any.
    fn stopped(&self) -> ProposeError {
        if let Some(e) = self.raft.fault() {
            return ProposeError::Storage(e);
        }
        lock(&self.waiters)
            .closed
            .clone()
            .unwrap_or(ProposeError::Shutdown)
    }

    /// The applier thread: applies what the peer hands over, in order,
    /// until the peer stops; then answers every waiter.
    fn run_applier(&self, applied: ApplyReceiver) {
        let mut halted = None;
        for message in applied {
            let result = match message {
                ApplyMsg::Command {
                    index,
                    term,
                    command,
                } => {
                    self.apply(index, term, &command);
                    Ok(())
                }
                ApplyMsg::Snapshot { index, data, .. } => self.restore(index, &data),
            };
            if let Err(e) = result {
                tracing::error!(
                    peer = self.raft.id().0,
                    error = %e,
                    "restoring a snapshot failed: the peer halts"
                );
                halted = Some(ProposeError::Restore(e));
                self.raft.shutdown();
                break;
            }
        }
        let error = match (halted, self.raft.fault()) {
            (Some(e), _) => e,
            (None, Some(e)) => ProposeError::Storage(e),
            (None, None) => ProposeError::Shutdown,
        };
        let mut waiters = lock(&self.waiters);
        waiters.fail(&error, |_, _| true);
        waiters.closed = Some(error);
        drop(waiters);
        self.answered.notify_all();
    }

    /// Applies the command at `index` (of `term`), answers the proposal
    /// waiting there, and snapshots if the log has grown too large.
    fn apply(&self, index: LogIndex, term: Term, command: &[u8]) {
        let mut machine = lock(&self.machine);
        if index <= machine.applied {
            // Covered by a snapshot restored since it was committed.
            return;
        }
        let response = machine.state.apply(index, command);
        machine.applied = index;
        drop(machine);
        let mut waiters = lock(&self.waiters);
        let mut response = Some(response);
        let mut any = false;
        for (&(at, proposed), outcome) in waiters.pending.range_mut((index, Term(0))..) {
            if at != index {
                break;
            }
            if outcome.is_some() {
                continue;
            }
            // Only the proposal of the term the entry was applied in is
            // answered with its response; one of another term was replaced.
            *outcome = Some(match response.take() {
                Some(r) if proposed == term => Ok(r),
                other => {
                    response = other;
                    Err(ProposeError::LeadershipLost)
                }
            });
            any = true;
        }
        drop(waiters);
        if any {
            self.answered.notify_all();
        }
        self.snapshot_if_large();
    }

    /// Restores a snapshot through `index`, unless the machine is already
    /// past it (never backwards); proposals at indices it covers are
    /// answered with [`ProposeError::LeadershipLost`] (this peer did not
    /// apply them itself, so it cannot tell what they returned).
    fn restore(
        &self,
        index: LogIndex,
        data: &[u8],
    ) -> Result<(), std::sync::Arc<dyn std::error::Error + Send + Sync>> {
        let mut machine = lock(&self.machine);
        if index <= machine.applied {
            return Ok(());
        }
        machine.state.restore(data).map_err(|e| {
            std::sync::Arc::new(e) as std::sync::Arc<dyn std::error::Error + Send + Sync>
        })?;
        machine.applied = index;
        drop(machine);
        tracing::info!(
            peer = self.raft.id().0,
            through = index.0,
            "restored a snapshot"
        );
        let failed = lock(&self.waiters).fail(&ProposeError::LeadershipLost, |at, _| at <= index);
        if failed {
            self.answered.notify_all();
        }
        Ok(())
    }

    /// Snapshots the state machine if the persisted Raft state exceeds the
    /// threshold.
    fn snapshot_if_large(&self) {
        let Some(threshold) = self.snapshot_threshold else {
            return;
        };
        if self.raft.persister().raft_state_size() <= threshold {
            return;
        }
        let (index, data) = {
            let machine = lock(&self.machine);
            (machine.applied, machine.state.snapshot())
        };
        if let Err(e) = self.raft.snapshot(index, data) {
            tracing::warn!(peer = self.raft.id().0, through = index.0, error = %e, "snapshot refused");
        }
    }

    /// The watcher thread: at every change of term or leader, fails the
    /// proposals placed in an earlier term, or all of them once this peer
    /// no longer leads. Ends when the peer stops.
    fn run_watcher(&self, mut watch: LeaderWatch) {
        while watch.changed().is_some() {
            let mut waiters = lock(&self.waiters);
            // Read under the waiters' lock: a proposal registered since is
            // judged against the leadership it was placed under or later.
            let now = watch.current();
            let failed = waiters.fail(&ProposeError::LeadershipLost, |_, term| {
                term != now.term || !now.is_me
            });
            drop(waiters);
            if failed {
                self.answered.notify_all();
            }
        }
    }
}

#[cfg(all(test, not(feature = "loom")))]
mod tests;
