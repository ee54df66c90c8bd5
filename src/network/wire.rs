//! What travels on the network: any [`Wire`] payload (Raft's [`Message`]
//! by default), and the [`Handler`] a server receives it with.

use crate::consensus::{Message, NodeId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A payload the network can carry: encoded with `postcard` when it is
/// sent, decoded when it is delivered, and either a request or a reply.
///
/// labrpc treats the two halves of a call differently, and so does the
/// network: an unreliable network delays requests (0..=26 ms) but not
/// replies; long reordering holds replies only; and
/// [`Network::rpc_count`](super::Network::rpc_count) and
/// [`Network::total_rpcs`](super::Network::total_rpcs) count requests only.
/// Loss (10% of each kind), incarnations and per-link enabling apply to
/// both alike.
///
/// Raft's [`Message`] is one (its RequestVote, AppendEntries and
/// InstallSnapshot are requests, their `*Reply`s replies). A service that
/// shares the network with its Raft peers defines an enum with one variant
/// wrapping [`Message`] (whose `is_reply` it forwards) next to its own
/// requests and replies; see the [module documentation](super).
pub trait Wire: Serialize + DeserializeOwned + Send + 'static {
    /// Whether this message is a reply (the answer to a call) rather than
    /// a request (the call).
    fn is_reply(&self) -> bool;
}

impl Wire for Message {
    /// RequestVote, AppendEntries and InstallSnapshot are requests; their
    /// `*Reply` answers are replies.
    fn is_reply(&self) -> bool {
        match self {
            Message::RequestVote(_) | Message::AppendEntries(_) | Message::InstallSnapshot(_) => {
                false
            }
            Message::RequestVoteReply(_)
            | Message::AppendEntriesReply(_)
            | Message::InstallSnapshotReply(_) => true,
        }
    }
}

/// What the network calls to deliver a message to a server: the sender and
/// the decoded message. For the default payload it is the same type as
/// [`crate::runtime::Handler`] (a peer's [`crate::runtime::Raft::handler`]
/// is one).
pub type Handler<M = Message> = Arc<dyn Fn(NodeId, M) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{
        AppendEntries, AppendEntriesReply, AppendResult, InstallSnapshot, InstallSnapshotReply,
        LogIndex, RequestVote, RequestVoteReply, Snapshot, SnapshotMeta, Term,
    };
    use bytes::Bytes;

    #[test]
    fn raft_calls_are_requests_and_their_answers_replies() {
        let (term, index) = (Term(2), LogIndex(1));
        let requests = [
            Message::RequestVote(RequestVote {
                term,
                last_log_index: index,
                last_log_term: term,
            }),
            Message::AppendEntries(AppendEntries {
                term,
                prev_log_index: index,
                prev_log_term: term,
                entries: Vec::new(),
                leader_commit: index,
            }),
            Message::InstallSnapshot(InstallSnapshot {
                term,
                snapshot: Snapshot {
                    meta: SnapshotMeta {
                        last_included_index: index,
                        last_included_term: term,
                    },
                    data: Bytes::new(),
                },
            }),
        ];
        let replies = [
            Message::RequestVoteReply(RequestVoteReply {
                term,
                vote_granted: false,
            }),
            Message::AppendEntriesReply(AppendEntriesReply {
                term,
                prev_log_index: index,
                result: AppendResult::Success { match_index: index },
            }),
            Message::InstallSnapshotReply(InstallSnapshotReply {
                term,
                last_included_index: index,
            }),
        ];
        assert!(requests.iter().all(|m| !m.is_reply()));
        assert!(replies.iter().all(Wire::is_reply));
    }
}
