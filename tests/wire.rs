//! Messages and log entries cross process boundaries: every kind must
//! survive serialization unchanged, and bytes that are not a message must be
//! refused with an error rather than a panic.

use bytes::Bytes;
use checked_raft::*;

fn every_kind_of_message() -> Vec<Message> {
    let entry = Entry {
        index: LogIndex(3),
        term: Term(2),
        command: Bytes::from_static(b"set x 1"),
    };
    vec![
        Message::RequestVote(RequestVote {
            term: Term(4),
            last_log_index: LogIndex(3),
            last_log_term: Term(2),
        }),
        Message::RequestVoteReply(RequestVoteReply {
            term: Term(4),
            vote_granted: true,
        }),
        Message::AppendEntries(AppendEntries {
            term: Term(4),
            prev_log_index: LogIndex(2),
            prev_log_term: Term(2),
            entries: vec![entry],
            leader_commit: LogIndex(2),
        }),
        Message::AppendEntriesReply(AppendEntriesReply {
            term: Term(4),
            prev_log_index: LogIndex(2),
            result: AppendResult::Success {
                match_index: LogIndex(3),
            },
        }),
        Message::AppendEntriesReply(AppendEntriesReply {
            term: Term(4),
            prev_log_index: LogIndex(9),
            result: AppendResult::Conflict {
                conflict_term: Some(Term(3)),
                conflict_index: LogIndex(7),
            },
        }),
        Message::AppendEntriesReply(AppendEntriesReply {
            term: Term(5),
            prev_log_index: LogIndex(9),
            result: AppendResult::StaleTerm,
        }),
        Message::InstallSnapshot(InstallSnapshot {
            term: Term(4),
            snapshot: Snapshot {
                meta: SnapshotMeta {
                    last_included_index: LogIndex(8),
                    last_included_term: Term(3),
                },
                data: Bytes::from_static(&[0, 1, 2, 255]),
            },
        }),
        Message::InstallSnapshotReply(InstallSnapshotReply {
            term: Term(4),
            last_included_index: LogIndex(8),
        }),
    ]
}

#[test]
fn every_message_kind_round_trips() {
    for message in every_kind_of_message() {
        let json = serde_json::to_string(&message).expect("serializable");
        let back: Message = serde_json::from_str(&json).expect("deserializable");
        assert_eq!(back, message, "{json}");
    }
}

#[test]
fn stored_state_round_trips() {
    let stored = Stored {
        hard_state: HardState {
            current_term: Term(4),
            voted_for: Some(NodeId(2)),
        },
        snapshot: None,
        entries: vec![Entry {
            index: LogIndex(1),
            term: Term(1),
            command: Bytes::from_static(b"x"),
        }],
    };
    let json = serde_json::to_string(&stored).expect("serializable");
    assert_eq!(
        serde_json::from_str::<Stored>(&json).expect("deserializable"),
        stored
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for garbage in ["", "{}", "[1,2]", r#"{"RequestVote":{"term":-1}}"#, "\u{0}"] {
        assert!(
            serde_json::from_str::<Message>(garbage).is_err(),
            "{garbage:?}"
        );
    }
}
