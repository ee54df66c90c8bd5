//! Leader election: §5.2, with the election restriction of §5.4.1.

use crate::consensus::effect::Effect;
use crate::consensus::message::{Message, RequestVote, RequestVoteReply};
use crate::consensus::node::{Node, Role};
use crate::consensus::progress::Progress;
use crate::consensus::types::NodeId;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

impl Node {
    /// §5.2 "On conversion to candidate, start election: increment
    /// currentTerm, vote for self, reset election timer, send RequestVote RPCs
    /// to all other servers." The vote is persisted before the requests leave.
    pub(crate) fn start_election(&mut self, out: &mut Vec<Effect>) {
        self.current_term = self.current_term.next();
        self.voted_for = Some(self.id);
        self.leader_id = None;
        self.role = Role::Candidate {
            votes_granted: BTreeSet::from([self.id]),
        };
        if !bug!(self, TermNotPersisted) {
            self.persist_hard_state(out);
        }
        self.reset_election_timer(out);
        let request = RequestVote {
            term: self.current_term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        for &peer in &self.peers {
            self.send(peer, Message::RequestVote(request.clone()), out);
        }
        // A single-server cluster is its own majority.
        self.maybe_become_leader(out);
    }

    /// RequestVote receiver (Figure 2):
    /// 1. Reply false if term < currentTerm (§5.1).
    /// 2. If votedFor is null or candidateId, and candidate's log is at least
    ///    as up-to-date as receiver's log, grant vote (§5.2, §5.4).
    pub(crate) fn handle_request_vote(
        &mut self,
        candidate: NodeId,
        request: RequestVote,
        out: &mut Vec<Effect>,
    ) {
        let vote_granted = request.term == self.current_term
            && (self.voted_for.is_none_or(|v| v == candidate) || bug!(self, TwoVotesPerTerm))
            && (self.candidate_log_is_up_to_date(&request) || bug!(self, NoElectionRestriction))
            && (candidate > self.id || !bug!(self, VotesByServerId));
        if vote_granted {
            if self.voted_for != Some(candidate) {
                // §5.2 one vote per term, durable before the reply promises it.
                self.voted_for = Some(candidate);
                if !bug!(self, VoteNotPersisted) {
                    self.persist_hard_state(out);
                }
            }
            // Figure 2: granting a vote restarts the election timeout.
            self.reset_election_timer(out);
        }
        let reply = RequestVoteReply {
            term: self.current_term,
            vote_granted,
        };
        self.send(candidate, Message::RequestVoteReply(reply), out);
    }

    /// §5.4.1 election restriction: "If the logs have last entries with
    /// different terms, then the log with the later term is more up-to-date.
    /// If the logs end with the same term, then whichever log is longer is
    /// more up-to-date."
    fn candidate_log_is_up_to_date(&self, request: &RequestVote) -> bool {
        (request.last_log_term, request.last_log_index)
            >= (self.log.last_term(), self.log.last_index())
    }

    /// A candidate counts a vote of its current term (§5.2: "If votes
    /// received from majority of servers: become leader"). Votes of older
    /// terms, and replies reaching a server that is no longer a candidate,
    /// are ignored.
    pub(crate) fn handle_request_vote_reply(
        &mut self,
        voter: NodeId,
        reply: RequestVoteReply,
        out: &mut Vec<Effect>,
    ) {
        let earlier_term = reply.term < self.current_term && !bug!(self, StaleVoteCounted);
        if earlier_term || !reply.vote_granted {
            return;
        }
        if let Role::Candidate { votes_granted } = &mut self.role {
            votes_granted.insert(voter);
            self.maybe_become_leader(out);
        }
    }

    /// Becomes leader if a majority voted for this candidate: initializes
    /// `next_index` and `match_index` for every follower and sends each an
    /// initial empty AppendEntries at once (§5.2, Figure 2 "Upon election").
    fn maybe_become_leader(&mut self, out: &mut Vec<Effect>) {
        let won = match &self.role {
            Role::Candidate { votes_granted } => votes_granted.len() >= self.quorum(),
            _ => false,
        };
        if !won {
            return;
        }
        let last_index = self.log.last_index();
        self.role = Role::Leader {
            progress: self
                .peers
                .iter()
                .map(|&peer| (peer, Progress::new(last_index)))
                .collect(),
        };
        self.leader_id = Some(self.id);
        self.broadcast_append(out);
        out.push(Effect::SetHeartbeatTimer);
    }
}
