//! §5.2 (leader election) and §5.4.1 (the election restriction).

use crate::common::*;
use checked_raft::*;

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
            durable(3, 3),
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
    propose_durably(&mut node, command(1, 2));
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
