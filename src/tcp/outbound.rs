//! Outbound: one bounded queue and one writer thread per peer and lane.
//! `send` queues and returns (a full queue drops the message, as etcd's
//! rafthttp does: Raft tolerates loss); the writer connects, says
//! [`Hello`], checks the [`Answer`], and writes what is queued, batch by
//! batch; on any error it drops the connection and dials again after a
//! back-off that doubles up to a ceiling.

use super::frame::{self, Answer, Hello, Lane, MAGIC, VERSION};
use super::tls::Conn;
use super::{Inner, TcpStats};
use crate::consensus::{Message, NodeId};
use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a dial may take (a shutdown may wait this long for it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the listener may take to answer a hello (a shutdown cuts the
/// wait short).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The queue of one peer's lane.
pub(super) struct Outbox {
    pub(super) to: NodeId,
    pub(super) addr: SocketAddr,
    pub(super) lane: Lane,
    capacity: usize,
    state: Mutex<Queue>,
    ready: Condvar,
    /// This peer's share of the transport's counters.
    pub(super) counts: PeerStats,
}

/// Counters of one peer's lane.
#[derive(Debug, Default)]
pub(super) struct PeerStats {
    pub(super) sent: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) refused: AtomicU64,
}

struct Queue {
    messages: VecDeque<Message>,
    /// The connection the writer is using, to shut it down at stop.
    stream: Option<TcpStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Outbox {
    pub(super) fn new(to: NodeId, addr: SocketAddr, lane: Lane, capacity: usize) -> Outbox {
        Outbox {
            to,
            addr,
            lane,
            capacity,
            state: Mutex::new(Queue {
                messages: VecDeque::new(),
                stream: None,
            }),
            ready: Condvar::new(),
            counts: PeerStats::default(),
        }
    }

    /// Queues `message`, or drops it if the queue is full; never blocks
    /// on the network.
    pub(super) fn push(&self, message: Message, stats: &TcpStats) {
        let mut queue = lock(&self.state);
        if queue.messages.len() >= self.capacity {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.messages.push_back(message);
        drop(queue);
        self.ready.notify_one();
    }

    /// Wakes the writer and cuts its connection (the transport stops).
    pub(super) fn stop(&self) {
        let queue = lock(&self.state);
        if let Some(stream) = &queue.stream {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        drop(queue);
        self.ready.notify_all();
    }

    /// Waits for messages; `None` at the stop.
    fn wait_for_work<'a>(&'a self, inner: &Inner) -> Option<MutexGuard<'a, Queue>> {
        let mut queue = lock(&self.state);
        loop {
            if inner.stopped.load(Ordering::SeqCst) {
                return None;
            }
            if !queue.messages.is_empty() {
                return Some(queue);
            }
            queue = self
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits for messages (or the stop), and takes them all.
    fn take(&self, inner: &Inner) -> Option<Vec<Message>> {
        let mut queue = self.wait_for_work(inner)?;
        Some(queue.messages.drain(..).collect())
    }

    /// Keeps `stream` where [`Outbox::stop`] cuts it; false (and cuts it)
    /// if the transport has stopped already.
    fn register(&self, inner: &Inner, stream: &TcpStream) -> bool {
        let mut queue = lock(&self.state);
        if inner.stopped.load(Ordering::SeqCst) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return false;
        }
        queue.stream = stream.try_clone().ok();
        true
    }

    /// Sleeps `delay`, or less if the transport stops meanwhile.
    fn pause(&self, inner: &Inner, delay: Duration) {
        let queue = lock(&self.state);
        if !inner.stopped.load(Ordering::SeqCst) {
            let _ = self.ready.wait_timeout(queue, delay);
        }
    }
}

/// The writer thread of one lane: dials, says hello, writes, redials.
pub(super) fn run_writer(inner: Arc<Inner>, outbox: Arc<Outbox>) {
    let (min, max) = inner.config.backoff;
    let mut backoff = min;
    // Dial only once there is something to send.
    while outbox.wait_for_work(&inner).is_some() {
        let stream = match connect(&inner, &outbox) {
            Ok(stream) => stream,
            Err(reason) => {
                lock(&outbox.state).stream = None;
                tracing::debug!(
                    peer = inner.config.id.0,
                    to = outbox.to.0,
                    lane = ?outbox.lane,
                    %reason,
                    "cannot reach peer; retrying in {backoff:?}"
                );
                outbox.pause(&inner, backoff);
                backoff = (backoff * 2).min(max);
                continue;
            }
        };
        backoff = min;
        inner.stats.connects.fetch_add(1, Ordering::Relaxed);
        let mut out = BufWriter::new(stream);
        while let Some(batch) = outbox.take(&inner) {
            let written = batch
                .iter()
                .try_for_each(|message| frame::write(&mut out, message))
                .and_then(|()| out.flush());
            match written {
                Ok(()) => {
                    inner
                        .stats
                        .sent
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    outbox
                        .counts
                        .sent
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    // The batch is lost with the connection: Raft resends.
                    tracing::debug!(peer = inner.config.id.0, to = outbox.to.0, error = %e, "connection lost");
                    inner
                        .stats
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    outbox
                        .counts
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    break;
                }
            }
        }
        lock(&outbox.state).stream = None;
    }
}

/// Dials `outbox`'s peer and shakes hands (under TLS, first the TLS
/// handshake); the reason if it fails.
fn connect(inner: &Inner, outbox: &Outbox) -> Result<Conn, String> {
    let stream = TcpStream::connect_timeout(&outbox.addr, CONNECT_TIMEOUT)
        .map_err(|e| format!("connecting to {}: {e}", outbox.addr))?;
    if !outbox.register(inner, &stream) {
        return Err("the transport stopped".into());
    }
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let raw = stream.try_clone().map_err(|e| e.to_string())?;
    let mut stream = Conn::dial(inner.config.tls.as_ref(), stream, outbox.to.0)?;
    let hello = Hello {
        magic: MAGIC,
        version: VERSION,
        cluster_id: inner.config.cluster_id,
        from: inner.config.id.0,
        to: outbox.to.0,
        lane: outbox.lane,
    };
    frame::write(&mut stream, &hello)
        .and_then(|()| stream.flush())
        .map_err(|e| format!("saying hello: {e}"))?;
    let answer: Answer = frame::read(&mut stream, frame::MAX_HANDSHAKE)
        .map_err(|e| format!("reading the answer: {e}"))?;
    match answer {
        Answer::Welcome { cluster_id, node }
            if cluster_id == inner.config.cluster_id && node == outbox.to.0 =>
        {
            let _ = raw.set_read_timeout(None);
            Ok(stream)
        }
        Answer::Welcome { cluster_id, node } => {
            inner.stats.refused.fetch_add(1, Ordering::Relaxed);
            outbox.counts.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                peer = inner.config.id.0,
                to = outbox.to.0,
                addr = %outbox.addr,
                their_cluster = cluster_id,
                their_id = node,
                "refusing a peer that is not the one configured (wrong cluster id or node id)"
            );
            Err(format!(
                "{} answered as node {node} of cluster {cluster_id}",
                outbox.addr
            ))
        }
        Answer::Refused(reason) => {
            inner.stats.refused.fetch_add(1, Ordering::Relaxed);
            outbox.counts.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = inner.config.id.0, to = outbox.to.0, %reason, "the peer refused us");
            Err(format!("refused: {reason}"))
        }
    }
}
