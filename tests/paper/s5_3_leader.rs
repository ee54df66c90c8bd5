//! §5.3, log replication on the leader's side; §5.4.2 (committing entries of earlier terms); a cluster of one.

use crate::common::*;
use checked_raft::*;

// ----- §5.3: log replication, leader side -----

/// Figure 2, Leaders: "If command received from client: append entry to
/// local log"; the entry is sent to every follower and persisted in
/// parallel (thesis §10.2.1): the sends come first, then the write and its
/// durability marker.
#[test]
fn s5_3_propose_on_leader_replicates_and_persists_in_parallel() {
    let mut node = leader(&stored(1, None, &[1]));

    let (proposed, effects) = node
        .propose([command(2, 2)])
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
            send(N2, append.clone()),
            send(N3, append),
            Effect::Persist(Persist::Append(vec![entry(2, 2)])),
            durable(2, 2),
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

        let result = node.propose([command(2, 2)]);

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
    propose_durably(&mut node, command(1, 2));
    propose_durably(&mut node, command(2, 2));

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
            durable(5, 4),
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
            propose_durably(&mut node, command(index, 2));
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
    propose_durably(&mut node, command(1, 2));
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

    let (proposed, proposed_effects) = node.propose([command(3, 4)]).expect("leader accepts");
    let append = Message::AppendEntries(AppendEntries {
        term: Term(4),
        prev_log_index: LogIndex(2),
        prev_log_term: Term(2),
        entries: vec![entry(3, 4)],
        leader_commit: LogIndex(0),
    });
    assert_eq!(
        (proposed, proposed_effects.clone()),
        (
            Proposed {
                index: LogIndex(3),
                term: Term(4),
            },
            vec![
                send(N2, append.clone()),
                send(N3, append),
                Effect::Persist(Persist::Append(vec![entry(3, 4)])),
                durable(3, 4),
            ]
        )
    );
    let reported = report_durable(&mut node, &proposed_effects);
    assert_eq!(reported, vec![], "the leader's copy alone commits nothing");

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
/// applied as soon as its write is reported durable (thesis §10.2.1).
#[test]
fn s5_3_single_server_proposal_commits_once_its_write_is_durable() {
    let (mut node, _) = Node::new(Config::new(N1, vec![N1])).expect("valid config");
    node.handle_election_timeout();

    let (proposed, effects) = node.propose([command(1, 1)]).expect("leader accepts");

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
            durable(1, 1),
        ]
    );
    assert_eq!(node.commit_index(), LogIndex(0), "not before it is durable");
    assert_eq!(
        report_durable(&mut node, &effects),
        vec![Effect::ApplyEntries(vec![entry(1, 1)])]
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
