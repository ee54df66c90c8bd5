//! One test per rule of the extended Raft paper (Figure 2, §5, §7 and
//! Figure 13), each named after its section. Every test checks three
//! things: what the handler returned, the state the node is left in (through
//! its query methods) and the exact, ordered list of effects it emitted.
//!
//! Nodes are brought into a state only through the public API: restart from
//! stored state, then timeouts, messages and proposals (see `common`).

mod common;

use checked_raft::*;
use common::*;

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
            kind: "InstallSnapshot: answered, not installed",
            request: Message::InstallSnapshot(InstallSnapshot {
                term: Term(2),
                snapshot: snapshot(2, 2),
            }),
            reply: snapshot_reply(3, 2),
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

// ----- §5.2: leader election -----

/// §5.2 "To begin an election, a follower increments its current term and
/// transitions to candidate state. It then votes for itself and issues
/// RequestVote RPCs in parallel to each of the other servers."
#[test]
fn s5_2_follower_election_timeout_starts_election() {
    // A follower of term 2 that knows leader 2.
    let mut node = follower_with_commit(&stored(2, None, &[1, 2]), 0);
    assert_eq!(node.leader_id(), Some(N2), "setup");

    let effects = node.handle_election_timeout();

    let request = Message::RequestVote(RequestVote {
        term: Term(3),
        last_log_index: LogIndex(2),
        last_log_term: Term(2),
    });
    assert_eq!(
        effects,
        vec![
            persist_hard_state(3, Some(N1)),
            Effect::ResetElectionTimer,
            send(N2, request.clone()),
            send(N3, request),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: Some(N1),
            role: candidate_role(&[N1]),
            leader_id: None,
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2]),
            snapshot: None,
        }
    );
}

/// §5.2 "If many followers become candidates at the same time, votes could
/// be split ... each candidate will time out and start a new election by
/// incrementing its term and initiating another round of RequestVote RPCs."
#[test]
fn s5_2_candidate_election_timeout_starts_new_election() {
    let mut node = candidate(&stored(2, None, &[1, 2]));
    node.step(N2, vote_reply(3, false))
        .expect("well-formed reply");

    let effects = node.handle_election_timeout();

    let request = Message::RequestVote(RequestVote {
        term: Term(4),
        last_log_index: LogIndex(2),
        last_log_term: Term(2),
    });
    assert_eq!(
        effects,
        vec![
            persist_hard_state(4, Some(N1)),
            Effect::ResetElectionTimer,
            send(N2, request.clone()),
            send(N3, request),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(4),
            voted_for: Some(N1),
            role: candidate_role(&[N1]),
            leader_id: None,
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2]),
            snapshot: None,
        }
    );
}

/// Figure 2, Followers and Candidates: "If election timeout elapses ...
/// convert to candidate" — a leader has no election timeout to act on.
#[test]
fn s5_2_leader_ignores_election_timeout() {
    let mut node = leader(&stored(1, None, &[1]));
    let before = node.clone();

    let effects = node.handle_election_timeout();

    assert_eq!(effects, vec![]);
    assert_eq!(node, before);
    assert!(node.is_leader());
}

/// §5.2 "A candidate wins an election if it receives votes from a majority
/// of the servers ... It then sends heartbeat messages to all of the other
/// servers to establish its authority."
#[test]
fn s5_2_candidate_with_majority_becomes_leader_and_sends_heartbeats_at_once() {
    let mut node = candidate(&stored(2, None, &[1, 2]));

    let effects = node
        .step(N3, vote_reply(3, true))
        .expect("well-formed reply");

    let heartbeat = Message::AppendEntries(AppendEntries {
        term: Term(3),
        prev_log_index: LogIndex(2),
        prev_log_term: Term(2),
        entries: vec![],
        leader_commit: LogIndex(0),
    });
    assert_eq!(
        effects,
        vec![
            send(N2, heartbeat.clone()),
            send(N3, heartbeat),
            Effect::SetHeartbeatTimer,
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: Some(N1),
            role: leader_role(&[(N2, progress(3, 0)), (N3, progress(3, 0))]),
            leader_id: Some(N1),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2]),
            snapshot: None,
        }
    );
    assert_eq!(
        node.progress(N2),
        Some(progress(3, 0)),
        "nextIndex = last log index + 1"
    );
}

/// §5.2 "votes from a majority of the servers in the full cluster": in a
/// cluster of five, a second vote from the same server is not a third vote.
#[test]
fn s5_2_candidate_needs_votes_from_a_majority_of_distinct_servers() {
    let members: Vec<NodeId> = (1..=5).map(NodeId).collect();
    let (mut node, _) =
        Node::restart(Config::new(N1, members), &Stored::default()).expect("valid config");
    node.handle_election_timeout();

    let first = node
        .step(N2, vote_reply(1, true))
        .expect("well-formed reply");
    let duplicate = node
        .step(N2, vote_reply(1, true))
        .expect("well-formed reply");

    assert_eq!(first, vec![]);
    assert_eq!(duplicate, vec![]);
    assert_eq!(node.role(), &candidate_role(&[N1, N2]), "two of five");

    let third = node
        .step(N3, vote_reply(1, true))
        .expect("well-formed reply");

    let heartbeat = Message::AppendEntries(AppendEntries {
        term: Term(1),
        prev_log_index: LogIndex(0),
        prev_log_term: Term(0),
        entries: vec![],
        leader_commit: LogIndex(0),
    });
    assert_eq!(
        third,
        vec![
            send(NodeId(2), heartbeat.clone()),
            send(NodeId(3), heartbeat.clone()),
            send(NodeId(4), heartbeat.clone()),
            send(NodeId(5), heartbeat),
            Effect::SetHeartbeatTimer,
        ]
    );
    assert!(node.is_leader(), "three of five");
    assert_eq!(node.leader_id(), Some(N1));
    assert_eq!(node.current_term(), Term(1));
}

/// §5.2 only granted votes count toward the majority.
#[test]
fn s5_2_refused_vote_is_not_counted() {
    let mut node = candidate(&stored(2, None, &[1, 2]));
    let before = node.clone();

    let effects = node
        .step(N2, vote_reply(3, false))
        .expect("well-formed reply");

    assert_eq!(effects, vec![]);
    assert_eq!(node, before);
    assert_eq!(node.role(), &candidate_role(&[N1]));
}

/// Figure 2, RequestVote: "If votedFor is null or candidateId ... grant
/// vote"; Figure 2 persists votedFor "before responding to RPCs", and
/// granting a vote restarts the election timeout.
#[test]
fn s5_2_voter_persists_vote_before_replying_and_resets_election_timer() {
    let mut node = follower(&stored(1, None, &[]));

    let effects = node
        .step(
            N2,
            Message::RequestVote(RequestVote {
                term: Term(1),
                last_log_index: LogIndex(0),
                last_log_term: Term(0),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            persist_hard_state(1, Some(N2)),
            Effect::ResetElectionTimer,
            send(N2, vote_reply(1, true)),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(1),
            voted_for: Some(N2),
            role: Role::Follower,
            leader_id: None,
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[]),
            snapshot: None,
        }
    );
}

/// §5.2 "Each server will vote for at most one candidate in a given term";
/// a refused vote does not restart the election timeout.
#[test]
fn s5_2_one_vote_per_term_second_candidate_refused() {
    let mut node = follower(&stored(1, Some(N2), &[]));
    let before = node.clone();

    let effects = node
        .step(
            N3,
            Message::RequestVote(RequestVote {
                term: Term(1),
                last_log_index: LogIndex(0),
                last_log_term: Term(0),
            }),
        )
        .expect("well-formed request");

    assert_eq!(effects, vec![send(N3, vote_reply(1, false))]);
    assert_eq!(node, before);
    assert_eq!(node.voted_for(), Some(N2));
}

