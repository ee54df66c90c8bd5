//! Mutations of the runtime's synchronisation, compiled in only with the
//! `loom` feature and chosen per peer through `RaftConfig::mutation`. Each
//! reintroduces a classic concurrency bug, so that the loom models in
//! `loom-tests/` show they catch it (a model that cannot fail proves
//! nothing).

/// One reintroduced concurrency bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// The applier checks its queue and goes to sleep in two separate
    /// critical sections: a commit queued between them is never delivered
    /// (a lost wakeup).
    LostWakeup,
    /// The applier takes the node lock while it holds the apply queue's
    /// lock, the opposite order to a handler's (a lock-order inversion).
    LockOrderInversion,
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
