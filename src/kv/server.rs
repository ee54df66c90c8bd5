//! A key/value server on threads: a Raft peer and a thread driver of the
//! sans-IO [`KvService`], which decides everything about requests
//! (sessions, which request an applied entry answers, when a waiting
//! request is refused, when to snapshot). This file only feeds it events
//! and carries out its effects:
//!
//! - a clerk's request, on the caller's thread (a network's delivery
//!   thread: handlers never block on the service's answer);
//! - committed entries and snapshots, on an applier thread reading the
//!   Raft peer's apply queue;
//! - changes of term and role, on a watcher thread woken by the peer's
//!   [`crate::runtime::LeaderWatch`] (no polling).
//!
//! Lock order: the service lock, then the Raft peer's (through
//! `snapshot`). Proposals are made without the service lock, so applying
//! never waits on a proposer; replies are sent with no lock held.

use crate::consensus::NodeId;
use crate::kv::protocol::{Refusal, Reply, Request};
use crate::kv::service::{ApplyError, KvEffect, KvService, Proposal};
use crate::runtime::ApplyReceiver;
use crate::runtime::{ApplyMsg, Persister, Raft, RaftConfig, RaftError, StartError, Transport};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

/// Where a server's replies go: to the clerk at the given address.
pub type ReplySink = Arc<dyn Fn(NodeId, Reply) + Send + Sync>;

/// A server's settings.
#[derive(Clone, Debug, Default)]
pub struct KvConfig {
    /// The Raft peer's settings.
    pub raft: RaftConfig,
    /// Snapshot once the persisted Raft state reaches this many bytes (the
    /// lab's `maxraftstate`); `None`: never.
    pub max_raft_state: Option<usize>,
}

/// One key/value server (the lab's `KVServer`); clones share it.
#[derive(Clone)]
pub struct KvServer {
    inner: Arc<Inner>,
}

