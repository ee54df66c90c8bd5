//! A key/value server: a Raft peer, the replicated [`Store`], and the
//! requests waiting for their commands to commit.
//!
//! A request is proposed to Raft at once and remembered by the log index
//! and term `start` returned; the server answers when that index is
//! applied, and only if the entry applied there is the one it proposed in
//! that term (§8: a leader that lost its office may see its entry
//! replaced). Requests whose leader lost its term or its office fail with
//! [`Refusal::WrongLeader`] at once (a watchdog polls the peer's state),
//! so the clerk retries elsewhere. A retried request whose command was
//! already applied is answered from the session table without a second
//! proposal. Handlers never block: a network's delivery thread may call
//! [`KvServer::handle`].
//!
//! Lock order: the server's state lock, then the Raft peer's (through
//! `start`, `state`, `snapshot`); the Raft peer never calls back into the
//! server while holding its own.

use crate::consensus::{LogIndex, NodeId, Term};
use crate::kv::protocol::{ClientId, Command, Op, Output, Refusal, Reply, Request};
use crate::kv::state_machine::Store;
use crate::runtime::ApplyReceiver;
use crate::runtime::{ApplyMsg, Persister, Raft, RaftConfig, RaftError, StartError, Transport};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Where a server's replies go: to the clerk at the given address.
pub type ReplySink = Arc<dyn Fn(NodeId, Reply) + Send + Sync>;

/// How often the watchdog checks that the peer still leads in the term of
/// each waiting request.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(50);

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
    members: Vec<NodeId>,
    state: Mutex<State>,
    reply: ReplySink,
    max_raft_state: Option<usize>,
    stopped: AtomicBool,
    /// Signalled on shutdown, to wake the watchdog.
    stop_signal: Condvar,
    /// Raft entries that did not decode as commands (none from a correct
    /// cluster).
    undecodable: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The bug catalogue's broken reads (see [`KvServer::serve_local_reads`]);
    /// only ever set in builds with the `bug-catalogue` feature.
    local_reads: AtomicBool,
}

struct State {
    store: Store,
    /// The last log index applied to `store`.
    applied: LogIndex,
    /// Requests waiting for the entry proposed at an index.
    pending: BTreeMap<LogIndex, Pending>,
}

