//! Delivery: the queue of messages in flight, ordered by delivery time, and
//! the one thread that delivers them.
//!
//! Everything the network knows sits in one [`State`] behind one mutex. A
//! sender takes the lock only to decide a message's fate and queue it; the
//! dispatcher takes it to pick the next message and check that it may still
//! be delivered, and releases it before decoding the message and calling the
//! handler (which will itself send, and so take the lock).

use super::counters::Counters;
use super::faults::{Fate, Faults, Kind};
use super::topology::{Address, Topology};
use super::wire::{Handler, Wire};
use crate::consensus::NodeId;
use rand::rngs::StdRng;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;
use std::time::Instant;

/// One message on its way: encoded (so of no payload type), with the
/// incarnations it travels between.
pub(super) struct Envelope {
    pub(super) from: Address,
    pub(super) to: Address,
    pub(super) kind: Kind,
    pub(super) bytes: Vec<u8>,
}

/// What the dispatcher does when an entry falls due.
enum Job {
    /// Deliver the message, if its link and both ends are still up.
    Deliver(Envelope),
    /// Count an undeliverable message as dropped (labrpc's timeout).
    Expire,
}

/// An entry of the queue: a job and when it falls due. `seq` breaks ties in
/// send order, so messages due at the same instant go out first in, first
/// out.
struct Scheduled {
    at: Instant,
    seq: u64,
    job: Job,
}

impl Scheduled {
    fn key(&self) -> (Instant, u64) {
        (self.at, self.seq)
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Everything behind the network's lock, on a network carrying `M`.
pub(super) struct State<M> {
    pub(super) topology: Topology<M>,
    pub(super) faults: Faults,
    rng: StdRng,
    queue: BinaryHeap<Scheduled>,
    next_seq: u64,
    /// Set once by shutdown; the dispatcher stops, sends are dropped.
    pub(super) shutdown: bool,
    /// The server whose handler the dispatcher is running, if any.
    delivering: Option<NodeId>,
}

impl<M> State<M> {
    /// Messages and expiries waiting in the queue.
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }
}

/// What the network's handles, its endpoints and its dispatcher share.
pub(super) struct Shared<M> {
    state: Mutex<State<M>>,
    /// Wakes the dispatcher: a new earliest entry, or shutdown.
    wake: Condvar,
    /// Wakes those waiting for a handler call to end (`delete_server`).
    idle: Condvar,
    pub(super) counters: Counters,
}

impl<M> Shared<M> {
    /// A network with no servers, every link disabled and `faults`.
    pub(super) fn new(faults: Faults, rng: StdRng) -> Shared<M> {
        Shared {
            state: Mutex::new(State {
                topology: Topology::default(),
                faults,
                rng,
                queue: BinaryHeap::new(),
                next_seq: 0,
                shutdown: false,
                delivering: None,
            }),
            wake: Condvar::new(),
            idle: Condvar::new(),
            counters: Counters::default(),
        }
    }

    /// Takes the network's lock. No code but this module's runs under it,
    /// so a poisoned lock only means a panic elsewhere; the state is still
    /// consistent and is used as it is.
    pub(super) fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Encodes `message`, counts it, decides its fate and queues it.
    pub(super) fn send(&self, from: Address, to: NodeId, message: &M)
    where
        M: Wire,
    {
        let kind = Kind::of(message);
        match postcard::to_allocvec(message) {
            Ok(bytes) => {
                self.counters
                    .sent(from.id, kind == Kind::Request, bytes.len());
                self.submit(from, to, kind, bytes);
            }
            Err(_) => {
                self.counters.sent(from.id, kind == Kind::Request, 0);
                self.counters.codec_error();
            }
        }
    }

