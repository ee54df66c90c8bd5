//! One Raft server as a value: the state of Figure 2 and the entry points a
//! driver calls. Every entry point is a pure state transition that returns
//! the [`Effect`]s the driver must carry out, in order.
//!
//! The handlers themselves live beside this file, one file per concern:
//! `election.rs` (§5.2, §5.4.1), `replication.rs` (§5.3, §5.4.2) and
//! `snapshot.rs` (§7).
//!
//! Invariants (checked by [`Node::check_invariants`]):
//! 1. The log's own invariants hold, and no entry's term exceeds
//!    `current_term`.
//! 2. `snapshot_index <= last_applied <= commit_index <= last_index`.
//! 3. A candidate or leader has voted for itself in `current_term`.
//! 4. `leader_id == Some(id)` exactly when this server is the leader.
//! 5. A leader tracks every peer, with `match_index < next_index <=
//!    sent_up_to + 1 <= last_index + 1`, and a window of messages in
//!    flight ending in `(match_index, sent_up_to]`, in increasing order.

use crate::consensus::effect::{Effect, Persist};
use crate::consensus::error::{Error, NotLeader};
use crate::consensus::log::Log;
use crate::consensus::message::{AppendResult, Message};
use crate::consensus::progress::{MAX_INFLIGHT, Progress, quorum};
use crate::consensus::storage::Stored;
use crate::consensus::types::{Entry, HardState, LogIndex, NodeId, Snapshot, Term};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::{format, string::String, vec::Vec};
use bytes::Bytes;

/// Static configuration of one server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Config {
    /// This server.
    pub id: NodeId,
    /// Every server of the cluster, this one included.
    pub members: Vec<NodeId>,
    /// Most entries one AppendEntries carries (at least 1).
    pub max_entries_per_message: usize,
    /// Most AppendEntries with entries a leader keeps in flight to one
    /// follower while replicating (pipelining; 1 to [`MAX_INFLIGHT`]).
    pub max_inflight: usize,
    /// The catalogue bug this server reintroduces, for mutation testing
    /// (exists only with the `bug-catalogue` feature).
    #[cfg(feature = "bug-catalogue")]
    pub bug: Option<crate::bugs::Bug>,
}

impl Config {
    /// A configuration with the default batch size.
    pub fn new(id: NodeId, members: Vec<NodeId>) -> Config {
        Config {
            id,
            members,
            max_entries_per_message: 64,
            max_inflight: 4,
            #[cfg(feature = "bug-catalogue")]
            bug: None,
        }
    }
}

/// The role a server plays, with the state only that role has.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Responds to requests from leaders and candidates (§5.1).
    Follower,
    /// Seeking election in `current_term` (§5.2).
    Candidate {
        /// Servers that granted their vote in this term, this one included.
        votes_granted: BTreeSet<NodeId>,
    },
    /// Handles client requests and replicates the log (§5.3).
    Leader {
        /// `next_index` and `match_index` of every other server,
        /// reinitialized after election (Figure 2).
        progress: BTreeMap<NodeId, Progress>,
    },
}

/// Where a proposal was placed in the leader's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proposed {
    /// The index the command will have if it commits.
    pub index: LogIndex,
    /// The leader's current term.
    pub term: Term,
}

/// One Raft server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    // Configuration.
    pub(crate) id: NodeId,
    /// Every other server, in id order.
    pub(crate) peers: Vec<NodeId>,
    pub(crate) max_entries_per_message: usize,
    pub(crate) max_inflight: usize,

    // Persistent state on all servers (Figure 2).
    pub(crate) current_term: Term,
    pub(crate) voted_for: Option<NodeId>,
    pub(crate) log: Log,
    /// The latest snapshot, kept to send to lagging followers (§7). Its
    /// position equals `log.snapshot_meta()`.
    pub(crate) snapshot: Option<Snapshot>,

    // Volatile state on all servers (Figure 2).
    pub(crate) commit_index: LogIndex,
    /// Index of the highest entry handed to the state machine in an
    /// [`Effect::ApplyEntries`] or [`Effect::ApplySnapshot`].
    pub(crate) last_applied: LogIndex,
    pub(crate) role: Role,
    /// The leader of `current_term`, once this server has heard from it.
    pub(crate) leader_id: Option<NodeId>,
    /// How much of `log` is known durable: the driver reported it through
    /// [`Node::handle_persisted`], and no truncation has cut it since. A
    /// leader counts itself toward a commit majority only up to here
    /// (thesis §10.2.1).
    pub(crate) durable: LogIndex,

    /// The catalogue bug this server reintroduces (see `bug!`).
    #[cfg(feature = "bug-catalogue")]
    pub(crate) bug: Option<crate::bugs::Bug>,
}