/// Figure 2, RequestVote: "If votedFor is ... candidateId ... grant vote":
/// a retried request is granted again, with nothing new to persist.
#[test]
fn s5_2_same_candidate_asking_again_is_granted_without_second_persist() {
    let mut node = follower(&stored(1, Some(N2), &[]));
    let before = node.clone();

    let effects = node
        .step(
            N2,
            Message::RequestVote(RequestVote {
                term: Term(1),
                last_log_index: LogIndex(0),
                last_log_term: Term(0),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![Effect::ResetElectionTimer, send(N2, vote_reply(1, true))]
    );
    assert_eq!(node, before);
    assert_eq!(node.voted_for(), Some(N2));
}

/// §5.2 a candidate has voted for itself, so it refuses a rival of its term.
#[test]
fn s5_2_candidate_refuses_vote_to_rival_in_same_term() {
    let mut node = candidate(&stored(2, None, &[1, 2]));
    let before = node.clone();

    let effects = node
        .step(
            N2,
            Message::RequestVote(RequestVote {
                term: Term(3),
                last_log_index: LogIndex(2),
                last_log_term: Term(2),
            }),
        )
        .expect("well-formed request");

    assert_eq!(effects, vec![send(N2, vote_reply(3, false))]);
    assert_eq!(node, before);
}

/// §5.2 "If the leader's term ... is at least as large as the candidate's
/// current term, then the candidate recognizes the leader as legitimate and
/// returns to follower state."
#[test]
fn s5_2_candidate_steps_down_on_append_entries_of_its_own_term() {
    let mut node = candidate(&stored(2, None, &[1, 2]));

    let effects = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(3),
                prev_log_index: LogIndex(2),
                prev_log_term: Term(2),
                entries: entries_from(3, &[3]),
                leader_commit: LogIndex(0),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::Append(entries_from(3, &[3]))),
            send(N2, append_reply(3, 2, success(3))),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: Some(N1),
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2, 3]),
            snapshot: None,
        }
    );
}

/// Figure 2, Leaders: "repeat during idle periods to prevent election
/// timeouts" — every peer gets an AppendEntries from its nextIndex, with
/// the leader's commit index, and the heartbeat timer is re-armed.
#[test]
fn s5_2_heartbeat_timeout_on_leader_sends_append_entries_to_every_peer() {
    // Leader of term 2; entry 1 is on server 2 and committed, server 3 has
    // acknowledged nothing yet.
    let mut node = leader(&stored(1, None, &[]));
    node.propose(command(1, 2))
        .expect("leader accepts proposals");
    node.step(N2, append_reply(2, 0, success(1)))
        .expect("well-formed reply");
    let before = node.clone();

    let effects = node.handle_heartbeat_timeout();

    assert_eq!(
        effects,
        vec![
            send(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(1),
                    prev_log_term: Term(2),
                    entries: vec![],
                    leader_commit: LogIndex(1),
                })
            ),
            send(
                N3,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(0),
                    prev_log_term: Term(0),
                    entries: entries(&[2]),
                    leader_commit: LogIndex(1),
                })
            ),
            Effect::SetHeartbeatTimer,
        ]
    );
    assert_eq!(node, before, "sending changes no state");
    assert_eq!(node.commit_index(), LogIndex(1));
}

/// Figure 2: heartbeats are the leader's; followers and candidates wait for
/// their election timeout instead.
#[test]
fn s5_2_heartbeat_timeout_on_follower_or_candidate_does_nothing() {
    struct Row {
        role: &'static str,
        node: Node,
    }
    let rows = vec![
        Row {
            role: "follower",
            node: follower_with_commit(&stored(2, None, &[1, 2]), 1),
        },
        Row {
            role: "candidate",
            node: candidate(&stored(2, None, &[1, 2])),
        },
    ];
    for Row { role, mut node } in rows {
        let before = node.clone();

        let effects = node.handle_heartbeat_timeout();

        assert_eq!(effects, vec![], "{role}: effects");
        assert_eq!(node, before, "{role}: state unchanged");
    }
}

// ----- §5.4.1: election restriction -----

/// §5.4.1 "If the logs have last entries with different terms, then the log
/// with the later term is more up-to-date. If the logs end with the same
/// term, then whichever log is longer is more up-to-date." A vote goes only
/// to a candidate whose log is at least as up-to-date.
#[test]
fn s5_4_1_vote_granted_only_to_candidate_at_least_as_up_to_date() {
    struct Row {
        case: &'static str,
        last_log_index: u64,
        last_log_term: u64,
        granted: bool,
    }
    let rows = [
        Row {
            case: "last term older, log longer",
            last_log_index: 5,
            last_log_term: 1,
            granted: false,
        },
        Row {
            case: "same last term, log shorter",
            last_log_index: 2,
            last_log_term: 2,
            granted: false,
        },
        Row {
            case: "last term newer, log shorter",
            last_log_index: 1,
            last_log_term: 3,
            granted: true,
        },
        Row {
            case: "same last term, same length",
            last_log_index: 3,
            last_log_term: 2,
            granted: true,
        },
        Row {
            case: "same last term, log longer",
            last_log_index: 4,
            last_log_term: 2,
            granted: true,
        },
    ];
    for row in rows {
        // The voter's log is [1, 2, 2]: last term 2, last index 3.
        let mut node = follower(&stored(2, None, &[1, 2, 2]));

        let effects = node
            .step(
                N2,
                Message::RequestVote(RequestVote {
                    term: Term(3),
                    last_log_index: LogIndex(row.last_log_index),
                    last_log_term: Term(row.last_log_term),
                }),
            )
            .expect("well-formed request");

        let (expected_effects, voted_for) = if row.granted {
            (
                vec![
                    persist_hard_state(3, Some(N2)),
                    Effect::ResetElectionTimer,
                    send(N2, vote_reply(3, true)),
                ],
                Some(N2),
            )
        } else {
            (
                vec![persist_hard_state(3, None), send(N2, vote_reply(3, false))],
                None,
            )
        };
        assert_eq!(effects, expected_effects, "{}: effects", row.case);
        assert_eq!(
            observe(&node),
            Observed {
                current_term: Term(3),
                voted_for,
                role: Role::Follower,
                leader_id: None,
                commit_index: LogIndex(0),
                last_applied: LogIndex(0),
                log: log(&[1, 2, 2]),
                snapshot: None,
            },
            "{}: state",
            row.case
        );
    }
}

// ----- §5.3: log replication, follower side -----

/// Figure 2, AppendEntries: "Reply false if log doesn't contain an entry at
/// prevLogIndex whose term matches prevLogTerm"; §5.3 the reply carries
/// the conflicting term and the first index the follower stores for it.
#[test]
fn s5_3_follower_rejects_mismatched_prev_log() {
    struct Row {
        case: &'static str,
        follower_terms: &'static [u64],
        prev_log_index: u64,
        prev_log_term: u64,
        conflict_term: u64,
        conflict_index: u64,
    }
    let rows = [
        Row {
            case: "mismatch in the middle of a run of term 2",
            follower_terms: &[1, 2, 2, 2],
            prev_log_index: 4,
            prev_log_term: 3,
            conflict_term: 2,
            conflict_index: 2,
        },
        Row {
            case: "mismatch at the first entry of its term",
            follower_terms: &[1, 1, 2],
            prev_log_index: 3,
            prev_log_term: 3,
            conflict_term: 2,
            conflict_index: 3,
        },
        Row {
            case: "mismatch in a run that starts at index 1",
            follower_terms: &[1, 1, 1],
            prev_log_index: 2,
            prev_log_term: 2,
            conflict_term: 1,
            conflict_index: 1,
        },
    ];
    for row in rows {
        let mut node = follower(&stored(3, None, row.follower_terms));

        let effects = node
            .step(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(3),
                    prev_log_index: LogIndex(row.prev_log_index),
                    prev_log_term: Term(row.prev_log_term),
                    entries: entries_from(row.prev_log_index + 1, &[3]),
                    leader_commit: LogIndex(0),
                }),
            )
            .expect("well-formed request");

        assert_eq!(
            effects,
            vec![
                Effect::ResetElectionTimer,
                send(
                    N2,
                    append_reply(
                        3,
                        row.prev_log_index,
                        conflict(Some(row.conflict_term), row.conflict_index)
                    )
                ),
            ],
            "{}: effects",
            row.case
        );
        assert_eq!(
            observe(&node),
            Observed {
                current_term: Term(3),
                voted_for: None,
                role: Role::Follower,
                leader_id: Some(N2),
                commit_index: LogIndex(0),
                last_applied: LogIndex(0),
                log: log(row.follower_terms),
                snapshot: None,
            },
            "{}: state (nothing deleted on a mismatch)",
            row.case
        );
    }
}

