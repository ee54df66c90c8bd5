//! Log replication: §5.3, with the commitment rule of §5.4.2.

use crate::consensus::effect::Effect;
use crate::consensus::message::{
    AppendEntries, AppendEntriesReply, AppendResult, InstallSnapshot, Message,
};
use crate::consensus::node::{Node, Role};
use crate::consensus::progress::majority_index;
use crate::consensus::types::{Entry, LogIndex, NodeId};
use alloc::vec::Vec;
use bytes::Bytes;

impl Node {
    /// Appends new entries of the current term, one per command, to the
    /// leader's log, persists them in one write, and starts replicating
    /// them at once (to every follower whose window has room; the others
    /// get them with the next acknowledgement, batched). Returns the index
    /// of the last one (the last index already there for no commands).
    pub(crate) fn append_as_leader(
        &mut self,
        commands: impl IntoIterator<Item = Bytes>,
        out: &mut Vec<Effect>,
    ) -> LogIndex {
        if bug!(self, LeaderOverwritesOwnEntries)
            && self.log.last_index() > self.commit_index
            && self.log.last_term() == self.current_term
        {
            let after = self.log.last_index().prev();
            self.truncate_log_after(after, out);
        }
        let mut appended = Vec::new();
        for command in commands {
            let entry = Entry {
                index: self.log.last_index().next(),
                term: self.current_term,
                command,
            };
            // The index is last + 1 and the term is current: push cannot refuse.
            let pushed = self.log.push(entry.clone());
            debug_assert!(pushed, "a leader's append follows its last entry");
            appended.push(entry);
        }
        if appended.is_empty() {
            return self.log.last_index();
        }
        // Followers that need the snapshot get it (again) at the next
        // heartbeat or answer, not once per proposal.
        for i in 0..self.peers.len() {
            let peer = self.peers[i];
            if !self.needs_snapshot(peer) {
                self.send_new_entries(peer, out);
            }
        }
        // The leader's own write comes after the sends: it goes in
        // parallel with replication (thesis §10.2.1), and the leader counts
        // itself toward a commit once the write is reported durable (a
        // single-server cluster commits then).
        self.persist_entries(appended, out);
        self.log.last_index()
    }

    /// The leader's heartbeat (§5.2), which also retransmits (Figure 2,
    /// Leaders: "If last log index >= nextIndex for a follower: send
    /// AppendEntries RPC with log entries starting at nextIndex"): a
    /// follower that has acknowledged everything gets an empty
    /// AppendEntries; one with entries unacknowledged is probed again from
    /// `next_index`, in case a message was lost.
    pub(crate) fn broadcast_append(&mut self, out: &mut Vec<Effect>) {
        let last_index = self.log.last_index();
        let regress = bug!(self, MatchIndexRegresses);
        for i in 0..self.peers.len() {
            let peer = self.peers[i];
            if let Some(p) = self.leader_progress_mut(peer)
                && p.match_index < last_index
            {
                p.probe();
                if regress {
                    p.match_index = LogIndex(0);
                }
            }
            self.send_append(peer, out);
        }
    }

    /// Streams to `peer` the entries it has not been sent, as many
    /// messages as its window allows (pipelining: no waiting for replies;
    /// while probing, one message at a time).
    fn send_new_entries(&mut self, peer: NodeId, out: &mut Vec<Effect>) {
        let last_index = self.log.last_index();
        while let Some(p) = self.progress(peer)
            && p.sent_up_to < last_index
            && p.can_send(self.max_inflight)
        {
            if !self.send_append(peer, out) {
                break;
            }
        }
    }

    /// Sends `peer` the entries after those already sent to it (from
    /// `next_index` when probing), up to `max_entries_per_message`, or the
    /// snapshot when the entries it needs were compacted away (§7: "the
    /// leader must occasionally send snapshots to followers that lag
    /// behind"). Returns whether it sent an AppendEntries.
    pub(crate) fn send_append(&mut self, peer: NodeId, out: &mut Vec<Effect>) -> bool {
        let Some(progress) = self.progress(peer) else {
            return false;
        };
        let prev_log_index = progress.sent_up_to;
        let message = match self.log.term_at(prev_log_index) {
            Some(prev_log_term) => AppendEntries {
                term: self.current_term,
                prev_log_index,
                prev_log_term,
                entries: self
                    .log
                    .slice(
                        prev_log_index.next(),
                        self.log.last_index(),
                        self.max_entries_per_message,
                    )
                    .to_vec(),
                leader_commit: self.commit_index,
            },
            None => {
                // Unreachable while the invariants hold without a snapshot:
                // an index below the log's offset means a snapshot exists.
                if let Some(snapshot) = &self.snapshot {
                    let message = Message::InstallSnapshot(InstallSnapshot {
                        term: self.current_term,
                        snapshot: snapshot.clone(),
                    });
                    self.send(peer, message, out);
                }
                return false;
            }
        };
        if let Some(p) = self.leader_progress_mut(peer) {
            p.sent(message.prev_log_index.plus(message.entries.len()));
        }
        self.send(peer, Message::AppendEntries(message), out);
        true
    }

