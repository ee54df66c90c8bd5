//! What the network counts: labrpc's call and byte counts, and where every
//! message ended up.

use crate::consensus::NodeId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A snapshot of the network's totals (see [`super::Network::stats`]).
///
/// Every message sent is, in the end, delivered or dropped: once no message
/// is queued and no handler is running,
/// `sent == delivered + dropped`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent through any endpoint, requests and replies, including
    /// those dropped at once.
    pub sent: u64,
    /// Of those, requests (messages that are not
    /// [replies](super::Wire::is_reply); for Raft, RequestVote,
    /// AppendEntries, InstallSnapshot): labrpc's `GetTotalCount`.
    pub requests_sent: u64,
    /// Encoded bytes of every message sent: labrpc's `GetTotalBytes`.
    pub bytes: u64,
    /// Messages handed to a handler.
    pub delivered: u64,
    /// Messages never handed to a handler, for any reason: a disabled link,
    /// a dead sender or receiver, an unreliable network's loss, a codec
    /// error, or a shutdown.
    pub dropped: u64,
    /// Of the dropped, those that failed to encode or decode.
    pub codec_errors: u64,
    /// Handler calls that panicked (the panic is caught, counted, and
    /// delivery goes on).
    pub handler_panics: u64,
}

/// One server's counts.
#[derive(Clone, Copy, Debug, Default)]
struct PerServer {
    /// Requests delivered to the current incarnation.
    rpcs: u64,
    /// Encoded bytes sent by every incarnation.
    bytes_sent: u64,
}

/// The network's counters: totals in atomics, per-server counts behind a
/// mutex of their own (never held while taking the network's lock).
#[derive(Default)]
pub(super) struct Counters {
    sent: AtomicU64,
    requests_sent: AtomicU64,
    bytes: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    codec_errors: AtomicU64,
    handler_panics: AtomicU64,
    servers: Mutex<HashMap<NodeId, PerServer>>,
}

impl Counters {
    fn with_server<T>(&self, id: NodeId, f: impl FnOnce(&mut PerServer) -> T) -> T {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        f(servers.entry(id).or_default())
    }

    /// `from` sent a message of `bytes` encoded bytes.
    pub(super) fn sent(&self, from: NodeId, request: bool, bytes: usize) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.sent.fetch_add(1, Ordering::Relaxed);
        if request {
            self.requests_sent.fetch_add(1, Ordering::Relaxed);
        }
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.with_server(from, |s| s.bytes_sent = s.bytes_sent.saturating_add(bytes));
    }

    /// A message is about to be handed to `to`'s handler.
    pub(super) fn delivered(&self, to: NodeId, request: bool) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        if request {
            self.with_server(to, |s| s.rpcs = s.rpcs.saturating_add(1));
        }
    }

    /// `n` messages were dropped.
    pub(super) fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// A message failed to encode or decode (and is dropped).
    pub(super) fn codec_error(&self) {
        self.codec_errors.fetch_add(1, Ordering::Relaxed);
        self.dropped(1);
    }

    /// A handler panicked.
    pub(super) fn handler_panicked(&self) {
        self.handler_panics.fetch_add(1, Ordering::Relaxed);
    }

    /// Server `id` starts a new incarnation: its request count restarts at 0.
    pub(super) fn new_incarnation(&self, id: NodeId) {
        self.with_server(id, |s| s.rpcs = 0);
    }

    /// Requests delivered to the current incarnation of `id`.
    pub(super) fn rpcs(&self, id: NodeId) -> u64 {
        self.with_server(id, |s| s.rpcs)
    }

    /// Bytes sent by `id`, over all its incarnations.
    pub(super) fn bytes_sent(&self, id: NodeId) -> u64 {
        self.with_server(id, |s| s.bytes_sent)
    }

    /// The totals.
    pub(super) fn stats(&self) -> Stats {
        Stats {
            sent: self.sent.load(Ordering::Relaxed),
            requests_sent: self.requests_sent.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            codec_errors: self.codec_errors.load(Ordering::Relaxed),
            handler_panics: self.handler_panics.load(Ordering::Relaxed),
        }
    }
}
