//! The apply queue: committed entries and snapshots on their way from the
//! peer to the application, bounded, in log order, with backpressure.
//!
//! Producers are the peer's storage rounds
//! ([`crate::runtime::StorageLoop`]), which hand entries over once the
//! writes they depend on are durable; the consumer is the application
//! ([`ApplyReceiver`]). A full queue makes the producer wait until the
//! application has taken something: a slow application slows the peer
//! down instead of growing memory.
//!
//! Order: storage rounds never overlap, so each takes a *turn*
//! (`ApplyQueue::turn`) in the order the core committed the entries,
//! and waits (holding no lock but the queue's, released by the condition
//! variable) until its turn comes and there is room, and pushes. (The
//! turns also keep any producer that takes them in commit order, as the
//! queue was first built for handlers taking them under the node lock.) A
//! producer never waits with the node lock held: the application may call
//! back into the peer (`Raft::snapshot`, `Raft::state`) while a round
//! waits for it.
//!
//! Lock order: the node lock may be held while taking the queue's lock,
//! never the other way round; nothing else is taken while the queue's lock
//! is held (it is a leaf).

use crate::runtime::config::ApplyMsg;
use crate::runtime::sync::{Arc, Condvar, Mutex, MutexGuard, lock, wait, wait_timeout};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How many times a consumer yields, finding the queue empty, before it
/// parks.
#[cfg(not(feature = "loom"))]
const SPINS: usize = 8;

/// The queue shared by the peer and the application.
pub(crate) struct ApplyQueue {
    state: Mutex<QueueState>,
    /// Signalled when a message is pushed or the queue closes (the
    /// consumer waits on it).
    pushed: Condvar,
    /// Signalled when a message is taken, a turn ends, or the queue closes
    /// or loses its consumer (producers wait on it).
    room: Condvar,
    capacity: usize,
}

/// Everything guarded by the queue's lock.
struct QueueState {
    messages: VecDeque<ApplyMsg>,
    /// The next turn to hand out, and the turn whose holder may push now.
    next_turn: u64,
    serving: u64,
    /// The peer stopped: nothing more is pushed; the consumer takes what
    /// is there and then sees the end.
    closed: bool,
    /// The application dropped its end: producers discard what they hold.
    orphaned: bool,
    /// Consumers waiting on `pushed` now: a push notifies only when one
    /// waits (a notification is a system call; the common case, a busy
    /// consumer, needs none).
    consumers_waiting: usize,
    stats: ApplyQueueStats,
}

impl QueueState {
    /// Whether a producer waits on `room` (counted under the lock before
    /// it waits, so that checking here loses no wakeup).
    fn producers_waiting(&self) -> bool {
        self.stats.blocked_producers > 0
    }
}

/// What the apply queue has been through, for diagnostics and tests
/// ([`crate::runtime::Raft::apply_queue_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyQueueStats {
    /// Messages waiting for the application now.
    pub len: usize,
    /// The most that ever waited at once (never above the capacity).
    pub high_water: usize,
    /// Producers waiting now for room (or for their turn behind one that
    /// waits for room).
    pub blocked_producers: usize,
    /// How many times a producer found the queue full and waited.
    pub waits: u64,
}

/// A producer's place in the order of hand-overs, taken under the node
/// lock. Dropping it without delivering ends the turn, so that producers
/// behind it are not held up.
#[must_use = "a turn holds up every later producer until it is delivered or dropped"]
pub(crate) struct Turn<'a> {
    queue: &'a ApplyQueue,
    number: u64,
    /// Set once [`Turn::deliver`] has ended the turn itself.
    ended: bool,
}

impl ApplyQueue {
    /// A queue holding at most `capacity` messages (at least one).
    pub(crate) fn new(capacity: usize) -> Arc<ApplyQueue> {
        Arc::new(ApplyQueue {
            state: Mutex::new(QueueState {
                messages: VecDeque::new(),
                next_turn: 0,
                serving: 0,
                closed: false,
                orphaned: false,
                consumers_waiting: 0,
                stats: ApplyQueueStats::default(),
            }),
            pushed: Condvar::new(),
            room: Condvar::new(),
            capacity: capacity.max(1),
        })
    }

