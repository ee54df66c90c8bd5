//! Renaming servers: the same state with server ids permuted.
//!
//! Raft treats servers alike, so a model checker may explore one state of
//! each class of states equal up to a permutation of ids (symmetry
//! reduction). These functions apply such a permutation; they are plain
//! data transforms, not protocol logic.

use crate::consensus::node::{Node, Role};
use crate::consensus::storage::Stored;
use crate::consensus::types::NodeId;
use alloc::vec::Vec;

impl Node {
    /// This server with every server id passed through `rename`, which must
    /// be a permutation of the cluster's ids.
    pub fn rename_nodes(&self, rename: &impl Fn(NodeId) -> NodeId) -> Node {
        let mut peers: Vec<NodeId> = self.peers.iter().map(|&p| rename(p)).collect();
        peers.sort_unstable();
        let role = match &self.role {
            Role::Follower => Role::Follower,
            Role::Candidate { votes_granted } => Role::Candidate {
                votes_granted: votes_granted.iter().map(|&v| rename(v)).collect(),
            },
            Role::Leader { progress } => Role::Leader {
                progress: progress.iter().map(|(&p, &pr)| (rename(p), pr)).collect(),
            },
        };
        Node {
            id: rename(self.id),
            peers,
            voted_for: self.voted_for.map(rename),
            leader_id: self.leader_id.map(rename),
            role,
            ..self.clone()
        }
    }
}

impl Stored {
    /// This storage with every server id passed through `rename`.
    pub fn rename_nodes(&self, rename: &impl Fn(NodeId) -> NodeId) -> Stored {
        let mut stored = self.clone();
        stored.hard_state.voted_for = stored.hard_state.voted_for.map(rename);
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::message::Message;
    use crate::consensus::types::Term;
    use crate::consensus::{Config, RequestVoteReply};

    #[test]
    fn renaming_twice_with_inverse_permutations_is_the_identity() {
        let ids = vec![NodeId(0), NodeId(1), NodeId(2)];
        let (mut node, _) = Node::new(Config::new(NodeId(0), ids)).expect("valid");
        node.handle_election_timeout();
        node.step(
            NodeId(2),
            Message::RequestVoteReply(RequestVoteReply {
                term: Term(1),
                vote_granted: true,
            }),
        )
        .expect("valid reply");
        assert!(node.is_leader());
        let forward = |n: NodeId| NodeId((n.0 + 1) % 3);
        let back = |n: NodeId| NodeId((n.0 + 2) % 3);
        let renamed = node.rename_nodes(&forward);
        assert_eq!(renamed.id(), NodeId(1));
        assert_eq!(renamed.peers(), &[NodeId(0), NodeId(2)]);
        assert_eq!(renamed.voted_for(), Some(NodeId(1)));
        assert!(renamed.progress(NodeId(0)).is_some());
        renamed
            .check_invariants()
            .expect("renaming keeps invariants");
        assert_eq!(renamed.rename_nodes(&back), node);
    }
}
