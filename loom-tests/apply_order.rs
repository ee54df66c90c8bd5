//! Two handlers racing on a follower holding entries 1 and 2 of term 1:
//! an AppendEntries that commits them, and an InstallSnapshot through
//! index 3. Each hands what it committed to the application's apply queue
//! on its own thread (there is no applier thread), in the turn it takes
//! before releasing the node lock.
//!
//! Checked in every interleaving: every committed index reaches the apply
//! queue exactly once and in order (commands at consecutive indices, a
//! snapshot only forward), through the last one.

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
        applied,
    } = peer.parts;
    raft.receive(
        NodeId(1),
        append(1, (0, 0), vec![entry(1, 1, "a"), entry(2, 1, "b")], 0),
    );

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
    raft.shutdown();
    // The queue is closed: everything handed over is waiting in it.
    let mut at = checked_raft::LogIndex(0);
    while let Ok(message) = applied.try_recv() {
        match &message {
            ApplyMsg::Command { index, .. } => {
                assert_eq!(*index, at.next(), "commands out of order or repeated")
            }
            ApplyMsg::Snapshot { index, .. } => {
                assert!(*index > at, "a snapshot out of order (backwards)")
            }
        }
        at = message.index();
    }
    assert_eq!(at, last, "every commit reaches the queue, no more");
}

#[test]
fn every_commit_applied_once_in_order_despite_a_snapshot() {
    check("apply_order", 3, || model(None));
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_apply_after_unlock_is_caught"]
fn mutant_apply_after_unlock() {
    check("apply_order/apply_after_unlock", 3, || {
        model(Some(Mutation::ApplyAfterUnlock))
    });
}

#[test]
fn mutation_apply_after_unlock_is_caught() {
    assert_mutant_caught("apply_order::mutant_apply_after_unlock", "out of order");
}
