//! A cluster of [`Raft`] peers in one process, over one of two transports,
//! with a stable leader: what the benchmarks propose to.

use anyhow::{Context, bail};
use bytes::Bytes;
use checked_raft::NodeId;
use checked_raft::network::Network;
use checked_raft::runtime::{
    ApplyReceiver, LocalNetwork, MemoryPersister, Persister, Raft, RaftConfig, Transport,
};
use checked_raft::storage::DiskStorage;
use checked_raft::tcp::{TcpConfig, TcpTransport};
use std::collections::BTreeMap;
use std::fmt;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How the peers' messages travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// In-process channels, messages moved and never encoded
    /// ([`LocalNetwork`]): the condition of openraft's own benchmark.
    Channel,
    /// The emulated network ([`Network`]), reliable and without delays:
    /// every message encoded, queued on its dispatcher thread and decoded.
    Network,
    /// Real TCP connections on loopback ([`TcpTransport`]): every message
    /// framed, written to a socket by a writer thread and read by a
    /// reader thread.
    Tcp,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Channel => "channel",
            TransportKind::Network => "network",
            TransportKind::Tcp => "tcp",
        })
    }
}

/// The cluster to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterOptions {
    /// How many peers (at least 1).
    pub members: usize,
    /// How they talk.
    pub transport: TransportKind,
    /// The peers' settings (timing, batching, pipelining).
    pub raft: RaftConfig,
    /// Snapshot every this many entries (0: never, the logs grow).
    pub snapshot_every: u64,
    /// Where the peers keep their logs: `None` in memory
    /// ([`MemoryPersister`]); `Some(dir)` on disk ([`DiskStorage`], peer
    /// `n` in `dir/peer-n`, every batch made durable with `fdatasync`).
    pub storage: Option<PathBuf>,
}

impl ClusterOptions {
    /// `members` peers over `transport`, with the benchmarks' timing:
    /// heartbeats every 50 ms and election timeouts of 1-2 s (openraft's
    /// benchmark uses 0.2-2 s), so that a leader loaded on two cores is not
    /// deposed.
    pub fn new(members: usize, transport: TransportKind) -> ClusterOptions {
        ClusterOptions {
            members,
            transport,
            raft: RaftConfig {
                election_timeout: Duration::from_millis(1000)..Duration::from_millis(2000),
                heartbeat_interval: Duration::from_millis(50),
                seed: Some(1),
                ..RaftConfig::default()
            },
            snapshot_every: SNAPSHOT_EVERY,
            storage: None,
        }
    }
}

/// How often, in log entries, each peer's (empty) state machine is
/// snapshotted and its log compacted (§7) by default, as a long-running
/// application does (openraft's default policy snapshots every 5,000
/// entries): the logs stay bounded however many commands a benchmark
/// commits.
pub const SNAPSHOT_EVERY: u64 = 100_000;

/// A running cluster with an elected leader. The followers' applied
/// entries are consumed (and dropped) by a thread each, as an application
/// would, snapshotting as [`ClusterOptions::snapshot_every`] says; the
/// leader's are the caller's, through [`Cluster::applied`].
pub struct Cluster {
    peers: Vec<Raft>,
    leader: usize,
    applied: ApplyReceiver,
    drains: Vec<JoinHandle<()>>,
    local: Option<LocalNetwork>,
    network: Option<Network>,
    tcp: Vec<TcpTransport>,
    snapshot_every: u64,
    disks: Vec<Arc<DiskStorage>>,
}

