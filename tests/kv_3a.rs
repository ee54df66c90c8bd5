//! Part 3A (key/value service without snapshots) of the MIT 6.824 (2022)
//! kvraft lab's tests, `src/kvraft/test_test.go`, ported with the lab's
//! schedules and checks (harness: `kv`).

// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

mod kv;

use kv::*;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn basic() {
    // Test: one client (3A) ...
    generic_test("3A", 1, 5, false, false, false, -1, false);
}

#[test]
fn speed() {
    generic_test_speed("3A", -1);
}

#[test]
fn concurrent() {
    // Test: many clients (3A) ...
    generic_test("3A", 5, 5, false, false, false, -1, false);
}

#[test]
fn unreliable() {
    // Test: unreliable net, many clients (3A) ...
    generic_test("3A", 5, 5, true, false, false, -1, false);
}

#[test]
fn unreliable_one_key() {
    const NSERVERS: usize = 3;
    let cfg = Config::new(NSERVERS, true, -1);
    let mut ck = cfg.make_client(&cfg.all());
    cfg.begin("Test: concurrent append to same key, unreliable (3A)");
    cfg.put(&mut ck, "k", "", None);
    const NCLIENT: usize = 5;
    const UPTO: usize = 10;
    spawn_clients_and_wait(&cfg, NCLIENT, |me, myck| {
        for n in 0..UPTO {
            cfg.append(myck, "k", &format!("x {me} {n} y"), None);
        }
    });
    let vx = cfg.get(&mut ck, "k", None);
    check_concurrent_appends(&vx, &[UPTO; NCLIENT]);
    cfg.end();
}

/// Submits requests in the minority partition and checks that they do not
/// complete until the partition heals. The leader of the original network
/// ends up in the minority.
#[test]
fn one_partition() {
    const NSERVERS: usize = 5;
    let cfg = Config::new(NSERVERS, false, -1);
    let mut ck = cfg.make_client(&cfg.all());
    cfg.put(&mut ck, "1", "13", None);

    cfg.begin("Test: progress in majority (3A)");
    let (p1, p2) = cfg.make_partition();
    cfg.partition(&p1, &p2);
    let mut ckp1 = cfg.make_client(&p1);
    let mut ckp2a = cfg.make_client(&p2);
    let mut ckp2b = cfg.make_client(&p2);
    cfg.put(&mut ckp1, "1", "14", None);
    cfg.check(&mut ckp1, "1", "14");
    cfg.end();

    cfg.begin("Test: no progress in minority (3A)");
    let (ckp2a_id, ckp2b_id) = (ckp2a.id, ckp2b.id);
    std::thread::scope(|s| {
        let (done0_tx, done0) = mpsc::channel();
        let (done1_tx, done1) = mpsc::channel();
        let (cfg, ckp2a, ckp2b) = (&cfg, &mut ckp2a, &mut ckp2b);
        s.spawn(move || {
            cfg.put(ckp2a, "1", "15", None);
            let _ = done0_tx.send(());
        });
        s.spawn(move || {
            cfg.get(ckp2b, "1", None); // a different clerk in p2
            let _ = done1_tx.send(());
        });
        std::thread::sleep(Duration::from_secs(1));
        assert!(done0.try_recv().is_err(), "Put in minority completed");
        assert!(done1.try_recv().is_err(), "Get in minority completed");

        cfg.check(&mut ckp1, "1", "14");
        cfg.put(&mut ckp1, "1", "16", None);
        cfg.check(&mut ckp1, "1", "16");
        cfg.end();

        cfg.begin("Test: completion after heal (3A)");
        cfg.connect_all();
        cfg.connect_client(ckp2a_id, &cfg.all());
        cfg.connect_client(ckp2b_id, &cfg.all());
        std::thread::sleep(ELECTION_TIMEOUT);
        assert!(
            done0.recv_timeout(Duration::from_millis(30 * 100)).is_ok(),
            "Put did not complete"
        );
        assert!(
            done1.recv_timeout(Duration::from_millis(30 * 100)).is_ok(),
            "Get did not complete"
        );
    });
    cfg.check(&mut ck, "1", "15");
    cfg.end();
}

#[test]
fn many_partitions_one_client() {
    // Test: partitions, one client (3A) ...
    generic_test("3A", 1, 5, false, false, true, -1, false);
}

#[test]
fn many_partitions_many_clients() {
    // Test: partitions, many clients (3A) ...
    generic_test("3A", 5, 5, false, false, true, -1, false);
}

#[test]
fn persist_one_client() {
    // Test: restarts, one client (3A) ...
    generic_test("3A", 1, 5, false, true, false, -1, false);
}

#[test]
fn persist_concurrent() {
    // Test: restarts, many clients (3A) ...
    generic_test("3A", 5, 5, false, true, false, -1, false);
}

#[test]
fn persist_concurrent_unreliable() {
    // Test: unreliable net, restarts, many clients (3A) ...
    generic_test("3A", 5, 5, true, true, false, -1, false);
}

#[test]
fn persist_partition() {
    // Test: restarts, partitions, many clients (3A) ...
    generic_test("3A", 5, 5, false, true, true, -1, false);
}

#[test]
fn persist_partition_unreliable() {
    // Test: unreliable net, restarts, partitions, many clients (3A) ...
    generic_test("3A", 5, 5, true, true, true, -1, false);
}

#[test]
fn persist_partition_unreliable_linearizable() {
    // Test: unreliable net, restarts, partitions, random keys, many clients (3A) ...
    generic_test("3A", 15, 7, true, true, true, -1, true);
}

/// Not a lab test: the harness's history check must be able to fail. A
/// read that returns a value overwritten before it began is not
/// linearizable.
#[test]
#[should_panic(expected = "history is not linearizable")]
fn the_history_check_catches_a_stale_read() {
    use checked_raft::kv::{Op, Output};
    let log = OpLog::default();
    let put = |value: &str| Op::Put {
        key: "k".into(),
        value: value.into(),
    };
    let record = |client, op, output, call, ret| {
        log.record(Recorded {
            client,
            op,
            output,
            call,
            ret,
        })
    };
    record(0, put("1"), Output::Done, 0, 10);
    record(0, put("2"), Output::Done, 20, 30);
    record(
        1,
        Op::Get { key: "k".into() },
        Output::Value("1".into()),
        40,
        50,
    );
    check_history("stale read", &log);
}
