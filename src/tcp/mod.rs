//! A TCP transport: the reference implementation of the runtime's
//! [`Transport`] seam, for peers in separate processes or machines
//! (anchors: etcd's rafthttp streams, hashicorp/raft's NetworkTransport,
//! openraft's `RaftNetworkV2`).
//!
//! - **Framing** ([`frame`]): a 4-byte length, then a `postcard` payload;
//!   a frame over [`TcpConfig::max_frame`] is refused before anything is
//!   allocated. A protocol version and a magic number open every
//!   connection.
//! - **Handshake**: the dialer names its cluster id, its id and the id it
//!   means to reach; the listener refuses (with the reason, logged on both
//!   sides) another cluster's peer, an id that is not a member, a dialer
//!   that meant another node, or another protocol version, and the dialer
//!   refuses a listener that answers with another cluster id or node id.
//! - **Outbound**: per peer, a bounded queue and a writer thread that
//!   dials with a doubling back-off ([`TcpConfig::backoff`]) and writes
//!   what is queued in batches; a full queue drops the message (as etcd
//!   does: Raft tolerates loss and resends). InstallSnapshot travels on a
//!   connection of its own, so a large snapshot never holds up heartbeats.
//! - **Inbound**: a reader thread per connection; a bad frame (too long,
//!   cut short, undecodable, of the other lane) closes that connection
//!   with the reason logged, and never panics.
//! - **Mutual TLS** ([`tls`], optional: [`TcpConfig::tls`]): certificates
//!   signed by the cluster's CA, each naming its node (`node-<id>`),
//!   checked both ways.
//!
//! Messages flow one way on a connection (the dialer's to the listener),
//! so a pair of peers uses two connections a lane, one each way.
//!
//! ```no_run
//! use checked_raft::runtime::{MemoryPersister, Raft, RaftConfig};
//! use checked_raft::tcp::{TcpConfig, TcpTransport};
//! use checked_raft::NodeId;
//! use std::sync::Arc;
//!
//! let peers = [(1, "127.0.0.1:7001"), (2, "127.0.0.1:7002"), (3, "127.0.0.1:7003")]
//!     .map(|(id, addr)| (NodeId(id), addr.parse().unwrap()));
//! let config = TcpConfig::new(7, NodeId(1), peers.into_iter().collect());
//! let tcp = TcpTransport::bind(config)?;
//! let members = vec![NodeId(1), NodeId(2), NodeId(3)];
//! let (raft, applied) = Raft::new(
//!     members,
//!     NodeId(1),
//!     Arc::new(MemoryPersister::new()),
//!     RaftConfig::default(),
//!     Arc::new(tcp.clone()),
//! )?;
//! tcp.serve(raft.handler())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod frame;
mod inbound;
mod outbound;
pub mod tls;

use crate::consensus::{Message, NodeId};
use crate::runtime::{Handler, Transport};
use frame::Lane;
use outbound::Outbox;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
pub use tls::{TlsConfig, TlsError};

/// How a node's TCP transport is set up.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// The cluster's id: a peer with another is refused.
    pub cluster_id: u64,
    /// This node's id.
    pub id: NodeId,
    /// Every member's address, this node's included (it listens there).
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The largest frame read or written, in bytes (default 64 MiB: a
    /// snapshot must fit in one).
    pub max_frame: usize,
    /// Messages queued per peer before new ones are dropped (default
    /// 4,096; snapshots: 2).
    pub queue_capacity: usize,
    /// The first and the longest wait before dialing a peer again
    /// (default 10 ms and 1 s; doubling in between).
    pub backoff: (Duration, Duration),
    /// Mutual TLS ([`TlsConfig`]): `None` (default), in the clear.
    pub tls: Option<TlsConfig>,
}

impl TcpConfig {
    /// Node `id` of cluster `cluster_id`, whose members are at `peers`,
    /// with the default limits.
    pub fn new(cluster_id: u64, id: NodeId, peers: BTreeMap<NodeId, SocketAddr>) -> TcpConfig {
        TcpConfig {
            cluster_id,
            id,
            peers,
            max_frame: 64 << 20,
            queue_capacity: 4096,
            backoff: (Duration::from_millis(10), Duration::from_secs(1)),
            tls: None,
        }
    }
}

