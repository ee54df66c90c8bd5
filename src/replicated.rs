//! A replicated state machine on the thread runtime: the library a service
//! is built on (anchors: hashicorp/raft's `FSM` and `Apply().Response()`,
//! openraft's `RaftStateMachine` and `client_write`).
//!
//! A service implements [`StateMachine`] (apply a committed command and
//! return a response; take a snapshot; restore from one) and runs it with
//! [`Replicated`]: one Raft peer and one applier thread that feeds the
//! machine every committed command, in log order, on every peer.
//! [`Replicated::propose`] replicates a command and returns the response
//! the machine gave when it applied that very entry, or a typed error:
//!
//! - [`ProposeError::NotLeader`]: this peer does not lead (with the leader
//!   it knows of, if any); nothing was proposed.
//! - [`ProposeError::LeadershipLost`]: the peer lost its office, or its
//!   entry was replaced by a later leader's (§5.3), before the entry was
//!   applied here. Its outcome is unknown to this caller: a command that
//!   must not run twice needs an idempotence key (as the key/value
//!   service's client ids and sequence numbers, §8).
//! - [`ProposeError::Shutdown`]: the peer stopped.
//!
//! Waiters learn of a lost office from the peer's leader watch
//! ([`crate::runtime::Raft::leader_watch`]), not by polling. The machine
//! is snapshotted once the persisted Raft state reaches
//! [`ReplicatedConfig::snapshot_threshold`] bytes, and a snapshot the peer
//! installs (a leader's, or its own at restart) restores it.
//!
//! Lock order: the machine's lock, then the waiters' lock; neither is held
//! while calling into the Raft peer, except `Raft::snapshot` under the
//! machine's lock (the peer never calls back into this layer).

use crate::consensus::{LogIndex, NodeId, Term};
use crate::runtime::sync::mpsc::Receiver;
use crate::runtime::{ApplyMsg, Persister, Raft, RaftConfig, RaftError, StartError, Transport};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

/// A deterministic state machine replicated through the Raft log.
pub trait StateMachine: Send + 'static {
    /// What applying a command returns to its proposer.
    type Response: Send + 'static;

    /// Applies the command committed at `index`. Every peer applies the
    /// same commands in the same order and must reach the same state, so
    /// this must be deterministic; bytes that are not a valid command
    /// should give a response saying so, not a panic.
    fn apply(&mut self, index: LogIndex, command: &[u8]) -> Self::Response;

    /// The state as snapshot bytes.
    fn snapshot(&self) -> Bytes;

    /// Replaces the state with a snapshot's; an error leaves it unchanged
    /// (and is logged: the snapshot did not come from this machine).
    fn restore(&mut self, data: &[u8]) -> Result<(), String>;
}

/// Why [`Replicated::propose`] gave no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This peer does not lead; nothing was proposed.
    #[error("not the leader (the leader is {leader_hint:?})")]
    NotLeader {
        /// The leader this peer last heard from, if any.
        leader_hint: Option<NodeId>,
    },
    /// The peer lost its office, or the entry was replaced, before it was
    /// applied here: the command may or may not take effect.
    #[error("leadership lost before the entry was applied: its outcome is unknown")]
    LeadershipLost,
    /// The peer has stopped.
    #[error("the peer has shut down")]
    Shutdown,
}

/// How a [`Replicated`] peer snapshots.
#[derive(Clone, Debug, Default)]
pub struct ReplicatedConfig {
    /// The Raft peer's settings.
    pub raft: RaftConfig,
    /// Snapshot the machine once the persisted Raft state reaches this
    /// many bytes; `None`: never.
    pub snapshot_threshold: Option<usize>,
}

/// A proposal waiting for its entry, and where its answer goes.
struct Waiter<R> {
    term: Term,
    answer: SyncSender<Result<R, ProposeError>>,
}

