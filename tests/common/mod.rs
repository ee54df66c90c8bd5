//! Builders for the paper tests: entries and logs, stored state, nodes
//! brought into a role through the public API only (restart, timeouts,
//! messages), short constructors for replies and effects, and [`Observed`],
//! everything the query methods of a [`Node`] show.

use bytes::Bytes;
use checked_raft::*;
use std::collections::{BTreeMap, BTreeSet};

/// The server under test.
pub const N1: NodeId = NodeId(1);
/// A peer of the server under test.
pub const N2: NodeId = NodeId(2);
/// Another peer of the server under test.
pub const N3: NodeId = NodeId(3);

/// The configuration of `id` in the cluster {1, 2, 3}.
pub fn config_of(id: NodeId) -> Config {
    Config::new(id, vec![N1, N2, N3])
}

/// The command of the entry at `index` created in `term`: entries with the
/// same index and term are equal, as Log Matching promises.
pub fn command(index: u64, term: u64) -> Bytes {
    Bytes::from(format!("command {index} of term {term}"))
}

/// The entry at `index` created in `term`.
pub fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index: LogIndex(index),
        term: Term(term),
        command: command(index, term),
    }
}

/// Entries at `first, first + 1, ...` with the given terms.
pub fn entries_from(first: u64, terms: &[u64]) -> Vec<Entry> {
    (first..)
        .zip(terms)
        .map(|(index, &term)| entry(index, term))
        .collect()
}

/// Entries at `1, 2, ...` with the given terms.
pub fn entries(terms: &[u64]) -> Vec<Entry> {
    entries_from(1, terms)
}

/// A snapshot through `index`, whose entry there has `term`.
pub fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta {
            last_included_index: LogIndex(index),
            last_included_term: Term(term),
        },
        data: Bytes::from(format!("state machine through {index}")),
    }
}

/// A log with no snapshot and entries `1, 2, ...` of the given terms.
pub fn log(terms: &[u64]) -> Log {
    Log::from_parts(SnapshotMeta::default(), entries(terms)).expect("test log is contiguous")
}

/// A log that starts after `snapshot`, then holds entries of the given terms.
pub fn log_after(snapshot: &Snapshot, terms: &[u64]) -> Log {
    let first = snapshot.meta.last_included_index.0 + 1;
    Log::from_parts(snapshot.meta, entries_from(first, terms)).expect("test log is contiguous")
}

/// The hard state `(current_term, voted_for)`.
pub fn hard_state(term: u64, voted_for: Option<NodeId>) -> HardState {
    HardState {
        current_term: Term(term),
        voted_for,
    }
}

/// Stable storage with a hard state and entries `1, 2, ...` of these terms.
pub fn stored(term: u64, voted_for: Option<NodeId>, terms: &[u64]) -> Stored {
    Stored {
        hard_state: hard_state(term, voted_for),
        snapshot: None,
        entries: entries(terms),
    }
}

/// Stable storage with a snapshot and entries of these terms after it.
pub fn stored_with_snapshot(
    term: u64,
    voted_for: Option<NodeId>,
    snapshot: Snapshot,
    terms_after: &[u64],
) -> Stored {
    let first = snapshot.meta.last_included_index.0 + 1;
    Stored {
        hard_state: hard_state(term, voted_for),
        snapshot: Some(snapshot),
        entries: entries_from(first, terms_after),
    }
}

/// What stable storage holds once the persist effects among `effects` ran.
pub fn persisted(stored: &Stored, effects: &[Effect]) -> Stored {
    let mut stored = stored.clone();
    for effect in effects {
        if let Effect::Persist(op) = effect {
            stored
                .apply(op)
                .expect("the core only asks for persists that fit storage");
        }
    }
    stored
}

/// Server `id` restarted from `stored`: a follower of the stored term.
pub fn restart_as(id: NodeId, stored: &Stored) -> Node {
    let (node, _effects) =
        Node::restart(config_of(id), stored).expect("test storage is consistent");
    node
}

