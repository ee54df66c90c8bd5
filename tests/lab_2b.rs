//! Part 2B (log replication) of the MIT 6.824 (2022) Raft lab's tests,
//! `src/raft/test_test.go`: `TestBasicAgree2B`, `TestRPCBytes2B`,
//! `TestFollowerFailure2B` and `TestLeaderFailure2B` (in the 2022 file as
//! `For2023TestFollowerFailure2B` / `For2023TestLeaderFailure2B`),
//! `TestFailAgree2B`, `TestFailNoAgree2B`, `TestConcurrentStarts2B`,
//! `TestRejoin2B`, `TestBackup2B` and `TestCount2B`, ported with the lab's
//! schedules, sleeps, checks and thresholds onto the thread runtime over the
//! emulated network (harness: `lab`).
// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

mod lab;

use bytes::Bytes;
use lab::*;
use rand::Rng;
use std::thread;
use std::time::Duration;

/// The lab's `rand.Int()` as a command.
fn random_int() -> Bytes {
    int(rand::rng().random::<u64>() >> 1)
}

/// The integer a command made by [`int`] holds (the lab's `cmd.(int)`).
fn as_int(command: &Bytes) -> Option<u64> {
    <[u8; 8]>::try_from(command.as_ref())
        .ok()
        .map(u64::from_be_bytes)
}

/// The sum of every server's received RPCs (the lab's `rpcs()` in
/// `TestCount2B`).
fn rpcs(cfg: &Config) -> u64 {
    (0..cfg.n()).map(|j| cfg.rpc_count(j)).sum()
}

#[test]
fn basic_agree() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): basic agreement");

    let iters = 3;
    for index in 1..=iters {
        let (nd, _) = cfg.n_committed(index);
        assert!(nd == 0, "some have committed before Start()");

        let xindex = cfg.one(int(index * 100), servers, false);
        assert_eq!(xindex, index, "got index {xindex} but expected {index}");
    }

    cfg.end();
}

/// Check, based on counting bytes of RPCs, that each command is sent to
/// each peer just once.
#[test]
fn rpc_bytes() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): RPC byte count");

    cfg.one(int(99), servers, false);
    let bytes0 = cfg.net().total_bytes();

    let iters = 10;
    let mut sent = 0u64;
    for index in 2..iters + 2 {
        let cmd = random_bytes(5000);
        let len = cmd.len() as u64;
        let xindex = cfg.one(cmd, servers, false);
        assert_eq!(xindex, index, "got index {xindex} but expected {index}");
        sent += len;
    }

    let bytes1 = cfg.net().total_bytes();
    let got = bytes1 - bytes0;
    let expected = servers as u64 * sent;
    assert!(
        got <= expected + 50_000,
        "too many RPC bytes; got {got}, expected {expected}"
    );

    cfg.end();
}

/// Test just failure of followers.
#[test]
fn follower_failure() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): test progressive failure of followers");

    cfg.one(int(101), servers, false);

    // disconnect one follower from the network.
    let leader1 = cfg.check_one_leader();
    cfg.disconnect((leader1 + 1) % servers);

    // the leader and remaining follower should be
    // able to agree despite the disconnected follower.
    cfg.one(int(102), servers - 1, false);
    thread::sleep(RAFT_ELECTION_TIMEOUT);
    cfg.one(int(103), servers - 1, false);

    // disconnect the remaining follower
    let leader2 = cfg.check_one_leader();
    cfg.disconnect((leader2 + 1) % servers);
    cfg.disconnect((leader2 + 2) % servers);

    // submit a command.
    let Some((index, _)) = cfg.start_on(leader2, int(104)) else {
        panic!("leader rejected Start()");
    };
    assert_eq!(index, 4, "expected index 4, got {index}");

    thread::sleep(2 * RAFT_ELECTION_TIMEOUT);

    // check that command 104 did not commit.
    let (n, _) = cfg.n_committed(index);
    assert!(n == 0, "{n} committed but no majority");

    cfg.end();
}

/// Test just failure of leaders.
#[test]
fn leader_failure() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): test failure of leaders");

    cfg.one(int(101), servers, false);

    // disconnect the first leader.
    let leader1 = cfg.check_one_leader();
    cfg.disconnect(leader1);

    // the remaining followers should elect
    // a new leader.
    cfg.one(int(102), servers - 1, false);
    thread::sleep(RAFT_ELECTION_TIMEOUT);
    cfg.one(int(103), servers - 1, false);

    // disconnect the new leader.
    let leader2 = cfg.check_one_leader();
    cfg.disconnect(leader2);

    // submit a command to each server.
    for i in 0..servers {
        let _ = cfg.start_on(i, int(104));
    }

    thread::sleep(2 * RAFT_ELECTION_TIMEOUT);

    // check that command 104 did not commit.
    let (n, _) = cfg.n_committed(4);
    assert!(n == 0, "{n} committed but no majority");

    cfg.end();
}

