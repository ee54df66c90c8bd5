//! Two peers whose election timers fire at once, each handling the other's
//! requests and replies while sending its own, over a transport that runs
//! the receiver's handler on the sender's thread: a storage round that held
//! its peer's node lock while sending would need the other's lock while the
//! other's round needs its own (a lock-order cycle).
//!
//! Checked in every interleaving: no deadlock, every message backed by
//! what its sender has persisted, at most one leader per term (§5.2
//! Election Safety), and storage equal to memory at the end.

use crate::support::*;
use checked_raft::NodeId;
use loom::thread;

fn model(mutation: Option<Mutation>) {
    let transports = [SyncTransport::new(NodeId(0)), SyncTransport::new(NodeId(1))];
    let peers = [
        peer(NodeId(0), transports[0].clone(), mutation),
        peer(NodeId(1), transports[1].clone(), mutation),
    ];
    transports[0].connect(&peers[1].parts.raft, peers[0].persister.clone());
    transports[1].connect(&peers[0].parts.raft, peers[1].persister.clone());

    let [a, b] = peers;
    // Each thread fires its peer's election timer and runs its storage
    // rounds, which send to the other peer and so run its handler.
    let a = thread::spawn(move || {
        a.clock.advance(PAST_ANY_TIMEOUT);
        a.parts.ticker.fire_due();
        a.drain();
        a
    });
    let b = thread::spawn(move || {
        b.clock.advance(PAST_ANY_TIMEOUT);
        b.parts.ticker.fire_due();
        b.drain();
        b
    });
    let peers = [
        a.join().expect("peer 0 ends"),
        b.join().expect("peer 1 ends"),
    ];
    // What the other's messages decided, written and answered.
    while peers.iter().any(|p| p.parts.storage.flush()) {}

    let states = peers.each_ref().map(|p| p.parts.raft.state());
    assert!(
        !(states[0].1 && states[1].1 && states[0].0 == states[1].0),
        "two leaders in one term: {states:?}"
    );
    for peer in &peers {
        peer.assert_persisted_matches_memory();
    }
    for transport in &transports {
        transport.disconnect();
    }
}

#[test]
fn two_peers_handle_each_others_requests_while_sending() {
    check("two_peers", 3, || model(None));
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_send_under_lock_is_caught"]
fn mutant_send_under_lock() {
    check("two_peers/send_under_lock", 3, || {
        model(Some(Mutation::SendUnderLock))
    });
}

#[test]
fn mutation_send_under_lock_is_caught() {
    assert_mutant_caught("two_peers::mutant_send_under_lock", "deadlock");
}