/// Server 1 restarted from `stored`.
pub fn follower(stored: &Stored) -> Node {
    restart_as(N1, stored)
}

/// Server 1 restarted from `stored`, that then heard a heartbeat from leader
/// 2 in the stored term announcing `leader_commit`.
pub fn follower_with_commit(stored: &Stored, leader_commit: u64) -> Node {
    let mut node = follower(stored);
    let heartbeat = AppendEntries {
        term: node.current_term(),
        prev_log_index: node.log().last_index(),
        prev_log_term: node.log().last_term(),
        entries: vec![],
        leader_commit: LogIndex(leader_commit),
    };
    node.step(N2, Message::AppendEntries(heartbeat))
        .expect("heartbeat from the leader is well formed");
    assert_eq!(
        node.commit_index(),
        LogIndex(leader_commit),
        "setup: commit index"
    );
    node
}

/// Server 1 restarted from `stored`, after its election timer fired: a
/// candidate of the stored term + 1.
pub fn candidate(stored: &Stored) -> Node {
    let mut node = follower(stored);
    node.handle_election_timeout();
    assert!(
        matches!(node.role(), Role::Candidate { .. }),
        "setup: a timed-out follower of a 3-server cluster is a candidate"
    );
    node
}

/// Server 1 restarted from `stored`, elected with server 2's vote: the
/// leader of the stored term + 1.
pub fn leader(stored: &Stored) -> Node {
    let mut node = candidate(stored);
    let term = node.current_term().0;
    node.step(N2, vote_reply(term, true))
        .expect("a vote of the candidate's term is well formed");
    assert!(node.is_leader(), "setup: two votes of three elect");
    node
}

/// A candidate's role with votes from `voters`.
pub fn candidate_role(voters: &[NodeId]) -> Role {
    Role::Candidate {
        votes_granted: voters.iter().copied().collect::<BTreeSet<_>>(),
    }
}

/// Like [`leader`], but sending at most one entry per AppendEntries, so
/// that entries proposed while an earlier one is unacknowledged stay
/// unsent until it is acknowledged.
pub fn leader_sending_one_entry_at_a_time(stored: &Stored) -> Node {
    let config = Config {
        max_entries_per_message: 1,
        ..config_of(N1)
    };
    let (mut node, _) = Node::restart(config, stored).expect("test storage is consistent");
    node.handle_election_timeout();
    let term = node.current_term().0;
    node.step(N2, vote_reply(term, true))
        .expect("a vote of the candidate's term is well formed");
    assert!(node.is_leader(), "setup: two votes of three elect");
    node
}

