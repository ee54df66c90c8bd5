//! Figure 2 (persistent state) and §5.1 (terms).

use crate::common::*;
use checked_raft::*;

// ----- Figure 2: persistent state survives a restart -----

/// Figure 2: currentTerm, votedFor and log[] are persistent; a restarted
/// server comes back as a follower with nothing committed yet.
#[test]
fn fig2_restart_restores_persistent_state_as_follower() {
    let stored = stored(3, Some(N2), &[1, 2, 3]);

    let (node, effects) = Node::restart(config_of(N1), &stored).expect("consistent storage");

    assert_eq!(effects, vec![Effect::ResetElectionTimer]);
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: Some(N2),
            role: Role::Follower,
            leader_id: None,
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2, 3]),
            snapshot: None,
        }
    );
}

// ----- §5.1: terms -----

/// §5.1 "If a server's current term is smaller than the other's, then it
/// updates its current term to the larger value. If a candidate or leader
/// discovers that its term is out of date, it immediately reverts to
/// follower state" — for every request and reply kind, persisted first.
#[test]
fn s5_1_higher_term_in_any_message_makes_candidate_adopt_term_and_step_down() {
    struct Row {
        kind: &'static str,
        message: Message,
        effects: Vec<Effect>,
        after: Observed,
    }
    // A candidate of term 3 (it voted for itself) with log [1, 2].
    let base = Observed {
        current_term: Term(5),
        voted_for: None,
        role: Role::Follower,
        leader_id: None,
        commit_index: LogIndex(0),
        last_applied: LogIndex(0),
        log: log(&[1, 2]),
        snapshot: None,
    };
    let rows = vec![
        Row {
            kind: "RequestVote (refused: candidate's log is behind)",
            message: Message::RequestVote(RequestVote {
                term: Term(5),
                last_log_index: LogIndex(1),
                last_log_term: Term(1),
            }),
            effects: vec![persist_hard_state(5, None), send(N2, vote_reply(5, false))],
            after: base.clone(),
        },
        Row {
            kind: "RequestVoteReply",
            message: vote_reply(5, false),
            effects: vec![persist_hard_state(5, None)],
            after: base.clone(),
        },
        Row {
            kind: "AppendEntries",
            message: Message::AppendEntries(AppendEntries {
                term: Term(5),
                prev_log_index: LogIndex(2),
                prev_log_term: Term(2),
                entries: vec![],
                leader_commit: LogIndex(0),
            }),
            effects: vec![
                persist_hard_state(5, None),
                Effect::ResetElectionTimer,
                send(N2, append_reply(5, 2, success(2))),
            ],
            after: Observed {
                leader_id: Some(N2),
                ..base.clone()
            },
        },
        Row {
            kind: "AppendEntriesReply",
            message: append_reply(5, 2, AppendResult::StaleTerm),
            effects: vec![persist_hard_state(5, None)],
            after: base.clone(),
        },
        Row {
            kind: "InstallSnapshot",
            message: Message::InstallSnapshot(InstallSnapshot {
                term: Term(5),
                snapshot: snapshot(1, 1),
            }),
            effects: vec![
                persist_hard_state(5, None),
                Effect::ResetElectionTimer,
                Effect::Persist(Persist::Snapshot(snapshot(1, 1))),
                durable(1, 1),
                Effect::ApplySnapshot(snapshot(1, 1)),
                send(N2, snapshot_reply(5, 1)),
            ],
            after: Observed {
                leader_id: Some(N2),
                commit_index: LogIndex(1),
                last_applied: LogIndex(1),
                log: log_after(&snapshot(1, 1), &[2]),
                snapshot: Some(snapshot(1, 1)),
                ..base.clone()
            },
        },
        Row {
            kind: "InstallSnapshotReply",
            message: snapshot_reply(5, 0),
            effects: vec![persist_hard_state(5, None)],
            after: base.clone(),
        },
    ];
    for row in rows {
        let mut node = candidate(&stored(2, None, &[1, 2]));
        assert_eq!(
            node.hard_state(),
            hard_state(3, Some(N1)),
            "{}: setup",
            row.kind
        );

        let effects = node.step(N2, row.message).expect("well-formed message");

        assert_eq!(effects, row.effects, "{}: effects", row.kind);
        assert_eq!(observe(&node), row.after, "{}: state", row.kind);
    }
}

