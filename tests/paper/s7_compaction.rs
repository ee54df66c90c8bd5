//! §7 (log compaction) and Figure 13 (InstallSnapshot).

use crate::common::*;
use checked_raft::*;

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
    propose_durably(&mut node, command(4, 2));
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
    propose_durably(&mut node, command(4, 2));
    node.step(N2, append_reply(2, 3, success(4)))
        .expect("well-formed reply");
    node.compact(LogIndex(4), snapshot(4, 2).data)
        .expect("entry 4 is applied");
    assert_eq!(
        node.progress(N3),
        Some(sent_progress(4, 0, 4)),
        "setup: n3 needs the snapshot"
    );

    let (proposed, effects) = node.propose([command(5, 2)]).expect("leader accepts");

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
            Effect::Persist(Persist::Append(vec![entry(5, 2)])),
            durable(5, 2),
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
    propose_durably(&mut node, command(4, 2));
    node.step(N2, append_reply(2, 3, success(4)))
        .expect("well-formed reply");
    node.compact(LogIndex(4), snapshot(4, 2).data)
        .expect("entry 4 is applied");
    let (_, proposed) = node
        .propose([command(5, 2)])
        .expect("leader accepts proposals");
    assert_eq!(
        proposed,
        vec![
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
            Effect::Persist(Persist::Append(vec![entry(5, 2)])),
            durable(5, 2),
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
            durable(3, 3),
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
            durable(4, 2),
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
            durable(3, 1),
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

/// Figure 13 step 1, "Reply immediately if term < currentTerm": the reply
/// carries the current term and acknowledges nothing, so the leader of
/// that term cannot take a snapshot it never sent as installed. (Found by
/// the simulator: a delayed InstallSnapshot of term 12 reached a follower
/// in term 15, whose reply made term 15's leader believe it matched
/// through the snapshot; the follower's rejections at or below that match
/// were then ignored until the next election.)
#[test]
fn s7_a_stale_install_snapshot_is_answered_without_acknowledging_it() {
    let mut node = follower_with_commit(&stored(3, None, &[1, 1, 1]), 1);
    let before = node.clone();
    let effects = node
        .step(
            N2,
            Message::InstallSnapshot(InstallSnapshot {
                term: Term(2),
                snapshot: snapshot(3, 1),
            }),
        )
        .expect("well-formed request");
    assert_eq!(effects, vec![send(N2, snapshot_reply(3, 0))]);
    assert_eq!(node, before, "nothing installed");

    // Term 3's leader gets that reply: nothing is acknowledged.
    let mut leader = leader(&stored(2, Some(N1), &[1, 1, 1]));
    assert_eq!(leader.current_term(), Term(3), "setup: term");
    let progress = leader.progress(N2);
    let effects = leader
        .step(N2, snapshot_reply(3, 0))
        .expect("well-formed reply");
    assert_eq!(effects, Vec::new());
    assert_eq!(leader.progress(N2), progress);
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
            durable(6, 2),
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
