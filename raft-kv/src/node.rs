//! One raft-kv server: the library's [`KvServer`] (the Raft peer and the
//! sans-IO service layer, which decides everything about requests) over a
//! [`DiskStorage`] and a [`TcpTransport`]. This file only wires them and
//! routes each HTTP request's reply back to it: every request gets an
//! address of its own, and the service's reply to that address completes
//! the request.

use crate::config::{ServeConfig, Storage};
use checked_raft::kv::{
    ClientId, Command, KvConfig, KvServer, NO_SESSION, Op, Output, Refusal, Reply, Request,
};
use checked_raft::runtime::{MemoryPersister, Persister};
use checked_raft::storage::DiskStorage;
use checked_raft::tcp::{TcpConfig, TcpTransport};
use checked_raft::{NodeId, Role};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Why a request got no output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// This server does not lead; the leader it knows of, if any.
    NotLeader(Option<NodeId>),
    /// The server is stopping.
    ShuttingDown,
    /// No answer within the request timeout: the outcome is unknown.
    TimedOut,
}

/// Counters for `/metrics`, kept by the server's drivers.
#[derive(Debug, Default)]
pub struct Counters {
    /// Client requests handed to the service.
    pub requests: AtomicU64,
    /// Requests answered with an output.
    pub answered: AtomicU64,
    /// Requests refused: not the leader.
    pub not_leader: AtomicU64,
    /// Requests that timed out.
    pub timed_out: AtomicU64,
    /// Terms this server has seen begin.
    pub term_changes: AtomicU64,
    /// Times this server became leader.
    pub elections_won: AtomicU64,
}

/// What the server looks like now (for `/health`, `/metrics`, headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Its term.
    pub term: u64,
    /// "leader", "candidate" or "follower".
    pub role: &'static str,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// Its commit index.
    pub commit: u64,
    /// The last index its store applied.
    pub applied: u64,
}

type Waiting = Mutex<HashMap<u64, oneshot::Sender<Reply>>>;

