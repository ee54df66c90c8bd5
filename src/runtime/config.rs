//! The runtime's settings and the messages it hands the application.

use crate::consensus::{Error, LogIndex, NodeId, Term};
use crate::runtime::persister::StorageError;
use bytes::Bytes;
use std::ops::Range;
use std::time::Duration;

/// The default [`RaftConfig::apply_queue_capacity`]: four full
/// AppendEntries' worth of entries (256 each), so that an application
/// that keeps up never makes the peer wait, while one that stalls holds up
/// at most this many commands in memory.
pub const DEFAULT_APPLY_QUEUE_CAPACITY: usize = 1024;

/// Timing and batching of one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// Each election timeout is drawn uniformly from this range (§5.2:
    /// "randomized election timeouts"). It must be several heartbeat
    /// intervals long, so that a live leader is not deposed.
    pub election_timeout: Range<Duration>,
    /// How often a leader sends heartbeats when idle (the 6.824 lab allows
    /// at most ten a second).
    pub heartbeat_interval: Duration,
    /// Most entries one AppendEntries carries.
    pub max_entries_per_message: usize,
    /// Most AppendEntries with entries in flight to one follower
    /// (pipelining; 1 to [`crate::MAX_INFLIGHT`]).
    pub max_inflight: usize,
    /// Most committed entries and snapshots waiting in the apply queue for
    /// the application (at least 1). When it is full, the thread that
    /// commits more (a message handler, a proposer on a one-peer cluster)
    /// waits until the application takes some: a slow application slows
    /// the peer down instead of growing its memory. It waits with no lock
    /// held, so the application may call back into the peer meanwhile.
    pub apply_queue_capacity: usize,
    /// Seed of the election-timeout randomness; `None` draws one from the
    /// operating system, so that peers do not time out in lockstep.
    pub seed: Option<u64>,
    /// A concurrency bug to reintroduce, for the loom models' mutation
    /// tests (exists only with the `loom` feature).
    #[cfg(feature = "loom")]
    pub mutation: Option<crate::runtime::mutation::Mutation>,
}

impl Default for RaftConfig {
    /// Heartbeats every 100 ms (ten a second, the lab's limit) and election
    /// timeouts of 300-600 ms: a follower misses three heartbeats before it
    /// stands, and a split vote is settled within a few timeouts. The apply
    /// queue holds [`DEFAULT_APPLY_QUEUE_CAPACITY`] messages.
    fn default() -> RaftConfig {
        RaftConfig {
            election_timeout: Duration::from_millis(300)..Duration::from_millis(600),
            heartbeat_interval: Duration::from_millis(100),
            max_entries_per_message: 256,
            max_inflight: 4,
            apply_queue_capacity: DEFAULT_APPLY_QUEUE_CAPACITY,
            seed: None,
            #[cfg(feature = "loom")]
            mutation: None,
        }
    }
}

/// What a peer hands its application, in log order, on the queue returned
/// by [`crate::runtime::Raft::new`] (the lab's `ApplyMsg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyMsg {
    /// A committed command: apply it to the state machine.
    Command {
        /// Its position in the log.
        index: LogIndex,
        /// The term in which a leader received it.
        term: Term,
        /// The command as passed to [`crate::runtime::Raft::start`].
        command: Bytes,
    },
    /// Replace the state machine's state with this snapshot: one installed
    /// by InstallSnapshot (§7), or the stored one when a peer restarts.
    Snapshot {
        /// The last index the snapshot covers.
        index: LogIndex,
        /// The term of that index.
        term: Term,
        /// The application's state as it passed it to
        /// [`crate::runtime::Raft::snapshot`].
        data: Bytes,
    },
}

impl ApplyMsg {
    /// The log index this message brings the state machine to.
    pub fn index(&self) -> LogIndex {
        match self {
            ApplyMsg::Command { index, .. } | ApplyMsg::Snapshot { index, .. } => *index,
        }
    }
}

/// Why [`crate::runtime::Raft::start`] did not take a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// This peer is not the leader; the hint is the leader it last heard
    /// from in its current term, if any.
    #[error("not the leader; try {leader_hint:?}")]
    NotLeader {
        /// Where to try next.
        leader_hint: Option<NodeId>,
    },
    /// The peer has been shut down.
    #[error("the peer has been shut down")]
    Shutdown,
}

/// Why a peer could not be started ([`crate::runtime::Raft::new`]).
#[derive(Clone, Debug, thiserror::Error)]
pub enum RaftError {
    /// The configuration cannot describe a cluster, or what is stored is
    /// nothing a correct peer could have persisted (the core's judgement).
    #[error(transparent)]
    Core(#[from] Error),
    /// The persister could not read what it holds ([`crate::runtime::Persister::load`]).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The operating system could not start the peer's thread.
    #[error("cannot start a thread: {0}")]
    Thread(std::sync::Arc<std::io::Error>),
}