/// Figure 2, AppendEntries: "Reply false if log doesn't contain an entry at
/// prevLogIndex"; with no entry there the hint is the follower's last
/// index + 1 and no term.
#[test]
fn s5_3_follower_rejects_prev_log_index_beyond_its_last_entry() {
    let mut node = follower(&stored(3, None, &[1, 1]));

    let effects = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(3),
                prev_log_index: LogIndex(4),
                prev_log_term: Term(3),
                entries: entries_from(5, &[3]),
                leader_commit: LogIndex(4),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            send(N2, append_reply(3, 4, conflict(None, 3))),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 1]),
            snapshot: None,
        }
    );
}

/// Figure 2, AppendEntries: "Append any new entries not already in the log",
/// then reply true; the reply says how far the logs now match.
#[test]
fn s5_3_follower_appends_new_entries_and_acknowledges_match_index() {
    let mut node = follower(&stored(2, None, &[1]));

    let effects = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(2),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: entries_from(2, &[2, 2]),
                leader_commit: LogIndex(0),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::Append(entries_from(2, &[2, 2]))),
            send(N2, append_reply(2, 1, success(3))),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2, 2]),
            snapshot: None,
        }
    );
}

/// Figure 2, AppendEntries: "If an existing entry conflicts with a new one
/// (same index but different terms), delete the existing entry and all that
/// follow it" — and only those: matching entries before it stay, and are
/// not written again.
#[test]
fn s5_3_follower_deletes_only_the_conflicting_suffix() {
    // Entries 3 and 4 come from a deposed leader of term 2.
    let stored = stored(3, None, &[1, 1, 2, 2]);
    let mut node = follower(&stored);

    let effects = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(3),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: entries_from(2, &[1, 3]),
                leader_commit: LogIndex(0),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::TruncateAfter { after: LogIndex(2) }),
            Effect::Persist(Persist::Append(entries_from(3, &[3]))),
            send(N2, append_reply(3, 1, success(3))),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 1, 3]),
            snapshot: None,
        }
    );
    let restarted = follower(&persisted(&stored, &effects));
    assert_eq!(restarted.log(), node.log(), "what was persisted is the log");
}

/// §5.3 a duplicated or delayed AppendEntries whose entries are all present
/// changes nothing: "Append any new entries not already in the log" never
/// truncates entries that follow the request's.
#[test]
fn s5_3_stale_append_entries_never_truncates_the_log() {
    struct Row {
        case: &'static str,
        prev_log_index: u64,
        prev_log_term: u64,
        entry_terms: &'static [u64],
        match_index: u64,
    }
    let rows = [
        Row {
            case: "first entry again",
            prev_log_index: 0,
            prev_log_term: 0,
            entry_terms: &[1],
            match_index: 1,
        },
        Row {
            case: "a middle entry again",
            prev_log_index: 1,
            prev_log_term: 1,
            entry_terms: &[1],
            match_index: 2,
        },
        Row {
            case: "all entries again",
            prev_log_index: 0,
            prev_log_term: 0,
            entry_terms: &[1, 1, 1],
            match_index: 3,
        },
        Row {
            case: "an old heartbeat",
            prev_log_index: 1,
            prev_log_term: 1,
            entry_terms: &[],
            match_index: 1,
        },
    ];
    for row in rows {
        let mut node = follower(&stored(1, None, &[1, 1, 1]));

        let effects = node
            .step(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(1),
                    prev_log_index: LogIndex(row.prev_log_index),
                    prev_log_term: Term(row.prev_log_term),
                    entries: entries_from(row.prev_log_index + 1, row.entry_terms),
                    leader_commit: LogIndex(0),
                }),
            )
            .expect("well-formed request");

        assert_eq!(
            effects,
            vec![
                Effect::ResetElectionTimer,
                send(
                    N2,
                    append_reply(1, row.prev_log_index, success(row.match_index))
                ),
            ],
            "{}: effects",
            row.case
        );
        assert_eq!(node.log(), &log(&[1, 1, 1]), "{}: log kept whole", row.case);
        assert_eq!(node.leader_id(), Some(N2), "{}: leader", row.case);
        assert_eq!(node.commit_index(), LogIndex(0), "{}: commit", row.case);
    }
}

/// Figure 2, AppendEntries: "If leaderCommit > commitIndex, set commitIndex
/// = min(leaderCommit, index of last new entry)" — entries past the
/// request are not known to match the leader and stay uncommitted.
#[test]
fn s5_3_follower_commit_index_is_min_of_leader_commit_and_last_new_entry() {
    struct Row {
        case: &'static str,
        prev_log_index: u64,
        entry_terms: &'static [u64],
        leader_commit: u64,
        commit_index: u64,
    }
    let rows = [
        Row {
            case: "leader_commit below the last new entry",
            prev_log_index: 0,
            entry_terms: &[1, 1],
            leader_commit: 1,
            commit_index: 1,
        },
        Row {
            case: "heartbeat: last new entry is prev_log_index",
            prev_log_index: 1,
            entry_terms: &[],
            leader_commit: 3,
            commit_index: 1,
        },
        Row {
            case: "entries up to 2, leader_commit 3",
            prev_log_index: 1,
            entry_terms: &[1],
            leader_commit: 3,
            commit_index: 2,
        },
    ];
    for row in rows {
        // Entries 2 and 3 are of term 1; the leader of term 2 may not have
        // them, so only what a request shows to match can commit.
        let mut node = follower(&stored(2, None, &[1, 1, 1]));
        let last_new = row.prev_log_index + row.entry_terms.len() as u64;

        let effects = node
            .step(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(row.prev_log_index),
                    prev_log_term: Term(if row.prev_log_index == 0 { 0 } else { 1 }),
                    entries: entries_from(row.prev_log_index + 1, row.entry_terms),
                    leader_commit: LogIndex(row.leader_commit),
                }),
            )
            .expect("well-formed request");

        let applied: Vec<Entry> = entries(&[1, 1, 1])
            .into_iter()
            .take(row.commit_index as usize)
            .collect();
        assert_eq!(
            effects,
            vec![
                Effect::ResetElectionTimer,
                Effect::ApplyEntries(applied),
                send(N2, append_reply(2, row.prev_log_index, success(last_new))),
            ],
            "{}: effects",
            row.case
        );
        assert_eq!(
            observe(&node),
            Observed {
                current_term: Term(2),
                voted_for: None,
                role: Role::Follower,
                leader_id: Some(N2),
                commit_index: LogIndex(row.commit_index),
                last_applied: LogIndex(row.commit_index),
                log: log(&[1, 1, 1]),
                snapshot: None,
            },
            "{}: state",
            row.case
        );
    }
}

/// Figure 2, All Servers: "If commitIndex > lastApplied: increment
/// lastApplied, apply log[lastApplied] to state machine" — in index order,
/// each entry once, after it is persisted; commitIndex never goes back.
#[test]
fn s5_3_follower_applies_committed_entries_in_order() {
    let mut node = follower(&stored(1, None, &[]));

    let first = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(1),
                prev_log_index: LogIndex(0),
                prev_log_term: Term(0),
                entries: entries(&[1, 1, 1]),
                leader_commit: LogIndex(2),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        first,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::Append(entries(&[1, 1, 1]))),
            Effect::ApplyEntries(entries(&[1, 1])),
            send(N2, append_reply(1, 0, success(3))),
        ]
    );
    assert_eq!(node.commit_index(), LogIndex(2));
    assert_eq!(node.last_applied(), LogIndex(2));

    let second = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(1),
                prev_log_index: LogIndex(3),
                prev_log_term: Term(1),
                entries: vec![],
                leader_commit: LogIndex(3),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        second,
        vec![
            Effect::ResetElectionTimer,
            Effect::ApplyEntries(vec![entry(3, 1)]),
            send(N2, append_reply(1, 3, success(3))),
        ]
    );

    // A delayed heartbeat announcing an older commit index.
    let third = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(1),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: vec![],
                leader_commit: LogIndex(1),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        third,
        vec![
            Effect::ResetElectionTimer,
            send(N2, append_reply(1, 1, success(1))),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(1),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(3),
            last_applied: LogIndex(3),
            log: log(&[1, 1, 1]),
            snapshot: None,
        }
    );
}

// ----- §5.3: log replication, leader side -----