    /// Takes the next turn to hand messages over: called by a storage
    /// round (rounds never overlap), so that turns follow the order of
    /// commits.
    pub(crate) fn turn(&self) -> Turn<'_> {
        let mut state = lock(&self.state);
        let number = state.next_turn;
        state.next_turn += 1;
        Turn {
            queue: self,
            number,
            ended: false,
        }
    }

    /// Closes the queue for good (the peer stopped): nothing is pushed
    /// after this returns; waiting producers give up what they hold and
    /// the consumer sees the end once it has taken what is there.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.pushed.notify_all();
        self.room.notify_all();
    }

    /// What the queue has been through.
    pub(crate) fn stats(&self) -> ApplyQueueStats {
        let state = lock(&self.state);
        ApplyQueueStats {
            len: state.messages.len(),
            ..state.stats
        }
    }

    /// Whether producers have nothing more to do: the peer stopped or the
    /// application went away.
    fn shut(state: &QueueState) -> bool {
        state.closed || state.orphaned
    }

    /// Waits on `room` while `blocked` holds, counting the producer as
    /// blocked meanwhile.
    fn wait_for_room<'a>(
        &'a self,
        mut state: MutexGuard<'a, QueueState>,
        blocked: impl Fn(&QueueState) -> bool,
    ) -> MutexGuard<'a, QueueState> {
        if !blocked(&state) {
            return state;
        }
        state.stats.blocked_producers += 1;
        while blocked(&state) {
            state = wait(&self.room, state);
        }
        state.stats.blocked_producers -= 1;
        state
    }
}

impl Turn<'_> {
    /// Hands `messages` over, in order: waits (with no lock held but the
    /// queue's own, released while waiting) until this turn comes and then
    /// for room before each message. Once the queue is closed or its
    /// consumer gone, what is left is dropped.
    pub(crate) fn deliver(mut self, messages: Vec<ApplyMsg>) {
        let queue = self.queue;
        let number = self.number;
        let mut state = lock(&queue.state);
        state = queue.wait_for_room(state, |s| !ApplyQueue::shut(s) && s.serving != number);
        // One notification per stretch under the lock is enough: a woken
        // consumer takes everything queued before it waits again, which it
        // can do only while this producer waits for room (see below).
        let mut notified = false;
        for message in messages {
            if queue.capacity <= state.messages.len() && !ApplyQueue::shut(&state) {
                state.stats.waits += 1;
                // The lock is released while waiting: the consumer may be
                // back waiting for a push by the time there is room.
                notified = false;
            }
            state = queue.wait_for_room(state, |s| {
                !ApplyQueue::shut(s) && queue.capacity <= s.messages.len()
            });
            if ApplyQueue::shut(&state) {
                break;
            }
            state.messages.push_back(message);
            state.stats.high_water = state.stats.high_water.max(state.messages.len());
            if state.consumers_waiting > 0 && !notified {
                queue.pushed.notify_one();
                notified = true;
            }
        }
        // The turn ends here, under the same acquisition of the lock.
        if state.serving == number {
            state.serving += 1;
        }
        self.ended = true;
        let waiting = state.producers_waiting();
        drop(state);
        if waiting {
            queue.room.notify_all();
        }
    }
}

impl Drop for Turn<'_> {
    /// Ends the turn, in order: a turn dropped without delivering (a
    /// thread unwinding) first waits for the turns before it.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let queue = self.queue;
        let number = self.number;
        let mut state = lock(&queue.state);
        state = queue.wait_for_room(state, |s| !ApplyQueue::shut(s) && s.serving != number);
        if state.serving == number {
            state.serving += 1;
        }
        let waiting = state.producers_waiting();
        drop(state);
        if waiting {
            queue.room.notify_all();
        }
    }
}

/// The application's end of the apply queue: committed commands and
/// snapshots, in log order, as [`crate::runtime::Raft::new`] returns it.
/// Taking a message makes room for the peer, which waits while the queue
/// is full ([`crate::runtime::RaftConfig::apply_queue_capacity`]).
/// Dropping it discards whatever the peer hands over afterwards.
pub struct ApplyReceiver {
    queue: Arc<ApplyQueue>,
}

/// Why [`ApplyReceiver::recv`] returned no message: the queue is closed
/// (the peer stopped) and empty. (The names of these errors are
/// `std::sync::mpsc`'s, so that code written for a channel reads the same.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the peer has stopped and every applied message was taken")]
pub struct RecvError;

