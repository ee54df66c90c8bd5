//! The bounded apply queue with capacity 1, on a follower holding entries
//! 1-3 of term 1: a handler commits all three at once, so the storage round
//! that hands them over must wait for room twice.
//!
//! `full_queue_consumer_calls_back`: an application thread takes each
//! entry and calls back into the peer (`Raft::snapshot` through it, then
//! `Raft::state`), as a state machine that snapshots does. Checked in
//! every interleaving: no deadlock (no storage round waits for room with
//! the node lock held), the entries arrive in log order, and the queue
//! never holds more than its capacity.
//!
//! `shutdown_wakes_a_blocked_producer`: nobody takes from the queue and
//! the peer is shut down while its storage round may be waiting for room.
//! Checked in every interleaving: the round returns (a producer left
//! waiting makes its join hang, which loom reports as a deadlock), and
//! what was handed over is a prefix of the log within the capacity.

use crate::support::*;
use bytes::Bytes;
use checked_raft::runtime::{ApplyMsg, RaftConfig, Unstarted};
use checked_raft::{LogIndex, NodeId};
use loom::thread;

/// A follower of term 1 holding entries 1-3, uncommitted, with an apply
/// queue of capacity 1.
fn follower(mutation: Option<Mutation>) -> Peer {
    let transport = CheckingTransport::new(NodeId(0));
    let config = RaftConfig {
        apply_queue_capacity: 1,
        ..config(mutation)
    };
    let peer = peer_with(NodeId(0), transport.clone(), config);
    transport.watch(peer.persister.clone());
    peer.parts.raft.receive(
        NodeId(1),
        append(
            1,
            (0, 0),
            vec![entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c")],
            0,
        ),
    );
    peer.drain();
    peer
}

fn consumer_calls_back(mutation: Option<Mutation>) {
    let peer = follower(mutation);
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
            raft.receive(NodeId(1), append(1, (3, 1), vec![], 3));
            storage.flush();
        })
    };
    let application = {
        let raft = raft.clone();
        thread::spawn(move || {
            let mut seen = Vec::new();
            while let Ok(message) = applied.recv() {
                let index = message.index();
                assert!(
                    matches!(message, ApplyMsg::Command { .. }),
                    "no snapshot here"
                );
                seen.push(index);
                raft.snapshot(index, Bytes::from_static(b"state"))
                    .expect("a snapshot through an applied index");
                let _ = raft.state();
                if index == LogIndex(3) {
                    break;
                }
            }
            (seen, applied.try_recv().is_err())
        })
    };
    commit.join().expect("the handler returns");
    let (seen, empty) = application.join().expect("the application returns");
    assert_eq!(
        seen,
        [LogIndex(1), LogIndex(2), LogIndex(3)],
        "entries out of order"
    );
    assert!(empty, "more than the log was applied");
    assert!(
        raft.apply_queue_stats().high_water <= 1,
        "the queue grew past its capacity"
    );
    raft.shutdown();
}

fn shutdown_while_blocked() {
    let peer = follower(None);
    let Unstarted {
        raft,
        ticker: _ticker,
        storage,
        applied,
    } = peer.parts;
    let commit = {
        let raft = raft.clone();
        thread::spawn(move || {
            raft.receive(NodeId(1), append(1, (3, 1), vec![], 3));
            storage.flush();
        })
    };
    raft.shutdown();
    commit.join().expect("the handler returns");
    let mut handed = Vec::new();
    while let Ok(message) = applied.try_recv() {
        handed.push(message.index());
    }
    assert!(handed.len() <= 1, "past the capacity: {handed:?}");
    assert!(
        handed.iter().all(|&i| i == LogIndex(1)),
        "not a prefix of the log: {handed:?}"
    );
}

#[test]
fn full_queue_consumer_calls_back() {
    check("backpressure/consumer_calls_back", 3, || {
        consumer_calls_back(None)
    });
}

#[test]
fn shutdown_wakes_a_blocked_producer() {
    check("backpressure/shutdown", 3, shutdown_while_blocked);
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_deliver_under_node_lock_is_caught"]
fn mutant_deliver_under_node_lock() {
    check("backpressure/deliver_under_node_lock", 2, || {
        consumer_calls_back(Some(Mutation::DeliverUnderNodeLock))
    });
}

#[test]
fn mutation_deliver_under_node_lock_is_caught() {
    assert_mutant_caught("backpressure::mutant_deliver_under_node_lock", "deadlock");
}
