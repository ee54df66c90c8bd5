//! Part 3B (key/value service with snapshots, `maxraftstate` 1,000 bytes)
//! of the MIT 6.824 (2022) kvraft lab's tests, `src/kvraft/test_test.go`,
//! ported with the lab's schedules, checks and thresholds (harness: `kv`).

// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

mod kv;

use kv::*;

/// If one server falls behind and then rejoins, does it recover by
/// InstallSnapshot? Also checks that the majority discards committed log
/// entries even if the minority does not respond.
#[test]
fn snapshot_rpc() {
    const NSERVERS: usize = 3;
    let maxraftstate = 1000;
    let cfg = Config::new(NSERVERS, false, maxraftstate as i64);
    let mut ck = cfg.make_client(&cfg.all());
    cfg.begin("Test: InstallSnapshot RPC (3B)");

    cfg.put(&mut ck, "a", "A", None);
    cfg.check(&mut ck, "a", "A");

    // A bunch of puts into the majority partition.
    cfg.partition(&[0, 1], &[2]);
    {
        let mut ck1 = cfg.make_client(&[0, 1]);
        for i in 0..50 {
            cfg.put(&mut ck1, &i.to_string(), &i.to_string(), None);
        }
        std::thread::sleep(ELECTION_TIMEOUT);
        cfg.put(&mut ck1, "b", "B", None);
    }

    // The majority has thrown away most of its log.
    let size = cfg.log_size();
    assert!(
        size <= 8 * maxraftstate,
        "logs were not trimmed ({size} > 8*{maxraftstate})"
    );

    // Now a group that needs the lagging server, which must catch up.
    cfg.partition(&[0, 2], &[1]);
    {
        let mut ck1 = cfg.make_client(&[0, 2]);
        cfg.put(&mut ck1, "c", "C", None);
        cfg.put(&mut ck1, "d", "D", None);
        cfg.check(&mut ck1, "a", "A");
        cfg.check(&mut ck1, "b", "B");
        cfg.check(&mut ck1, "1", "1");
        cfg.check(&mut ck1, "49", "49");
    }

    // Now everybody.
    cfg.partition(&[0, 1, 2], &[]);
    cfg.put(&mut ck, "e", "E", None);
    cfg.check(&mut ck, "c", "C");
    cfg.check(&mut ck, "e", "E");
    cfg.check(&mut ck, "1", "1");
    cfg.end();
}

/// Are the snapshots not too big? 500 bytes is a generous bound for these
/// operations.
#[test]
fn snapshot_size() {
    const NSERVERS: usize = 3;
    let maxraftstate = 1000;
    let maxsnapshotstate = 500;
    let cfg = Config::new(NSERVERS, false, maxraftstate as i64);
    let mut ck = cfg.make_client(&cfg.all());
    cfg.begin("Test: snapshot size is reasonable (3B)");
    for _ in 0..200 {
        cfg.put(&mut ck, "x", "0", None);
        cfg.check(&mut ck, "x", "0");
        cfg.put(&mut ck, "x", "1", None);
        cfg.check(&mut ck, "x", "1");
    }
    let size = cfg.log_size();
    assert!(
        size <= 8 * maxraftstate,
        "logs were not trimmed ({size} > 8*{maxraftstate})"
    );
    let ssize = cfg.snapshot_size();
    assert!(
        ssize <= maxsnapshotstate,
        "snapshot too large ({ssize} > {maxsnapshotstate})"
    );
    cfg.end();
}

#[test]
fn speed_3b() {
    generic_test_speed("3B", 1000);
}

#[test]
fn snapshot_recover() {
    // Test: restarts, snapshots, one client (3B) ...
    generic_test("3B", 1, 5, false, true, false, 1000, false);
}

#[test]
fn snapshot_recover_many_clients() {
    // Test: restarts, snapshots, many clients (3B) ...
    generic_test("3B", 20, 5, false, true, false, 1000, false);
}

#[test]
fn snapshot_unreliable() {
    // Test: unreliable net, snapshots, many clients (3B) ...
    generic_test("3B", 5, 5, true, false, false, 1000, false);
}

#[test]
fn snapshot_unreliable_recover() {
    // Test: unreliable net, restarts, snapshots, many clients (3B) ...
    generic_test("3B", 5, 5, true, true, false, 1000, false);
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition() {
    // Test: unreliable net, restarts, partitions, snapshots, many clients (3B) ...
    generic_test("3B", 5, 5, true, true, true, 1000, false);
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_linearizable() {
    // Test: unreliable net, restarts, partitions, snapshots, random keys, many clients (3B) ...
    generic_test("3B", 15, 7, true, true, true, 1000, true);
}