/// §5.1 a leader that discovers a higher term "immediately reverts to
/// follower state"; as a follower it needs its election timer again (§5.2).
#[test]
fn s5_1_leader_seeing_higher_term_steps_down_and_rearms_election_timer() {
    struct Row {
        kind: &'static str,
        message: Message,
        effects: Vec<Effect>,
    }
    let rows = vec![
        Row {
            kind: "RequestVote (refused: candidate's log is behind)",
            message: Message::RequestVote(RequestVote {
                term: Term(5),
                last_log_index: LogIndex(0),
                last_log_term: Term(0),
            }),
            effects: vec![
                persist_hard_state(5, None),
                Effect::ResetElectionTimer,
                send(N2, vote_reply(5, false)),
            ],
        },
        Row {
            kind: "RequestVoteReply",
            message: vote_reply(5, false),
            effects: vec![persist_hard_state(5, None), Effect::ResetElectionTimer],
        },
        Row {
            kind: "AppendEntriesReply",
            message: append_reply(5, 1, AppendResult::StaleTerm),
            effects: vec![persist_hard_state(5, None), Effect::ResetElectionTimer],
        },
        Row {
            kind: "InstallSnapshotReply",
            message: snapshot_reply(5, 1),
            effects: vec![persist_hard_state(5, None), Effect::ResetElectionTimer],
        },
    ];
    for row in rows {
        let mut node = leader(&stored(1, None, &[1]));
        assert_eq!(node.current_term(), Term(2), "{}: setup", row.kind);

        let effects = node.step(N2, row.message).expect("well-formed message");

        assert_eq!(effects, row.effects, "{}: effects", row.kind);
        assert_eq!(
            observe(&node),
            Observed {
                current_term: Term(5),
                voted_for: None,
                role: Role::Follower,
                leader_id: None,
                commit_index: LogIndex(0),
                last_applied: LogIndex(0),
                log: log(&[1]),
                snapshot: None,
            },
            "{}: state",
            row.kind
        );
        assert_eq!(
            node.progress(N2),
            None,
            "{}: a follower tracks no progress",
            row.kind
        );
    }
}

/// §5.1 A leader that learns of a higher term from a request steps down and
/// handles the request as a follower: the hard state is written once (with
/// the vote, if it grants one) and the election timer is reset once, both
/// before the reply leaves.
#[test]
fn s5_1_leader_stepping_down_on_a_higher_term_request_persists_and_resets_once() {
    struct Row {
        kind: &'static str,
        message: Message,
        effects: Vec<Effect>,
        state: Observed,
    }
    let follower_of_term_5 = Observed {
        current_term: Term(5),
        voted_for: None,
        role: Role::Follower,
        leader_id: Some(N2),
        commit_index: LogIndex(0),
        last_applied: LogIndex(0),
        log: log(&[1]),
        snapshot: None,
    };
    let rows = vec![
        Row {
            kind: "AppendEntries from the new leader",
            message: Message::AppendEntries(AppendEntries {
                term: Term(5),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: vec![],
                leader_commit: LogIndex(0),
            }),
            effects: vec![
                persist_hard_state(5, None),
                Effect::ResetElectionTimer,
                send(N2, append_reply(5, 1, success(1))),
            ],
            state: follower_of_term_5.clone(),
        },
        Row {
            kind: "RequestVote granted",
            message: Message::RequestVote(RequestVote {
                term: Term(5),
                last_log_index: LogIndex(1),
                last_log_term: Term(1),
            }),
            effects: vec![
                persist_hard_state(5, Some(N2)),
                Effect::ResetElectionTimer,
                send(N2, vote_reply(5, true)),
            ],
            state: Observed {
                voted_for: Some(N2),
                leader_id: None,
                ..follower_of_term_5.clone()
            },
        },
        Row {
            kind: "InstallSnapshot from the new leader",
            message: Message::InstallSnapshot(InstallSnapshot {
                term: Term(5),
                snapshot: snapshot(1, 1),
            }),
            effects: vec![
                persist_hard_state(5, None),
                Effect::ResetElectionTimer,
                Effect::Persist(Persist::Snapshot(snapshot(1, 1))),
                durable(1, 1),
                Effect::ApplySnapshot(snapshot(1, 1)),
                send(N2, snapshot_reply(5, 1)),
            ],
            state: Observed {
                commit_index: LogIndex(1),
                last_applied: LogIndex(1),
                log: log_after(&snapshot(1, 1), &[]),
                snapshot: Some(snapshot(1, 1)),
                ..follower_of_term_5.clone()
            },
        },
    ];
    for row in rows {
        let mut node = leader(&stored(1, None, &[1]));
        assert_eq!(node.current_term(), Term(2), "{}: setup", row.kind);

        let effects = node.step(N2, row.message).expect("well-formed message");

        assert_eq!(effects, row.effects, "{}: effects", row.kind);
        assert_eq!(observe(&node), row.state, "{}: state", row.kind);
    }
}