impl Node {
    /// Starts a server with empty storage.
    pub fn new(config: Config) -> Result<(Node, Vec<Effect>), Error> {
        Node::restart(config, &Stored::default())
    }

    /// Starts a server from what its [`Effect::Persist`] effects stored. It
    /// comes back as a follower whose state machine restarts from the
    /// snapshot, so the effects are the snapshot to apply (if any) and the
    /// election timer to arm.
    pub fn restart(config: Config, stored: &Stored) -> Result<(Node, Vec<Effect>), Error> {
        #[cfg(feature = "bug-catalogue")]
        let bug = config.bug;
        let Config {
            id,
            members,
            max_entries_per_message,
            max_inflight,
            ..
        } = config;
        let members_set: BTreeSet<NodeId> = members.iter().copied().collect();
        if members_set.len() != members.len() || !members_set.contains(&id) {
            return Err(Error::InvalidConfig(format!(
                "members {members:?} must be distinct and include {id}"
            )));
        }
        if max_entries_per_message == 0 {
            return Err(Error::InvalidConfig(
                "max_entries_per_message must be at least 1".into(),
            ));
        }
        if !(1..=MAX_INFLIGHT).contains(&max_inflight) {
            return Err(Error::InvalidConfig(format!(
                "max_inflight must be 1 to {MAX_INFLIGHT}, not {max_inflight}"
            )));
        }
        let log = stored.log()?;
        let HardState {
            current_term,
            voted_for,
        } = stored.hard_state;
        if log.last_term() > current_term {
            return Err(Error::CorruptStorage(format!(
                "last log term {} is ahead of current term {current_term}",
                log.last_term()
            )));
        }
        if voted_for.is_some_and(|v| !members_set.contains(&v)) {
            return Err(Error::CorruptStorage(format!(
                "voted for {voted_for:?}, not a member"
            )));
        }
        let snapshot_index = log.snapshot_index();
        // What a server restarts from is on its disk.
        let durable = log.last_index();
        let mut node = Node {
            id,
            peers: members_set.into_iter().filter(|&m| m != id).collect(),
            max_entries_per_message,
            max_inflight,
            current_term,
            voted_for,
            log,
            snapshot: stored.snapshot.clone(),
            commit_index: snapshot_index,
            last_applied: snapshot_index,
            role: Role::Follower,
            leader_id: None,
            durable,
            #[cfg(feature = "bug-catalogue")]
            bug,
        };
        let mut effects = Vec::new();
        if let Some(snapshot) = &node.snapshot {
            effects.push(Effect::ApplySnapshot(snapshot.clone()));
        }
        effects.push(Effect::ResetElectionTimer);
        if bug!(node, BootstrapByLowestId)
            && node.current_term == Term(0)
            && node.log.last_index() == LogIndex(0)
            && node.peers.iter().all(|&peer| peer > node.id)
        {
            effects.extend(node.handle_election_timeout());
        }
        Ok((node, effects))
    }