/// Figure 2, Leaders: "If command received from client: append entry to
/// local log"; the entry is persisted before it is sent to every follower.
#[test]
fn s5_3_propose_on_leader_persists_then_replicates_to_every_peer() {
    let mut node = leader(&stored(1, None, &[1]));

    let (proposed, effects) = node
        .propose(command(2, 2))
        .expect("leader accepts proposals");

    assert_eq!(
        proposed,
        Proposed {
            index: LogIndex(2),
            term: Term(2),
        }
    );
    let append = Message::AppendEntries(AppendEntries {
        term: Term(2),
        prev_log_index: LogIndex(1),
        prev_log_term: Term(1),
        entries: vec![entry(2, 2)],
        leader_commit: LogIndex(0),
    });
    assert_eq!(
        effects,
        vec![
            Effect::Persist(Persist::Append(vec![entry(2, 2)])),
            send(N2, append.clone()),
            send(N3, append),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: Some(N1),
            role: leader_role(&[(N2, sent_progress(2, 0, 2)), (N3, sent_progress(2, 0, 2))]),
            leader_id: Some(N1),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2]),
            snapshot: None,
        }
    );
}

/// §5.1 "If a client contacts a follower, the follower redirects it to the
/// leader": a proposal elsewhere fails with the leader this server knows.
#[test]
fn s5_3_propose_on_non_leader_returns_not_leader_with_known_leader() {
    struct Row {
        case: &'static str,
        node: Node,
        leader_hint: Option<NodeId>,
    }
    let rows = vec![
        Row {
            case: "follower that heard from leader 2",
            node: follower_with_commit(&stored(2, None, &[1]), 0),
            leader_hint: Some(N2),
        },
        Row {
            case: "follower that knows no leader",
            node: follower(&stored(2, None, &[1])),
            leader_hint: None,
        },
        Row {
            case: "candidate",
            node: candidate(&stored(2, None, &[1])),
            leader_hint: None,
        },
    ];
    for Row {
        case,
        mut node,
        leader_hint,
    } in rows
    {
        let before = node.clone();

        let result = node.propose(command(2, 2));

        assert_eq!(result, Err(NotLeader { leader_hint }), "{case}: result");
        assert_eq!(node, before, "{case}: state unchanged");
    }
}

/// Figure 2, Leaders: "If successful: update nextIndex and matchIndex for
/// follower", commit what a majority stores (§5.3), and send the follower
/// what it still lacks and was not sent yet (one entry a message here, so
/// entry 2 waited for entry 1's acknowledgement).
#[test]
fn s5_3_leader_on_success_advances_progress_commits_and_sends_what_follows() {
    let mut node = leader_sending_one_entry_at_a_time(&stored(1, None, &[]));
    node.propose(command(1, 2))
        .expect("leader accepts proposals");
    node.propose(command(2, 2))
        .expect("leader accepts proposals");

    // Server 2 acknowledges the first proposal's request.
    let effects = node
        .step(N2, append_reply(2, 0, success(1)))
        .expect("well-formed reply");

    assert_eq!(
        effects,
        vec![
            Effect::ApplyEntries(vec![entry(1, 2)]),
            send(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(1),
                    prev_log_term: Term(2),
                    entries: vec![entry(2, 2)],
                    leader_commit: LogIndex(1),
                })
            ),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: Some(N1),
            role: leader_role(&[(N2, sent_progress(2, 1, 2)), (N3, sent_progress(1, 0, 1))]),
            leader_id: Some(N1),
            commit_index: LogIndex(1),
            last_applied: LogIndex(1),
            log: log(&[2, 2]),
            snapshot: None,
        }
    );
}

/// §5.3 "After a rejection, the leader decrements nextIndex and retries";
/// with the hints it skips a whole term: a conflict term it lacks sends it
/// to conflict_index, one it has to just past its last entry of that term,
/// no term (log too short) to conflict_index. It retries at once.
#[test]
fn s5_3_leader_uses_conflict_hints_to_skip_a_term_and_retries_at_once() {
    struct Row {
        case: &'static str,
        leader_terms: &'static [u64],
        conflict_term: Option<u64>,
        conflict_index: u64,
        next_index: u64,
        retry_prev_log_term: u64,
    }
    let rows = [
        Row {
            case: "leader lacks term 2: jump to conflict_index",
            leader_terms: &[1, 1, 1, 4, 4],
            conflict_term: Some(2),
            conflict_index: 4,
            next_index: 4,
            retry_prev_log_term: 1,
        },
        Row {
            case: "leader has term 2 (last at 3): jump past it",
            leader_terms: &[1, 2, 2, 4, 4],
            conflict_term: Some(2),
            conflict_index: 2,
            next_index: 4,
            retry_prev_log_term: 2,
        },
        Row {
            case: "follower's log too short: jump to its end",
            leader_terms: &[1, 1, 1, 4, 4],
            conflict_term: None,
            conflict_index: 3,
            next_index: 3,
            retry_prev_log_term: 1,
        },
    ];
    for row in rows {
        // Leader of term 5 whose last index is 5: next_index 6 for both.
        let mut node = leader(&stored(4, None, row.leader_terms));

        let effects = node
            .step(
                N2,
                append_reply(5, 5, conflict(row.conflict_term, row.conflict_index)),
            )
            .expect("well-formed reply");

        let retry = Message::AppendEntries(AppendEntries {
            term: Term(5),
            prev_log_index: LogIndex(row.next_index - 1),
            prev_log_term: Term(row.retry_prev_log_term),
            entries: entries(row.leader_terms)[row.next_index as usize - 1..].to_vec(),
            leader_commit: LogIndex(0),
        });
        assert_eq!(effects, vec![send(N2, retry)], "{}: effects", row.case);
        assert_eq!(
            observe(&node),
            Observed {
                current_term: Term(5),
                voted_for: Some(N1),
                role: leader_role(&[
                    (N2, sent_progress(row.next_index, 0, 5)),
                    (N3, progress(6, 0))
                ]),
                leader_id: Some(N1),
                commit_index: LogIndex(0),
                last_applied: LogIndex(0),
                log: log(row.leader_terms),
                snapshot: None,
            },
            "{}: state",
            row.case
        );
    }
}

/// §5.3 accelerated log backtracking, end to end: a follower whose log
/// diverges over four entries of one term is repaired with one rejection
/// and one retry ("one AppendEntries RPC ... per term with conflicting
/// entries, rather than one RPC per entry").
#[test]
fn s5_3_fast_backtracking_repairs_divergent_follower_in_one_round_trip() {
    let mut leader_node = leader(&stored(4, None, &[1, 1, 1, 4, 4]));
    let mut follower_node = restart_as(N2, &stored(2, None, &[1, 1, 1, 2, 2, 2, 2]));

    // The heartbeat that the election sent, sent again.
    let heartbeat = Message::AppendEntries(AppendEntries {
        term: Term(5),
        prev_log_index: LogIndex(5),
        prev_log_term: Term(4),
        entries: vec![],
        leader_commit: LogIndex(0),
    });
    assert_eq!(
        leader_node.handle_heartbeat_timeout(),
        vec![
            send(N2, heartbeat.clone()),
            send(N3, heartbeat.clone()),
            Effect::SetHeartbeatTimer,
        ]
    );

    // 1. The follower rejects, naming term 2 which starts at index 4.
    let rejected = follower_node
        .step(N1, heartbeat)
        .expect("well-formed request");
    let rejection = append_reply(5, 5, conflict(Some(2), 4));
    assert_eq!(
        rejected,
        vec![
            persist_hard_state(5, None),
            Effect::ResetElectionTimer,
            send(N1, rejection.clone()),
        ]
    );

    // 2. The leader, which has no entry of term 2, retries from index 4.
    let retried = leader_node.step(N2, rejection).expect("well-formed reply");
    let retry = Message::AppendEntries(AppendEntries {
        term: Term(5),
        prev_log_index: LogIndex(3),
        prev_log_term: Term(1),
        entries: entries_from(4, &[4, 4]),
        leader_commit: LogIndex(0),
    });
    assert_eq!(retried, vec![send(N2, retry.clone())]);

    // 3. The follower replaces its four entries of term 2.
    let accepted = follower_node.step(N1, retry).expect("well-formed request");
    let acknowledgement = append_reply(5, 3, success(5));
    assert_eq!(
        accepted,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::TruncateAfter { after: LogIndex(3) }),
            Effect::Persist(Persist::Append(entries_from(4, &[4, 4]))),
            send(N1, acknowledgement.clone()),
        ]
    );
    assert_eq!(
        follower_node.log(),
        leader_node.log(),
        "logs match after one retry"
    );

    // 4. The leader records the match; entries of term 4 do not commit by
    //    being counted (§5.4.2), so there is nothing more to do.
    let recorded = leader_node
        .step(N2, acknowledgement)
        .expect("well-formed reply");
    assert_eq!(recorded, vec![]);
    assert_eq!(leader_node.progress(N2), Some(progress(6, 5)));
    assert_eq!(leader_node.commit_index(), LogIndex(0));
    assert_eq!(
        observe(&follower_node),
        Observed {
            current_term: Term(5),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N1),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 1, 1, 4, 4]),
            snapshot: None,
        }
    );
}

