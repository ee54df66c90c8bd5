//! Mutations of the runtime's synchronisation, compiled in only with the
//! `loom` feature and chosen per peer through `RaftConfig::mutation`. Each
//! reintroduces a classic concurrency bug, so that the loom models in
//! `loom-tests/` show they catch it (a model that cannot fail proves
//! nothing). The mutated code itself lives in `raft/mutants.rs`, the
//! loom build's hook into the effect loop: production code has no
//! mutation branch.

/// One reintroduced concurrency bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Committed entries take their turn in the apply queue after the node
    /// lock is released instead of before: two threads that commit one
    /// after the other can hand theirs over in the opposite order.
    ApplyAfterUnlock,
    /// Committed entries are handed to the apply queue (waiting for the
    /// turn and for room) before the node lock is released: with the queue
    /// full, an application that calls back into the peer
    /// (`Raft::snapshot`) waits for the node lock while the producer
    /// holding it waits for the application.
    DeliverUnderNodeLock,
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
