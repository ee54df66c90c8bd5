//! The loom build's hook into the effect loop: the same three entry points
//! as production's `hook` (`run`, `state`, `shutdown`), which run the
//! production steps unless the peer's configuration names a
//! [`Mutation`]; then they run that mutant's sequence of the same steps.
//! Compiled only with the `loom` feature, so production code carries no
//! mutation branch.

use super::{Core, Effect, MutexGuard, Shared, Term, lock};
use crate::runtime::mutation::Mutation;
use crate::runtime::sync::Ordering;

/// [`Shared::run`], or the mutant of it the peer is configured with.
pub(super) fn run(shared: &Shared, mut core: MutexGuard<'_, Core>, effects: Vec<Effect>) {
    match shared.config.mutation {
        Some(Mutation::ApplyAfterUnlock) => {
            // The turn is taken after the node lock is released: two
            // threads that commit one after the other can hand their
            // entries over in the opposite order.
            let mut plan = shared.plan(&mut core, effects);
            let ticket = shared.append(&mut plan);
            shared.publish_leadership(&mut core);
            drop(core);
            let turn = shared.apply_turn(&plan);
            shared.wake_ticker(&plan);
            if !shared.durable(ticket) {
                return;
            }
            Shared::hand_over(turn, std::mem::take(&mut plan.applied));
            shared.send_all(plan.outbox);
        }
        Some(Mutation::SendUnderLock) => {
            let mut plan = shared.plan(&mut core, effects);
            let ticket = shared.append(&mut plan);
            shared.publish_leadership(&mut core);
            if !shared.durable(ticket) {
                return;
            }
            shared.send_all(std::mem::take(&mut plan.outbox));
            let turn = shared.apply_turn(&plan);
            drop(core);
            shared.wake_ticker(&plan);
            Shared::hand_over(turn, std::mem::take(&mut plan.applied));
        }
        Some(Mutation::PersistAfterSend) => {
            // A send overtakes the persist it depends on: the messages
            // leave before the journal is durable through this call.
            let mut plan = shared.plan(&mut core, effects);
            let ticket = shared.append(&mut plan);
            shared.publish_leadership(&mut core);
            let turn = shared.apply_turn(&plan);
            drop(core);
            shared.wake_ticker(&plan);
            shared.send_all(std::mem::take(&mut plan.outbox));
            if !shared.durable(ticket) {
                return;
            }
            Shared::hand_over(turn, std::mem::take(&mut plan.applied));
        }
        Some(Mutation::DeliverUnderNodeLock) => {
            // Waits for the turn and for room with the node lock held: an
            // application that calls back into the peer deadlocks.
            let mut plan = shared.plan(&mut core, effects);
            let ticket = shared.append(&mut plan);
            shared.publish_leadership(&mut core);
            let turn = shared.apply_turn(&plan);
            if !shared.durable(ticket) {
                return;
            }
            Shared::hand_over(turn, std::mem::take(&mut plan.applied));
            drop(core);
            shared.wake_ticker(&plan);
            shared.send_all(plan.outbox);
        }
        _ => shared.run(core, effects),
    }
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
    shared.journal.close();
    shared.apply.close();
    shared.timers_changed.notify_all();
    shared.leadership.close();
    shared.join_threads();
}
