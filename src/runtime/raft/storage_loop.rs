//! The storage loop: rounds of group commit ([`crate::runtime::journal`]).
//!
//! A round takes everything handlers appended since the last one, writes
//! it with one [`crate::runtime::Persister::persist_batch`] with no lock
//! held, and only then hands the committed entries to the application and
//! sends the messages, in the order the handlers left them. Rounds never
//! overlap, whichever thread runs them.

use super::{Shared, hook, lock};
use crate::runtime::journal::{Held, Round};
use crate::runtime::persister::StorageError;
use crate::runtime::sync::Arc;

/// The loop that makes a peer's decisions durable and then lets out what
/// depends on them: [`Raft::new`](crate::runtime::Raft::new) runs it on a
/// thread of its own; [`Raft::unstarted`](crate::runtime::Raft::unstarted)
/// hands it to the embedder. Clones share the peer: rounds never overlap,
/// whichever clone runs them.
#[derive(Clone)]
pub struct StorageLoop {
    shared: Arc<Shared>,
}

impl StorageLoop {
    pub(super) fn new(shared: Arc<Shared>) -> StorageLoop {
        StorageLoop { shared }
    }

    /// Runs rounds until the peer stops or storage fails: waits for work
    /// (on a condition variable, no polling), writes it with one batch,
    /// lets out what depended on it, and repeats.
    pub fn run(self) {
        while hook::round(&self.shared, true) {}
    }

    /// Runs one round if there is work and no round is in progress,
    /// without waiting; returns whether it ran one. For tests that drive
    /// the peer by hand: `while storage.flush() {}` lets out everything
    /// decided so far (unless another thread is running a round).
    pub fn flush(&self) -> bool {
        hook::round(&self.shared, false)
    }
}

impl Shared {
    /// One storage round ([`StorageLoop`]); with `wait`, waits for work
    /// first. False when there was no round to run: the peer stopped,
    /// storage failed, or (without `wait`) nothing to take now.
    pub(super) fn round(&self, wait: bool) -> bool {
        match self.journal.take(wait) {
            Some(round) => self.run_round(round),
            None => false,
        }
    }

    /// A round with nothing to write, run by the caller if one can be taken
    /// now ([`crate::runtime::journal::Journal::take_unwritten`]); false
    /// if not (the storage loop, or the round in progress, sees to it).
    pub(super) fn round_unwritten(&self) -> bool {
        match self.journal.take_unwritten() {
            Some(round) => self.run_round(round),
            None => false,
        }
    }

    /// Writes a round taken from the journal, lets out what it held, ends
    /// it, and reports its durability marker to the core.
    fn run_round(&self, mut round: Round) -> bool {
        if !self.write(&round) {
            return false;
        }
        self.release(std::mem::take(&mut round.held));
        self.journal.end_round();
        if let Some((index, term)) = round.durable {
            self.persisted(index, term);
        }
        true
    }

    /// Writes the round's persist effects in one batch. If storage
    /// refuses, the peer halts ([`Shared::halt`]) and nothing that depends
    /// on what failed leaves: the round ends here, and no other starts.
    pub(super) fn write(&self, round: &Round) -> bool {
        let result = match round.ops.is_empty() {
            true => Ok(()),
            false => self.persister.persist_batch(&round.ops),
        };
        self.journal.written(&result);
        match result {
            Ok(()) => true,
            Err(e) => {
                self.halt(e);
                false
            }
        }
    }

    /// Hands each handler's committed entries to the application (waiting
    /// for room: the queue is bounded) and sends its messages, in the order
    /// the handlers left them; called with no lock held, after the round's
    /// write is durable.
    pub(super) fn release(&self, held: Vec<Held>) {
        for Held { outbox, applied } in held {
            self.hand_over(applied);
            self.send_all(outbox);
        }
    }

    /// Hands `applied` to the application's queue, in one turn.
    pub(super) fn hand_over(&self, applied: Vec<crate::runtime::ApplyMsg>) {
        if !applied.is_empty() {
            self.apply.turn().deliver(applied);
        }
    }

    /// Storage failed: the peer halts. It takes no more input, and its
    /// apply queue and leadership watch are closed, so nobody waits on it.
    fn halt(&self, error: StorageError) {
        let mut core = lock(&self.core);
        if core.fault.is_none() {
            tracing::error!(peer = self.id.0, %error, "storage failed: the peer halts");
            core.fault = Some(error);
        }
        drop(core);
        self.apply.close();
        self.leadership.close();
    }
}