/// Why a transport cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TcpError {
    /// This node's id has no address in [`TcpConfig::peers`].
    #[error("node {0} has no address among the peers")]
    NoAddress(u64),
    /// The listening address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// [`TcpTransport::serve`] was called twice.
    #[error("the transport is already serving")]
    AlreadyServing,
}

/// What a transport did since it started.
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Messages written to a connection.
    pub sent: AtomicU64,
    /// Messages dropped: a full queue, or lost with a broken connection.
    pub dropped: AtomicU64,
    /// Messages received and handed to the handler.
    pub received: AtomicU64,
    /// Handshakes refused, by this node or by a peer.
    pub refused: AtomicU64,
    /// Connections closed for a bad frame.
    pub bad_frames: AtomicU64,
    /// Outbound connections established.
    pub connects: AtomicU64,
}

/// A snapshot of [`TcpStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounts {
    /// Messages written to a connection.
    pub sent: u64,
    /// Messages dropped.
    pub dropped: u64,
    /// Messages received.
    pub received: u64,
    /// Handshakes refused.
    pub refused: u64,
    /// Connections closed for a bad frame.
    pub bad_frames: u64,
    /// Outbound connections established.
    pub connects: u64,
}

/// What a transport did towards one peer ([`TcpTransport::peer_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCounts {
    /// Messages written to a connection to it.
    pub sent: u64,
    /// Messages for it dropped (a full queue, a broken connection).
    pub dropped: u64,
    /// Handshakes with it refused (by it, or by us for its answer).
    pub refused: u64,
}

pub(crate) struct Inner {
    config: TcpConfig,
    stopped: AtomicBool,
    stats: TcpStats,
    /// Open inbound connections, to cut at stop.
    inbound: Mutex<BTreeMap<u64, TcpStream>>,
    next_inbound: AtomicU64,
    outboxes: BTreeMap<NodeId, [Arc<Outbox>; 2]>,
    listener: Mutex<Option<TcpListener>>,
    local_addr: SocketAddr,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A node's TCP transport; clones share it.
#[derive(Clone)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("id", &self.inner.config.id)
            .field("local_addr", &self.inner.local_addr)
            .finish()
    }
}

impl TcpTransport {
    /// Binds this node's address and starts a writer per peer and lane
    /// (each dials its peer once it has a message for it). Inbound connections wait until
    /// [`TcpTransport::serve`] is given the handler to deliver to.
    pub fn bind(config: TcpConfig) -> Result<TcpTransport, TcpError> {
        let addr = *config
            .peers
            .get(&config.id)
            .ok_or(TcpError::NoAddress(config.id.0))?;
        let listener = TcpListener::bind(addr).map_err(|source| TcpError::Bind { addr, source })?;
        TcpTransport::with_listener(config, listener)
    }