/// §5.1 "If a server receives a request with a stale term number, it
/// rejects the request" — and answers with its current term.
#[test]
fn s5_1_request_with_lower_term_is_rejected_with_current_term() {
    struct Row {
        kind: &'static str,
        request: Message,
        reply: Message,
    }
    let rows = vec![
        Row {
            kind: "RequestVote: vote_granted false",
            request: Message::RequestVote(RequestVote {
                term: Term(2),
                last_log_index: LogIndex(2),
                last_log_term: Term(2),
            }),
            reply: vote_reply(3, false),
        },
        Row {
            kind: "AppendEntries: StaleTerm, nothing appended",
            request: Message::AppendEntries(AppendEntries {
                term: Term(2),
                prev_log_index: LogIndex(2),
                prev_log_term: Term(2),
                entries: entries_from(3, &[2]),
                leader_commit: LogIndex(2),
            }),
            reply: append_reply(3, 2, AppendResult::StaleTerm),
        },
        Row {
            kind: "InstallSnapshot: answered, not installed, nothing acknowledged",
            request: Message::InstallSnapshot(InstallSnapshot {
                term: Term(2),
                snapshot: snapshot(2, 2),
            }),
            reply: snapshot_reply(3, 0),
        },
    ];
    for row in rows {
        // A follower of term 3 that has not voted; its log [1, 2] matches
        // every request, so only the term can cause the rejection.
        let mut node = follower(&stored(3, None, &[1, 2]));
        let before = node.clone();

        let effects = node.step(N2, row.request).expect("well-formed message");

        assert_eq!(effects, vec![send(N2, row.reply)], "{}: effects", row.kind);
        assert_eq!(node, before, "{}: state unchanged", row.kind);
        assert_eq!(
            node.leader_id(),
            None,
            "{}: a stale leader is not recognized",
            row.kind
        );
    }
}

/// §5.1 a reply carrying an older term answers a request of a term that is
/// over: the leader ignores it (no progress, no commit, no effects).
#[test]
fn s5_1_reply_with_lower_term_is_ignored() {
    struct Row {
        kind: &'static str,
        reply: Message,
    }
    let rows = vec![
        Row {
            kind: "RequestVoteReply granting a vote",
            reply: vote_reply(1, true),
        },
        Row {
            kind: "AppendEntriesReply acknowledging entry 1",
            reply: append_reply(1, 0, success(1)),
        },
        Row {
            kind: "AppendEntriesReply with conflict hints",
            reply: append_reply(1, 1, conflict(Some(1), 1)),
        },
        Row {
            kind: "InstallSnapshotReply acknowledging index 1",
            reply: snapshot_reply(1, 1),
        },
    ];
    for row in rows {
        // Leader of term 2 with log [1]; its followers' match_index is 0.
        let mut node = leader(&stored(1, None, &[1]));
        let before = node.clone();

        let effects = node.step(N2, row.reply).expect("well-formed message");

        assert_eq!(effects, vec![], "{}: effects", row.kind);
        assert_eq!(node, before, "{}: state unchanged", row.kind);
        assert_eq!(
            node.progress(N2),
            Some(progress(2, 0)),
            "{}: progress",
            row.kind
        );
    }
}

/// §5.2 a candidate ignores votes of an older term: they were cast for an
/// election that is over.
#[test]
fn s5_1_candidate_ignores_votes_from_older_term() {
    let mut node = candidate(&stored(2, None, &[1, 2]));
    let before = node.clone();

    let effects = node
        .step(N2, vote_reply(2, true))
        .expect("well-formed reply");

    assert_eq!(effects, vec![]);
    assert_eq!(node, before);
    assert_eq!(node.role(), &candidate_role(&[N1]));
}