struct Pending {
    term: Term,
    client: ClientId,
    seq: u64,
    reply_to: NodeId,
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
            members,
            state: Mutex::new(State {
                store: Store::new(),
                applied: LogIndex(0),
                pending: BTreeMap::new(),
            }),
            reply,
            max_raft_state: config.max_raft_state,
            stopped: AtomicBool::new(false),
            stop_signal: Condvar::new(),
            undecodable: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
            local_reads: AtomicBool::new(false),
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
                    .name(format!("kv-{}-watchdog", me.0))
                    .spawn(move || inner.run_watchdog())
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
        let command = request.command;
        let mut state = lock(&inner.state);
        if inner.stopped.load(Ordering::SeqCst) {
            drop(state);
            inner.send(from, &command, Err(Refusal::ShuttingDown));
            return;
        }
        if inner.local_reads.load(Ordering::Relaxed)
            && let Op::Get { key } = &command.op
        {
            // The catalogue's bug: a read answered from this server's own
            // copy, which may lag the cluster (a follower, a deposed
            // leader), instead of through the log.
            let output = Output::Value(state.store.get(key).to_owned());
            drop(state);
            inner.send(from, &command, Ok(output));
            return;
        }
        if let Some(output) = state.store.applied_output(command.client, command.seq) {
            let output = output.clone();
            drop(state);
            inner.send(from, &command, Ok(output));
            return;
        }
        match inner.raft.start(command.encode()) {
            Ok((index, term)) => {
                let replaced = state.pending.insert(
                    index,
                    Pending {
                        term,
                        client: command.client,
                        seq: command.seq,
                        reply_to: from,
                    },
                );
                drop(state);
                if let Some(old) = replaced {
                    inner.refuse(old);
                }
            }
            Err(StartError::NotLeader { leader_hint }) => {
                drop(state);
                let hint = leader_hint.and_then(|id| inner.position(id));
                inner.send(from, &command, Err(Refusal::WrongLeader { hint }));
            }
            Err(StartError::Shutdown) => {
                drop(state);
                inner.send(from, &command, Err(Refusal::ShuttingDown));
            }
        }
    }

    /// Bug catalogue (test-only, feature `bug-catalogue`): from now on
    /// this server answers every Get at once from its own copy of the
    /// store, without going through the log, as a careless implementation
    /// of fast reads would. A follower or a deposed leader then serves
    /// stale values: the harness (`jepsen-lite run --bug local-reads`)
    /// must find the history not linearizable.
    #[cfg(feature = "bug-catalogue")]
    pub fn serve_local_reads(&self) {
        self.inner.local_reads.store(true, Ordering::Relaxed);
    }

    /// The value of `key` in this server's copy of the store (for tests
    /// and diagnostics: it may lag the cluster).
    pub fn local_get(&self, key: &str) -> String {
        lock(&self.inner.state).store.get(key).to_owned()
    }

    /// Raft entries that did not decode as commands (zero in a correct
    /// cluster).
    pub fn undecodable_entries(&self) -> u64 {
        self.inner.undecodable.load(Ordering::Relaxed)
    }

    /// Stops the server (the lab's `Kill`): its Raft peer, then its
    /// threads. Returns once they have ended; requests still waiting get
    /// no reply (their clerks time out and retry elsewhere).
    pub fn shutdown(&self) {
        let inner = &self.inner;
        inner.stopped.store(true, Ordering::SeqCst);
        // Raft closes the channel our applier reads as it shuts down.
        inner.raft.shutdown();
        drop(lock(&inner.state));
        inner.stop_signal.notify_all();
        let handles: Vec<_> = lock(&inner.threads).drain(..).collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Inner {
    /// The position of peer `id` in the member list (what clerks call a
    /// server).
    fn position(&self, id: NodeId) -> Option<u64> {
        self.members.iter().position(|m| *m == id).map(|p| p as u64)
    }

    fn send(&self, to: NodeId, command: &Command, result: Result<crate::kv::Output, Refusal>) {
        (self.reply)(
            to,
            Reply {
                client: command.client,
                seq: command.seq,
                result,
            },
        );
    }

    /// Fails a waiting request: its entry was lost, or its leader.
    fn refuse(&self, pending: Pending) {
        let hint = self
            .raft
            .with_node(|n| n.leader_id())
            .and_then(|id| self.position(id));
        (self.reply)(
            pending.reply_to,
            Reply {
                client: pending.client,
                seq: pending.seq,
                result: Err(Refusal::WrongLeader { hint }),
            },
        );
    }

    /// Applies what Raft commits, in order, and answers waiting requests;
    /// snapshots when the persisted state outgrows `max_raft_state`. Ends
    /// when the Raft peer stops (its channel closes).
    fn run_applier(&self, applied: ApplyReceiver) {
        while let Ok(message) = applied.recv() {
            let mut state = lock(&self.state);
            let mut answers = Vec::new();
            let mut refused = Vec::new();
            match message {
                ApplyMsg::Command {
                    index,
                    term,
                    command,
                } => {
                    if index <= state.applied {
                        continue;
                    }
                    state.applied = index;
                    let command = match Command::decode(&command) {
                        Ok(command) => command,
                        Err(_) => {
                            self.undecodable.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    let output = state.store.apply(&command);
                    if let Some(pending) = state.pending.remove(&index) {
                        // Answer only from the entry this server proposed.
                        match output {
                            Some(output)
                                if pending.term == term
                                    && pending.client == command.client
                                    && pending.seq == command.seq =>
                            {
                                answers.push((pending, output))
                            }
                            _ => refused.push(pending),
                        }
                    }
                    if self
                        .max_raft_state
                        .is_some_and(|max| self.raft.persister().raft_state_size() >= max)
                    {
                        // An error here means the peer has stopped.
                        let _ = self.raft.snapshot(index, state.store.encode());
                    }
                }
                ApplyMsg::Snapshot { index, data, .. } => {
                    // Never backwards: a snapshot older than what is
                    // applied changes nothing.
                    if index <= state.applied {
                        continue;
                    }
                    let Ok(store) = Store::decode(&data) else {
                        self.undecodable.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    state.store = store;
                    state.applied = index;
                    let covered: Vec<LogIndex> =
                        state.pending.range(..=index).map(|(i, _)| *i).collect();
                    for i in covered {
                        if let Some(pending) = state.pending.remove(&i) {
                            match state.store.applied_output(pending.client, pending.seq) {
                                Some(output) => answers.push((pending, output.clone())),
                                None => refused.push(pending),
                            }
                        }
                    }
                }
            }
            drop(state);
            for (pending, output) in answers {
                (self.reply)(
                    pending.reply_to,
                    Reply {
                        client: pending.client,
                        seq: pending.seq,
                        result: Ok(output),
                    },
                );
            }
            for pending in refused {
                self.refuse(pending);
            }
        }
    }

    /// Fails waiting requests whose peer no longer leads in their term.
    fn run_watchdog(&self) {
        let mut state = lock(&self.state);
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            state = self
                .stop_signal
                .wait_timeout(state, WATCHDOG_PERIOD)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if self.stopped.load(Ordering::SeqCst) || state.pending.is_empty() {
                continue;
            }
            let (term, leader) = self.raft.state();
            let lost: Vec<LogIndex> = state
                .pending
                .iter()
                .filter(|(_, p)| !leader || p.term != term)
                .map(|(i, _)| *i)
                .collect();
            let refused: Vec<Pending> = lost
                .into_iter()
                .filter_map(|i| state.pending.remove(&i))
                .collect();
            drop(state);
            for pending in refused {
                self.refuse(pending);
            }
            state = lock(&self.state);
        }
    }
}