    /// Handles a message from server `from`. The term rule of §5.1 is applied
    /// here, once, for every request and reply; then the message goes to the
    /// handler of its kind.
    ///
    /// A malformed message, or one a correct peer could not send in this
    /// state, is refused with an error and changes nothing.
    pub fn step(&mut self, from: NodeId, message: Message) -> Result<Vec<Effect>, Error> {
        if !self.peers.contains(&from) {
            return Err(Error::UnknownPeer { from, me: self.id });
        }
        message
            .validate()
            .map_err(|reason| Error::Malformed { from, reason })?;
        self.refuse_impossible(from, &message)?;

        let mut out = Vec::new();
        // §5.1: "If RPC request or response contains term T > currentTerm:
        // set currentTerm = T, convert to follower."
        if message.term() > self.current_term {
            self.become_follower(message.term(), &mut out);
        }
        match message {
            Message::RequestVote(m) => self.handle_request_vote(from, m, &mut out),
            Message::RequestVoteReply(m) => self.handle_request_vote_reply(from, m, &mut out),
            Message::AppendEntries(m) => self.handle_append_entries(from, m, &mut out),
            Message::AppendEntriesReply(m) => self.handle_append_entries_reply(from, m, &mut out),
            Message::InstallSnapshot(m) => self.handle_install_snapshot(from, m, &mut out),
            Message::InstallSnapshotReply(m) => {
                self.handle_install_snapshot_reply(from, m, &mut out)
            }
        }
        Ok(out)
    }

    /// Refuses, before anything changes, a well-formed message that no
    /// correct peer could send to this server in its current state.
    fn refuse_impossible(&self, from: NodeId, message: &Message) -> Result<(), Error> {
        let violation = |reason: String| {
            Err(Error::ProtocolViolation {
                from,
                term: self.current_term,
                reason,
            })
        };
        let same_term = message.term() == self.current_term;
        match message {
            // §5.2 Election Safety: at most one leader per term.
            Message::AppendEntries(_) | Message::InstallSnapshot(_)
                if same_term && self.is_leader() =>
            {
                violation("a second leader in this term".into())
            }
            Message::AppendEntries(m) if m.term >= self.current_term => {
                // §5.4 committed entries are never overwritten.
                match m.entries.iter().find(|e| {
                    e.index <= self.commit_index
                        && self.log.term_at(e.index).is_some_and(|t| t != e.term)
                }) {
                    Some(e) => {
                        violation(format!("entry {} conflicts with a committed one", e.index))
                    }
                    None => Ok(()),
                }
            }
            Message::AppendEntriesReply(m) if same_term && self.is_leader() => match m.result {
                crate::AppendResult::Success { match_index }
                    if match_index > self.log.last_index() =>
                {
                    violation(format!("acknowledges {match_index}, past the leader's log"))
                }
                _ => Ok(()),
            },
            Message::InstallSnapshotReply(m)
                if same_term
                    && self.is_leader()
                    && m.last_included_index > self.log.last_index() =>
            {
                violation(format!(
                    "acknowledges snapshot through {}, past the leader's log",
                    m.last_included_index
                ))
            }
            _ => Ok(()),
        }
    }

    /// Proposes client commands (Figure 2, Leaders: "If command received
    /// from client: append entry to local log, respond after entry applied
    /// to state machine"). Only the leader accepts; replication starts at
    /// once. Several commands are appended in order, persisted in one write
    /// and replicated together (`propose([command])` for one). Returns where
    /// the last one was placed (the first is `n - 1` before it); no commands
    /// change nothing and place nothing.
    pub fn propose(
        &mut self,
        commands: impl IntoIterator<Item = Bytes>,
    ) -> Result<(Proposed, Vec<Effect>), NotLeader> {
        if !self.is_leader() {
            return Err(NotLeader {
                leader_hint: self.leader_id,
            });
        }
        let mut out = Vec::new();
        let index = self.append_as_leader(commands, &mut out);
        let proposed = Proposed {
            index,
            term: self.current_term,
        };
        Ok((proposed, out))
    }

    /// The driver reports that every write before an [`Effect::Durable`]
    /// marker is durable, passing the marker's `index` and `term`. The
    /// report counts only if the log still holds that entry: a truncation
    /// may have replaced it since the marker was emitted (etcd's "ABA"
    /// race), and then a later marker will report the replacement. A leader
    /// may now count itself toward committing what became durable.
    pub fn handle_persisted(&mut self, index: LogIndex, term: Term) -> Vec<Effect> {
        let mut out = Vec::new();
        let still_held = self.log.term_at(index) == Some(term)
            || (bug!(self, DurableByIndexOnly) && index <= self.log.last_index());
        if still_held && index > self.durable {
            self.durable = index;
            self.maybe_advance_commit(&mut out);
        }
        out
    }

