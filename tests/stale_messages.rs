//! `Node::is_stale`: which messages a driver may discard. Every message
//! called stale must change nothing and send nothing when delivered (the
//! model checker discards them on that promise; `model/tests/
//! stale_messages.rs` checks that they stay stale on every step of a
//! search, and the simulator checks every stale delivery). Every message
//! called live here does something when delivered, so the rule is not
//! vacuously conservative either.

// Helpers shared with the paper tests; this file uses some of them.
#[allow(dead_code)]
mod common;

use checked_raft::*;
use common::*;

struct Row {
    case: &'static str,
    node: fn() -> Node,
    from: NodeId,
    message: Message,
    stale: bool,
}

/// Leader of term 2 with log [2, 2, 2]; server 2 has acknowledged entries 1
/// and 2 and was sent entry 3; server 3 has acknowledged nothing.
fn leader_of_term_2() -> Node {
    let mut node = leader(&stored(1, None, &[]));
    for index in 1..=3 {
        node.propose([command(index, 2)])
            .expect("leader accepts proposals");
    }
    node.step(N2, append_reply(2, 0, success(2)))
        .expect("well-formed reply");
    assert_eq!(node.progress(N2), Some(sent_progress(3, 2, 3)), "setup");
    node
}

/// Leader of term 5 with log [1, 1, 1, 4, 4], its first heartbeats (after
/// entry 5) in flight.
fn leader_of_term_5() -> Node {
    leader(&stored(4, None, &[1, 1, 1, 4, 4]))
}

/// Candidate of term 2 that has only its own vote.
fn candidate_of_term_2() -> Node {
    candidate(&stored(1, None, &[1]))
}

/// Follower of term 3 (restarted, so it cannot lead term 3).
fn follower_of_term_3() -> Node {
    follower(&stored(3, Some(N1), &[1, 3]))
}

fn request_vote(term: u64) -> Message {
    Message::RequestVote(RequestVote {
        term: Term(term),
        last_log_index: LogIndex(0),
        last_log_term: Term(0),
    })
}

fn heartbeat(term: u64) -> Message {
    Message::AppendEntries(AppendEntries {
        term: Term(term),
        prev_log_index: LogIndex(0),
        prev_log_term: Term(0),
        entries: vec![],
        leader_commit: LogIndex(0),
    })
}

fn rows() -> Vec<Row> {
    let row = |case, node, from, message, stale| Row {
        case,
        node,
        from,
        message,
        stale,
    };
    vec![
        // §5.1: a reply from an earlier term is ignored.
        row(
            "leader: vote from term 1",
            leader_of_term_2,
            N3,
            vote_reply(1, true),
            true,
        ),
        row(
            "leader: ack from term 1",
            leader_of_term_2,
            N3,
            append_reply(1, 0, success(3)),
            true,
        ),
        row(
            "leader: snapshot ack from term 1",
            leader_of_term_2,
            N3,
            snapshot_reply(1, 3),
            true,
        ),
        // §5.2: a leader no longer counts votes.
        row(
            "leader: late vote of its own term",
            leader_of_term_2,
            N3,
            vote_reply(2, true),
            true,
        ),
        // §5.3: matchIndex only grows; what it has passed brings nothing.
        row(
            "leader: same ack again",
            leader_of_term_2,
            N2,
            append_reply(2, 0, success(2)),
            true,
        ),
        row(
            "leader: older ack, reordered",
            leader_of_term_2,
            N2,
            append_reply(2, 0, success(1)),
            true,
        ),
        row(
            "leader: rejection of a request below matchIndex",
            leader_of_term_2,
            N2,
            append_reply(2, 1, conflict(Some(2), 1)),
            true,
        ),
        row(
            "leader: snapshot ack below matchIndex",
            leader_of_term_2,
            N2,
            snapshot_reply(2, 2),
            true,
        ),
        // Live: new acknowledgements, rejections that move nextIndex, newer terms.
        row(
            "leader: new ack commits",
            leader_of_term_2,
            N2,
            append_reply(2, 2, success(3)),
            false,
        ),
        row(
            "leader: first ack of server 3",
            leader_of_term_2,
            N3,
            append_reply(2, 0, success(1)),
            false,
        ),
        row(
            "leader: rejection of the request in flight",
            leader_of_term_5,
            N3,
            append_reply(5, 5, conflict(Some(2), 4)),
            false,
        ),
        row(
            "leader: reply of a newer term",
            leader_of_term_2,
            N3,
            vote_reply(3, false),
            false,
        ),
        // Requests are never stale: an old one still earns an answer (§5.1).
        row(
            "leader: vote request of term 1",
            leader_of_term_2,
            N3,
            request_vote(1),
            false,
        ),
        row(
            "leader: heartbeat of term 1",
            leader_of_term_2,
            N3,
            heartbeat(1),
            false,
        ),
        // §5.2: a candidate counts each granted vote of its term once.
        row(
            "candidate: refused vote",
            candidate_of_term_2,
            N2,
            vote_reply(2, false),
            true,
        ),
        row(
            "candidate: vote from term 1",
            candidate_of_term_2,
            N2,
            vote_reply(1, true),
            true,
        ),
        row(
            "candidate: granted vote",
            candidate_of_term_2,
            N2,
            vote_reply(2, true),
            false,
        ),
        row(
            "candidate: ack of its term (it never led it)",
            candidate_of_term_2,
            N2,
            append_reply(2, 0, success(0)),
            true,
        ),
        // A follower of a term can never be its candidate or leader again.
        row(
            "follower: vote of its term",
            follower_of_term_3,
            N2,
            vote_reply(3, true),
            true,
        ),
        row(
            "follower: ack of its term",
            follower_of_term_3,
            N2,
            append_reply(3, 0, success(2)),
            true,
        ),
        row(
            "follower: snapshot ack of its term",
            follower_of_term_3,
            N2,
            snapshot_reply(3, 2),
            true,
        ),
        row(
            "follower: vote of a newer term",
            follower_of_term_3,
            N2,
            vote_reply(4, false),
            false,
        ),
        row(
            "follower: heartbeat of its term",
            follower_of_term_3,
            N2,
            heartbeat(3),
            false,
        ),
    ]
}

#[test]
fn stale_messages_change_nothing_and_live_ones_do_something() {
    for row in rows() {
        let mut node = (row.node)();
        assert_eq!(
            node.is_stale(row.from, &row.message),
            row.stale,
            "{}: is_stale",
            row.case
        );
        let before = node.clone();
        let effects = node
            .step(row.from, row.message)
            .expect("well-formed message");
        let inert = effects.is_empty() && node == before;
        assert_eq!(
            inert, row.stale,
            "{}: delivered, it gave {effects:?}",
            row.case
        );
    }
}

#[test]
fn a_restarted_leader_finds_the_replies_of_its_term_stale() {
    // The leader of term 2 crashes and restarts from what it persisted: a
    // follower of term 2 that can never lead term 2 again, so the reply
    // that was live for the leader is stale for ever after.
    let leader = leader_of_term_2();
    let reply = append_reply(2, 2, success(3));
    assert!(!leader.is_stale(N2, &reply));
    let restarted = restart_as(N1, &stored(2, Some(N1), &[2, 2, 2]));
    assert_eq!(restarted.current_term(), leader.current_term());
    assert!(restarted.is_stale(N2, &reply));
}