    /// AppendEntries receiver (Figure 2):
    /// 1. Reply false if term < currentTerm (§5.1).
    /// 2. Reply false if log doesn't contain an entry at prevLogIndex whose
    ///    term matches prevLogTerm (§5.3).
    /// 3. If an existing entry conflicts with a new one (same index but
    ///    different terms), delete the existing entry and all that follow it.
    /// 4. Append any new entries not already in the log.
    /// 5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit,
    ///    index of last new entry).
    pub(crate) fn handle_append_entries(
        &mut self,
        leader: NodeId,
        request: AppendEntries,
        out: &mut Vec<Effect>,
    ) {
        // Rule 1.
        if request.term < self.current_term {
            self.reply_append(leader, request.prev_log_index, AppendResult::StaleTerm, out);
            return;
        }
        self.recognize_leader(leader, out);

        // §7: entries covered by this server's snapshot are committed, so
        // they match the leader's; check consistency from the snapshot on.
        let snapshot = self.log.snapshot_meta();
        let AppendEntries {
            prev_log_index: request_prev,
            prev_log_term,
            mut entries,
            leader_commit,
            ..
        } = request;
        let (prev_log_index, prev_log_term) = if request_prev < snapshot.last_included_index {
            let skip = (snapshot.last_included_index.0 - request_prev.0) as usize;
            entries.drain(..skip.min(entries.len()));
            (snapshot.last_included_index, snapshot.last_included_term)
        } else {
            (request_prev, prev_log_term)
        };

        // Rule 2, with the conflict hints of §5.3.
        let result = match self.log.term_at(prev_log_index) {
            None => AppendResult::Conflict {
                conflict_term: None,
                conflict_index: self.log.last_index().next(),
            },
            Some(term) if term != prev_log_term => AppendResult::Conflict {
                conflict_term: Some(term),
                conflict_index: self.log.first_index_of_term_ending_at(prev_log_index),
            },
            Some(_) => {
                let last_new_index = prev_log_index.plus(entries.len());
                if bug!(self, TruncateOnStaleAppend) {
                    let after = prev_log_index.max(self.commit_index);
                    if self.log.last_index() > after {
                        self.truncate_log_after(after, out);
                    }
                }
                self.append_new_entries(entries, out); // rules 3 and 4
                // Rule 5: never past what is known to match the leader.
                let verified = if bug!(self, CommitPastSentEntries) {
                    leader_commit
                } else {
                    last_new_index
                };
                let known_commit = leader_commit.min(verified);
                if known_commit > self.commit_index {
                    self.commit_index = known_commit;
                    self.apply_committed(out);
                }
                AppendResult::Success {
                    match_index: last_new_index,
                }
            }
        };
        self.reply_append(leader, request_prev, result, out);
    }

    /// Answers the AppendEntries whose `prev_log_index` is given.
    fn reply_append(
        &self,
        leader: NodeId,
        prev_log_index: LogIndex,
        result: AppendResult,
        out: &mut Vec<Effect>,
    ) {
        let reply = AppendEntriesReply {
            term: self.current_term,
            prev_log_index,
            result,
        };
        self.send(leader, Message::AppendEntriesReply(reply), out);
    }

    /// Rules 3 and 4: skips entries already present, deletes the log from the
    /// first conflicting entry on, and appends the rest. A stale or
    /// duplicated request whose entries are all present changes nothing: the
    /// log is never truncated unless an entry actually conflicts (§5.3).
    fn append_new_entries(&mut self, mut entries: Vec<Entry>, out: &mut Vec<Effect>) {
        let first_new = entries
            .iter()
            .position(|e| self.log.term_at(e.index) != Some(e.term));
        let Some(first_new) = first_new else {
            return;
        };
        entries.drain(..first_new);
        let new = entries;
        let start = new[0].index;
        if start <= self.log.last_index() {
            self.truncate_log_after(start.prev(), out);
        }
        for entry in &new {
            let pushed = self.log.push(entry.clone());
            debug_assert!(
                pushed,
                "validated entries are contiguous and follow the log"
            );
        }
        self.persist_entries(new, out);
    }