/// §5.3 a rejection that answers a request sent before the leader last moved
/// nextIndex (delayed or duplicated) must not move it again.
#[test]
fn s5_3_leader_ignores_conflict_reply_to_an_older_request() {
    struct Row {
        case: &'static str,
        reply: Message,
    }
    let rows = [
        Row {
            case: "the rejection already acted on, duplicated",
            reply: append_reply(5, 5, conflict(Some(2), 4)),
        },
        Row {
            case: "a rejection of a request older still",
            reply: append_reply(5, 4, conflict(Some(2), 4)),
        },
        Row {
            case: "a rejection of a request below next_index - 1",
            reply: append_reply(5, 2, conflict(Some(1), 1)),
        },
    ];
    for row in rows {
        let mut node = leader(&stored(4, None, &[1, 1, 1, 4, 4]));
        node.step(N2, append_reply(5, 5, conflict(Some(2), 4)))
            .expect("well-formed reply");
        assert_eq!(
            node.progress(N2),
            Some(sent_progress(4, 0, 5)),
            "{}: setup",
            row.case
        );
        let before = node.clone();

        let effects = node.step(N2, row.reply).expect("well-formed reply");

        assert_eq!(effects, vec![], "{}: effects", row.case);
        assert_eq!(node, before, "{}: state unchanged", row.case);
    }
}

/// §5.3 "If followers crash ... the leader retries AppendEntries
/// indefinitely", so acknowledgements arrive duplicated and reordered; one
/// that brings nothing new is ignored (matchIndex "increases
/// monotonically") and does not trigger another send.
#[test]
fn s5_3_leader_ignores_duplicated_or_reordered_success_reply() {
    struct Row {
        case: &'static str,
        reply: Message,
    }
    let rows = [
        Row {
            case: "the same acknowledgement again",
            reply: append_reply(2, 0, success(2)),
        },
        Row {
            case: "an older acknowledgement, reordered",
            reply: append_reply(2, 0, success(1)),
        },
    ];
    for row in rows {
        // Leader of term 2 with log [2, 2, 2], sending one entry a
        // message; server 2 has acknowledged entries 1 and 2 and was just
        // sent entry 3.
        let mut node = leader_sending_one_entry_at_a_time(&stored(1, None, &[]));
        for index in 1..=3 {
            node.propose(command(index, 2))
                .expect("leader accepts proposals");
        }
        let acknowledged = node
            .step(N2, append_reply(2, 0, success(2)))
            .expect("well-formed reply");
        assert_eq!(
            acknowledged,
            vec![
                Effect::ApplyEntries(entries(&[2, 2])),
                send(
                    N2,
                    Message::AppendEntries(AppendEntries {
                        term: Term(2),
                        prev_log_index: LogIndex(2),
                        prev_log_term: Term(2),
                        entries: vec![entry(3, 2)],
                        leader_commit: LogIndex(2),
                    })
                ),
            ],
            "{}: setup",
            row.case
        );
        let before = node.clone();

        let effects = node.step(N2, row.reply).expect("well-formed reply");

        assert_eq!(effects, vec![], "{}: effects", row.case);
        assert_eq!(node, before, "{}: state unchanged", row.case);
        assert_eq!(
            node.progress(N2),
            Some(sent_progress(3, 2, 3)),
            "{}: progress",
            row.case
        );
        assert_eq!(node.commit_index(), LogIndex(2), "{}: commit", row.case);
    }
}

/// §5.3 "A log entry is committed once the leader that created the entry
/// has replicated it on a majority of the servers."
#[test]
fn s5_3_leader_commits_current_term_entry_once_on_a_majority() {
    let mut node = leader(&stored(1, None, &[]));
    node.propose(command(1, 2))
        .expect("leader accepts proposals");
    assert_eq!(node.commit_index(), LogIndex(0), "on the leader alone");

    let effects = node
        .step(N3, append_reply(2, 0, success(1)))
        .expect("well-formed reply");

    assert_eq!(effects, vec![Effect::ApplyEntries(vec![entry(1, 2)])]);
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: Some(N1),
            role: leader_role(&[(N2, sent_progress(1, 0, 1)), (N3, progress(2, 1))]),
            leader_id: Some(N1),
            commit_index: LogIndex(1),
            last_applied: LogIndex(1),
            log: log(&[2]),
            snapshot: None,
        }
    );
}

// ----- §5.4.2: committing entries from previous terms -----

/// §5.4.2 "Raft never commits log entries from previous terms by counting
/// replicas" (Figure 8): entry 2 of term 2 is on every server, yet the
/// leader of term 4 does not commit it.
#[test]
fn s5_4_2_leader_does_not_commit_previous_term_entry_by_counting_replicas_figure8() {
    let mut node = leader(&stored(3, None, &[1, 2]));
    assert_eq!(node.current_term(), Term(4), "setup");

    let from_n2 = node
        .step(N2, append_reply(4, 2, success(2)))
        .expect("well-formed reply");
    let from_n3 = node
        .step(N3, append_reply(4, 2, success(2)))
        .expect("well-formed reply");

    assert_eq!(from_n2, vec![]);
    assert_eq!(from_n3, vec![]);
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(4),
            voted_for: Some(N1),
            role: leader_role(&[(N2, progress(3, 2)), (N3, progress(3, 2))]),
            leader_id: Some(N1),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[1, 2]),
            snapshot: None,
        }
    );
}

/// §5.4.2 "once an entry from the current term has been committed in this
/// way, then all prior entries are committed indirectly because of the Log
/// Matching Property" (Figure 8 (e)).
#[test]
fn s5_4_2_leader_commits_previous_term_entry_with_a_current_term_entry() {
    let mut node = leader(&stored(3, None, &[1, 2]));
    node.step(N2, append_reply(4, 2, success(2)))
        .expect("well-formed reply");

    let (proposed, proposed_effects) = node.propose(command(3, 4)).expect("leader accepts");
    let append = Message::AppendEntries(AppendEntries {
        term: Term(4),
        prev_log_index: LogIndex(2),
        prev_log_term: Term(2),
        entries: vec![entry(3, 4)],
        leader_commit: LogIndex(0),
    });
    assert_eq!(
        (proposed, proposed_effects),
        (
            Proposed {
                index: LogIndex(3),
                term: Term(4),
            },
            vec![
                Effect::Persist(Persist::Append(vec![entry(3, 4)])),
                send(N2, append.clone()),
                send(N3, append),
            ]
        )
    );

    let effects = node
        .step(N2, append_reply(4, 2, success(3)))
        .expect("well-formed reply");

    assert_eq!(effects, vec![Effect::ApplyEntries(entries(&[1, 2, 4]))]);
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(4),
            voted_for: Some(N1),
            role: leader_role(&[(N2, progress(4, 3)), (N3, sent_progress(3, 0, 3))]),
            leader_id: Some(N1),
            commit_index: LogIndex(3),
            last_applied: LogIndex(3),
            log: log(&[1, 2, 4]),
            snapshot: None,
        }
    );
}

// ----- a cluster of one -----

/// §5.2 a single server is a majority of itself: its election timeout makes
/// it leader at once, with nobody to send to.
#[test]
fn s5_2_single_server_election_timeout_makes_it_leader_at_once() {
    let (mut node, restart_effects) = Node::new(Config::new(N1, vec![N1])).expect("valid config");
    assert_eq!(restart_effects, vec![Effect::ResetElectionTimer]);

    let effects = node.handle_election_timeout();

    assert_eq!(
        effects,
        vec![
            persist_hard_state(1, Some(N1)),
            Effect::ResetElectionTimer,
            Effect::SetHeartbeatTimer,
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(1),
            voted_for: Some(N1),
            role: leader_role(&[]),
            leader_id: Some(N1),
            commit_index: LogIndex(0),
            last_applied: LogIndex(0),
            log: log(&[]),
            snapshot: None,
        }
    );
}