/// Why [`ApplyReceiver::try_recv`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing is waiting now.
    #[error("no message is waiting")]
    Empty,
    /// The peer stopped and every message was taken.
    #[error("the peer has stopped and every applied message was taken")]
    Disconnected,
}

/// Why [`ApplyReceiver::recv_timeout`] returned no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecvTimeoutError {
    /// Nothing arrived in time.
    #[error("no message arrived in time")]
    Timeout,
    /// The peer stopped and every message was taken.
    #[error("the peer has stopped and every applied message was taken")]
    Disconnected,
}

impl ApplyReceiver {
    pub(crate) fn new(queue: Arc<ApplyQueue>) -> ApplyReceiver {
        ApplyReceiver { queue }
    }

    /// The queue's lock, after yielding a few times while the queue is
    /// empty and open: a busy pipeline's next message is usually moments
    /// away, and parking on the condition variable costs a system call at
    /// each end (std's channels spin the same way before they park).
    /// Under loom, which explores every interleaving, it does not spin.
    fn spin_for_a_message(&self) -> MutexGuard<'_, QueueState> {
        let state = lock(&self.queue.state);
        #[cfg(not(feature = "loom"))]
        {
            let mut state = state;
            for _ in 0..SPINS {
                if !state.messages.is_empty() || state.closed {
                    break;
                }
                drop(state);
                std::thread::yield_now();
                state = lock(&self.queue.state);
            }
            state
        }
        #[cfg(feature = "loom")]
        state
    }

    /// Takes the front message from `state`, making room for a producer.
    fn take(&self, state: &mut QueueState) -> Option<ApplyMsg> {
        let message = state.messages.pop_front()?;
        if state.producers_waiting() {
            self.queue.room.notify_all();
        }
        Some(message)
    }

    /// Waits for the next message; [`RecvError`] once the peer has stopped
    /// and everything it handed over was taken.
    pub fn recv(&self) -> Result<ApplyMsg, RecvError> {
        let mut state = self.spin_for_a_message();
        loop {
            if let Some(message) = self.take(&mut state) {
                return Ok(message);
            }
            if state.closed {
                return Err(RecvError);
            }
            state.consumers_waiting += 1;
            state = wait(&self.queue.pushed, state);
            state.consumers_waiting -= 1;
        }
    }

    /// The next message if one is waiting, without waiting.
    pub fn try_recv(&self) -> Result<ApplyMsg, TryRecvError> {
        let mut state = lock(&self.queue.state);
        match self.take(&mut state) {
            Some(message) => Ok(message),
            None if state.closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// As [`ApplyReceiver::recv`], giving up after `timeout` (under loom,
    /// which has no time, it never gives up).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<ApplyMsg, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.spin_for_a_message();
        loop {
            if let Some(message) = self.take(&mut state) {
                return Ok(message);
            }
            if state.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            state.consumers_waiting += 1;
            state = wait_timeout(&self.queue.pushed, state, left);
            state.consumers_waiting -= 1;
        }
    }

    /// Every message, waiting for each, until the peer stops.
    pub fn iter(&self) -> impl Iterator<Item = ApplyMsg> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// The messages waiting now, without waiting.
    pub fn try_iter(&self) -> impl Iterator<Item = ApplyMsg> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }
}

impl IntoIterator for ApplyReceiver {
    type Item = ApplyMsg;
    type IntoIter = IntoIter;

    /// Every message, waiting for each, until the peer stops.
    fn into_iter(self) -> IntoIter {
        IntoIter { receiver: self }
    }
}

/// The messages of an [`ApplyReceiver`] it was turned into, until the peer
/// stops.
pub struct IntoIter {
    receiver: ApplyReceiver,
}

impl Iterator for IntoIter {
    type Item = ApplyMsg;

    fn next(&mut self) -> Option<ApplyMsg> {
        self.receiver.recv().ok()
    }
}

impl Drop for ApplyReceiver {
    /// Producers stop waiting: what they hold, and what is queued, has no
    /// one to go to.
    fn drop(&mut self) {
        let mut state = lock(&self.queue.state);
        state.orphaned = true;
        state.messages.clear();
        drop(state);
        self.queue.room.notify_all();
    }
}

impl std::fmt::Debug for ApplyReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyReceiver")
            .field("stats", &self.queue.stats())
            .finish()
    }
}