/// Test that a follower participates after disconnect and re-connect.
#[test]
fn fail_agree() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): agreement after follower reconnects");

    cfg.one(int(101), servers, false);

    // disconnect one follower from the network.
    let leader = cfg.check_one_leader();
    cfg.disconnect((leader + 1) % servers);

    // the leader and remaining follower should be
    // able to agree despite the disconnected follower.
    cfg.one(int(102), servers - 1, false);
    cfg.one(int(103), servers - 1, false);
    thread::sleep(RAFT_ELECTION_TIMEOUT);
    cfg.one(int(104), servers - 1, false);
    cfg.one(int(105), servers - 1, false);

    // re-connect
    cfg.connect((leader + 1) % servers);

    // the full set of servers should preserve
    // previous agreements, and be able to agree
    // on new commands.
    cfg.one(int(106), servers, true);
    thread::sleep(RAFT_ELECTION_TIMEOUT);
    cfg.one(int(107), servers, true);

    cfg.end();
}

#[test]
fn fail_no_agree() {
    let servers = 5;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): no agreement if too many followers disconnect");

    cfg.one(int(10), servers, false);

    // 3 of 5 followers disconnect
    let leader = cfg.check_one_leader();
    cfg.disconnect((leader + 1) % servers);
    cfg.disconnect((leader + 2) % servers);
    cfg.disconnect((leader + 3) % servers);

    let Some((index, _)) = cfg.start_on(leader, int(20)) else {
        panic!("leader rejected Start()");
    };
    assert_eq!(index, 2, "expected index 2, got {index}");

    thread::sleep(2 * RAFT_ELECTION_TIMEOUT);

    let (n, _) = cfg.n_committed(index);
    assert!(n == 0, "{n} committed but no majority");

    // repair
    cfg.connect((leader + 1) % servers);
    cfg.connect((leader + 2) % servers);
    cfg.connect((leader + 3) % servers);

    // the disconnected majority may have chosen a leader from
    // among their own ranks, forgetting index 2.
    let leader2 = cfg.check_one_leader();
    let Some((index2, _)) = cfg.start_on(leader2, int(30)) else {
        panic!("leader2 rejected Start()");
    };
    assert!((2..=3).contains(&index2), "unexpected index {index2}");

    cfg.one(int(1000), servers, true);

    cfg.end();
}

#[test]
fn concurrent_starts() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): concurrent Start()s");

    let mut success = false;
    'try_again: for attempt in 0..5 {
        if attempt > 0 {
            // give solution some time to settle
            thread::sleep(Duration::from_secs(3));
        }

        let leader = cfg.check_one_leader();
        let Some((_, term)) = cfg.start_on(leader, int(1)) else {
            // leader moved on really quickly
            continue;
        };

        let iters = 5;
        let raft = cfg.raft(leader).expect("the leader is running").clone();
        // The indices of the starts accepted in `term`.
        let is: Vec<u64> = thread::scope(|s| {
            let starts: Vec<_> = (0..iters)
                .map(|i| {
                    let raft = raft.clone();
                    s.spawn(move || match raft.start(int(100 + i)) {
                        Ok((index, term1)) if term1 == term => Some(index.0),
                        _ => None,
                    })
                })
                .collect();
            starts
                .into_iter()
                .filter_map(|start| start.join().expect("a start thread panicked"))
                .collect()
        });

        for j in 0..servers {
            let (t, _) = cfg.raft(j).expect("every server runs").state();
            if t != term {
                // term changed -- can't expect low RPC counts
                continue 'try_again;
            }
        }

        let mut cmds = Vec::new();
        for index in is {
            let Some(cmd) = cfg.wait(index, servers, Some(term)) else {
                // peers have moved on to later terms
                // so we can't expect all Start()s to
                // have succeeded
                continue 'try_again;
            };
            let Some(ix) = as_int(&cmd) else {
                panic!("value {cmd:?} is not an int");
            };
            cmds.push(ix);
        }

        for x in (0..iters).map(|ii| 100 + ii) {
            assert!(cmds.contains(&x), "cmd {x} missing in {cmds:?}");
        }

        success = true;
        break;
    }

    assert!(success, "term changed too often");

    cfg.end();
}

#[test]
fn rejoin() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): rejoin of partitioned leader");

    cfg.one(int(101), servers, true);

    // leader network failure
    let leader1 = cfg.check_one_leader();
    cfg.disconnect(leader1);

    // make old leader try to agree on some entries
    let _ = cfg.start_on(leader1, int(102));
    let _ = cfg.start_on(leader1, int(103));
    let _ = cfg.start_on(leader1, int(104));

    // new leader commits, also for index=2
    cfg.one(int(103), 2, true);

    // new leader network failure
    let leader2 = cfg.check_one_leader();
    cfg.disconnect(leader2);

    // old leader connected again
    cfg.connect(leader1);

    cfg.one(int(104), 2, true);

    // all together now
    cfg.connect(leader2);

    cfg.one(int(105), servers, true);

    cfg.end();
}