struct Inner {
    raft: Raft,
    service: Mutex<KvService<NodeId>>,
    reply: ReplySink,
    stopped: AtomicBool,
    /// Entries or snapshots the service refused (none from a correct
    /// cluster: a snapshot that is not a store, an entry out of order).
    refused_applies: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KvServer {
    /// Starts server `me` of the cluster `members` from what `persister`
    /// holds (its snapshot restores the store), its Raft peer sending
    /// through `transport`, its replies through `reply`. Give the network
    /// [`KvServer::raft`]`().handler()` for Raft messages and
    /// [`KvServer::handle`] for clerk requests.
    pub fn new(
        members: Vec<NodeId>,
        me: NodeId,
        persister: Arc<dyn Persister>,
        config: KvConfig,
        transport: Arc<dyn Transport>,
        reply: ReplySink,
    ) -> Result<KvServer, RaftError> {
        let (raft, applied) = Raft::new(members.clone(), me, persister, config.raft, transport)?;
        let inner = Arc::new(Inner {
            raft,
            service: Mutex::new(KvService::new(members, config.max_raft_state)),
            reply,
            stopped: AtomicBool::new(false),
            refused_applies: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        });
        let server = KvServer { inner };
        let spawned = [
            {
                let inner = Arc::clone(&server.inner);
                thread::Builder::new()
                    .name(format!("kv-{}-applier", me.0))
                    .spawn(move || inner.run_applier(applied))
            },
            {
                let inner = Arc::clone(&server.inner);
                thread::Builder::new()
                    .name(format!("kv-{}-watcher", me.0))
                    .spawn(move || inner.run_watcher())
            },
        ];
        // Register every thread that did start before giving up on one
        // that did not, so that `shutdown` joins them all.
        let mut failure = None;
        for spawned in spawned {
            match spawned {
                Ok(handle) => lock(&server.inner.threads).push(handle),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            server.shutdown();
            return Err(RaftError::Thread(Arc::new(e)));
        }
        Ok(server)
    }

    /// The Raft peer under this server.
    pub fn raft(&self) -> &Raft {
        &self.inner.raft
    }

    /// Handles a clerk's request from address `from`; the reply is sent
    /// through the reply sink, now (a refusal, or a duplicate of a command
    /// already applied) or once the command has been applied.
    pub fn handle(&self, from: NodeId, request: Request) {
        let inner = &self.inner;
        if inner.stopped.load(Ordering::SeqCst) {
            let command = &request.command;
            (inner.reply)(
                from,
                Reply {
                    client: command.client,
                    seq: command.seq,
                    result: Err(Refusal::ShuttingDown),
                },
            );
            return;
        }
        let effects = lock(&inner.service).request(from, request);
        inner.carry_out(effects);
    }

    /// Bug catalogue (test-only, feature `bug-catalogue`): the service
    /// answers gets from this server's own copy of the store
    /// ([`KvService::serve_local_reads`]).
    #[cfg(feature = "bug-catalogue")]
    pub fn serve_local_reads(&self) {
        lock(&self.inner.service).serve_local_reads();
    }

    /// The value of `key` in this server's copy of the store (for tests
    /// and diagnostics: it may lag the cluster).
    pub fn local_get(&self, key: &str) -> String {
        lock(&self.inner.service).store().get(key).to_owned()
    }

    /// The last log index this server's store has applied.
    pub fn applied_index(&self) -> crate::consensus::LogIndex {
        lock(&self.inner.service).applied_index()
    }

    /// Raft entries that did not decode as commands, and entries or
    /// snapshots the service refused (zero in a correct cluster).
    pub fn undecodable_entries(&self) -> u64 {
        lock(&self.inner.service).undecodable_entries()
            + self.inner.refused_applies.load(Ordering::Relaxed)
    }

    /// Stops the server (the lab's `Kill`): its Raft peer, then its
    /// threads. Returns once they have ended; requests still waiting get
    /// no reply (their clerks time out and retry elsewhere).
    pub fn shutdown(&self) {
        let inner = &self.inner;
        inner.stopped.store(true, Ordering::SeqCst);
        // Raft closes the apply queue and the leader watch our threads
        // wait on as it shuts down.
        inner.raft.shutdown();
        let handles: Vec<_> = lock(&inner.threads).drain(..).collect();
        for handle in handles {
            let _ = handle.join();
        }
        lock(&inner.service).stop();
    }
}

impl Inner {
    /// Carries out the service's effects, and those they lead to: proposes
    /// (without the service lock), snapshots, and sends the replies last.
    fn carry_out(&self, mut effects: Vec<KvEffect<NodeId>>) {
        let mut replies = Vec::new();
        while !effects.is_empty() {
            let mut next = Vec::new();
            for effect in effects {
                match effect {
                    KvEffect::Reply { to, reply } => replies.push((to, reply)),
                    KvEffect::Propose { command, reply_to } => {
                        let proposal = match self.raft.start(command.encode()) {
                            Ok((index, term)) => Proposal::Accepted { index, term },
                            Err(StartError::NotLeader { leader_hint }) => {
                                Proposal::NotLeader { leader_hint }
                            }
                            Err(StartError::Shutdown) => Proposal::Stopped,
                        };
                        next.extend(lock(&self.service).proposed(reply_to, &command, proposal));
                    }
                    KvEffect::Snapshot { index, data } => {
                        // An error here means the peer has stopped.
                        let _ = self.raft.snapshot(index, data);
                    }
                }
            }
            effects = next;
        }
        for (to, reply) in replies {
            (self.reply)(to, reply);
        }
    }

    /// Feeds what Raft commits, in order, to the service. Ends when the
    /// Raft peer stops (its queue closes).
    fn run_applier(&self, applied: ApplyReceiver) {
        while let Ok(message) = applied.recv() {
            let outcome = match message {
                ApplyMsg::Command {
                    index,
                    term,
                    command,
                } => {
                    let size = self.raft.persister().raft_state_size();
                    lock(&self.service).applied(index, term, &command, size)
                }
                ApplyMsg::Snapshot { index, data, .. } => {
                    lock(&self.service).snapshot_installed(index, &data)
                }
            };
            match outcome {
                Ok(effects) => self.carry_out(effects),
                // A snapshot older than what is applied changes nothing.
                Err(ApplyError::Behind { .. }) => {}
                Err(e) => {
                    self.refused_applies.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "the key/value service refused what Raft applied");
                }
            }
        }
    }

    /// Tells the service of every change of term or role, so that it
    /// refuses requests whose leader lost its office. Ends when the Raft
    /// peer stops (its watch closes).
    fn run_watcher(&self) {
        let mut watch = self.raft.leader_watch();
        loop {
            // Read under the service lock, so that a proposal reported
            // meanwhile is never judged by an older value.
            let effects = {
                let mut service = lock(&self.service);
                let now = watch.current();
                service.leadership(now.term, now.leader, now.is_me)
            };
            self.carry_out(effects);
            if watch.changed().is_none() {
                return;
            }
        }
    }
}
