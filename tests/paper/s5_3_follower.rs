//! §5.3, log replication on the follower's side.

use crate::common::*;
use checked_raft::*;

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
            durable(3, 2),
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
            durable(3, 3),
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
            durable(3, 1),
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