/// §5.3 a single server's own copy is a majority: a proposal commits and is
/// applied in the same call, after it is persisted.
#[test]
fn s5_3_single_server_propose_commits_and_applies_in_same_call() {
    let (mut node, _) = Node::new(Config::new(N1, vec![N1])).expect("valid config");
    node.handle_election_timeout();

    let (proposed, effects) = node.propose(command(1, 1)).expect("leader accepts");

    assert_eq!(
        proposed,
        Proposed {
            index: LogIndex(1),
            term: Term(1),
        }
    );
    assert_eq!(
        effects,
        vec![
            Effect::Persist(Persist::Append(vec![entry(1, 1)])),
            Effect::ApplyEntries(vec![entry(1, 1)]),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(1),
            voted_for: Some(N1),
            role: leader_role(&[]),
            leader_id: Some(N1),
            commit_index: LogIndex(1),
            last_applied: LogIndex(1),
            log: log(&[1]),
            snapshot: None,
        }
    );
}

// ----- §7: log compaction -----

/// §7 "Each server takes snapshots independently, covering just the
/// committed entries in its log"; the log before the snapshot is discarded.
#[test]
fn s7_compact_discards_prefix_and_persists_snapshot() {
    let stored = stored(1, None, &[1, 1, 1]);
    let mut node = follower_with_commit(&stored, 2);
    let data = snapshot(2, 1).data;

    let effects = node.compact(LogIndex(2), data).expect("entry 2 is applied");

    assert_eq!(
        effects,
        vec![Effect::Persist(Persist::Snapshot(snapshot(2, 1)))]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(1),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(2),
            last_applied: LogIndex(2),
            log: log_after(&snapshot(2, 1), &[1]),
            snapshot: Some(snapshot(2, 1)),
        }
    );
    let (restarted, _) =
        Node::restart(config_of(N1), &persisted(&stored, &effects)).expect("consistent storage");
    assert_eq!(restarted.log(), node.log(), "what was persisted is the log");
}

/// §7 a snapshot covers applied state only: one past lastApplied is refused
/// and changes nothing.
#[test]
fn s7_compact_past_last_applied_is_refused() {
    let mut node = follower_with_commit(&stored(1, None, &[1, 1, 1]), 2);
    let before = node.clone();

    let result = node.compact(LogIndex(3), snapshot(3, 1).data);

    assert_eq!(
        result,
        Err(Error::SnapshotBeyondApplied {
            index: LogIndex(3),
            last_applied: LogIndex(2),
        })
    );
    assert_eq!(node, before);
}

/// §7 a snapshot no newer than the current one replaces nothing.
#[test]
fn s7_compact_at_or_below_current_snapshot_is_a_noop() {
    struct Row {
        case: &'static str,
        index: u64,
    }
    let rows = [
        Row {
            case: "at the current snapshot",
            index: 2,
        },
        Row {
            case: "below the current snapshot",
            index: 1,
        },
    ];
    for row in rows {
        let mut node = follower_with_commit(&stored(1, None, &[1, 1, 1]), 3);
        node.compact(LogIndex(2), snapshot(2, 1).data)
            .expect("entry 2 is applied");
        let before = node.clone();

        let effects = node
            .compact(LogIndex(row.index), snapshot(row.index, 1).data)
            .expect("an old snapshot is not an error");

        assert_eq!(effects, vec![], "{}: effects", row.case);
        assert_eq!(node, before, "{}: state unchanged", row.case);
        assert_eq!(
            node.snapshot(),
            Some(&snapshot(2, 1)),
            "{}: snapshot",
            row.case
        );
    }
}

/// §7 "the leader must occasionally send snapshots to followers that lag
/// behind": when the entries at a follower's nextIndex were compacted away.
#[test]
fn s7_leader_sends_install_snapshot_when_next_index_is_behind_its_snapshot() {
    // Leader of term 2 with log [1, 1, 1, 2]; everything is committed with
    // server 2, server 3 has acknowledged nothing (next_index 4).
    let mut node = leader(&stored(1, None, &[1, 1, 1]));
    node.propose(command(4, 2))
        .expect("leader accepts proposals");
    node.step(N2, append_reply(2, 3, success(4)))
        .expect("well-formed reply");
    assert_eq!(node.commit_index(), LogIndex(4), "setup");
    let compacted = node
        .compact(LogIndex(4), snapshot(4, 2).data)
        .expect("entry 4 is applied");
    assert_eq!(
        compacted,
        vec![Effect::Persist(Persist::Snapshot(snapshot(4, 2)))]
    );
    let before = node.clone();

    let effects = node.handle_heartbeat_timeout();

    assert_eq!(
        effects,
        vec![
            send(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(4),
                    prev_log_term: Term(2),
                    entries: vec![],
                    leader_commit: LogIndex(4),
                })
            ),
            send(
                N3,
                Message::InstallSnapshot(InstallSnapshot {
                    term: Term(2),
                    snapshot: snapshot(4, 2),
                })
            ),
            Effect::SetHeartbeatTimer,
        ]
    );
    // n2 is up to date: its heartbeat changes nothing. n3 had entries
    // unacknowledged: the heartbeat probes it again from next_index, and
    // the snapshot it needs occupies no slot of its window.
    assert_eq!(before.progress(N3), Some(sent_progress(4, 0, 4)));
    assert_eq!(node.progress(N2), before.progress(N2));
    assert_eq!(node.progress(N3), Some(progress(4, 0)));
    assert_eq!(node.log(), &log_after(&snapshot(4, 2), &[]));
}

/// §7 A snapshot is large: a follower that needs one gets it at heartbeats
/// and after its answers, not once more with every client proposal. Other
/// followers still get the new entry at once.
#[test]
fn s7_proposal_does_not_resend_the_snapshot_to_a_lagging_follower() {
    let mut node = leader(&stored(1, None, &[1, 1, 1]));
    node.propose(command(4, 2))
        .expect("leader accepts proposals");
    node.step(N2, append_reply(2, 3, success(4)))
        .expect("well-formed reply");
    node.compact(LogIndex(4), snapshot(4, 2).data)
        .expect("entry 4 is applied");
    assert_eq!(
        node.progress(N3),
        Some(sent_progress(4, 0, 4)),
        "setup: n3 needs the snapshot"
    );

    let (proposed, effects) = node.propose(command(5, 2)).expect("leader accepts");

    assert_eq!(
        proposed,
        Proposed {
            index: LogIndex(5),
            term: Term(2)
        }
    );
    assert_eq!(
        effects,
        vec![
            Effect::Persist(Persist::Append(vec![entry(5, 2)])),
            send(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(4),
                    prev_log_term: Term(2),
                    entries: vec![entry(5, 2)],
                    leader_commit: LogIndex(4),
                })
            ),
        ]
    );
    assert_eq!(node.progress(N3), Some(sent_progress(4, 0, 4)));
    assert_eq!(node.log(), &log_after(&snapshot(4, 2), &[2]));
}

/// Figure 13 on the leader: once a follower has the snapshot its log
/// matches through the snapshot's end; matchIndex and nextIndex advance and
/// the entries that follow are sent.
#[test]
fn s7_leader_on_install_snapshot_reply_advances_progress_and_sends_what_follows() {
    let mut node = leader(&stored(1, None, &[1, 1, 1]));
    node.propose(command(4, 2))
        .expect("leader accepts proposals");
    node.step(N2, append_reply(2, 3, success(4)))
        .expect("well-formed reply");
    node.compact(LogIndex(4), snapshot(4, 2).data)
        .expect("entry 4 is applied");
    let (_, proposed) = node
        .propose(command(5, 2))
        .expect("leader accepts proposals");
    assert_eq!(
        proposed,
        vec![
            Effect::Persist(Persist::Append(vec![entry(5, 2)])),
            send(
                N2,
                Message::AppendEntries(AppendEntries {
                    term: Term(2),
                    prev_log_index: LogIndex(4),
                    prev_log_term: Term(2),
                    entries: vec![entry(5, 2)],
                    leader_commit: LogIndex(4),
                })
            ),
        ],
        "setup: n3 gets no snapshot with the proposal"
    );

    let effects = node
        .step(N3, snapshot_reply(2, 4))
        .expect("well-formed reply");

    assert_eq!(
        effects,
        vec![send(
            N3,
            Message::AppendEntries(AppendEntries {
                term: Term(2),
                prev_log_index: LogIndex(4),
                prev_log_term: Term(2),
                entries: vec![entry(5, 2)],
                leader_commit: LogIndex(4),
            })
        )]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: Some(N1),
            role: leader_role(&[(N2, sent_progress(5, 4, 5)), (N3, sent_progress(5, 4, 5))]),
            leader_id: Some(N1),
            commit_index: LogIndex(4),
            last_applied: LogIndex(4),
            log: log_after(&snapshot(4, 2), &[2]),
            snapshot: Some(snapshot(4, 2)),
        }
    );
}

