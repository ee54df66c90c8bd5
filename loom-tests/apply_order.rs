//! Two handlers racing on a follower holding entries 1 and 2 of term 1:
//! an AppendEntries that commits them, and an InstallSnapshot through
//! index 3. Each thread then runs a storage round, which hands what was
//! committed to the application's apply queue: rounds never overlap, so
//! they hand over in the order the handlers decided.
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
    peer.parts.raft.receive(
        NodeId(1),
        append(1, (0, 0), vec![entry(1, 1, "a"), entry(2, 1, "b")], 0),
    );
    peer.drain();
    let Unstarted {
        raft,
        ticker: _ticker,
        storage,
        applied,
    } = peer.parts;

    let commit = {
        let raft = raft.clone();
        let storage = storage.clone();
        thread::spawn(move || {
            raft.receive(NodeId(1), append(1, (2, 1), vec![], 2));
            storage.flush();
        })
    };
    let snapshot = {
        let raft = raft.clone();
        let storage = storage.clone();
        thread::spawn(move || {
            raft.receive(NodeId(1), install(1, 3, 1, "abc"));
            storage.flush();
        })
    };
    commit.join().expect("receive returns");
    snapshot.join().expect("receive returns");
    while storage.flush() {}

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
#[ignore = "a mutant, expected to fail: run by mutation_overlapping_rounds_is_caught"]
fn mutant_overlapping_rounds() {
    check("apply_order/overlapping_rounds", 3, || {
        model(Some(Mutation::OverlappingRounds))
    });
}

#[test]
fn mutation_overlapping_rounds_is_caught() {
    assert_mutant_caught("apply_order::mutant_overlapping_rounds", "out of order");
}
