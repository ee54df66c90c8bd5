//! Mutations of the runtime's synchronisation, compiled in only with the
//! `loom` feature and chosen per peer through `RaftConfig::mutation`. Each
//! reintroduces a classic concurrency bug, so that the loom models in
//! `loom-tests/` show they catch it (a model that cannot fail proves
//! nothing). The mutated code itself lives in `raft/mutants.rs`, the
//! loom build's hook into the peer's loops: production code has no
//! mutation branch.

/// One reintroduced concurrency bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// A storage round is taken even while another is in progress: two
    /// threads' rounds overlap, and the later round's entries (and
    /// messages, and writes) can leave before the earlier one's.
    OverlappingRounds,
    /// A storage round hands committed entries to the apply queue (waiting
    /// for room) with the node lock held: with the queue full, an
    /// application that calls back into the peer (`Raft::snapshot`) waits
    /// for the node lock while the round holding it waits for the
    /// application.
    DeliverUnderNodeLock,
    /// A storage round sends with the node lock held: two peers sending to
    /// each other through a synchronous transport deadlock.
    SendUnderLock,
    /// A storage round lets its messages and entries out before its write
    /// is durable: a send overtakes the persist it depends on.
    PersistAfterSend,
    /// `state()` reads the term and the role under two separate
    /// acquisitions of the node lock: a torn pair.
    TornState,
    /// `shutdown()` sets the stop flag and notifies without taking the
    /// locks the threads wait with: a thread that has checked the flag but
    /// not yet gone to sleep misses the notification.
    UnlockedShutdown,
}
