//! Mutations of the runtime's synchronisation, compiled in only with the
//! `loom` feature and chosen per peer through `RaftConfig::mutation`. Each
//! reintroduces a classic concurrency bug, so that the loom models in
//! `loom-tests/` show they catch it (a model that cannot fail proves
//! nothing).
//!
//! The mutants live here, whole, behind three hooks the runtime calls only
//! in the loom build ([`hand_off`] from the effect loop, [`torn_state`]
//! from `Raft::state`, [`unlocked_shutdown`] from `Raft::shutdown`): the
//! production code has no mutation arms, and a peer without a mutation
//! runs exactly the production code under loom.

use crate::consensus::Term;
use crate::runtime::raft::{Core, HandOff, Shared};
use crate::runtime::sync::{MutexGuard, lock};

/// One reintroduced concurrency bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Committed entries are handed to the application's channel without
    /// the apply lock taken before the node lock is released: two threads
    /// that commit one after the other can hand theirs over in the
    /// opposite order.
    ApplyAfterUnlock,
    /// Messages are sent while the node lock is held: two peers sending to
    /// each other through a synchronous transport deadlock.
    SendUnderLock,
    /// Persist effects run after the messages that depend on them have
    /// been sent, outside the node lock.
    PersistAfterSend,
    /// `state()` reads the term and the role under two separate
    /// acquisitions of the node lock: a torn pair.
    TornState,
    /// `shutdown()` sets the stop flag and notifies without taking the
    /// locks the threads wait with: a thread that has checked the flag but
    /// not yet gone to sleep misses the notification.
    UnlockedShutdown,
}

/// The effect loop's hook: a peer with [`Mutation::PersistAfterSend`],
/// [`Mutation::SendUnderLock`] or [`Mutation::ApplyAfterUnlock`] hands off
/// in that broken order here (and `None` is returned); any other peer gets
/// its lock and hand-off back, for the production order.
pub(crate) fn hand_off<'a>(
    shared: &Shared,
    mut core: MutexGuard<'a, Core>,
    mut h: HandOff,
) -> Option<(MutexGuard<'a, Core>, HandOff)> {
    let mutation = shared.config.mutation;
    let broken = [
        Mutation::PersistAfterSend,
        Mutation::SendUnderLock,
        Mutation::ApplyAfterUnlock,
    ];
    if !mutation.is_some_and(|m| broken.contains(&m)) {
        return Some((core, h));
    }
    let deferred = match mutation == Some(Mutation::PersistAfterSend) {
        true => std::mem::take(&mut h.persists),
        false => Vec::new(),
    };
    shared.persist(&mut core, &mut h);
    shared.publish_leadership(&mut core);
    let wake = shared.ticker_needs_waking(&core, &h);
    if mutation == Some(Mutation::SendUnderLock) {
        shared.send_all(std::mem::take(&mut h.outbox));
    }
    let apply = match h.applied.is_empty() || mutation == Some(Mutation::ApplyAfterUnlock) {
        true => None,
        false => Some(lock(&shared.apply)),
    };
    drop(core);
    if wake {
        shared.timers_changed.notify_one();
    }
    match apply {
        Some(mut channel) => channel.deliver(h.applied),
        None if !h.applied.is_empty() => {
            // The order between threads is lost.
            let mut channel = lock(&shared.apply).clone();
            channel.deliver(h.applied);
        }
        None => {}
    }
    shared.send_all(h.outbox);
    if !deferred.is_empty() {
        let _ = shared.persister.persist_batch(&deferred);
    }
    None
}

/// `Raft::state`'s hook: with [`Mutation::TornState`], the term and the
/// role read under two acquisitions of the node lock.
pub(crate) fn torn_state(shared: &Shared) -> Option<(Term, bool)> {
    if shared.config.mutation != Some(Mutation::TornState) {
        return None;
    }
    let term = lock(&shared.core).node.current_term();
    let core = lock(&shared.core);
    Some((term, core.node.is_leader() && !shared.halted(&core)))
}

/// `Raft::shutdown`'s hook: with [`Mutation::UnlockedShutdown`], the stop
/// is announced without taking the locks the threads wait with.
pub(crate) fn unlocked_shutdown(shared: &Shared) -> bool {
    shared.config.mutation == Some(Mutation::UnlockedShutdown)
}
