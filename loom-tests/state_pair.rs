//! `state()` racing a step-down: a leader of term 1 receives AppendEntries
//! from the leader of term 2 while its election timer fires.
//!
//! Checked in every interleaving: every `(term, is_leader)` pair `state()`
//! returns is one the peer was in at some instant, (1, leader),
//! (2, follower) or (3, candidate), never a torn mix such as (1, not
//! leader), and terms never go backwards between calls.

use crate::support::*;
use checked_raft::runtime::Unstarted;
use checked_raft::{NodeId, Term};
use loom::thread;

fn model(mutation: Option<Mutation>) {
    let transport = CheckingTransport::new(NodeId(0));
    let peer = peer(NodeId(0), transport.clone(), mutation);
    transport.watch(peer.persister.clone());
    peer.elect();
    let Unstarted { raft, ticker, .. } = peer.parts;
    let clock = peer.clock.clone();

    let new_leader = {
        let raft = raft.clone();
        thread::spawn(move || raft.receive(NodeId(1), append(2, (0, 0), vec![], 0)))
    };
    let timers = thread::spawn(move || {
        clock.advance(PAST_ANY_TIMEOUT);
        while ticker.fire_due() {}
    });
    let seen = [raft.state(), raft.state()];
    new_leader.join().expect("receive returns");
    timers.join().expect("the timers fire");

    for pair in seen {
        assert!(
            [(Term(1), true), (Term(2), false), (Term(3), false)].contains(&pair),
            "torn state {pair:?}"
        );
    }
    assert!(seen[0].0 <= seen[1].0, "the term went backwards: {seen:?}");
}

#[test]
fn state_is_never_torn() {
    check("state_pair", 3, || model(None));
}

#[test]
#[ignore = "a mutant, expected to fail: run by mutation_torn_state_is_caught"]
fn mutant_torn_state() {
    check("state_pair/torn_state", 3, || {
        model(Some(Mutation::TornState))
    });
}

#[test]
fn mutation_torn_state_is_caught() {
    assert_mutant_caught("state_pair::mutant_torn_state", "torn state");
}