    /// Decides the fate of an encoded message (already counted as sent) and
    /// queues it.
    pub(super) fn submit(&self, from: Address, to: NodeId, kind: Kind, bytes: Vec<u8>) {
        let mut state = self.lock();
        if state.shutdown {
            drop(state);
            self.counters.dropped(1);
            return;
        }
        let to = state.topology.current(to);
        let state = &mut *state;
        let fate = if state.topology.route(from, to).is_some() {
            state.faults.fate(kind, &mut state.rng)
        } else {
            state.faults.unreachable(&mut state.rng)
        };
        let now = Instant::now();
        let (at, job) = match fate {
            Fate::Deliver(delay) => {
                let envelope = Envelope {
                    from,
                    to,
                    kind,
                    bytes,
                };
                (now + delay, Job::Deliver(envelope))
            }
            Fate::DropAfter(delay) => (now + delay, Job::Expire),
            Fate::Drop => {
                self.counters.dropped(1);
                return;
            }
        };
        let seq = state.next_seq;
        state.next_seq += 1;
        state.queue.push(Scheduled { at, seq, job });
        if state.queue.peek().map(|next| next.seq) == Some(seq) {
            self.wake.notify_one();
        }
    }

    /// Waits until no handler of `id` is running, unless called by
    /// `dispatcher` (a handler deleting a server, maybe its own: waiting
    /// would never end).
    pub(super) fn wait_for_handler<'a>(
        &'a self,
        mut state: MutexGuard<'a, State<M>>,
        id: NodeId,
        dispatcher: ThreadId,
    ) -> MutexGuard<'a, State<M>> {
        if std::thread::current().id() != dispatcher {
            while state.delivering == Some(id) {
                state = self
                    .idle
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        state
    }

    /// Stops the dispatcher (which discards what is queued).
    pub(super) fn stop(&self) {
        self.lock().shutdown = true;
        self.wake.notify_all();
    }
}

/// The dispatcher thread's body: delivers each queued message when it falls
/// due, until shutdown; then discards what is left and unregisters every
/// handler.
pub(super) fn run<M: Wire>(shared: &Shared<M>) {
    let mut state = shared.lock();
    while !state.shutdown {
        let now = Instant::now();
        let Some(next) = state.queue.peek() else {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        if next.at > now {
            let timeout = next.at - now;
            state = shared
                .wake
                .wait_timeout(state, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        let Some(next) = state.queue.pop() else {
            continue;
        };
        let envelope = match next.job {
            Job::Expire => {
                shared.counters.dropped(1);
                continue;
            }
            Job::Deliver(envelope) => envelope,
        };
        let Some(handler) = state.topology.route(envelope.from, envelope.to).cloned() else {
            shared.counters.dropped(1);
            continue;
        };
        state.delivering = Some(envelope.to.id);
        drop(state);
        deliver(&shared.counters, &handler, envelope);
        drop(handler);
        state = shared.lock();
        state.delivering = None;
        shared.idle.notify_all();
    }
    let discarded = std::mem::take(&mut state.queue);
    let handlers = state.topology.clear_handlers();
    state.delivering = None;
    drop(state);
    shared.idle.notify_all();
    shared
        .counters
        .dropped(u64::try_from(discarded.len()).unwrap_or(u64::MAX));
    drop(discarded);
    drop(handlers);
}

/// Decodes `envelope` as an `M` and hands it to `handler`, outside the
/// lock. A message that fails to decode (bytes that are no `M`, or an `M`
/// followed by more bytes) is dropped and counted; a handler that panics is
/// counted and delivery goes on.
fn deliver<M: Wire>(counters: &Counters, handler: &Handler<M>, envelope: Envelope) {
    let message = match postcard::take_from_bytes::<M>(&envelope.bytes) {
        Ok((message, [])) => message,
        _ => {
            counters.codec_error();
            return;
        }
    };
    counters.delivered(envelope.to.id, envelope.kind == Kind::Request);
    let from = envelope.from.id;
    if catch_unwind(AssertUnwindSafe(|| handler(from, message))).is_err() {
        counters.handler_panicked();
    }
}
