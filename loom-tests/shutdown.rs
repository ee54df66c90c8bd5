//! `shutdown()` racing everything a peer does: its own ticker thread
//! (spawned by `Raft::with_clock`, as in production) and a handler that
//! commits two entries (persisting, handing them to the apply queue,
//! re-arming the election timer) and then proposes; its storage thread
//! too, doing every write, as on a disk (the persister says its writes
//! are not cheap, so handlers wake the storage thread instead of writing).
//!
//! Checked in every interleaving: `shutdown` returns (every thread has
//! ended; a thread left waiting makes its join wait forever, which loom
//! reports as a deadlock); once it has returned nothing more is persisted
//! or applied, and the peer takes no proposal.

use crate::support::*;
use bytes::Bytes;
use checked_raft::NodeId;
use checked_raft::runtime::{ManualClock, MemoryPersister, Persister, Raft, StartError};
use loom::thread;
use std::sync::Arc;

fn model(mutation: Option<Mutation>) {
    let transport = CheckingTransport::new(NodeId(0));
    let persister = Arc::new(MemoryPersister::new().slow());
    transport.watch(persister.clone());
    // Writes that are not cheap, as on a disk: every handler wakes the
    // storage thread, which writes and then lets out what waited.
    let (raft, applied) = Raft::with_clock(
        members(),
        NodeId(0),
        persister.clone(),
        config(mutation),
        transport,
        Arc::new(ManualClock::new()),
    )
    .expect("a valid configuration");
    raft.receive(
        NodeId(1),
        append(1, (0, 0), vec![entry(1, 1, "a"), entry(2, 1, "b")], 0),
    );

    let handler = {
        let raft = raft.clone();
        thread::spawn(move || {
            raft.receive(NodeId(1), append(1, (2, 1), vec![], 2));
            raft.start(Bytes::from_static(b"c"))
        })
    };
    raft.shutdown();
    let persisted = persister.load().expect("a memory persister loads");
    let mut delivered = 0;
    while applied.try_recv().is_ok() {
        delivered += 1;
    }
    let started = handler.join().expect("the handler returns");

    assert!(delivered <= 2, "applied past the commit index");
    assert_eq!(
        persister.load().expect("a memory persister loads"),
        persisted,
        "persisted after shutdown returned"
    );
    assert!(
        applied.try_recv().is_err(),
        "applied after shutdown returned"
    );
    assert!(
        started.is_err(),
        "a follower or a stopped peer takes no proposal"
    );
    assert_eq!(
        raft.start(Bytes::from_static(b"d")),
        Err(StartError::Shutdown)
    );
    assert!(!raft.state().1);
}

#[test]
fn shutdown_races_the_ticker_and_a_handler() {
    check("shutdown", 3, || model(None));
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_unlocked_shutdown_is_caught"]
fn mutant_unlocked_shutdown() {
    check("shutdown/unlocked_shutdown", 3, || {
        model(Some(Mutation::UnlockedShutdown))
    });
}

#[test]
fn mutation_unlocked_shutdown_is_caught() {
    assert_mutant_caught("shutdown::mutant_unlocked_shutdown", "deadlock");
}
