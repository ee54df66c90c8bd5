//! The RPCs of Figure 2 and Figure 13, as messages.
//!
//! Requests and replies are separate messages (as in etcd-io/raft), so a
//! driver can send them over any transport. The sender's id travels beside the
//! message (see [`crate::Effect::Send`] and [`crate::Node::step`]); it plays
//! the role of the paper's `candidateId` and `leaderId` fields.

use crate::consensus::types::{Entry, LogIndex, Snapshot, Term};
use alloc::{format, string::String, vec::Vec};
use serde::{Deserialize, Serialize};

/// Any message one server sends another.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Message {
    /// Invoked by candidates to gather votes (§5.2).
    RequestVote(RequestVote),
    /// A voter's answer to [`RequestVote`].
    RequestVoteReply(RequestVoteReply),
    /// Invoked by the leader to replicate entries (§5.3); also the heartbeat.
    AppendEntries(AppendEntries),
    /// A follower's answer to [`AppendEntries`].
    AppendEntriesReply(AppendEntriesReply),
    /// Invoked by the leader to send a snapshot to a lagging follower (§7).
    InstallSnapshot(InstallSnapshot),
    /// A follower's answer to [`InstallSnapshot`].
    InstallSnapshotReply(InstallSnapshotReply),
}

impl Message {
    /// The sender's `term`, carried by every RPC and reply (§5.1).
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote(m) => m.term,
            Message::RequestVoteReply(m) => m.term,
            Message::AppendEntries(m) => m.term,
            Message::AppendEntriesReply(m) => m.term,
            Message::InstallSnapshot(m) => m.term,
            Message::InstallSnapshotReply(m) => m.term,
        }
    }
}

/// RequestVote RPC arguments (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestVote {
    /// Candidate's term.
    pub term: Term,
    /// Index of the candidate's last log entry (§5.4).
    pub last_log_index: LogIndex,
    /// Term of the candidate's last log entry (§5.4).
    pub last_log_term: Term,
}

/// RequestVote RPC results (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestVoteReply {
    /// The voter's `current_term`, for the candidate to update itself.
    pub term: Term,
    /// True means the candidate received the vote.
    pub vote_granted: bool,
}

/// AppendEntries RPC arguments (Figure 2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppendEntries {
    /// Leader's term.
    pub term: Term,
    /// Index of the log entry immediately preceding the new ones.
    pub prev_log_index: LogIndex,
    /// Term of the entry at `prev_log_index`.
    pub prev_log_term: Term,
    /// Entries to store (empty for a heartbeat), at indices
    /// `prev_log_index + 1 ..`.
    pub entries: Vec<Entry>,
    /// Leader's `commit_index`.
    pub leader_commit: LogIndex,
}

/// AppendEntries RPC results (Figure 2), with the request it answers and the
/// accelerated log backtracking hints of §5.3 ("the follower can include the
/// term of the conflicting entry and the first index it stores for that term").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppendEntriesReply {
    /// The follower's `current_term`, for the leader to update itself.
    pub term: Term,
    /// `prev_log_index` of the request this answers, so the leader can tell a
    /// stale reply from a fresh one.
    pub prev_log_index: LogIndex,
    /// The paper's `success`, with what the leader needs in each case.
    pub result: AppendResult,
}

/// Outcome of an AppendEntries request at the follower.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AppendResult {
    /// `success = true`: the follower's log now matches the leader's through
    /// `match_index` (`prev_log_index` plus the entries sent).
    Success {
        /// Highest index known to match the leader's log.
        match_index: LogIndex,
    },
    /// `success = false` because the log did not contain an entry at
    /// `prev_log_index` whose term matches `prev_log_term`.
    Conflict {
        /// Term of the follower's entry at `prev_log_index`, or `None` when
        /// its log is too short to have one.
        conflict_term: Option<Term>,
        /// First index the follower stores for `conflict_term`, or one past
        /// its last entry when `conflict_term` is `None`.
        conflict_index: LogIndex,
    },
    /// `success = false` because the request's term was older than the
    /// follower's `current_term`; the reply's `term` tells the leader so.
    StaleTerm,
}

/// InstallSnapshot RPC arguments (Figure 13). The snapshot travels whole, in
/// one message (no `offset`/`done` chunking), as in etcd-io/raft.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstallSnapshot {
    /// Leader's term.
    pub term: Term,
    /// The snapshot, with `last_included_index` and `last_included_term`.
    pub snapshot: Snapshot,
}

/// InstallSnapshot RPC results (Figure 13), with the snapshot it answers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstallSnapshotReply {
    /// The follower's `current_term`, for the leader to update itself.
    pub term: Term,
    /// `last_included_index` of the snapshot this answers: the follower's log
    /// matches the leader's through it once the reply is sent. 0 in the
    /// answer to a request from an earlier term (Figure 13's step 1): it
    /// acknowledges nothing.
    pub last_included_index: LogIndex,
}

impl Message {
    /// Checks what a message must satisfy whatever the receiver's state, so
    /// that a malformed one is refused before it changes anything: entries
    /// contiguous after `prev_log_index` with terms that never decrease and
    /// never exceed the sender's term, hints that point backwards.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Message::RequestVote(m) => {
                if m.last_log_term > m.term {
                    return Err(format!(
                        "candidate's last log term {} is ahead of its term {}",
                        m.last_log_term, m.term
                    ));
                }
                if m.last_log_index == LogIndex(0) && m.last_log_term != Term(0) {
                    return Err("an empty log has no last term".into());
                }
            }
            Message::AppendEntries(m) => {
                if m.prev_log_term > m.term {
                    return Err(format!(
                        "prev_log_term {} is ahead of term {}",
                        m.prev_log_term, m.term
                    ));
                }
                if m.prev_log_index == LogIndex(0) && m.prev_log_term != Term(0) {
                    return Err("index 0 has term 0".into());
                }
                let mut expected = m.prev_log_index.next();
                let mut prev_term = m.prev_log_term;
                for entry in &m.entries {
                    if entry.index != expected {
                        return Err(format!(
                            "entry {} where {} was expected",
                            entry.index, expected
                        ));
                    }
                    if entry.term < prev_term || entry.term > m.term {
                        return Err(format!(
                            "entry {} has term {} outside {}..={}",
                            entry.index, entry.term, prev_term, m.term
                        ));
                    }
                    expected = expected.next();
                    prev_term = entry.term;
                }
            }
            Message::AppendEntriesReply(m) => {
                if let AppendResult::Conflict { conflict_index, .. } = m.result
                    && (conflict_index == LogIndex(0) || conflict_index > m.prev_log_index)
                {
                    return Err(format!(
                        "conflict hint {conflict_index} must lie in 1..={}",
                        m.prev_log_index
                    ));
                }
            }
            Message::InstallSnapshot(m) => {
                let meta = m.snapshot.meta;
                if meta.last_included_index == LogIndex(0) || meta.last_included_term > m.term {
                    return Err(format!(
                        "snapshot through {} at {} cannot come from a leader of {}",
                        meta.last_included_index, meta.last_included_term, m.term
                    ));
                }
            }
            Message::RequestVoteReply(_) | Message::InstallSnapshotReply(_) => {}
        }
        Ok(())
    }
}