struct Inner<S: StateMachine> {
    raft: Raft,
    machine: Mutex<S>,
    waiters: Mutex<BTreeMap<LogIndex, Waiter<S::Response>>>,
    snapshot_threshold: Option<usize>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// One peer of a replicated [`StateMachine`]; clones share it.
pub struct Replicated<S: StateMachine> {
    inner: Arc<Inner<S>>,
}

impl<S: StateMachine> Clone for Replicated<S> {
    fn clone(&self) -> Self {
        Replicated {
            inner: Arc::clone(&self.inner),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: StateMachine> Replicated<S> {
    /// Starts peer `me` of `members` from what `persister` holds, with
    /// `machine` in its initial state (a stored snapshot restores it), its
    /// messages going through `transport`. Give the network
    /// [`Replicated::raft`]`().handler()`.
    pub fn new(
        members: Vec<NodeId>,
        me: NodeId,
        persister: Arc<dyn Persister>,
        config: ReplicatedConfig,
        transport: Arc<dyn Transport>,
        machine: S,
    ) -> Result<Replicated<S>, RaftError> {
        let (raft, applied) = Raft::new(members, me, persister, config.raft, transport)?;
        let inner = Arc::new(Inner {
            raft,
            machine: Mutex::new(machine),
            waiters: Mutex::new(BTreeMap::new()),
            snapshot_threshold: config.snapshot_threshold,
            threads: Mutex::new(Vec::new()),
        });
        let replicated = Replicated { inner };
        let spawned = [
            {
                let inner = Arc::clone(&replicated.inner);
                thread::Builder::new()
                    .name(format!("sm-{}-applier", me.0))
                    .spawn(move || inner.run_applier(applied))
            },
            {
                let inner = Arc::clone(&replicated.inner);
                thread::Builder::new()
                    .name(format!("sm-{}-watcher", me.0))
                    .spawn(move || inner.run_watcher())
            },
        ];
        let mut failure = None;
        for spawned in spawned {
            match spawned {
                Ok(handle) => lock(&replicated.inner.threads).push(handle),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            replicated.shutdown();
            return Err(RaftError::Thread(Arc::new(e)));
        }
        Ok(replicated)
    }

    /// The Raft peer.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// Replicates `command` and returns the machine's response to it, once
    /// the entry is committed and applied on this peer (which must lead).
    /// Blocks until then, or until the outcome is known to be unknown (see
    /// [`ProposeError`]).
    pub fn propose(&self, command: Bytes) -> Result<S::Response, ProposeError> {
        let inner = &self.inner;
        let (answer, response) = sync_channel(1);
        // The waiters' lock is held across `start`, so that the applier,
        // which takes it to answer, cannot apply the entry before its
        // waiter is registered (the channel hand-off of `start` never
        // waits on the applier).
        {
            let mut waiters = lock(&inner.waiters);
            let (index, term) = match inner.raft.start(command) {
                Ok(at) => at,
                Err(StartError::NotLeader { leader_hint }) => {
                    return Err(ProposeError::NotLeader { leader_hint });
                }
                Err(StartError::Shutdown) => return Err(ProposeError::Shutdown),
            };
            if let Some(old) = waiters.insert(index, Waiter { term, answer }) {
                let _ = old.answer.send(Err(ProposeError::LeadershipLost));
            }
        }
        // The sender is dropped (an error) only if this layer is dropped.
        response.recv().unwrap_or(Err(ProposeError::Shutdown))
    }

    /// Runs `f` on the machine as this peer has applied it (it may lag the
    /// cluster: a read here is not linearizable).
    pub fn with_state<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        f(&lock(&self.inner.machine))
    }

    /// Stops the peer and its threads; waiting proposals get
    /// [`ProposeError::Shutdown`].
    pub fn shutdown(&self) {
        let inner = &self.inner;
        // Closes the apply channel and the leader watch the threads wait on.
        inner.raft.shutdown();
        let handles: Vec<_> = lock(&inner.threads).drain(..).collect();
        for handle in handles {
            let _ = handle.join();
        }
        for (_, w) in std::mem::take(&mut *lock(&inner.waiters)) {
            let _ = w.answer.send(Err(ProposeError::Shutdown));
        }
    }
}

impl<S: StateMachine> Inner<S> {
    /// Applies what Raft commits, in order, and answers the proposals.
    fn run_applier(&self, applied: Receiver<ApplyMsg>) {
        while let Ok(message) = applied.recv() {
            match message {
                ApplyMsg::Command {
                    index,
                    term,
                    command,
                } => {
                    let mut machine = lock(&self.machine);
                    let response = machine.apply(index, &command);
                    if self
                        .snapshot_threshold
                        .is_some_and(|max| self.raft.persister().raft_state_size() >= max)
                    {
                        // An error here means the peer has stopped.
                        let _ = self.raft.snapshot(index, machine.snapshot());
                    }
                    drop(machine);
                    let mut waiters = lock(&self.waiters);
                    // Waiters below the index lost their entries to a
                    // snapshot or never saw them (answered below).
                    if let Some(w) = waiters.remove(&index) {
                        // §5.3: only the entry proposed in that term.
                        let result = match w.term == term {
                            true => Ok(response),
                            false => Err(ProposeError::LeadershipLost),
                        };
                        let _ = w.answer.send(result);
                    }
                }
                ApplyMsg::Snapshot { index, data, .. } => {
                    if let Err(reason) = lock(&self.machine).restore(&data) {
                        tracing::error!(%index, %reason, "the state machine refused a snapshot");
                    }
                    // What the snapshot covers was applied elsewhere: the
                    // responses are not known here.
                    self.fail_waiters_through(index);
                }
            }
        }
    }

    fn fail_waiters_through(&self, index: LogIndex) {
        let mut waiters = lock(&self.waiters);
        let rest = waiters.split_off(&index.next());
        for (_, w) in std::mem::replace(&mut *waiters, rest) {
            let _ = w.answer.send(Err(ProposeError::LeadershipLost));
        }
    }

    /// Fails the waiters of a term this peer no longer leads in, as soon
    /// as the leader watch says so.
    fn run_watcher(&self) {
        let mut watch = self.raft.leader_watch();
        loop {
            {
                // Read under the waiters' lock: a proposal registers under
                // it after `start`, which publishes its leadership first,
                // so no waiter is judged by an older value.
                let mut waiters = lock(&self.waiters);
                let now = watch.current();
                let lost: Vec<LogIndex> = waiters
                    .iter()
                    .filter(|(_, w)| !now.is_me || w.term != now.term)
                    .map(|(&i, _)| i)
                    .collect();
                for index in lost {
                    if let Some(w) = waiters.remove(&index) {
                        let _ = w.answer.send(Err(ProposeError::LeadershipLost));
                    }
                }
            }
            if watch.changed().is_none() {
                return;
            }
        }
    }
}
