//! Part 2D (log compaction) of the MIT 6.824 Raft lab's tests
//! (`src/raft/test_test.go`): `snapcommon` and the tests built on it
//! (`TestSnapshotBasic2D`, `TestSnapshotInstall2D`,
//! `TestSnapshotInstallUnreliable2D`, `TestSnapshotInstallCrash2D`,
//! `TestSnapshotInstallUnCrash2D`), `TestSnapshotAllCrash2D` and, from the
//! 6.5840 (2023) version, `TestSnapshotInit2D`, with the lab's schedules and
//! thresholds, run against the thread runtime over the emulated network
//! (harness: `tests/lab/mod.rs`, whose applier snapshots every
//! [`SNAPSHOT_INTERVAL`] entries).
// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

mod lab;
use lab::*;

use rand::Rng;

/// Go's `rand.Int()`: a non-negative 63-bit integer.
fn rand_int() -> u64 {
    rand::rng().random_range(0..1 << 63)
}

/// Perhaps enough commands to get a snapshot: half to one and a half
/// snapshot intervals.
fn perhaps_a_snapshot() -> u64 {
    SNAPSHOT_INTERVAL / 2 + rand::rng().random_range(0..SNAPSHOT_INTERVAL)
}

/// The lab's `snapcommon`: thirty rounds in which the leader (or, one round
/// in three, a follower) is handed a batch of commands, perhaps enough for a
/// snapshot, while a victim (the leader one round in three, else the
/// follower after it) is disconnected or crashed, then brought back, maybe
/// needing an InstallSnapshot to catch up. The persisted state must stay
/// under [`MAX_LOG_SIZE`].
fn snapcommon(name: &str, disconnect: bool, reliable: bool, crash: bool) {
    let iters = 30;
    let servers = 3;
    let mut cfg = Config::new(servers, !reliable, true);
    cfg.begin(name);

    cfg.one(int(rand_int()), servers, true);
    let mut leader1 = cfg.check_one_leader();

    for i in 0..iters {
        let (sender, victim) = if i % 3 == 1 {
            ((leader1 + 1) % servers, leader1)
        } else {
            (leader1, (leader1 + 1) % servers)
        };

        if disconnect {
            cfg.disconnect(victim);
            cfg.one(int(rand_int()), servers - 1, true);
        }
        if crash {
            cfg.crash1(victim);
            cfg.one(int(rand_int()), servers - 1, true);
        }

        for _ in 0..perhaps_a_snapshot() {
            let _ = cfg.start_on(sender, int(rand_int()));
        }

        // Let the applier threads catch up with the starts.
        if !disconnect && !crash {
            // Make sure all followers have caught up, so that
            // snapshot_basic needs no InstallSnapshot.
            cfg.one(int(rand_int()), servers, true);
        } else {
            cfg.one(int(rand_int()), servers - 1, true);
        }

        let size = cfg.log_size();
        assert!(
            size < MAX_LOG_SIZE,
            "Log size too large: {size} bytes (limit {MAX_LOG_SIZE})"
        );

        if disconnect {
            // Reconnect a follower, who may be behind and need a snapshot
            // to catch up.
            cfg.connect(victim);
            cfg.one(int(rand_int()), servers, true);
            leader1 = cfg.check_one_leader();
        }
        if crash {
            cfg.start1(victim);
            cfg.connect(victim);
            cfg.one(int(rand_int()), servers, true);
            leader1 = cfg.check_one_leader();
        }
    }

    cfg.end();
}

#[test]
fn snapshot_basic() {
    snapcommon("Test (2D): snapshots basic", false, true, false);
}

#[test]
fn snapshot_install() {
    snapcommon(
        "Test (2D): install snapshots (disconnect)",
        true,
        true,
        false,
    );
}

#[test]
fn snapshot_install_unreliable() {
    snapcommon(
        "Test (2D): install snapshots (disconnect+unreliable)",
        true,
        false,
        false,
    );
}

#[test]
fn snapshot_install_crash() {
    snapcommon("Test (2D): install snapshots (crash)", false, true, true);
}

#[test]
fn snapshot_install_uncrash() {
    snapcommon(
        "Test (2D): install snapshots (unreliable+crash)",
        false,
        false,
        true,
    );
}

/// Crashes every server and restarts it from its persister.
fn crash_and_restart_all(cfg: &mut Config) {
    let servers = cfg.n();
    for i in 0..servers {
        cfg.crash1(i);
    }
    for i in 0..servers {
        cfg.start1(i);
        cfg.connect(i);
    }
}

/// Do the servers persist their snapshots, and restart from the snapshot
/// together with the tail of the log?
#[test]
fn snapshot_all_crash() {
    let servers = 3;
    let iters = 5;
    let mut cfg = Config::new(servers, false, true);
    cfg.begin("Test (2D): crash and restart all servers");

    cfg.one(int(rand_int()), servers, true);

    for _ in 0..iters {
        for _ in 0..perhaps_a_snapshot() {
            cfg.one(int(rand_int()), servers, true);
        }

        let index1 = cfg.one(int(rand_int()), servers, true);

        crash_and_restart_all(&mut cfg);

        let index2 = cfg.one(int(rand_int()), servers, true);
        assert!(index2 > index1, "index decreased from {index1} to {index2}");
    }

    cfg.end();
}

/// Do the servers initialise their in-memory copy of the snapshot on
/// restart, so that later writes of the persistent state don't lose it?
#[test]
fn snapshot_init() {
    let servers = 3;
    let mut cfg = Config::new(servers, false, true);
    cfg.begin("Test (2D): snapshot initialization after crash");

    cfg.one(int(rand_int()), servers, true);

    // Enough commands to make a snapshot.
    for _ in 0..SNAPSHOT_INTERVAL + 1 {
        cfg.one(int(rand_int()), servers, true);
    }

    crash_and_restart_all(&mut cfg);

    // A single command, to get something written back to persistent
    // storage.
    cfg.one(int(rand_int()), servers, true);

    crash_and_restart_all(&mut cfg);

    // Another command, to trigger the potential bug.
    cfg.one(int(rand_int()), servers, true);

    cfg.end();
}
