//! Errors the core returns instead of panicking: malformed or impossible
//! input from a peer, the application or stable storage.

use crate::consensus::types::{LogIndex, NodeId, Term};
use alloc::string::String;
use thiserror::Error;

/// Why a handler refused its input. A refused input changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The configuration cannot describe a cluster.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A message came from a server that is not a peer of this one.
    #[error("message from {from}, which is not a peer of {me}")]
    UnknownPeer {
        /// The claimed sender.
        from: NodeId,
        /// This server.
        me: NodeId,
    },
    /// A message is internally inconsistent (e.g. entries not contiguous).
    #[error("malformed message from {from}: {reason}")]
    Malformed {
        /// The sender.
        from: NodeId,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed message that a correct peer could never send in this
    /// state (e.g. a second leader in this server's term). Ignored.
    #[error("protocol violation by {from} in {term}: {reason}")]
    ProtocolViolation {
        /// The sender.
        from: NodeId,
        /// This server's term.
        term: Term,
        /// What the message contradicts.
        reason: String,
    },
    /// The application asked to snapshot past what it has been given.
    #[error("cannot snapshot through {index}: only {last_applied} has been applied")]
    SnapshotBeyondApplied {
        /// Requested end of the snapshot.
        index: LogIndex,
        /// Last index handed to the state machine.
        last_applied: LogIndex,
    },
    /// Stored state read at restart is inconsistent.
    #[error("corrupt stored state: {0}")]
    CorruptStorage(String),
}

/// The answer to a proposal made to a server that is not the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("not the leader; try {leader_hint:?}")]
pub struct NotLeader {
    /// The leader this server last heard from in its current term, if any.
    pub leader_hint: Option<NodeId>,
}
