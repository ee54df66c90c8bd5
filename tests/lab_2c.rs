//! Part 2C (persistence) of the MIT 6.824 Raft lab's tests (`src/raft/test_test.go`,
//! 2022): `TestPersist12C`, `TestPersist22C`, `TestPersist32C`,
//! `TestFigure82C`, `TestUnreliableAgree2C`, `TestFigure8Unreliable2C`,
//! `TestReliableChurn2C` and `TestUnreliableChurn2C`, with the lab's
//! schedules, probabilities and thresholds, run against the thread runtime
//! over the emulated network (harness: `tests/lab/mod.rs`).
// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

mod lab;
use lab::*;

use bytes::Bytes;
use checked_raft::runtime::Raft;
use rand::Rng;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// Go's `rand.Int()`: a non-negative 63-bit integer.
fn rand_int() -> u64 {
    rand::rng().random_range(0..1 << 63)
}

/// `true` with probability `per_mille / 1000` (the lab's
/// `rand.Int() % 1000 < per_mille`).
fn chance(per_mille: u64) -> bool {
    rand::rng().random_range(0..1000) < per_mille
}

/// The lab's `int` command decoded back.
fn as_int(command: &Bytes) -> Option<u64> {
    Some(u64::from_be_bytes(command.as_ref().try_into().ok()?))
}

/// The Figure 8 tests' pause: usually 0-12 ms, one time in ten up to half
/// an election timeout.
fn figure8_pause() {
    let mut rng = rand::rng();
    let ms = if chance(100) {
        rng.random_range(0..RAFT_ELECTION_TIMEOUT.as_millis() as u64 / 2)
    } else {
        rng.random_range(0..13)
    };
    thread::sleep(Duration::from_millis(ms));
}

#[test]
fn persist1() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2C): basic persistence");

    cfg.one(int(11), servers, true);

    // Crash and restart all.
    for i in 0..servers {
        cfg.start1(i);
    }
    for i in 0..servers {
        cfg.disconnect(i);
        cfg.connect(i);
    }

    cfg.one(int(12), servers, true);

    let leader1 = cfg.check_one_leader();
    cfg.disconnect(leader1);
    cfg.start1(leader1);
    cfg.connect(leader1);

    cfg.one(int(13), servers, true);

    let leader2 = cfg.check_one_leader();
    cfg.disconnect(leader2);
    cfg.one(int(14), servers - 1, true);
    cfg.start1(leader2);
    cfg.connect(leader2);

    // Wait for leader2 to join before killing i3.
    cfg.wait(4, servers, None);

    let i3 = (cfg.check_one_leader() + 1) % servers;
    cfg.disconnect(i3);
    cfg.one(int(15), servers - 1, true);
    cfg.start1(i3);
    cfg.connect(i3);

    cfg.one(int(16), servers, true);

    cfg.end();
}

#[test]
fn persist2() {
    let servers = 5;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2C): more persistence");

    let mut index = 1;
    for _ in 0..5 {
        cfg.one(int(10 + index), servers, true);
        index += 1;

        let leader1 = cfg.check_one_leader();
        let peer = |k: usize| (leader1 + k) % servers;

        cfg.disconnect(peer(1));
        cfg.disconnect(peer(2));

        cfg.one(int(10 + index), servers - 2, true);
        index += 1;

        cfg.disconnect(peer(0));
        cfg.disconnect(peer(3));
        cfg.disconnect(peer(4));

        cfg.start1(peer(1));
        cfg.start1(peer(2));
        cfg.connect(peer(1));
        cfg.connect(peer(2));

        thread::sleep(RAFT_ELECTION_TIMEOUT);

        cfg.start1(peer(3));
        cfg.connect(peer(3));

        cfg.one(int(10 + index), servers - 2, true);
        index += 1;

        cfg.connect(peer(4));
        cfg.connect(peer(0));
    }

    cfg.one(int(1000), servers, true);

    cfg.end();
}

