//! Input a correct peer, application or disk never gives: refused, changing nothing.

use crate::common::*;
use checked_raft::*;

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