    /// The election timer fired (§5.2, Followers and Candidates: "If election
    /// timeout elapses ...: convert to candidate"). Leaders ignore it.
    pub fn handle_election_timeout(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.is_leader() {
            self.start_election(&mut out);
        }
        out
    }

    /// The heartbeat timer fired (§5.2, Leaders: "repeat during idle periods
    /// to prevent election timeouts"). Others ignore it.
    pub fn handle_heartbeat_timeout(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.is_leader() {
            self.broadcast_append(&mut out);
            out.push(Effect::SetHeartbeatTimer);
        }
        out
    }

    // ----- role transitions -----

    /// Moves to a later term as a follower, forgetting the vote and the
    /// leader of the old term. A former leader re-arms its election timer.
    pub(crate) fn become_follower(&mut self, term: Term, out: &mut Vec<Effect>) {
        let was_leader = self.is_leader();
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
            self.leader_id = None;
            self.persist_hard_state(out);
        }
        self.role = Role::Follower;
        if was_leader {
            self.reset_election_timer(out);
        }
    }

    // ----- effect helpers -----

    /// Emits `current_term` and `voted_for` for stable storage. A step
    /// writes the hard state at most once: a later change updates the
    /// earlier write in place, which only makes the new value durable
    /// sooner, still before any message that depends on it.
    pub(crate) fn persist_hard_state(&self, out: &mut Vec<Effect>) {
        let op = Effect::Persist(Persist::HardState(self.hard_state()));
        match out
            .iter_mut()
            .find(|e| matches!(e, Effect::Persist(Persist::HardState(_))))
        {
            Some(earlier) => *earlier = op,
            None => out.push(op),
        }
    }

    /// Emits a reset of the election timer, once per step.
    pub(crate) fn reset_election_timer(&self, out: &mut Vec<Effect>) {
        if !out.contains(&Effect::ResetElectionTimer) {
            out.push(Effect::ResetElectionTimer);
        }
    }

    /// Emits a message to `to`.
    pub(crate) fn send(&self, to: NodeId, message: Message, out: &mut Vec<Effect>) {
        out.push(Effect::Send { to, message });
    }

    /// Deletes the log after `after` and emits the deletion; what was
    /// durable past it no longer is part of the log.
    pub(crate) fn truncate_log_after(&mut self, after: LogIndex, out: &mut Vec<Effect>) {
        self.log.truncate_after(after);
        self.durable = self.durable.min(self.log.last_index());
        out.push(Effect::Persist(Persist::TruncateAfter { after }));
    }

    /// Appends `entries` (already pushed onto the log) to stable storage,
    /// with the marker that reports them durable.
    pub(crate) fn persist_entries(&self, entries: Vec<Entry>, out: &mut Vec<Effect>) {
        let Some(last) = entries.last() else {
            return;
        };
        let (index, term) = (last.index, last.term);
        out.push(Effect::Persist(Persist::Append(entries)));
        out.push(Effect::Durable { index, term });
    }

    /// The number of servers that make a majority of this cluster.
    pub(crate) fn quorum(&self) -> usize {
        quorum(self.peers.len() + 1)
    }

    // ----- queries -----

    /// How much of the log is known durable (see
    /// [`Node::handle_persisted`]).
    pub fn durable_index(&self) -> LogIndex {
        self.durable
    }

    /// This server's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The other servers of the cluster.
    pub fn peers(&self) -> &[NodeId] {
        &self.peers
    }

    /// Latest term this server has seen.
    pub fn current_term(&self) -> Term {
        self.current_term
    }

    /// Whom this server voted for in `current_term`.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// `current_term` and `voted_for`, as stored.
    pub fn hard_state(&self) -> HardState {
        HardState {
            current_term: self.current_term,
            voted_for: self.voted_for,
        }
    }

    /// The log (with its snapshot offset).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The latest snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Index of the highest entry known to be committed.
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }

    /// Index of the highest entry handed to the state machine.
    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }

    /// The role and its state.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Whether this server is the leader of `current_term`.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// The leader of `current_term`, as far as this server knows.
    pub fn leader_id(&self) -> Option<NodeId> {
        self.leader_id
    }

    /// A leader's view of `peer`; `None` on other roles.
    pub fn progress(&self, peer: NodeId) -> Option<Progress> {
        match &self.role {
            Role::Leader { progress } => progress.get(&peer).copied(),
            _ => None,
        }
    }

    /// Whether `message` from `from` is stale here: delivering it, now or at
    /// any later time, changes nothing and sends nothing. Drivers may
    /// discard such messages; the model checker does, so that states that
    /// differ only in dead messages are one state.
    ///
    /// Only replies are ever stale (a request from an old term still earns
    /// an answer that carries the newer term, §5.1). Each case rests on
    /// something that never goes back: `current_term` (persisted before it
    /// is acted on), a server being a candidate or leader at most once per
    /// term (§5.2), and a leader's `match_index` for a follower, which only
    /// grows while it leads.
    /// - A reply from an earlier term: the request it answers is void, and
    ///   responses with a term below the server's own are ignored.
    /// - A refused vote, or a vote to a server that is no longer a
    ///   candidate of its term, or one it already counted.
    /// - A replication reply in the current term to a server that is not its
    ///   leader (it restarted and can never lead this term again), or one
    ///   that the leader's `match_index` for `from` has already passed.
    pub fn is_stale(&self, from: NodeId, message: &Message) -> bool {
        if message.term() != self.current_term {
            return match message {
                Message::RequestVote(_)
                | Message::AppendEntries(_)
                | Message::InstallSnapshot(_) => false,
                _ => message.term() < self.current_term,
            };
        }
        let matched = self.progress(from).map(|p| p.match_index);
        match message {
            Message::RequestVote(_) | Message::AppendEntries(_) | Message::InstallSnapshot(_) => {
                false
            }
            Message::RequestVoteReply(m) => match &self.role {
                Role::Candidate { votes_granted } => {
                    !m.vote_granted || votes_granted.contains(&from)
                }
                _ => true,
            },
            Message::AppendEntriesReply(m) => match (matched, &m.result) {
                (None, _) => true,
                (Some(matched), AppendResult::Success { match_index }) => *match_index <= matched,
                (Some(matched), AppendResult::Conflict { .. }) => m.prev_log_index <= matched,
                (Some(_), AppendResult::StaleTerm) => true,
            },
            Message::InstallSnapshotReply(m) => {
                matched.is_none_or(|matched| m.last_included_index <= matched)
            }
        }
    }

    /// Checks the invariants listed in the module documentation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let fail = |what: String| Err(format!("{}: {what}", self.id));
        if let Err(e) = self.log.check_invariants() {
            return fail(e);
        }
        if self.log.last_term() > self.current_term {
            return fail(format!(
                "log term {} is ahead of current term {}",
                self.log.last_term(),
                self.current_term
            ));
        }
        let snapshot_meta = self.snapshot.as_ref().map(|s| s.meta).unwrap_or_default();
        if snapshot_meta != self.log.snapshot_meta() {
            return fail("snapshot and log offset disagree".into());
        }
        let chain = [
            self.log.snapshot_index(),
            self.last_applied,
            self.commit_index,
            self.log.last_index(),
        ];
        if chain.windows(2).any(|w| w[0] > w[1]) {
            return fail(format!(
                "snapshot_index <= last_applied <= commit_index <= last_index broken: {chain:?}"
            ));
        }
        let voted_self = self.voted_for == Some(self.id);
        match &self.role {
            Role::Follower => {}
            Role::Candidate { votes_granted } => {
                if !voted_self || !votes_granted.contains(&self.id) {
                    return fail("candidate has not voted for itself".into());
                }
            }
            Role::Leader { progress } => {
                if !voted_self {
                    return fail("leader has not voted for itself".into());
                }
                if !progress.keys().eq(self.peers.iter()) {
                    return fail("leader does not track every peer".into());
                }
                for (peer, p) in progress {
                    if let Err(why) = p.check_invariants(self.log.last_index()) {
                        return fail(format!("progress of {peer}: {why}: {p:?}"));
                    }
                }
            }
        }
        if (self.leader_id == Some(self.id)) != self.is_leader() {
            return fail("leader_id names this server exactly when it leads".into());
        }
        Ok(())
    }
}