#[test]
fn persist3() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2C): partitioned leader and one follower crash, leader restarts");

    cfg.one(int(101), 3, true);

    let leader = cfg.check_one_leader();
    let peer = |k: usize| (leader + k) % servers;
    cfg.disconnect(peer(2));

    cfg.one(int(102), 2, true);

    cfg.crash1(peer(0));
    cfg.crash1(peer(1));
    cfg.connect(peer(2));
    cfg.start1(peer(0));
    cfg.connect(peer(0));

    cfg.one(int(103), 2, true);

    cfg.start1(peer(1));
    cfg.connect(peer(1));

    cfg.one(int(104), servers, true);

    cfg.end();
}

/// The scenarios of Figure 8 of the extended Raft paper. Each iteration
/// asks a leader, if there is one, to insert a command in the log. That
/// leader then fails quickly with high probability (perhaps without
/// committing the command), or crashes after a while with low probability
/// (most likely committing it). If too few servers are alive to form a
/// majority, perhaps start a new one. The leader of a new term may try to
/// finish replicating entries that were not committed yet.
#[test]
fn figure8() {
    let servers = 5;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2C): Figure 8");

    cfg.one(int(rand_int()), 1, true);

    let mut rng = rand::rng();
    let mut nup = servers;
    for _ in 0..1000 {
        let mut leader = None;
        for i in 0..servers {
            if cfg.start_on(i, int(rand_int())).is_some() {
                leader = Some(i);
            }
        }

        figure8_pause();

        if let Some(leader) = leader {
            cfg.crash1(leader);
            nup -= 1;
        }

        if nup < 3 {
            let s = rng.random_range(0..servers);
            if cfg.raft(s).is_none() {
                cfg.start1(s);
                cfg.connect(s);
                nup += 1;
            }
        }
    }

    for i in 0..servers {
        if cfg.raft(i).is_none() {
            cfg.start1(i);
            cfg.connect(i);
        }
    }

    cfg.one(int(rand_int()), servers, true);

    cfg.end();
}

#[test]
fn unreliable_agree() {
    let servers = 5;
    let mut cfg = Config::new(servers, true, false);
    cfg.begin("Test (2C): unreliable agreement");

    let cfg = &cfg;
    thread::scope(|s| {
        for iters in 1..50 {
            for j in 0..4 {
                s.spawn(move || {
                    cfg.one(int(100 * iters + j), 1, true);
                });
            }
            cfg.one(int(iters), 1, true);
        }

        cfg.set_unreliable(false);
        // The scope waits for every client.
    });

    cfg.one(int(100), servers, true);

    cfg.end();
}

#[test]
fn figure8_unreliable() {
    let servers = 5;
    let mut cfg = Config::new(servers, true, false);
    cfg.begin("Test (2C): Figure 8 (unreliable)");

    cfg.one(int(rand_int() % 10000), 1, true);

    let mut rng = rand::rng();
    let mut nup = servers;
    for iters in 0..1000 {
        if iters == 200 {
            cfg.set_long_reordering(true);
        }
        let mut leader = None;
        for i in 0..servers {
            if cfg.start_on(i, int(rand_int() % 10000)).is_some() && cfg.is_connected(i) {
                leader = Some(i);
            }
        }

        figure8_pause();

        if let Some(leader) = leader
            && chance(RAFT_ELECTION_TIMEOUT.as_millis() as u64 / 2)
        {
            cfg.disconnect(leader);
            nup -= 1;
        }

        if nup < 3 {
            let s = rng.random_range(0..servers);
            if !cfg.is_connected(s) {
                cfg.connect(s);
                nup += 1;
            }
        }
    }

    for i in 0..servers {
        if !cfg.is_connected(i) {
            cfg.connect(i);
        }
    }

    cfg.one(int(rand_int() % 10000), servers, true);

    cfg.end();
}