#[test]
fn backup() {
    let servers = 5;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): leader backs up quickly over incorrect follower logs");

    cfg.one(random_int(), servers, true);

    // put leader and one follower in a partition
    let leader1 = cfg.check_one_leader();
    cfg.disconnect((leader1 + 2) % servers);
    cfg.disconnect((leader1 + 3) % servers);
    cfg.disconnect((leader1 + 4) % servers);

    // submit lots of commands that won't commit
    for _ in 0..50 {
        let _ = cfg.start_on(leader1, random_int());
    }

    thread::sleep(RAFT_ELECTION_TIMEOUT / 2);

    cfg.disconnect(leader1 % servers);
    cfg.disconnect((leader1 + 1) % servers);

    // allow other partition to recover
    cfg.connect((leader1 + 2) % servers);
    cfg.connect((leader1 + 3) % servers);
    cfg.connect((leader1 + 4) % servers);

    // lots of successful commands to new group.
    for _ in 0..50 {
        cfg.one(random_int(), 3, true);
    }

    // now another partitioned leader and one follower
    let leader2 = cfg.check_one_leader();
    let mut other = (leader1 + 2) % servers;
    if leader2 == other {
        other = (leader2 + 1) % servers;
    }
    cfg.disconnect(other);

    // lots more commands that won't commit
    for _ in 0..50 {
        let _ = cfg.start_on(leader2, random_int());
    }

    thread::sleep(RAFT_ELECTION_TIMEOUT / 2);

    // bring original leader back to life,
    for i in 0..servers {
        cfg.disconnect(i);
    }
    cfg.connect(leader1 % servers);
    cfg.connect((leader1 + 1) % servers);
    cfg.connect(other);

    // lots of successful commands to new group.
    for _ in 0..50 {
        cfg.one(random_int(), 3, true);
    }

    // now everyone
    for i in 0..servers {
        cfg.connect(i);
    }
    cfg.one(random_int(), servers, true);

    cfg.end();
}

#[test]
fn count() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, false);
    cfg.begin("Test (2B): RPC counts aren't too high");

    cfg.check_one_leader();

    let total1 = rpcs(&cfg);
    assert!(
        (1..=30).contains(&total1),
        "too many or few RPCs ({total1}) to elect initial leader"
    );

    let mut rng = rand::rng();
    let mut total2 = 0;
    let mut success = false;
    'try_again: for attempt in 0..5 {
        if attempt > 0 {
            // give solution some time to settle
            thread::sleep(Duration::from_secs(3));
        }

        let leader = cfg.check_one_leader();
        let total1 = rpcs(&cfg);

        let iters = 10;
        let Some((starti, term)) = cfg.start_on(leader, int(1)) else {
            // leader moved on really quickly
            continue;
        };
        let mut cmds = Vec::new();
        for i in 1..iters + 2 {
            let x = rng.random_range(0..1u64 << 31);
            cmds.push(x);
            let Some((index1, term1)) = cfg.start_on(leader, int(x)) else {
                // No longer the leader, so term has changed
                continue 'try_again;
            };
            if term1 != term {
                // Term changed while starting
                continue 'try_again;
            }
            assert_eq!(starti + i, index1, "Start() failed");
        }

        for i in 1..iters + 1 {
            let index = starti + i;
            match cfg.wait(index, servers, Some(term)) {
                // term changed -- try again
                None => continue 'try_again,
                Some(cmd) if as_int(&cmd) == Some(cmds[i as usize - 1]) => {}
                Some(cmd) => {
                    panic!("wrong value {cmd:?} committed for index {index}; expected {cmds:?}")
                }
            }
        }

        let mut failed = false;
        total2 = 0;
        for j in 0..servers {
            let (t, _) = cfg.raft(j).expect("every server runs").state();
            if t != term {
                // term changed -- can't expect low RPC counts
                // need to keep going to update total2
                failed = true;
            }
            total2 += cfg.rpc_count(j);
        }

        if failed {
            continue 'try_again;
        }

        assert!(
            total2 - total1 <= (iters + 1 + 3) * 3,
            "too many RPCs ({}) for {iters} entries",
            total2 - total1
        );

        success = true;
        break;
    }

    assert!(success, "term changed too often");

    thread::sleep(RAFT_ELECTION_TIMEOUT);

    let total3 = rpcs(&cfg);
    assert!(
        total3 - total2 <= 3 * 20,
        "too many RPCs ({}) for 1 second of idleness",
        total3 - total2
    );

    cfg.end();
}
