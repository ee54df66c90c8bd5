//! The journal: group commit of the peer's persist effects.
//!
//! Handlers append their persist effects here under the node lock, so
//! storage sees them in the order the core decided them, and take a
//! ticket: the sequence number of the last effect appended so far (their
//! own, or an earlier handler's, whose state their messages may reflect).
//! After releasing the node lock, a handler that has messages to send or
//! entries to hand over waits until the journal is durable up to its
//! ticket. The first such handler to find no write in progress becomes the
//! writer: it takes everything appended so far, writes it with one
//! [`Persister::persist_batch`] (one write and one `fdatasync` on a disk
//! log) with no lock held, publishes the new durable position and wakes
//! the others. So many handlers' effects (many clients' proposals, many
//! followers' acknowledgements) share one `fdatasync`, the node lock is
//! never held across one, and a message still leaves only after every
//! persist effect it may depend on is durable (Figure 2: "before
//! responding to RPCs"; etcd's Ready loop, raft-engine's write barrier).
//!
//! A write that fails halts the peer: every waiter gets the error, and
//! nothing that depends on what failed leaves. Closing the journal (the
//! peer stopped) waits for a write in progress and lets no new one start:
//! nothing is persisted once [`crate::runtime::Raft::shutdown`] returns.
//!
//! Lock order: the node lock may be held while taking the journal's lock
//! (to append), never the other way round; the journal's lock is not held
//! while writing.

use crate::consensus::{Message, NodeId, Persist};
use crate::runtime::config::ApplyMsg;
use std::collections::VecDeque;
use crate::runtime::persister::{Persister, StorageError};
use crate::runtime::sync::{Condvar, Mutex, MutexGuard, lock, wait};

/// The journal of one peer.
pub(crate) struct Journal {
    state: Mutex<State>,
    /// Signalled when a write ends or the journal closes.
    written: Condvar,
    /// Signalled when work arrives for the storage thread.
    work: Condvar,
}

/// What a handler left for the storage thread: its messages and applied
/// entries, to leave once every effect through `through` is durable.
pub(crate) struct Held {
    through: u64,
    /// Messages to send.
    pub(crate) outbox: Vec<(NodeId, Message)>,
    /// Entries and snapshots to hand to the application.
    pub(crate) applied: Vec<ApplyMsg>,
}

/// One round of the storage thread: effects to write (through a
/// sequence number) and what may leave once they are durable.
pub(crate) struct Work {
    /// Effects to write in one batch.
    pub(crate) ops: Vec<Persist>,
    through: u64,
    /// What leaves once they are durable, in order.
    pub(crate) held: Vec<Held>,
}

struct State {
    /// Effects appended and not yet taken by a writer, in order.
    pending: Vec<Persist>,
    /// Sequence number of the last effect appended.
    appended: u64,
    /// Every effect through this sequence number is durable.
    durable: u64,
    /// A writer is writing (outside the lock).
    writing: bool,
    /// A write failed: the peer halts; every later wait gets this.
    failed: Option<StorageError>,
    /// The peer stopped: no write starts any more.
    closed: bool,
    /// Handlers' messages and entries waiting for the storage thread.
    held: VecDeque<Held>,
}

/// Why [`Journal::wait_durable`] did not see its ticket durable.
pub(crate) enum NotDurable {
    /// Storage failed (now or before): the peer halts.
    Failed(StorageError),
    /// The peer stopped first.
    Closed,
}

/// A handler's place in the journal: durable once every effect through it
/// is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Journal {
    pub(crate) fn new() -> Journal {
        Journal {
            state: Mutex::new(State {
                pending: Vec::new(),
                appended: 0,
                durable: 0,
                writing: false,
                failed: None,
                closed: false,
                held: VecDeque::new(),
            }),
            written: Condvar::new(),
            work: Condvar::new(),
        }
    }

    /// Appends `ops` (called with the node lock held, in the core's
    /// order) and returns the ticket of everything appended so far.
    pub(crate) fn append(&self, ops: Vec<Persist>) -> Ticket {
        let mut state = lock(&self.state);
        state.appended += ops.len() as u64;
        state.pending.extend(ops);
        Ticket(state.appended)
    }

    /// Waits until every effect through `ticket` is durable, writing what
    /// is pending itself when no other thread is (called with no lock
    /// held).
    pub(crate) fn wait_durable(
        &self,
        ticket: Ticket,
        persister: &dyn Persister,
    ) -> Result<(), NotDurable> {
        let mut state = lock(&self.state);
        loop {
            if let Some(e) = &state.failed {
                return Err(NotDurable::Failed(e.clone()));
            }
            if state.durable >= ticket.0 {
                return Ok(());
            }
            if state.closed {
                return Err(NotDurable::Closed);
            }
            if state.writing {
                state = wait(&self.written, state);
                continue;
            }
            state = self.write(state, persister);
        }
    }

    /// Takes everything pending and writes it with one batch, releasing
    /// the lock meanwhile; publishes the result and wakes the waiters.
    fn write<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        persister: &dyn Persister,
    ) -> MutexGuard<'a, State> {
        let ops = std::mem::take(&mut state.pending);
        let through = state.appended;
        state.writing = true;
        drop(state);
        let result = persister.persist_batch(&ops);
        let mut state = lock(&self.state);
        state.writing = false;
        match result {
            Ok(()) => state.durable = through,
            Err(e) => state.failed = Some(e),
        }
        self.written.notify_all();
        state
    }

    /// Appends `ops` and leaves `outbox` and `applied` to the storage
    /// thread (called with the node lock held): the handler returns at once.
    pub(crate) fn append_deferred(
        &self,
        ops: Vec<Persist>,
        outbox: Vec<(NodeId, Message)>,
        applied: Vec<ApplyMsg>,
    ) {
        let mut state = lock(&self.state);
        let wake = !ops.is_empty() || !outbox.is_empty() || !applied.is_empty();
        state.appended += ops.len() as u64;
        state.pending.extend(ops);
        if !outbox.is_empty() || !applied.is_empty() {
            let through = state.appended;
            state.held.push_back(Held {
                through,
                outbox,
                applied,
            });
        }
        drop(state);
        if wake {
            self.work.notify_one();
        }
    }

    /// The storage thread's next round: waits for work; `None` once the
    /// journal is closed or failed.
    pub(crate) fn take_work(&self) -> Option<Work> {
        let mut state = lock(&self.state);
        loop {
            if state.closed || state.failed.is_some() {
                return None;
            }
            if !state.pending.is_empty() || !state.held.is_empty() {
                break;
            }
            state = wait(&self.work, state);
        }
        let ops = std::mem::take(&mut state.pending);
        let through = state.appended;
        let held = state.held.drain(..).collect();
        state.writing = true;
        Some(Work { ops, through, held })
    }

    /// The storage thread wrote `work`'s effects (or failed to).
    pub(crate) fn finish(&self, work: &Work, result: Result<(), StorageError>) {
        let mut state = lock(&self.state);
        state.writing = false;
        match result {
            Ok(()) => state.durable = state.durable.max(work.through),
            Err(e) => state.failed = Some(e),
        }
        drop(state);
        self.written.notify_all();
    }

    /// The peer stopped: waits for a write in progress to end, and lets
    /// no new one start.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        while state.writing {
            state = wait(&self.written, state);
        }
        drop(state);
        self.written.notify_all();
        self.work.notify_all();
    }
}