/// A churn test's client: until `stop`, submits random values to whichever
/// server accepts them and returns those it saw committed.
fn churn_client(
    me: u64,
    stop: &AtomicBool,
    rafts: &Mutex<Vec<Option<Raft>>>,
    committed: &Committed,
) -> Vec<u64> {
    let mut values = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let x = rand_int();
        let n = rafts.lock().unwrap().len();
        let mut index = None;
        for i in 0..n {
            // Try them all, maybe one of them is a leader.
            let raft = rafts.lock().unwrap()[i].clone();
            if let Some(Ok((index1, _))) = raft.map(|raft| raft.start(int(x))) {
                index = Some(index1.0);
            }
        }
        if let Some(index) = index {
            // Maybe the leader will commit our value, maybe not; but don't
            // wait forever.
            for to in [10, 20, 50, 100, 200] {
                let (nd, command) = committed.n_committed(index);
                if nd > 0 {
                    let command = command.expect("a committed command");
                    let xx = as_int(&command).expect("wrong command type");
                    if xx == x {
                        values.push(x);
                    }
                    break;
                }
                thread::sleep(Duration::from_millis(to));
            }
        } else {
            thread::sleep(Duration::from_millis(79 + me * 17));
        }
    }
    values
}

fn internal_churn(unreliable: bool) {
    let servers = 5;
    let mut cfg = Config::new(servers, unreliable, false);
    cfg.begin(if unreliable {
        "Test (2C): unreliable churn"
    } else {
        "Test (2C): churn"
    });

    let stop = AtomicBool::new(false);
    let rafts = Mutex::new(cfg.rafts());
    let committed = cfg.committed();
    let ncli = 3;
    let mut rng = rand::rng();

    let values: Vec<u64> = thread::scope(|s| {
        let clients: Vec<_> = (0..ncli)
            .map(|me| {
                let (stop, rafts, committed) = (&stop, &rafts, &committed);
                s.spawn(move || churn_client(me, stop, rafts, committed))
            })
            .collect();

        for _ in 0..20 {
            if chance(200) {
                let i = rng.random_range(0..servers);
                cfg.disconnect(i);
            }

            if chance(500) {
                let i = rng.random_range(0..servers);
                if cfg.raft(i).is_none() {
                    cfg.start1(i);
                    *rafts.lock().unwrap() = cfg.rafts();
                }
                cfg.connect(i);
            }

            if chance(200) {
                let i = rng.random_range(0..servers);
                if cfg.raft(i).is_some() {
                    cfg.crash1(i);
                    *rafts.lock().unwrap() = cfg.rafts();
                }
            }

            // Make crash/restart infrequent enough that the peers can often
            // keep up, but not so infrequent that everything has settled
            // down from one change to the next. Pick a value smaller than
            // the election timeout, but not hugely smaller.
            thread::sleep(RAFT_ELECTION_TIMEOUT * 7 / 10);
        }

        thread::sleep(RAFT_ELECTION_TIMEOUT);
        cfg.set_unreliable(false);
        for i in 0..servers {
            if cfg.raft(i).is_none() {
                cfg.start1(i);
                *rafts.lock().unwrap() = cfg.rafts();
            }
            cfg.connect(i);
        }

        stop.store(true, Ordering::SeqCst);

        clients
            .into_iter()
            .flat_map(|client| client.join().expect("client failed"))
            .collect()
    });

    thread::sleep(RAFT_ELECTION_TIMEOUT);

    let last_index = cfg.one(int(rand_int()), servers, true);

    let really: Vec<u64> = (1..=last_index)
        .map(|index| {
            let v = cfg.wait(index, servers, None).expect("a committed command");
            as_int(&v).expect("not an int")
        })
        .collect();

    for v in values {
        assert!(really.contains(&v), "didn't find a value");
    }

    cfg.end();
}

#[test]
fn reliable_churn() {
    internal_churn(false);
}

#[test]
fn unreliable_churn() {
    internal_churn(true);
}