/// A leader's role with this view of its followers.
pub fn leader_role(progress: &[(NodeId, Progress)]) -> Role {
    Role::Leader {
        progress: progress.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

/// A follower's progress: `next_index` and `match_index`, with nothing
/// sent past `next_index` (as right after an election or a back-off).
pub fn progress(next_index: u64, match_index: u64) -> Progress {
    sent_progress(next_index, match_index, next_index - 1)
}

/// A follower's progress with entries through `sent_up_to` sent, in one
/// message still in flight if that is past `next_index`; probing until
/// something was acknowledged.
pub fn sent_progress(next_index: u64, match_index: u64, sent_up_to: u64) -> Progress {
    let in_flight: &[LogIndex] = if sent_up_to >= next_index {
        &[LogIndex(sent_up_to)]
    } else {
        &[]
    };
    Progress::from_parts(
        LogIndex(next_index),
        LogIndex(match_index),
        LogIndex(sent_up_to),
        match_index == 0,
        in_flight,
    )
}

/// A RequestVote reply.
pub fn vote_reply(term: u64, vote_granted: bool) -> Message {
    Message::RequestVoteReply(RequestVoteReply {
        term: Term(term),
        vote_granted,
    })
}

/// An AppendEntries reply to the request whose `prev_log_index` is given.
pub fn append_reply(term: u64, prev_log_index: u64, result: AppendResult) -> Message {
    Message::AppendEntriesReply(AppendEntriesReply {
        term: Term(term),
        prev_log_index: LogIndex(prev_log_index),
        result,
    })
}

/// `success = true`, the follower matching the leader through `match_index`.
pub fn success(match_index: u64) -> AppendResult {
    AppendResult::Success {
        match_index: LogIndex(match_index),
    }
}

/// `success = false` with the §5.3 hints.
pub fn conflict(conflict_term: Option<u64>, conflict_index: u64) -> AppendResult {
    AppendResult::Conflict {
        conflict_term: conflict_term.map(Term),
        conflict_index: LogIndex(conflict_index),
    }
}

/// An InstallSnapshot reply for the snapshot through `last_included_index`.
pub fn snapshot_reply(term: u64, last_included_index: u64) -> Message {
    Message::InstallSnapshotReply(InstallSnapshotReply {
        term: Term(term),
        last_included_index: LogIndex(last_included_index),
    })
}

/// The effect of sending `message` to `to`.
/// The marker that reports the write of entry `index` (term `term`)
/// durable ([`Effect::Durable`]).
pub fn durable(index: u64, term: u64) -> Effect {
    Effect::Durable {
        index: LogIndex(index),
        term: Term(term),
    }
}

/// What a driver whose writes are durable at once does with `effects`'
/// durability markers: reports each to `node`, returning what that
/// decided.
pub fn report_durable(node: &mut Node, effects: &[Effect]) -> Vec<Effect> {
    let mut out = Vec::new();
    for effect in effects {
        if let Effect::Durable { index, term } = effect {
            out.extend(node.handle_persisted(*index, *term));
        }
    }
    out
}

/// Proposes `command` on the leader `node` and reports its write durable
/// at once; returns the proposal's effects and what the report decided.
pub fn propose_durably(node: &mut Node, command: Bytes) -> Vec<Effect> {
    let (_, mut effects) = node.propose([command]).expect("leader accepts proposals");
    let reported = report_durable(node, &effects);
    effects.extend(reported);
    effects
}

pub fn send(to: NodeId, message: Message) -> Effect {
    Effect::Send { to, message }
}

/// The effect of persisting `(current_term, voted_for)`.
pub fn persist_hard_state(term: u64, voted_for: Option<NodeId>) -> Effect {
    Effect::Persist(Persist::HardState(hard_state(term, voted_for)))
}

/// Everything the query methods of a node show, to compare at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// `current_term()`.
    pub current_term: Term,
    /// `voted_for()`.
    pub voted_for: Option<NodeId>,
    /// `role()`, with the candidate's votes or the leader's progress.
    pub role: Role,
    /// `leader_id()`.
    pub leader_id: Option<NodeId>,
    /// `commit_index()`.
    pub commit_index: LogIndex,
    /// `last_applied()`.
    pub last_applied: LogIndex,
    /// `log()`.
    pub log: Log,
    /// `snapshot()`.
    pub snapshot: Option<Snapshot>,
}

/// Reads a node through its query methods, checking on the way that
/// `hard_state()` agrees with `current_term()` and `voted_for()` and that
/// the node's invariants hold.
pub fn observe(node: &Node) -> Observed {
    assert_eq!(
        node.hard_state(),
        HardState {
            current_term: node.current_term(),
            voted_for: node.voted_for(),
        },
        "hard_state() agrees with current_term() and voted_for()"
    );
    node.check_invariants().expect("the node's invariants hold");
    Observed {
        current_term: node.current_term(),
        voted_for: node.voted_for(),
        role: node.role().clone(),
        leader_id: node.leader_id(),
        commit_index: node.commit_index(),
        last_applied: node.last_applied(),
        log: node.log().clone(),
        snapshot: node.snapshot().cloned(),
    }
}
