//! The applier racing two handlers on a follower holding entries 1 and 2
//! of term 1: an AppendEntries that commits them, and an InstallSnapshot
//! through index 3.
//!
//! Checked in every interleaving: every committed index reaches the apply
//! channel exactly once and in order (commands at consecutive indices, a
//! snapshot only forward), through the last one: a lost wakeup leaves the
//! receiver waiting forever, which loom reports as a deadlock.

use crate::support::*;
use checked_raft::NodeId;
use checked_raft::runtime::{ApplyMsg, Unstarted};
use loom::thread;

fn model(mutation: Option<Mutation>) {
    let transport = CheckingTransport::new(NodeId(0));
    let peer = peer(NodeId(0), transport.clone(), mutation);
    transport.watch(peer.persister.clone());
    let Unstarted {
        raft,
        ticker: _ticker,
        applier,
        applied,
    } = peer.parts;
    raft.receive(
        NodeId(1),
        append(1, (0, 0), vec![entry(1, 1, "a"), entry(2, 1, "b")], 0),
    );

    let applier = thread::spawn(move || applier.run());
    let commit = {
        let raft = raft.clone();
        thread::spawn(move || raft.receive(NodeId(1), append(1, (2, 1), vec![], 2)))
    };
    let snapshot = {
        let raft = raft.clone();
        thread::spawn(move || raft.receive(NodeId(1), install(1, 3, 1, "abc")))
    };
    commit.join().expect("receive returns");
    snapshot.join().expect("receive returns");

    let last = raft.with_node(|node| node.commit_index());
    let mut at = checked_raft::LogIndex(0);
    while at < last {
        let message = applied.recv().expect("the applier delivers every commit");
        match &message {
            ApplyMsg::Command { index, .. } => {
                assert_eq!(*index, at.next(), "commands out of order or repeated")
            }
            ApplyMsg::Snapshot { index, .. } => {
                assert!(*index > at, "a snapshot that goes backwards")
            }
        }
        at = message.index();
    }
    raft.shutdown();
    applier.join().expect("the applier ends");
    assert!(applied.try_recv().is_err(), "applied past the commit index");
}

#[test]
fn every_commit_applied_once_in_order_despite_a_snapshot() {
    check("applier", 3, || model(None));
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_lost_wakeup_is_caught"]
fn mutant_lost_wakeup() {
    check("applier/lost_wakeup", 3, || {
        model(Some(Mutation::LostWakeup))
    });
}

#[test]
fn mutation_lost_wakeup_is_caught() {
    assert_mutant_caught("applier::mutant_lost_wakeup", "deadlock");
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_lock_order_inversion_is_caught"]
fn mutant_lock_order_inversion() {
    check("applier/lock_order_inversion", 3, || {
        model(Some(Mutation::LockOrderInversion))
    });
}

#[test]
fn mutation_lock_order_inversion_is_caught() {
    assert_mutant_caught("applier::mutant_lock_order_inversion", "deadlock");
}
