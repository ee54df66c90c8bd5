//! The whole-cluster simulator driven by proptest over random schedules.
//!
//! Each case is a seeded run (see `checked_raft::sim`): 3 or 5 servers, a
//! network that loses, duplicates and reorders messages, partitions,
//! crashes (some between two effects of one handler) and restarts from
//! stable storage, applications that snapshot, and lagging servers caught up
//! by InstallSnapshot; in half the runs, writes that complete milliseconds
//! after they are made, as on a disk (`SimConfig::write_ms`). Every
//! property of Figure 3 is checked after every
//! event; after the chaos the network heals and the run must elect a leader
//! and apply a fresh proposal on every server.
//!
//! The runner's seed is fixed, so the same schedules run every time; set
//! `SIM_SEED` to explore others (`SIM_SEED=7 cargo test --test simulation`).

use checked_raft::sim::{Delays, Faults, SimConfig, Simulation, Stats};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;

/// Schedules for each of the 3- and 5-server clusters.
const CASES: u32 = 2_000;

fn schedule(servers: usize) -> impl Strategy<Value = SimConfig> {
    (
        any::<u64>(),
        0.0..0.3f64,
        0.0..0.3f64,
        0.0..0.1f64,
        any::<bool>(),
        0.0..0.01f64,
        2u64..=12,
        1usize..=8,
        any::<bool>(),
    )
        .prop_map(
            move |(
                seed,
                loss,
                duplicate,
                long_delay,
                partitions,
                crash_mid_step,
                snapshot_every,
                batch,
                async_writes,
            )| {
                SimConfig {
                    faults: Faults {
                        loss,
                        duplicate,
                        long_delay,
                        partitions,
                        crashes: true,
                        crash_mid_step,
                    },
                    delays: Delays {
                        normal_ms: 10,
                        long_ms: 300,
                    },
                    snapshot_every: Some(snapshot_every),
                    max_entries_per_message: batch,
                    // Half the runs write as on a disk: a write completes
                    // 1-12 ms after it is made, the leader's AppendEntries
                    // go first, and a crash loses what is pending.
                    write_ms: async_writes.then_some((1, 13)),
                    ..SimConfig::new(seed, servers)
                }
            },
        )
}

fn runner_seed() -> [u8; 32] {
    let seed: u64 = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5241_4654); // "RAFT"
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes
}

fn explore(servers: usize, cases: u32) {
    let config = Config {
        cases,
        failure_persistence: None,
        // A failing seed is a failing seed: shrinking the knobs rarely helps
        // and each case is a whole simulated run.
        max_shrink_iters: 32,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &runner_seed());
    let mut runner = TestRunner::new_with_rng(config, rng);
    let totals = RefCell::new((0u32, Stats::default(), 0usize, 0u64));
    let result = runner.run(&schedule(servers), |config| {
        let report = Simulation::new(config)
            .and_then(Simulation::run)
            .map_err(|failure| TestCaseError::fail(failure.to_string()))?;
        let mut totals = totals.borrow_mut();
        totals.0 += 1;
        totals.1.add(&report.stats);
        totals.2 += report.elections;
        totals.3 = totals.3.max(report.recovery_ms);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (runs, stats, elections, worst_recovery) = totals.into_inner();
    println!(
        "{servers} servers: {runs} schedules passed, every property checked after each of {} steps; \
         {elections} elections, {} proposals, {} crashes ({} mid-handler), {} restarts, \
         {} partitions, {} messages sent ({} dropped, {} duplicated), {} snapshots taken, \
         {} installed by InstallSnapshot; slowest recovery after healing {worst_recovery} ms",
        stats.steps,
        stats.servers.proposals,
        stats.servers.crashes,
        stats.servers.crashes_mid_step,
        stats.servers.restarts,
        stats.partitions,
        stats.sent,
        stats.dropped,
        stats.duplicated,
        stats.servers.snapshots_taken,
        stats.servers.snapshots_installed,
    );
    // The runs must have exercised what they claim to.
    assert_eq!(runs, cases, "every schedule must run");
    assert!(
        stats.servers.crashes_mid_step > 0 && stats.servers.restarts > 0,
        "no crashes: {stats:?}"
    );
    assert!(stats.servers.snapshots_taken > 0, "no snapshots: {stats:?}");
    if servers > 1 {
        assert!(
            stats.duplicated > 0 && stats.dropped > 0,
            "no faults: {stats:?}"
        );
        assert!(
            stats.servers.snapshots_installed > 0,
            "no InstallSnapshot: {stats:?}"
        );
        assert!(stats.partitions > 0, "no partitions: {stats:?}");
    }
}

#[test]
fn three_servers_stay_safe_and_recover_under_random_schedules() {
    explore(3, CASES);
}

#[test]
fn five_servers_stay_safe_and_recover_under_random_schedules() {
    explore(5, CASES);
}

#[test]
fn one_and_seven_servers_stay_safe_and_recover_under_random_schedules() {
    explore(1, CASES / 10);
    explore(7, CASES / 4);
}

#[test]
fn same_seed_same_run() {
    let run = || Simulation::new(SimConfig::new(42, 5)).and_then(Simulation::run);
    let (a, b) = (
        run().expect("seed 42 passes"),
        run().expect("seed 42 passes"),
    );
    assert_eq!(a, b);
}

/// The per-step check every run relies on (`check_after_step`, the full
/// `check_invariants` narrowed to the server that stepped) gives the full
/// check's verdict and leaves its history, step for step, over runs with
/// every fault: crashes mid-step, snapshots, partitions, 3 and 5 servers.
#[test]
fn the_narrowed_check_agrees_with_the_full_check() {
    let (mut runs, mut steps) = (0, 0);
    for servers in [3, 5] {
        for seed in 0..500 {
            let config = SimConfig {
                audit_checks: true,
                snapshot_every: Some(1 + seed % 7),
                max_entries_per_message: [1, 8][seed as usize % 2],
                ..SimConfig::new(seed, servers)
            };
            match Simulation::new(config).and_then(Simulation::run) {
                Ok(report) => {
                    runs += 1;
                    steps += report.stats.steps;
                }
                Err(failure) => panic!("{failure}"),
            }
        }
    }
    println!("{runs} audited runs, {steps} steps each checked twice");
}
