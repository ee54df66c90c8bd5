//! `start()` racing an incoming AppendEntries from a new leader and the
//! election timer firing, on a leader of term 1, with storage rounds run
//! by the proposer and by the timer thread as they go.
//!
//! Checked in every interleaving: no deadlock; every message leaves only
//! after the state it depends on is persisted (term, vote, entries);
//! no update is lost (the new leader's entry is in the log, and what is
//! persisted equals what is in memory when all is done); an accepted
//! proposal is sent to both followers at once.

use crate::support::*;
use bytes::Bytes;
use checked_raft::runtime::{StartError, Unstarted};
use checked_raft::{LogIndex, Message, NodeId, Term};
use loom::thread;

fn model(mutation: Option<Mutation>) {
    let transport = CheckingTransport::new(NodeId(0));
    let peer = peer(NodeId(0), transport.clone(), mutation);
    transport.watch(peer.persister.clone());
    peer.elect();
    let Unstarted {
        raft,
        ticker,
        storage,
        ..
    } = &peer.parts;

    let proposer = {
        let raft = raft.clone();
        let storage = storage.clone();
        thread::spawn(move || {
            let started = raft.start(Bytes::from_static(b"x"));
            storage.flush();
            started
        })
    };
    let new_leader = {
        let raft = raft.clone();
        // Peer 1 leads term 2 and overwrites index 1 (§5.3).
        thread::spawn(move || raft.receive(NodeId(1), append(2, (0, 0), vec![entry(1, 2, "y")], 0)))
    };
    // The main thread is the clock: time passes, the due timers fire.
    peer.clock.advance(PAST_ANY_TIMEOUT);
    while ticker.fire_due() {}
    peer.drain();

    let started = proposer.join().expect("start returns");
    new_leader.join().expect("receive returns");
    peer.drain();
    match started {
        Ok((index, term)) => {
            assert_eq!((index, term), (LogIndex(1), Term(1)));
            // Replication starts at once, not at the next heartbeat.
            for to in [NodeId(1), NodeId(2)] {
                assert!(
                    transport.sent().iter().any(|(peer, m)| *peer == to
                        && matches!(m, Message::AppendEntries(a) if a.entries == [entry(1, 1, "x")])),
                    "the proposal was not sent to {to:?}"
                );
            }
        }
        Err(StartError::NotLeader { .. }) => {}
        Err(StartError::Shutdown) => panic!("the peer was not shut down"),
    }
    raft.with_node(|node| {
        assert!(node.current_term() >= Term(2), "the new term was lost");
        assert_eq!(
            node.log().entries(),
            [entry(1, 2, "y")],
            "the new leader's entry was lost"
        );
    });
    peer.assert_persisted_matches_memory();
}

#[test]
fn start_append_entries_and_election_timer() {
    check("start_race", 3, || model(None));
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_persist_after_send_is_caught"]
fn mutant_persist_after_send() {
    check("start_race/persist_after_send", 3, || {
        model(Some(Mutation::PersistAfterSend))
    });
}

#[test]
fn mutation_persist_after_send_is_caught() {
    assert_mutant_caught(
        "start_race::mutant_persist_after_send",
        "sent before persisting",
    );
}