/// Figure 13, InstallSnapshot receiver, steps 5, 7 and 8: save the snapshot,
/// discard the conflicting log, reset the state machine — all persisted
/// before the reply.
#[test]
fn s7_follower_installs_snapshot_discarding_a_conflicting_log() {
    // Entries 3 and 4 come from a deposed leader of term 2.
    let stored = stored(3, None, &[1, 1, 2, 2]);
    let mut node = follower(&stored);

    let effects = node
        .step(
            N2,
            Message::InstallSnapshot(InstallSnapshot {
                term: Term(3),
                snapshot: snapshot(3, 3),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::TruncateAfter { after: LogIndex(3) }),
            Effect::Persist(Persist::Snapshot(snapshot(3, 3))),
            Effect::ApplySnapshot(snapshot(3, 3)),
            send(N2, snapshot_reply(3, 3)),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(3),
            last_applied: LogIndex(3),
            log: log_after(&snapshot(3, 3), &[]),
            snapshot: Some(snapshot(3, 3)),
        }
    );
    let (restarted, _) =
        Node::restart(config_of(N1), &persisted(&stored, &effects)).expect("consistent storage");
    assert_eq!(restarted.log(), node.log(), "what was persisted is the log");
}

/// Figure 13, step 7 when the follower's log ends before the snapshot:
/// nothing to truncate, the snapshot replaces it all.
#[test]
fn s7_follower_behind_the_snapshot_installs_it_without_truncating() {
    let mut node = follower(&stored(1, None, &[1]));

    let effects = node
        .step(
            N2,
            Message::InstallSnapshot(InstallSnapshot {
                term: Term(2),
                snapshot: snapshot(4, 2),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            persist_hard_state(2, None),
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::Snapshot(snapshot(4, 2))),
            Effect::ApplySnapshot(snapshot(4, 2)),
            send(N2, snapshot_reply(2, 4)),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(4),
            last_applied: LogIndex(4),
            log: log_after(&snapshot(4, 2), &[]),
            snapshot: Some(snapshot(4, 2)),
        }
    );
}

/// Figure 13, step 6: "If existing log entry has same index and term as
/// snapshot's last included entry, retain log entries following it".
#[test]
fn s7_follower_retains_log_suffix_matching_snapshot_figure13_step6() {
    let mut node = follower(&stored(1, None, &[1, 1, 1, 1, 1]));

    let effects = node
        .step(
            N2,
            Message::InstallSnapshot(InstallSnapshot {
                term: Term(1),
                snapshot: snapshot(3, 1),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::Snapshot(snapshot(3, 1))),
            Effect::ApplySnapshot(snapshot(3, 1)),
            send(N2, snapshot_reply(1, 3)),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(1),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(3),
            last_applied: LogIndex(3),
            log: log_after(&snapshot(3, 1), &[1, 1]),
            snapshot: Some(snapshot(3, 1)),
        }
    );
}

/// §7 a snapshot that covers no more than is already committed is not
/// installed — the state machine never goes backwards — but is answered,
/// so that the leader learns the follower's log matches through it.
#[test]
fn s7_snapshot_within_commit_index_is_answered_but_not_installed() {
    struct Row {
        case: &'static str,
        snapshot_index: u64,
    }
    let rows = [
        Row {
            case: "snapshot below commit_index",
            snapshot_index: 2,
        },
        Row {
            case: "snapshot at commit_index",
            snapshot_index: 3,
        },
    ];
    for row in rows {
        let mut node = follower_with_commit(&stored(1, None, &[1, 1, 1]), 3);
        let before = node.clone();

        let effects = node
            .step(
                N2,
                Message::InstallSnapshot(InstallSnapshot {
                    term: Term(1),
                    snapshot: snapshot(row.snapshot_index, 1),
                }),
            )
            .expect("well-formed request");

        assert_eq!(
            effects,
            vec![
                Effect::ResetElectionTimer,
                send(N2, snapshot_reply(1, row.snapshot_index)),
            ],
            "{}: effects",
            row.case
        );
        assert_eq!(node, before, "{}: state unchanged", row.case);
        assert_eq!(node.last_applied(), LogIndex(3), "{}: applied", row.case);
        assert_eq!(node.snapshot(), None, "{}: snapshot", row.case);
    }
}

/// §7 after a restart the state machine is rebuilt from the snapshot, so
/// what it covers is committed and applied.
#[test]
fn s7_restart_from_snapshot_restores_commit_and_applied_index() {
    let stored = stored_with_snapshot(3, Some(N2), snapshot(4, 2), &[3, 3]);

    let (node, effects) = Node::restart(config_of(N1), &stored).expect("consistent storage");

    assert_eq!(
        effects,
        vec![
            Effect::ApplySnapshot(snapshot(4, 2)),
            Effect::ResetElectionTimer,
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(3),
            voted_for: Some(N2),
            role: Role::Follower,
            leader_id: None,
            commit_index: LogIndex(4),
            last_applied: LogIndex(4),
            log: log_after(&snapshot(4, 2), &[3, 3]),
            snapshot: Some(snapshot(4, 2)),
        }
    );
}

/// §7 entries covered by the follower's snapshot are committed, hence match
/// the leader's: an AppendEntries whose prev_log_index lies inside the
/// snapshot is checked and applied from the snapshot on.
#[test]
fn s7_append_entries_with_prev_log_index_inside_snapshot_is_accepted() {
    // Snapshot through 4 (term 2), then entry 5 of term 2.
    let mut node = follower(&stored_with_snapshot(2, None, snapshot(4, 2), &[2]));

    let effects = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(2),
                prev_log_index: LogIndex(2),
                prev_log_term: Term(2),
                entries: entries_from(3, &[2, 2, 2, 2]),
                leader_commit: LogIndex(6),
            }),
        )
        .expect("well-formed request");

    assert_eq!(
        effects,
        vec![
            Effect::ResetElectionTimer,
            Effect::Persist(Persist::Append(vec![entry(6, 2)])),
            Effect::ApplyEntries(entries_from(5, &[2, 2])),
            send(N2, append_reply(2, 2, success(6))),
        ]
    );
    assert_eq!(
        observe(&node),
        Observed {
            current_term: Term(2),
            voted_for: None,
            role: Role::Follower,
            leader_id: Some(N2),
            commit_index: LogIndex(6),
            last_applied: LogIndex(6),
            log: log_after(&snapshot(4, 2), &[2, 2]),
            snapshot: Some(snapshot(4, 2)),
        }
    );
}

// ----- robustness: input a correct peer, application or disk never gives -----

/// Only members of the cluster (other than this server) send messages.
#[test]
fn robustness_messages_from_unknown_peers_are_refused() {
    struct Row {
        case: &'static str,
        from: NodeId,
    }
    let rows = [
        Row {
            case: "a server outside the cluster",
            from: NodeId(4),
        },
        Row {
            case: "this server itself",
            from: N1,
        },
    ];
    for row in rows {
        let mut node = follower(&stored(1, None, &[1]));
        let before = node.clone();

        let result = node.step(
            row.from,
            Message::RequestVote(RequestVote {
                term: Term(2),
                last_log_index: LogIndex(1),
                last_log_term: Term(1),
            }),
        );

        assert_eq!(
            result,
            Err(Error::UnknownPeer {
                from: row.from,
                me: N1,
            }),
            "{}: result",
            row.case
        );
        assert_eq!(node, before, "{}: state unchanged", row.case);
    }
}

