//! Part 2A (leader election) of the MIT 6.824 (2022) Raft lab's tests,
//! `src/raft/test_test.go`: `TestInitialElection2A`, `TestReElection2A` and
//! `TestManyElections2A`, ported with the lab's schedules, sleeps and checks
//! onto the thread runtime over the emulated network (harness: `lab`).
// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

mod lab;

use lab::*;
use rand::Rng;
use std::thread;
use std::time::Duration;

/// Is a leader elected, and do leader and term stay put without failures?
#[test]
fn initial_election() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2A): initial election");

    // is a leader elected?
    cfg.check_one_leader();

    // sleep a bit to avoid racing with followers learning of the
    // election, then check that all peers agree on the term.
    thread::sleep(Duration::from_millis(50));
    let term1 = cfg.check_terms();
    assert!(
        term1.0 >= 1,
        "term is {}, but should be at least 1",
        term1.0
    );

    // does the leader+term stay the same if there is no network failure?
    thread::sleep(2 * RAFT_ELECTION_TIMEOUT);
    let term2 = cfg.check_terms();
    if term1 != term2 {
        println!("warning: term changed even though there were no failures");
    }

    // there should still be a leader.
    cfg.check_one_leader();

    cfg.end();
}

/// A new leader after the old one disconnects; none without a quorum; one
/// again once a quorum is back.
#[test]
fn re_election() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2A): election after network failure");

    let leader1 = cfg.check_one_leader();

    // if the leader disconnects, a new one should be elected.
    cfg.disconnect(leader1);
    cfg.check_one_leader();

    // if the old leader rejoins, that shouldn't
    // disturb the new leader.
    cfg.connect(leader1);
    let leader2 = cfg.check_one_leader();

    // if there's no quorum, no leader should
    // be elected.
    cfg.disconnect(leader2);
    cfg.disconnect((leader2 + 1) % servers);
    thread::sleep(2 * RAFT_ELECTION_TIMEOUT);
    cfg.check_no_leader();

    // if a quorum arises, it should elect a leader.
    cfg.connect((leader2 + 1) % servers);
    cfg.check_one_leader();

    // re-join of last node shouldn't prevent leader from existing.
    cfg.connect(leader2);
    cfg.check_one_leader();

    cfg.end();
}

/// Seven servers; nine times, three random ones (possibly the same)
/// disconnect and a leader must still exist or be elected.
#[test]
fn many_elections() {
    let servers = 7;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2A): multiple elections");

    cfg.check_one_leader();

    let mut rng = rand::rng();
    let iters = 10;
    for _ in 1..iters {
        // disconnect three nodes
        let i1 = rng.random_range(0..servers);
        let i2 = rng.random_range(0..servers);
        let i3 = rng.random_range(0..servers);
        cfg.disconnect(i1);
        cfg.disconnect(i2);
        cfg.disconnect(i3);

        // either the current leader should still be alive,
        // or the remaining four should elect a new one.
        cfg.check_one_leader();

        cfg.connect(i1);
        cfg.connect(i2);
        cfg.connect(i3);
    }

    cfg.check_one_leader();

    cfg.end();
}
