//! The journal: group commit of a peer's persist effects.
//!
//! A handler runs the core under the node lock and appends what the core
//! decided to the journal before releasing it: its persist effects, in the
//! core's order, and what must wait for them (its messages and the entries
//! it committed). Then it returns at once: no handler waits for
//! the disk.
//!
//! The storage loop ([`crate::runtime::StorageLoop`], a thread of its own
//! in [`crate::runtime::Raft::new`]) works in rounds. A round takes
//! everything appended so far, writes it with one
//! [`crate::runtime::Persister::persist_batch`] (one write and one
//! `fdatasync` on a disk log) with no lock held, and only then hands the
//! committed entries to the application and sends the messages, in the
//! order the handlers left them. So many handlers' effects (many clients'
//! proposals, many followers' acknowledgements) share one `fdatasync`, the
//! node lock is never held across one, and a message leaves only after
//! every persist effect it may depend on is durable (Figure 2: "before
//! responding to RPCs"; etcd's Ready loop, raft-engine's write barrier).
//!
//! Rounds never overlap: a round is taken only when none is in progress,
//! so writes reach storage, and messages and entries leave, in the order
//! the handlers appended them, whichever thread runs the round.
//!
//! A write that fails halts the peer: no later round starts, and nothing
//! that depends on what failed leaves. Closing the journal (the peer
//! stopped) waits for a write in progress, lets no new round start, and
//! hands what is still pending to the closer to write as the last batch
//! (a graceful stop keeps what the peer decided; nothing is sent or
//! applied): nothing is persisted once
//! [`crate::runtime::Raft::shutdown`] returns.
//!
//! Lock order: the node lock may be held while taking the journal's lock
//! (to append), never the other way round; the journal's lock is not held
//! while writing, handing over or sending.

use crate::consensus::{LogIndex, Message, NodeId, Persist, Term};
use crate::runtime::config::ApplyMsg;
use crate::runtime::persister::StorageError;
use crate::runtime::sync::{Condvar, Mutex, lock, wait};
use std::collections::VecDeque;

/// The journal of one peer.
pub(crate) struct Journal {
    state: Mutex<State>,
    /// Signalled when a write ends, a round ends, work arrives, or the
    /// journal closes.
    changed: Condvar,
}

/// What a handler left to go out once the effects appended before it are
/// durable.
pub(crate) struct Held {
    /// Messages to send.
    pub(crate) outbox: Vec<(NodeId, Message)>,
    /// Entries and snapshots to hand to the application.
    pub(crate) applied: Vec<ApplyMsg>,
}

/// One round: effects to write in one batch, and what may leave once they
/// are durable, in order.
pub(crate) struct Round {
    /// Effects to write in one batch.
    pub(crate) ops: Vec<Persist>,
    /// What leaves once they are durable, in order.
    pub(crate) held: Vec<Held>,
    /// The last durability marker among the ops, to report to the core
    /// once they are durable.
    pub(crate) durable: Option<(LogIndex, Term)>,
}

struct State {
    /// Effects appended and not yet taken by a round, in order.
    pending: Vec<Persist>,
    /// A round is in progress (taken and not yet ended).
    in_round: bool,
    /// A round's write is in progress.
    writing: bool,
    /// A write failed: the peer halts.
    failed: bool,
    /// The peer stopped: no round starts any more.
    closed: bool,
    /// Handlers' messages and entries waiting for a round.
    held: VecDeque<Held>,
    /// The last durability marker appended and not yet taken: a later
    /// marker reports everything an earlier one would (the write that
    /// makes it durable makes every earlier one durable).
    durable: Option<(LogIndex, Term)>,
    /// Threads waiting in [`Journal::take`] for work.
    sleepers: usize,
}

