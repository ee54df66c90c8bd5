//! The vocabulary of the protocol: identifiers, terms, indices, log entries,
//! the persistent "hard state" and snapshots (Figure 2 and Figure 13).

use bytes::Bytes;
use core::fmt;
use serde::{Deserialize, Serialize};

/// Identifies one server of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

/// A term number (§5.1). Terms start at 0 on a fresh server and only grow.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Term(pub u64);

/// A position in the replicated log. The first entry has index 1; index 0
/// stands for "before the first entry" (an empty log's last index).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct LogIndex(pub u64);

impl Term {
    /// The next term, used when a server starts an election (§5.2).
    pub fn next(self) -> Term {
        Term(self.0.saturating_add(1))
    }
}

impl LogIndex {
    /// The index after this one.
    pub fn next(self) -> LogIndex {
        LogIndex(self.0.saturating_add(1))
    }

    /// The index before this one; `LogIndex(0)` stays at 0.
    pub fn prev(self) -> LogIndex {
        LogIndex(self.0.saturating_sub(1))
    }

    /// This index moved forward by `n` entries.
    pub fn plus(self, n: usize) -> LogIndex {
        LogIndex(self.0.saturating_add(n as u64))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}

/// One log entry: a client command and the term in which a leader received it.
///
/// Commands are opaque bytes to Raft; `Bytes` makes a clone a reference-count
/// increment, so an entry can sit in the log, in a message and in an effect
/// without copying its payload.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// Position of the entry in the log.
    pub index: LogIndex,
    /// Term of the leader that created the entry.
    pub term: Term,
    /// The client's command.
    pub command: Bytes,
}

/// The persistent state that is not the log (Figure 2, "Persistent state on
/// all servers"): updated on stable storage before responding to RPCs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct HardState {
    /// Latest term this server has seen.
    pub current_term: Term,
    /// Candidate that received this server's vote in `current_term`, if any.
    pub voted_for: Option<NodeId>,
}

/// Which prefix of the log a snapshot replaces (Figure 13).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SnapshotMeta {
    /// The snapshot replaces all entries up through and including this index.
    pub last_included_index: LogIndex,
    /// Term of `last_included_index`.
    pub last_included_term: Term,
}

/// A snapshot of the application's state machine (§7) and where it ends.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// Position of the last entry the snapshot covers.
    pub meta: SnapshotMeta,
    /// The application's serialized state, opaque to Raft.
    pub data: Bytes,
}
