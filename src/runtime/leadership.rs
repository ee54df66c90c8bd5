//! Who leads, as one peer sees it, published to whoever watches: a
//! watch-style value ([`LeaderWatch`]), so that a service learns of a new
//! leader (or that it lost its office) when it happens instead of polling
//! [`crate::runtime::Raft::state`].

use crate::consensus::{NodeId, Term};
use crate::runtime::sync::{Arc, Condvar, Mutex, lock, wait, wait_timeout};
use std::time::Duration;

/// Who leads in which term, as a peer last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// The peer's current term.
    pub term: Term,
    /// The leader it heard from in that term (itself when it leads), if any.
    pub leader: Option<NodeId>,
    /// Whether the peer itself leads.
    pub is_me: bool,
}

/// The published value: how many times it changed, and what it is.
#[derive(Debug)]
struct Published {
    version: u64,
    leadership: Leadership,
    /// The peer shut down: watchers stop waiting.
    closed: bool,
}

/// The peer's side: publishes changes (called under the node lock; the
/// watch's own lock is a leaf, taken after it and never before).
#[derive(Debug)]
pub(crate) struct Publisher {
    state: Mutex<Published>,
    changed: Condvar,
}

impl Publisher {
    pub(crate) fn new(leadership: Leadership) -> Arc<Publisher> {
        Arc::new(Publisher {
            state: Mutex::new(Published {
                version: 0,
                leadership,
                closed: false,
            }),
            changed: Condvar::new(),
        })
    }

    /// Publishes `leadership` (the caller checked that it changed).
    pub(crate) fn publish(&self, leadership: Leadership) {
        let mut state = lock(&self.state);
        state.version += 1;
        state.leadership = leadership;
        drop(state);
        self.changed.notify_all();
    }

    /// Wakes every watcher for good: the peer has shut down (or a storage
    /// fault halted it).
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.changed.notify_all();
    }
}

/// A watcher of one peer's [`Leadership`] ([`crate::runtime::Raft::leader_watch`]).
/// Each watcher remembers the last value it saw: [`LeaderWatch::changed`]
/// returns as soon as there is a newer one. Intermediate values may be
/// skipped (a watch, not a log): the latest is what counts.
#[derive(Debug)]
pub struct LeaderWatch {
    publisher: Arc<Publisher>,
    seen: u64,
}

impl LeaderWatch {
    pub(crate) fn new(publisher: Arc<Publisher>) -> LeaderWatch {
        let seen = lock(&publisher.state).version;
        LeaderWatch { publisher, seen }
    }

    /// The latest value, marked as seen.
    pub fn current(&mut self) -> Leadership {
        let state = lock(&self.publisher.state);
        self.seen = state.version;
        state.leadership
    }

    /// Waits until the value changes after the last one this watcher saw,
    /// and returns the new one; `None` once the peer has shut down or a
    /// storage fault has halted it.
    pub fn changed(&mut self) -> Option<Leadership> {
        let mut state = lock(&self.publisher.state);
        while state.version == self.seen && !state.closed {
            state = wait(&self.publisher.changed, state);
        }
        if state.version == self.seen {
            return None;
        }
        self.seen = state.version;
        Some(state.leadership)
    }

    /// As [`LeaderWatch::changed`], giving up after `timeout` (then `None`,
    /// as after a shutdown; [`LeaderWatch::current`] tells them apart).
    pub fn changed_within(&mut self, timeout: Duration) -> Option<Leadership> {
        let deadline = std::time::Instant::now() + timeout;
        let mut state = lock(&self.publisher.state);
        while state.version == self.seen && !state.closed {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            state = wait_timeout(&self.publisher.changed, state, left);
        }
        if state.version == self.seen {
            return None;
        }
        self.seen = state.version;
        Some(state.leadership)
    }
}
