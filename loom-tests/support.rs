//! What every model shares: the loom builder with this suite's bounds, a
//! transport that checks each message against what its sender has
//! persisted, a synchronous transport between peers, a hand-driven clock,
//! and the messages the models deliver.

use bytes::Bytes;
use checked_raft::runtime::{
    ManualClock, MemoryPersister, Persister, Raft, RaftConfig, Transport, Unstarted,
};
use checked_raft::{
    AppendEntries, AppendResult, Entry, InstallSnapshot, LogIndex, Message, NodeId,
    RequestVoteReply, Snapshot, SnapshotMeta, Stored, Term,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

pub use checked_raft::runtime::mutation::Mutation;

/// Most threads in any model, the main thread included.
pub const MAX_THREADS: usize = 4;

/// Runs `model` under loom over every interleaving with at most
/// `preemptions` preemptions (the environment's `LOOM_MAX_PREEMPTIONS`
/// overrides it), and prints how many interleavings that was.
pub fn check(name: &str, preemptions: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_threads = MAX_THREADS;
    builder.max_branches = 100_000;
    let bound = builder.preemption_bound.unwrap_or(preemptions);
    builder.preemption_bound = Some(bound);
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&runs);
    let started = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    println!(
        "loom model {name}: {} interleavings, preemption bound {bound}, {:.1} s",
        runs.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

/// The three-peer cluster every model's peers belong to.
pub fn members() -> Vec<NodeId> {
    vec![NodeId(0), NodeId(1), NodeId(2)]
}

/// Settings for a model's peer: seeded, and with `mutation` switched on.
pub fn config(mutation: Option<Mutation>) -> RaftConfig {
    RaftConfig {
        seed: Some(7),
        mutation,
        ..RaftConfig::default()
    }
}

/// Long enough for any election timeout of [`RaftConfig::default`] to be
/// due.
pub const PAST_ANY_TIMEOUT: Duration = Duration::from_secs(1);

/// A peer of a model: its handle, its loops, its storage and its clock.
pub struct Peer {
    /// The parts [`Raft::unstarted`] returned.
    pub parts: Unstarted,
    /// Its storage, to compare with what it sends and holds in memory.
    pub persister: Arc<MemoryPersister>,
    /// Its clock, advanced by hand.
    pub clock: Arc<ManualClock>,
}

/// Builds peer `me` (not yet running) sending through `transport`.
pub fn peer(me: NodeId, transport: Arc<dyn Transport>, mutation: Option<Mutation>) -> Peer {
    peer_with(me, transport, config(mutation))
}

/// [`peer`] with settings of the model's own.
pub fn peer_with(me: NodeId, transport: Arc<dyn Transport>, config: RaftConfig) -> Peer {
    let persister = Arc::new(MemoryPersister::new());
    let clock = Arc::new(ManualClock::new());
    let parts = Raft::unstarted(
        members(),
        me,
        persister.clone(),
        config,
        transport,
        clock.clone(),
    )
    .expect("a valid configuration");
    Peer {
        parts,
        persister,
        clock,
    }
}

impl Peer {
    /// Makes this (fresh) peer the leader of term 1: its election timer
    /// fires and peer 1 grants it the vote; what that decided is written
    /// and sent.
    pub fn elect(&self) {
        self.clock.advance(PAST_ANY_TIMEOUT);
        assert!(self.parts.ticker.fire_due(), "the election timer fires");
        self.parts.raft.receive(NodeId(1), vote_granted(1));
        assert_eq!(self.parts.raft.state(), (Term(1), true));
        self.drain();
    }

    /// Runs storage rounds until there is nothing left to write or let
    /// out (or another thread is running one).
    pub fn drain(&self) {
        while self.parts.storage.flush() {}
    }

    /// Fails the model if what the peer holds in memory differs from what
    /// it has persisted: a lost or reordered storage update.
    pub fn assert_persisted_matches_memory(&self) {
        let stored = self.persister.load().expect("a memory persister loads");
        self.parts.raft.with_node(|node| {
            assert_eq!(stored.hard_state, node.hard_state(), "hard state");
            assert_eq!(stored.entries.as_slice(), node.log().entries(), "log");
            assert_eq!(
                stored.snapshot.as_ref().map(|s| s.meta),
                node.snapshot().map(|s| s.meta),
                "snapshot"
            );
        });
    }
}

/// A transport that keeps what its peer sends, after checking that every
/// message is backed by what the peer has persisted (Figure 2: "Updated on
/// stable storage before responding to RPCs").
pub struct CheckingTransport {
    me: NodeId,
    persister: Mutex<Option<Arc<MemoryPersister>>>,
    sent: Mutex<Vec<(NodeId, Message)>>,
}

impl CheckingTransport {
    /// A transport for peer `me`; give it the peer's persister with
    /// [`CheckingTransport::watch`] once the peer exists.
    pub fn new(me: NodeId) -> Arc<CheckingTransport> {
        Arc::new(CheckingTransport {
            me,
            persister: Mutex::new(None),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// Checks every later message against `persister`.
    pub fn watch(&self, persister: Arc<MemoryPersister>) {
        *self
            .persister
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(persister);
    }

    /// Everything sent so far, in order.
    pub fn sent(&self) -> Vec<(NodeId, Message)> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Transport for CheckingTransport {
    fn send(&self, to: NodeId, message: Message) {
        // Clone the handle out: no std lock may be held across a loom
        // operation (the persister's lock is loom's).
        let persister = self
            .persister
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(persister) = persister
            && let Err(why) = persisted_before_send(
                self.me,
                &persister.load().expect("a memory persister loads"),
                to,
                &message,
            )
        {
            panic!("peer {} sent before persisting: {why}", self.me.0);
        }
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((to, message));
    }
}

/// Whether `stored`, what peer `me` has persisted, backs `message` to `to`:
/// its term, its vote, and the entries it acknowledges (a leader's own
/// entries may leave before its write, thesis §10.2.1).
pub fn persisted_before_send(
    me: NodeId,
    stored: &Stored,
    to: NodeId,
    message: &Message,
) -> Result<(), String> {
    let term = stored.hard_state.current_term;
    let vote = stored.hard_state.voted_for;
    if message.term() > term {
        return Err(format!(
            "{message:?} carries term {} but the persisted term is {term}",
            message.term()
        ));
    }
    if message.term() < term {
        // Decided in an older term and sent (after the node lock was
        // released) once a later handler had moved the peer on: what it
        // depended on was durable when it was decided, and is now
        // superseded by newer durable state, as for any delayed message.
        return Ok(());
    }
    let last_index = stored
        .entries
        .last()
        .map(|e| e.index)
        .or(stored.snapshot.as_ref().map(|s| s.meta.last_included_index))
        .unwrap_or(LogIndex(0));
    match message {
        Message::RequestVote(m) if m.term == term && vote != Some(me) => Err(format!(
            "asks for votes in term {term} with persisted vote {vote:?}"
        )),
        Message::RequestVoteReply(m) if m.vote_granted && vote != Some(to) => Err(format!(
            "grants its vote to {to:?} with persisted vote {vote:?}"
        )),
        // A leader's entries may leave before its own write (thesis
        // §10.2.1): it promises nothing about its storage, and counts
        // itself toward a commit only once the write is reported durable.
        // Its term was persisted (checked above).
        Message::AppendEntries(_) => Ok(()),
        Message::AppendEntriesReply(m) => match m.result {
            AppendResult::Success { match_index } if match_index > last_index => Err(format!(
                "acknowledges entries through {match_index}, persisted through {last_index}"
            )),
            _ => Ok(()),
        },
        Message::InstallSnapshotReply(m) if m.last_included_index > last_index => Err(format!(
            "acknowledges a snapshot through {}, persisted through {last_index}",
            m.last_included_index
        )),
        _ => Ok(()),
    }
}

/// A transport that delivers on the sender's thread, straight into the
/// receiving peer's handler: two peers sending to each other at once then
/// run each other's handlers, and any lock held across a send deadlocks.
pub struct SyncTransport {
    /// Written only while no model thread runs (setup and teardown); read
    /// by senders. A std lock, so it must never block while a loom thread
    /// holds it across a loom operation: readers never block each other.
    routes: RwLock<Vec<(NodeId, Raft)>>,
    checker: Arc<CheckingTransport>,
}

impl SyncTransport {
    /// A transport for peer `me` that also checks what it sends.
    pub fn new(me: NodeId) -> Arc<SyncTransport> {
        Arc::new(SyncTransport {
            routes: RwLock::new(Vec::new()),
            checker: CheckingTransport::new(me),
        })
    }

    /// Routes messages for `peer` to it, and checks later messages against
    /// `persister` (this transport's own peer's).
    pub fn connect(&self, peer: &Raft, persister: Arc<MemoryPersister>) {
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((peer.id(), peer.clone()));
        self.checker.watch(persister);
    }

    /// Drops every route (each holds a peer's handle: without this, two
    /// connected peers keep each other alive and loom reports a leak).
    pub fn disconnect(&self) {
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Transport for SyncTransport {
    fn send(&self, to: NodeId, message: Message) {
        self.checker.send(to, message.clone());
        let from = self.checker.me;
        let route = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(id, _)| *id == to)
            .map(|(_, raft)| raft.clone());
        if let Some(raft) = route {
            raft.receive(from, message);
        }
    }
}

/// A granted vote in `term`.
pub fn vote_granted(term: u64) -> Message {
    Message::RequestVoteReply(RequestVoteReply {
        term: Term(term),
        vote_granted: true,
    })
}

/// An entry of `term` at `index` holding `command`.
pub fn entry(index: u64, term: u64, command: &'static str) -> Entry {
    Entry {
        index: LogIndex(index),
        term: Term(term),
        command: Bytes::from_static(command.as_bytes()),
    }
}

/// AppendEntries of `term` after `prev` (index, term) with `entries` and
/// the leader's commit index `commit`.
pub fn append(term: u64, prev: (u64, u64), entries: Vec<Entry>, commit: u64) -> Message {
    Message::AppendEntries(AppendEntries {
        term: Term(term),
        prev_log_index: LogIndex(prev.0),
        prev_log_term: Term(prev.1),
        entries,
        leader_commit: LogIndex(commit),
    })
}

/// InstallSnapshot of `term` for a snapshot through `index` (of term
/// `index_term`) holding `data`.
pub fn install(term: u64, index: u64, index_term: u64, data: &'static str) -> Message {
    Message::InstallSnapshot(InstallSnapshot {
        term: Term(term),
        snapshot: Snapshot {
            meta: SnapshotMeta {
                last_included_index: LogIndex(index),
                last_included_term: Term(index_term),
            },
            data: Bytes::from_static(data.as_bytes()),
        },
    })
}

/// Runs `mutant`, an ignored test of this binary that checks a model with a
/// [`Mutation`] switched on, in a child process, and fails unless loom
/// caught it: the child must fail with `expected` in its output. (A child,
/// because after reporting a deadlock loom may abort the whole process
/// while unwinding the blocked threads.)
pub fn assert_mutant_caught(mutant: &str, expected: &str) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([mutant, "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the test binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("running 1 test"),
        "no test named {mutant}:\n{text}"
    );
    assert!(
        !output.status.success(),
        "mutant {mutant} survived: loom found nothing\n{text}"
    );
    assert!(
        text.contains(expected),
        "mutant {mutant} failed, but not with {expected:?}:\n{text}"
    );
    println!("mutant {mutant}: caught ({expected})");
}