    /// [`TcpTransport::bind`] on a listener bound already (say to port 0,
    /// its address then given to the peers), so that no other process can
    /// take the port in between.
    pub fn with_listener(
        config: TcpConfig,
        listener: TcpListener,
    ) -> Result<TcpTransport, TcpError> {
        let addr = *config
            .peers
            .get(&config.id)
            .ok_or(TcpError::NoAddress(config.id.0))?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| TcpError::Bind { addr, source })?;
        let outboxes = config
            .peers
            .iter()
            .filter(|(id, _)| **id != config.id)
            .map(|(&id, &addr)| {
                let lane = |lane, capacity| Arc::new(Outbox::new(id, addr, lane, capacity));
                (
                    id,
                    [
                        lane(Lane::Messages, config.queue_capacity),
                        lane(Lane::Snapshots, 2),
                    ],
                )
            })
            .collect();
        let transport = TcpTransport {
            inner: Arc::new(Inner {
                config,
                stopped: AtomicBool::new(false),
                stats: TcpStats::default(),
                inbound: Mutex::new(BTreeMap::new()),
                next_inbound: AtomicU64::new(0),
                outboxes,
                listener: Mutex::new(Some(listener)),
                local_addr,
                threads: Mutex::new(Vec::new()),
            }),
        };
        for lanes in transport.inner.outboxes.values() {
            for outbox in lanes {
                let (inner, outbox) = (transport.inner.clone(), outbox.clone());
                let name = format!("tcp-out-{}-{}", inner.config.id.0, outbox.to.0);
                transport.spawn(name, move || outbound::run_writer(inner, outbox))?;
            }
        }
        Ok(transport)
    }

    fn spawn(&self, name: String, body: impl FnOnce() + Send + 'static) -> Result<(), TcpError> {
        match std::thread::Builder::new().name(name).spawn(body) {
            Ok(handle) => {
                lock(&self.inner.threads).push(handle);
                Ok(())
            }
            Err(e) => {
                self.shutdown();
                Err(TcpError::Thread(e))
            }
        }
    }

    /// Starts accepting connections, delivering their messages to
    /// `handler` (a peer's [`crate::runtime::Raft::handler`]).
    pub fn serve(&self, handler: Handler) -> Result<(), TcpError> {
        let listener = lock(&self.inner.listener)
            .take()
            .ok_or(TcpError::AlreadyServing)?;
        let inner = self.inner.clone();
        let name = format!("tcp-accept-{}", inner.config.id.0);
        self.spawn(name, move || {
            inbound::run_acceptor(inner, listener, handler)
        })
    }

    /// The address this node listens on (with port 0 in the config, the
    /// one the system picked).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// What it did so far.
    pub fn counts(&self) -> TcpCounts {
        let s = &self.inner.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TcpCounts {
            sent: get(&s.sent),
            dropped: get(&s.dropped),
            received: get(&s.received),
            refused: get(&s.refused),
            bad_frames: get(&s.bad_frames),
            connects: get(&s.connects),
        }
    }

    /// What it did so far towards each peer (both lanes together).
    pub fn peer_counts(&self) -> BTreeMap<NodeId, PeerCounts> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.inner
            .outboxes
            .iter()
            .map(|(&peer, lanes)| {
                let mut counts = PeerCounts::default();
                for lane in lanes {
                    counts.sent += get(&lane.counts.sent);
                    counts.dropped += get(&lane.counts.dropped);
                    counts.refused += get(&lane.counts.refused);
                }
                (peer, counts)
            })
            .collect()
    }

    /// Stops: no more messages leave or are delivered, every connection
    /// is closed and every thread of the transport has ended when it
    /// returns. Idempotent.
    pub fn shutdown(&self) {
        let inner = &self.inner;
        if inner.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        for lanes in inner.outboxes.values() {
            for outbox in lanes {
                outbox.stop();
            }
        }
        for stream in lock(&inner.inbound).values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        // (The acceptor checks `stopped` after registering a connection,
        // so none is registered after this without being cut here.)
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect_timeout(&inner.local_addr, Duration::from_secs(1));
        // The acceptor may start a reader before it ends: join until no
        // thread is left.
        let me = std::thread::current().id();
        loop {
            let threads = std::mem::take(&mut *lock(&inner.threads));
            if threads.is_empty() {
                break;
            }
            for handle in threads {
                if handle.thread().id() != me {
                    let _ = handle.join();
                }
            }
        }
    }
}

impl Transport for TcpTransport {
    fn send(&self, to: NodeId, message: Message) {
        if self.inner.stopped.load(Ordering::Relaxed) {
            return;
        }
        let Some(lanes) = self.inner.outboxes.get(&to) else {
            tracing::warn!(
                peer = self.inner.config.id.0,
                to = to.0,
                "no address for a message's recipient; dropped"
            );
            self.inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let lane = match message {
            Message::InstallSnapshot(_) => &lanes[1],
            _ => &lanes[0],
        };
        lane.push(message, &self.inner.stats);
    }
}
