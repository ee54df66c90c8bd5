//! The loom build's hook into the peer's loops: the same three entry
//! points as production's `hook` (`round`, `state`, `shutdown`), which
//! run the production steps unless the peer's configuration names a
//! [`Mutation`]; then they run that mutant's sequence of the same steps.
//! Compiled only with the `loom` feature, so production code carries no
//! mutation branch.

use super::{Shared, Term, lock};
use crate::runtime::journal::Held;
use crate::runtime::mutation::Mutation;
use crate::runtime::sync::Ordering;

/// [`Shared::round`], or the mutant of it the peer is configured with.
pub(super) fn round(shared: &Shared, wait: bool) -> bool {
    let mutation = shared.config.mutation;
    let round_mutants = [
        Mutation::OverlappingRounds,
        Mutation::PersistAfterSend,
        Mutation::SendUnderLock,
        Mutation::DeliverUnderNodeLock,
    ];
    if !mutation.is_some_and(|m| round_mutants.contains(&m)) {
        return shared.round(wait);
    }
    let taken = match mutation {
        // Takes a round even while another is in progress: two threads'
        // rounds overlap, and the later one's entries and messages can
        // leave first.
        Some(Mutation::OverlappingRounds) if !wait => shared.journal.take_overlapping(),
        _ => shared.journal.take(wait),
    };
    let Some(mut round) = taken else {
        return false;
    };
    let held = std::mem::take(&mut round.held);
    match mutation {
        Some(Mutation::PersistAfterSend) => {
            // The messages and entries leave before the write they depend
            // on is durable.
            shared.release(held);
            if !shared.write(&round) {
                return false;
            }
        }
        Some(Mutation::SendUnderLock) => {
            // Sends with the node lock held: two peers sending to each
            // other through a synchronous transport deadlock.
            if !shared.write(&round) {
                return false;
            }
            for Held { outbox, applied } in held {
                shared.hand_over(applied);
                let core = lock(&shared.core);
                shared.send_all(outbox);
                drop(core);
            }
        }
        Some(Mutation::DeliverUnderNodeLock) => {
            // Waits for room in the apply queue with the node lock held: an
            // application that calls back into the peer deadlocks.
            if !shared.write(&round) {
                return false;
            }
            for Held { outbox, applied } in held {
                let core = lock(&shared.core);
                shared.hand_over(applied);
                drop(core);
                shared.send_all(outbox);
            }
        }
        _ => {
            // OverlappingRounds: the production steps, on a round taken
            // without waiting for the one in progress.
            if !shared.write(&round) {
                return false;
            }
            shared.release(held);
        }
    }
    shared.journal.end_round();
    if let Some((index, term)) = round.durable {
        shared.persisted(index, term);
    }
    true
}

/// [`Shared::state`], or with [`Mutation::TornState`] the term and the role
/// read under two acquisitions of the node lock.
pub(super) fn state(shared: &Shared) -> (Term, bool) {
    if shared.config.mutation != Some(Mutation::TornState) {
        return shared.state();
    }
    let term = lock(&shared.core).node.current_term();
    let core = lock(&shared.core);
    (term, core.node.is_leader() && !shared.halted(&core))
}

/// [`Shared::shutdown`], or with [`Mutation::UnlockedShutdown`] the stop
/// flag set and the ticker notified without taking the node lock it waits
/// with.
pub(super) fn shutdown(shared: &Shared) {
    if shared.config.mutation != Some(Mutation::UnlockedShutdown) {
        return shared.shutdown();
    }
    shared.stopped.store(true, Ordering::SeqCst);
    shared.close_journal();
    shared.apply.close();
    shared.timers_changed.notify_all();
    shared.leadership.close();
    shared.join_threads();
}
