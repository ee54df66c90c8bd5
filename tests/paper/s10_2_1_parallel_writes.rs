//! Thesis §10.2.1: "the leader can write to its disk in parallel with
//! replicating to the followers". Its AppendEntries may leave before its
//! own write is durable, so it counts itself toward a commit majority only
//! through what its driver reported durable ([`Node::handle_persisted`]);
//! a report that a truncation made stale counts for nothing (etcd's
//! `async_storage_writes_append_aba_race`).

use crate::common::*;
use checked_raft::*;

/// Only a leader's AppendEntries and InstallSnapshot may overtake the
/// writes before them; a vote or an acknowledgement promises what was
/// persisted, so it waits.
#[test]
fn s10_2_1_only_a_leaders_replication_may_overtake_its_writes() {
    let append = Message::AppendEntries(AppendEntries {
        term: Term(2),
        prev_log_index: LogIndex(0),
        prev_log_term: Term(0),
        entries: vec![],
        leader_commit: LogIndex(0),
    });
    let install = Message::InstallSnapshot(InstallSnapshot {
        term: Term(2),
        snapshot: snapshot(1, 1),
    });
    assert!(send(N2, append).may_overtake_persists());
    assert!(send(N2, install).may_overtake_persists());
    for waits in [
        send(N2, vote_reply(2, true)),
        send(N2, append_reply(2, 0, success(1))),
        send(N2, snapshot_reply(2, 1)),
        Effect::Persist(Persist::Append(vec![entry(1, 2)])),
        durable(1, 2),
        Effect::ApplyEntries(vec![entry(1, 2)]),
    ] {
        assert!(!waits.may_overtake_persists(), "{waits:?}");
    }
}

/// A follower's acknowledgement and the leader's copy make a majority of
/// three only once the leader's write is durable.
#[test]
fn s10_2_1_leader_counts_itself_only_once_its_write_is_durable() {
    let mut node = leader(&stored(1, None, &[]));
    let (_, proposed) = node
        .propose([command(1, 2)])
        .expect("leader accepts proposals");
    assert_eq!(node.durable_index(), LogIndex(0));

    let acknowledged = node
        .step(N2, append_reply(2, 0, success(1)))
        .expect("well-formed reply");
    assert_eq!(acknowledged, vec![], "one follower and an unwritten copy");
    assert_eq!(node.commit_index(), LogIndex(0));

    let reported = report_durable(&mut node, &proposed);
    assert_eq!(reported, vec![Effect::ApplyEntries(vec![entry(1, 2)])]);
    assert_eq!(node.durable_index(), LogIndex(1));
    assert_eq!(node.commit_index(), LogIndex(1));
}

/// Two followers are a majority of three without the leader: the leader's
/// slow disk does not hold up the commit.
#[test]
fn s10_2_1_two_followers_commit_without_the_leaders_write() {
    let mut node = leader(&stored(1, None, &[]));
    node.propose([command(1, 2)])
        .expect("leader accepts proposals");
    node.step(N2, append_reply(2, 0, success(1)))
        .expect("well-formed reply");
    let effects = node
        .step(N3, append_reply(2, 0, success(1)))
        .expect("well-formed reply");
    assert_eq!(effects, vec![Effect::ApplyEntries(vec![entry(1, 2)])]);
    assert_eq!(node.durable_index(), LogIndex(0));
}

/// A server restarts from its disk: all of it is durable.
#[test]
fn s10_2_1_a_restarted_server_counts_its_stored_log_durable() {
    let node = follower(&stored(2, None, &[1, 1, 2]));
    assert_eq!(node.durable_index(), LogIndex(3));
}

/// etcd's ABA race: a follower's write of term 1's entry 2 is still in
/// flight when a leader of term 2 replaces that entry. The late report of
/// the first write names an entry the log no longer holds: it counts for
/// nothing, and the report of the replacement counts.
#[test]
fn s10_2_1_a_report_for_an_entry_a_truncation_replaced_counts_for_nothing() {
    let mut node = follower(&stored(1, None, &[1]));
    let first = node
        .step(
            N2,
            Message::AppendEntries(AppendEntries {
                term: Term(1),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: entries_from(2, &[1]),
                leader_commit: LogIndex(0),
            }),
        )
        .expect("well-formed request");
    assert!(first.contains(&durable(2, 1)));
    let second = node
        .step(
            N3,
            Message::AppendEntries(AppendEntries {
                term: Term(2),
                prev_log_index: LogIndex(1),
                prev_log_term: Term(1),
                entries: entries_from(2, &[2]),
                leader_commit: LogIndex(0),
            }),
        )
        .expect("well-formed request");
    assert!(second.contains(&Effect::Persist(Persist::TruncateAfter {
        after: LogIndex(1)
    })));
    assert_eq!(node.durable_index(), LogIndex(1), "the truncation cut it");

    assert_eq!(node.handle_persisted(LogIndex(2), Term(1)), vec![]);
    assert_eq!(node.durable_index(), LogIndex(1), "entry 2 is term 2's now");

    node.handle_persisted(LogIndex(2), Term(2));
    assert_eq!(node.durable_index(), LogIndex(2));
}

/// A report never moves the durable index back, and one past the log
/// counts for nothing.
#[test]
fn s10_2_1_reports_only_ever_raise_the_durable_index() {
    let mut node = follower(&stored(1, None, &[1, 1, 1]));
    node.handle_persisted(LogIndex(2), Term(1));
    assert_eq!(node.durable_index(), LogIndex(3));
    node.handle_persisted(LogIndex(9), Term(1));
    assert_eq!(node.durable_index(), LogIndex(3));
}