impl Cluster {
    /// Starts the peers and waits (up to 30 s) until one of them leads.
    pub fn start(options: &ClusterOptions) -> anyhow::Result<Cluster> {
        if options.members == 0 {
            bail!("a cluster needs at least one member");
        }
        let ids: Vec<NodeId> = (0..options.members as u64).map(NodeId).collect();
        let (local, network) = match options.transport {
            TransportKind::Channel => (Some(LocalNetwork::new(&ids)), None),
            TransportKind::Network => {
                let network = Network::try_with_seed(1).context("starting the network")?;
                for &id in &ids {
                    network.connect(id, &ids);
                }
                (None, Some(network))
            }
            TransportKind::Tcp => (None, None),
        };
        // With TCP: loopback listeners on ports the system picks.
        let mut tcp = Vec::new();
        if options.transport == TransportKind::Tcp {
            let listeners = ids
                .iter()
                .map(|_| TcpListener::bind("127.0.0.1:0"))
                .collect::<Result<Vec<_>, _>>()
                .context("binding loopback listeners")?;
            let peers: BTreeMap<NodeId, _> = ids
                .iter()
                .zip(&listeners)
                .map(|(&id, l)| Ok((id, l.local_addr()?)))
                .collect::<std::io::Result<_>>()?;
            for (&id, listener) in ids.iter().zip(listeners) {
                let config = TcpConfig::new(1, id, peers.clone());
                tcp.push(TcpTransport::with_listener(config, listener)?);
            }
        }
        let mut peers = Vec::new();
        let mut receivers = Vec::new();
        let mut disks = Vec::new();
        for &id in &ids {
            let transport: Arc<dyn Transport> = match (&local, &network) {
                (Some(local), _) => local.transport(id),
                (_, Some(network)) => Arc::new(network.endpoint(id)),
                _ => Arc::new(tcp[peers.len()].clone()),
            };
            let persister: Arc<dyn Persister> = match &options.storage {
                None => Arc::new(MemoryPersister::new()),
                Some(dir) => {
                    let dir = dir.join(format!("peer-{}", id.0));
                    let disk = Arc::new(
                        DiskStorage::open(&dir)
                            .with_context(|| format!("opening {}", dir.display()))?,
                    );
                    disks.push(disk.clone());
                    disk
                }
            };
            let (raft, applied) =
                Raft::new(ids.clone(), id, persister, options.raft.clone(), transport)
                    .with_context(|| format!("starting peer {}", id.0))?;
            match (&local, &network) {
                (Some(local), _) => local.attach(&raft).context("attaching a peer")?,
                (_, Some(network)) => network.add_server(id, raft.handler()),
                _ => tcp[peers.len()].serve(raft.handler())?,
            }
            peers.push(raft);
            receivers.push(applied);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let leader = loop {
            let leaders: Vec<usize> = (0..peers.len()).filter(|&i| peers[i].state().1).collect();
            if let [leader] = leaders[..] {
                break leader;
            }
            if Instant::now() > deadline {
                for peer in &peers {
                    peer.shutdown();
                }
                bail!("no leader elected within 30 s");
            }
            thread::sleep(Duration::from_millis(2));
        };
        let mut drains = Vec::new();
        let mut leader_applied = None;
        for (i, applied) in receivers.into_iter().enumerate() {
            if i == leader {
                leader_applied = Some(applied);
                continue;
            }
            let raft = peers[i].clone();
            let every = options.snapshot_every;
            drains.push(
                thread::Builder::new()
                    .name(format!("bench-apply-{i}"))
                    .spawn(move || {
                        let mut snapshotted = 0;
                        while let Ok(message) = applied.recv() {
                            let index = message.index().0;
                            if every > 0 && index >= snapshotted + every {
                                snapshotted = index;
                                let _ = raft.snapshot(message.index(), Bytes::new());
                            }
                        }
                    })
                    .context("starting an apply thread")?,
            );
        }
        Ok(Cluster {
            peers,
            leader,
            applied: leader_applied.context("the leader's receiver")?,
            drains,
            local,
            network,
            tcp,
            snapshot_every: options.snapshot_every,
            disks,
        })
    }

    /// How often the peers snapshot, in entries (0: never).
    pub fn snapshot_every(&self) -> u64 {
        self.snapshot_every
    }

    /// The leader.
    pub fn leader(&self) -> &Raft {
        &self.peers[self.leader]
    }

    /// Where the leader's applied commands arrive, in log order.
    pub fn applied(&self) -> &ApplyReceiver {
        &self.applied
    }

    /// How many peers.
    pub fn members(&self) -> usize {
        self.peers.len()
    }

    /// Stops the transport and every peer, and waits for their threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(local) = &self.local {
            local.shutdown();
        }
        if let Some(network) = &self.network {
            network.shutdown();
        }
        for tcp in &self.tcp {
            tcp.shutdown();
        }
        for peer in &self.peers {
            peer.shutdown();
        }
        for drain in self.drains.drain(..) {
            let _ = drain.join();
        }
        for (i, disk) in self.disks.drain(..).enumerate() {
            eprintln!("peer {i}: {:?}", disk.stats());
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