/// A running server (without its HTTP side: see [`crate::http`]).
pub struct Node {
    /// Its settings.
    pub config: ServeConfig,
    kv: KvServer,
    tcp: TcpTransport,
    disk: Option<Arc<DiskStorage>>,
    waiting: Arc<Waiting>,
    next_address: AtomicU64,
    /// Its counters.
    pub counters: Arc<Counters>,
    stopped: AtomicBool,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

/// Why a server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The log cannot be opened.
    #[error("opening the log in {dir}: {source}")]
    Storage {
        /// Its directory.
        dir: String,
        /// Why.
        source: checked_raft::runtime::StorageError,
    },
    /// The peer transport cannot start.
    #[error(transparent)]
    Transport(#[from] checked_raft::tcp::TcpError),
    /// The Raft peer cannot start.
    #[error("starting the Raft peer: {0}")]
    Raft(#[from] checked_raft::runtime::RaftError),
    /// A thread cannot start.
    #[error("starting a thread: {0}")]
    Thread(#[from] std::io::Error),
    /// This build's runtime is loom's (feature `loom` of checked-raft),
    /// which runs only inside loom models.
    #[error("this build's runtime is loom's (feature `loom`): build raft-kv without it")]
    LoomBuild,
}

impl Node {
    /// Opens the log, binds the peer address and starts the peer.
    pub fn start(config: ServeConfig) -> Result<Arc<Node>, StartError> {
        if checked_raft::runtime::LOOM_BUILD {
            return Err(StartError::LoomBuild);
        }
        let (persister, disk): (Arc<dyn Persister>, _) = match config.storage {
            Storage::Memory => (Arc::new(MemoryPersister::new()), None),
            Storage::Disk => {
                let dir = config.data_dir.clone().unwrap_or_default();
                let disk = DiskStorage::open(&dir).map_err(|source| StartError::Storage {
                    dir: dir.display().to_string(),
                    source,
                })?;
                for repair in disk.repairs() {
                    tracing::warn!(%repair, "the log was repaired on opening");
                }
                let disk = Arc::new(disk);
                (disk.clone(), Some(disk))
            }
        };
        let mut tcp_config = TcpConfig::new(config.cluster_id, config.id, config.peers.clone());
        tcp_config.tls = config.tls.clone();
        let tcp = TcpTransport::bind(tcp_config)?;
        let waiting: Arc<Waiting> = Arc::default();
        let reply = {
            let waiting = Arc::clone(&waiting);
            Arc::new(move |to: NodeId, reply: Reply| {
                let sender = waiting
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&to.0);
                if let Some(sender) = sender {
                    // The request may have timed out meanwhile.
                    let _ = sender.send(reply);
                }
            })
        };
        let kv = KvServer::new(
            config.peers.keys().copied().collect(),
            config.id,
            persister,
            KvConfig {
                raft: config.raft.clone(),
                max_raft_state: Some(config.snapshot_bytes),
            },
            Arc::new(tcp.clone()),
            reply,
        )?;
        #[cfg(feature = "bug-catalogue")]
        if config.local_reads {
            tracing::warn!("bug catalogue: reads are served from this server's own copy");
            kv.serve_local_reads();
        }
        tcp.serve(kv.raft().handler())?;
        let counters = Arc::new(Counters::default());
        let watcher = {
            let mut watch = kv.raft().leader_watch();
            let counters = Arc::clone(&counters);
            let me = config.id;
            std::thread::Builder::new()
                .name("raft-kv-watcher".into())
                .spawn(move || {
                    let mut last = watch.current();
                    while let Some(now) = watch.changed() {
                        if now.term != last.term {
                            counters.term_changes.fetch_add(1, Ordering::Relaxed);
                        }
                        if now.is_me && !(last.is_me && last.term == now.term) {
                            counters.elections_won.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(term = now.term.0, "elected leader");
                        } else if now.leader != last.leader {
                            tracing::info!(term = now.term.0, leader = ?now.leader.map(|l| l.0), id = me.0, "leader changed");
                        }
                        last = now;
                    }
                })?
        };
        tracing::info!(
            id = config.id.0,
            peers = ?config.peers,
            storage = ?config.storage,
            "raft-kv server started"
        );
        Ok(Arc::new(Node {
            config,
            kv,
            tcp,
            disk,
            waiting,
            next_address: AtomicU64::new(1),
            counters,
            stopped: AtomicBool::new(false),
            watcher: Mutex::new(Some(watcher)),
        }))
    }

    /// Runs `op` through the log and waits for its output (at most the
    /// request timeout). With `session` (client id and sequence number) a
    /// retry is applied once; without, the command keeps no session.
    pub async fn submit(
        &self,
        op: Op,
        session: Option<(ClientId, u64)>,
    ) -> Result<Output, Failure> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let (client, seq) = session.unwrap_or_else(|| (NO_SESSION, rand::random()));
        let address = self.next_address.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(address, tx);
        let kv = self.kv.clone();
        let request = Request {
            command: Command { client, seq, op },
        };
        // Proposing may write the log on this thread (group commit): off
        // the async workers.
        let handled =
            tokio::task::spawn_blocking(move || kv.handle(NodeId(address), request)).await;
        if handled.is_err() {
            self.forget(address);
            return Err(Failure::ShuttingDown);
        }
        let result = match tokio::time::timeout(self.config.request_timeout, rx).await {
            Ok(Ok(reply)) => match reply.result {
                Ok(output) => Ok(output),
                Err(Refusal::WrongLeader { hint }) => {
                    let members: Vec<NodeId> = self.config.peers.keys().copied().collect();
                    let leader = hint.and_then(|i| members.get(i as usize).copied());
                    Err(Failure::NotLeader(leader.or(self.status().leader)))
                }
                Err(Refusal::ShuttingDown) => Err(Failure::ShuttingDown),
            },
            Ok(Err(_)) => Err(Failure::ShuttingDown),
            Err(_) => {
                self.forget(address);
                Err(Failure::TimedOut)
            }
        };
        let counter = match result {
            Ok(_) => Some(&self.counters.answered),
            Err(Failure::NotLeader(_)) => Some(&self.counters.not_leader),
            Err(Failure::TimedOut) => Some(&self.counters.timed_out),
            Err(Failure::ShuttingDown) => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn forget(&self, address: u64) {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&address);
    }

    /// Term, role, leader, commit and applied index.
    pub fn status(&self) -> Status {
        let (term, role, leader, commit) = self.kv.raft().with_node(|n| {
            let role = match n.role() {
                Role::Leader { .. } => "leader",
                Role::Candidate { .. } => "candidate",
                Role::Follower => "follower",
            };
            (n.current_term().0, role, n.leader_id(), n.commit_index().0)
        });
        Status {
            term,
            role,
            leader,
            commit,
            applied: self.kv.applied_index().0,
        }
    }

    /// The peer transport (for its counters).
    pub fn transport(&self) -> &TcpTransport {
        &self.tcp
    }

    /// The log, when it is on disk (for its counters).
    pub fn disk(&self) -> Option<&DiskStorage> {
        self.disk.as_deref()
    }

    /// The Raft peer's storage fault, if it has halted on one.
    pub fn fault(&self) -> Option<String> {
        self.kv.raft().fault().map(|e| e.to_string())
    }

    /// Stops the peer (requests still waiting are refused) and the
    /// transport. Idempotent.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.kv.shutdown();
        self.tcp.shutdown();
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(watcher) = watcher {
            let _ = watcher.join();
        }
        // Requests still waiting: their senders drop, so they answer 503.
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        tracing::info!(id = self.config.id.0, "raft-kv server stopped");
    }
}