/// A message that contradicts itself is refused before it changes anything
/// (not even the term rule of §5.1 applies to it).
#[test]
fn robustness_malformed_messages_are_refused_and_change_nothing() {
    struct Row {
        case: &'static str,
        message: Message,
    }
    let append = |prev_log_index: u64, prev_log_term: u64, entries: Vec<Entry>| {
        Message::AppendEntries(AppendEntries {
            term: Term(3),
            prev_log_index: LogIndex(prev_log_index),
            prev_log_term: Term(prev_log_term),
            entries,
            leader_commit: LogIndex(0),
        })
    };
    let rows = vec![
        Row {
            case: "entries not contiguous",
            message: append(0, 0, vec![entry(1, 1), entry(3, 1)]),
        },
        Row {
            case: "first entry not right after prev_log_index",
            message: append(1, 1, vec![entry(3, 3)]),
        },
        Row {
            case: "entry term above the message's term",
            message: append(1, 1, vec![entry(2, 4)]),
        },
        Row {
            case: "entry terms decrease",
            message: append(1, 1, vec![entry(2, 3), entry(3, 2)]),
        },
        Row {
            case: "prev_log_term above the message's term",
            message: append(1, 4, vec![]),
        },
        Row {
            case: "index 0 with a term",
            message: append(0, 1, vec![]),
        },
        Row {
            case: "conflict hint of index 0",
            message: append_reply(2, 1, conflict(Some(1), 0)),
        },
        Row {
            case: "conflict hint beyond prev_log_index",
            message: append_reply(2, 1, conflict(None, 2)),
        },
        Row {
            case: "snapshot at index 0",
            message: Message::InstallSnapshot(InstallSnapshot {
                term: Term(3),
                snapshot: snapshot(0, 0),
            }),
        },
        Row {
            case: "snapshot term above the message's term",
            message: Message::InstallSnapshot(InstallSnapshot {
                term: Term(3),
                snapshot: snapshot(1, 4),
            }),
        },
        Row {
            case: "candidate's last log term above its term",
            message: Message::RequestVote(RequestVote {
                term: Term(3),
                last_log_index: LogIndex(1),
                last_log_term: Term(4),
            }),
        },
        Row {
            case: "candidate's empty log with a last term",
            message: Message::RequestVote(RequestVote {
                term: Term(3),
                last_log_index: LogIndex(0),
                last_log_term: Term(1),
            }),
        },
    ];
    for row in rows {
        // Leader of term 2 with log [1]: every row, if accepted, would
        // change its term, its role or its view of server 2.
        let mut node = leader(&stored(1, None, &[1]));
        let before = node.clone();

        let result = node.step(N2, row.message);

        assert!(
            matches!(result, Err(Error::Malformed { from: N2, .. })),
            "{}: expected Malformed from n2, got {result:?}",
            row.case
        );
        assert_eq!(node, before, "{}: state unchanged", row.case);
    }
}

/// §5.2 Election Safety, "at most one leader can be elected in a given
/// term": a leader's request in the leader's own term is impossible.
#[test]
fn robustness_second_leader_in_same_term_is_a_protocol_violation() {
    struct Row {
        case: &'static str,
        message: Message,
    }
    let rows = [
        Row {
            case: "AppendEntries",
            message: Message::AppendEntries(AppendEntries {
                term: Term(2),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: vec![],
                leader_commit: LogIndex(0),
            }),
        },
        Row {
            case: "InstallSnapshot",
            message: Message::InstallSnapshot(InstallSnapshot {
                term: Term(2),
                snapshot: snapshot(1, 1),
            }),
        },
    ];
    for row in rows {
        let mut node = leader(&stored(1, None, &[1]));
        let before = node.clone();

        let result = node.step(N2, row.message);

        assert!(
            matches!(
                result,
                Err(Error::ProtocolViolation {
                    from: N2,
                    term: Term(2),
                    ..
                })
            ),
            "{}: expected ProtocolViolation, got {result:?}",
            row.case
        );
        assert_eq!(node, before, "{}: state unchanged", row.case);
    }
}

/// §5.4 Leader Completeness: a committed entry is in every later leader's
/// log, so a request that would overwrite one is impossible; it is refused
/// whole, even its newer term.
#[test]
fn robustness_append_entries_overwriting_committed_entry_is_a_protocol_violation() {
    let mut node = follower_with_commit(&stored(1, None, &[1, 1]), 2);
    let before = node.clone();

    let result = node.step(
        N3,
        Message::AppendEntries(AppendEntries {
            term: Term(2),
            prev_log_index: LogIndex(0),
            prev_log_term: Term(0),
            entries: entries(&[2]),
            leader_commit: LogIndex(0),
        }),
    );

    assert!(
        matches!(
            result,
            Err(Error::ProtocolViolation {
                from: N3,
                term: Term(1),
                ..
            })
        ),
        "expected ProtocolViolation, got {result:?}"
    );
    assert_eq!(node, before);
    assert_eq!(node.current_term(), Term(1));
}

/// Figure 2: a follower acknowledges only entries the leader sent, so an
/// acknowledgement past the leader's log is impossible.
#[test]
fn robustness_acknowledgement_past_leaders_log_is_a_protocol_violation() {
    struct Row {
        case: &'static str,
        reply: Message,
    }
    let rows = [
        Row {
            case: "AppendEntriesReply",
            reply: append_reply(2, 1, success(5)),
        },
        Row {
            case: "InstallSnapshotReply",
            reply: snapshot_reply(2, 5),
        },
    ];
    for row in rows {
        let mut node = leader(&stored(1, None, &[1]));
        let before = node.clone();

        let result = node.step(N2, row.reply);

        assert!(
            matches!(
                result,
                Err(Error::ProtocolViolation {
                    from: N2,
                    term: Term(2),
                    ..
                })
            ),
            "{}: expected ProtocolViolation, got {result:?}",
            row.case
        );
        assert_eq!(node, before, "{}: state unchanged", row.case);
    }
}

/// Stored state that no sequence of persist effects produces is refused at
/// restart rather than trusted.
#[test]
fn robustness_restart_from_corrupt_storage_is_refused() {
    struct Row {
        case: &'static str,
        stored: Stored,
    }
    let rows = vec![
        Row {
            case: "gap in the log",
            stored: Stored {
                hard_state: hard_state(1, None),
                snapshot: None,
                entries: vec![entry(1, 1), entry(3, 1)],
            },
        },
        Row {
            case: "log terms decrease",
            stored: Stored {
                hard_state: hard_state(2, None),
                snapshot: None,
                entries: vec![entry(1, 2), entry(2, 1)],
            },
        },
        Row {
            case: "log term ahead of current_term",
            stored: stored(1, None, &[1, 2]),
        },
        Row {
            case: "snapshot term ahead of current_term",
            stored: stored_with_snapshot(1, None, snapshot(3, 2), &[]),
        },
        Row {
            case: "entries overlap the snapshot",
            stored: Stored {
                hard_state: hard_state(1, None),
                snapshot: Some(snapshot(3, 1)),
                entries: vec![entry(3, 1), entry(4, 1)],
            },
        },
        Row {
            case: "vote for a server outside the cluster",
            stored: stored(1, Some(NodeId(7)), &[1]),
        },
    ];
    for row in rows {
        let result = Node::restart(config_of(N1), &row.stored);

        assert!(
            matches!(result, Err(Error::CorruptStorage(_))),
            "{}: expected CorruptStorage, got {result:?}",
            row.case
        );
    }
}

/// A configuration must describe a cluster this server belongs to.
#[test]
fn robustness_invalid_config_is_refused() {
    struct Row {
        case: &'static str,
        config: Config,
    }
    let rows = vec![
        Row {
            case: "id not among the members",
            config: Config::new(NodeId(4), vec![N1, N2, N3]),
        },
        Row {
            case: "duplicate member",
            config: Config::new(N1, vec![N1, N2, N2]),
        },
        Row {
            case: "no members",
            config: Config::new(N1, vec![]),
        },
        Row {
            case: "batches of zero entries",
            config: Config {
                max_entries_per_message: 0,
                ..config_of(N1)
            },
        },
    ];
    for row in rows {
        let result = Node::restart(row.config, &stored(1, None, &[1]));

        assert!(
            matches!(result, Err(Error::InvalidConfig(_))),
            "{}: expected InvalidConfig, got {result:?}",
            row.case
        );
    }
}