impl Journal {
    pub(crate) fn new() -> Journal {
        Journal {
            state: Mutex::new(State {
                pending: Vec::new(),
                in_round: false,
                writing: false,
                failed: false,
                closed: false,
                held: VecDeque::new(),
                durable: None,
                sleepers: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Appends `ops` and leaves `outbox`, `applied` and the durability
    /// marker `durable` for a round (called with the node lock held, in the
    /// core's order). With `wake`, wakes a
    /// storage loop waiting for work; without, the caller runs the round
    /// itself. Either way, if a round is in progress, its end wakes the
    /// storage loop.
    pub(crate) fn append(
        &self,
        ops: Vec<Persist>,
        outbox: Vec<(NodeId, Message)>,
        applied: Vec<ApplyMsg>,
        durable: Option<(LogIndex, Term)>,
        wake: bool,
    ) {
        if ops.is_empty() && outbox.is_empty() && applied.is_empty() {
            return;
        }
        let mut state = lock(&self.state);
        state.pending.extend(ops);
        if durable.is_some() {
            state.durable = durable;
        }
        if !outbox.is_empty() || !applied.is_empty() {
            state.held.push_back(Held { outbox, applied });
        }
        let wake = wake && state.sleepers > 0 && !state.in_round;
        drop(state);
        if wake {
            self.changed.notify_all();
        }
    }

    /// Takes the next round: everything appended so far. With `wait`,
    /// waits for work and for the round in progress to end; without, takes
    /// one only if there is work and no round is in progress. `None` once
    /// the journal is closed or a write has failed (or, without `wait`,
    /// when there is nothing to take now).
    pub(crate) fn take(&self, wait_for_work: bool) -> Option<Round> {
        let mut state = lock(&self.state);
        loop {
            if state.closed || state.failed {
                return None;
            }
            let work = !state.pending.is_empty() || !state.held.is_empty();
            if work && !state.in_round {
                break;
            }
            if !wait_for_work {
                return None;
            }
            state.sleepers += 1;
            state = wait(&self.changed, state);
            state.sleepers -= 1;
        }
        Some(Journal::take_locked(&mut state))
    }

    /// Takes a round without a write: only if nothing appended waits to be
    /// written, no round is in progress, and handlers left something to
    /// send or hand over. The caller runs it at once: a round with nothing
    /// to write costs less than waking the storage loop (a leader's commit
    /// on a follower's acknowledgement, a follower's reply to a heartbeat).
    pub(crate) fn take_unwritten(&self) -> Option<Round> {
        let mut state = lock(&self.state);
        let ready = !state.closed
            && !state.failed
            && !state.in_round
            && state.pending.is_empty()
            && !state.held.is_empty();
        ready.then(|| Journal::take_locked(&mut state))
    }

    /// [`Journal::take`] without waiting and without checking for a round
    /// in progress: the loom mutant `OverlappingRounds`.
    #[cfg(feature = "loom")]
    pub(crate) fn take_overlapping(&self) -> Option<Round> {
        let mut state = lock(&self.state);
        if state.closed || state.failed || (state.pending.is_empty() && state.held.is_empty()) {
            return None;
        }
        Some(Journal::take_locked(&mut state))
    }

    fn take_locked(state: &mut State) -> Round {
        state.in_round = true;
        state.writing = true;
        Round {
            ops: std::mem::take(&mut state.pending),
            held: state.held.drain(..).collect(),
            durable: state.durable.take(),
        }
    }

    /// The round's write ended with `result`.
    pub(crate) fn written(&self, result: &Result<(), StorageError>) {
        let mut state = lock(&self.state);
        state.writing = false;
        state.failed |= result.is_err();
        let wake = state.closed;
        drop(state);
        if wake {
            // `close` waits for the write to end.
            self.changed.notify_all();
        }
    }

    /// The round handed over and sent what it held: the next may start.
    /// Wakes the storage loop if work arrived meanwhile.
    pub(crate) fn end_round(&self) {
        let mut state = lock(&self.state);
        state.in_round = false;
        let wake = !state.pending.is_empty() || !state.held.is_empty();
        drop(state);
        if wake {
            self.changed.notify_all();
        }
    }

    /// The peer stopped: waits for a write in progress to end, lets no new
    /// round start, and returns the effects appended and not yet taken
    /// (none after a failed write), for the caller to write as the last
    /// batch, then report with [`Journal::written`]. What handlers left to
    /// send or hand over is dropped.
    pub(crate) fn close(&self) -> Vec<Persist> {
        let mut state = lock(&self.state);
        state.closed = true;
        while state.writing {
            state = wait(&self.changed, state);
        }
        state.held.clear();
        let rest = match state.failed {
            true => Vec::new(),
            false => std::mem::take(&mut state.pending),
        };
        state.writing = !rest.is_empty();
        drop(state);
        self.changed.notify_all();
        rest
    }
}