    /// The leader learns what a follower stored. On success it advances the
    /// follower's progress and the commit index; on a conflict it moves
    /// `next_index` back by a whole term using the hints (§5.3) and retries
    /// at once. Replies of an older term, or answering a request sent before
    /// the last change of `next_index`, are ignored.
    pub(crate) fn handle_append_entries_reply(
        &mut self,
        follower: NodeId,
        reply: AppendEntriesReply,
        out: &mut Vec<Effect>,
    ) {
        if reply.term < self.current_term {
            return;
        }
        match reply.result {
            AppendResult::Success { match_index } => self.acknowledge(follower, match_index, out),
            AppendResult::Conflict {
                conflict_term,
                conflict_index,
            } => {
                let to = conflict_term
                    .and_then(|t| self.log.last_index_of_term(t))
                    .map_or(conflict_index, LogIndex::next);
                let Some(p) = self.leader_progress_mut(follower) else {
                    return;
                };
                if p.reject(reply.prev_log_index, to) {
                    self.send_append(follower, out);
                }
            }
            // The follower's term was newer; the term rule already handled it.
            AppendResult::StaleTerm => {}
        }
    }

    /// A follower's log matches the leader's through `index`: advance its
    /// progress and the commit index, and send what it still lacks. A
    /// duplicated or reordered acknowledgement changes nothing.
    pub(crate) fn acknowledge(&mut self, follower: NodeId, index: LogIndex, out: &mut Vec<Effect>) {
        let Some(p) = self.leader_progress_mut(follower) else {
            return;
        };
        if !p.maybe_update(index) {
            return;
        }
        self.maybe_advance_commit(out);
        self.send_new_entries(follower, out);
    }

    /// A leader's progress record of `peer`; `None` on other roles.
    fn leader_progress_mut(&mut self, peer: NodeId) -> Option<&mut crate::consensus::Progress> {
        match &mut self.role {
            Role::Leader { progress } => progress.get_mut(&peer),
            _ => None,
        }
    }

    /// Whether the entries `peer` needs next were compacted away, so only
    /// the snapshot can bring it up to date (§7).
    pub(crate) fn needs_snapshot(&self, peer: NodeId) -> bool {
        self.progress(peer)
            .is_some_and(|p| p.next_index <= self.log.snapshot_index())
    }

    /// Figure 2, Leaders: "If there exists an N such that N > commitIndex, a
    /// majority of matchIndex\[i\] >= N, and log\[N\].term == currentTerm: set
    /// commitIndex = N". §5.4.2: entries of earlier terms are never
    /// committed by counting replicas, only along with a current-term entry.
    /// The leader's own match index is what it knows durable, since it
    /// writes in parallel with replication (thesis §10.2.1).
    pub(crate) fn maybe_advance_commit(&mut self, out: &mut Vec<Effect>) {
        let Role::Leader { progress } = &self.role else {
            return;
        };
        let mut match_indices: Vec<LogIndex> = progress.values().map(|p| p.match_index).collect();
        match_indices.push(if bug!(self, LeaderCountsUnpersisted) {
            self.log.last_index()
        } else {
            self.durable
        });
        let n = majority_index(match_indices);
        let current_term_entry = self.log.term_at(n) == Some(self.current_term);
        if n > self.commit_index && (current_term_entry || bug!(self, CommitPreviousTermByCounting))
        {
            self.commit_index = n;
            self.apply_committed(out);
        }
    }

    /// Figure 2, All Servers: "If commitIndex > lastApplied: increment
    /// lastApplied, apply log\[lastApplied\] to state machine."
    pub(crate) fn apply_committed(&mut self, out: &mut Vec<Effect>) {
        if self.commit_index <= self.last_applied {
            return;
        }
        let entries = self
            .log
            .slice(self.last_applied.next(), self.commit_index, usize::MAX)
            .to_vec();
        self.last_applied = self.commit_index;
        out.push(Effect::ApplyEntries(entries));
    }

    /// A request of the current term comes from its one leader (§5.2): a
    /// candidate steps down, and the election timer restarts.
    pub(crate) fn recognize_leader(&mut self, leader: NodeId, out: &mut Vec<Effect>) {
        if matches!(self.role, Role::Candidate { .. }) {
            self.become_follower(self.current_term, out);
        }
        self.leader_id = Some(leader);
        self.reset_election_timer(out);
    }
}
