//! Crash consistency of whole clusters, with the real code (issue 21 part
//! 4, the cluster half): three simulated servers, each keeping its state
//! in the real `DiskStorage` on a `CrashFs` disk, under the simulator's
//! nemesis (crashes, restarts, partitions, a lossy duplicating network),
//! with and without asynchronous writes (thesis §10.2.1).
//!
//! For each seed: a run without a planned crash counts each server's
//! file-system operations during chaos; then, for every one of those
//! operations of every server, the same run again with that server's
//! machine stopped at that operation (a crash point: in the middle of a
//! batch's write or its fdatasync, a segment rotation, a snapshot's file,
//! rename or directory sync, or a recovery's repair). Every crash, planned
//! or the nemesis's, reboots the disk to what a random `CrashMode` keeps
//! of what was not synced (nothing, all, a prefix, a torn sector-aligned
//! write, an out-of-order subset). Each run must pass everything the
//! simulator checks: every Raft property after every step, the reopened
//! log holding exactly the acknowledged state (or it and the batch in
//! flight), no acknowledged client write lost, and liveness after healing.
//!
//! `CLUSTER_CRASH_SEEDS=N` runs N seeds (default 1000, as CI runs it in
//! release builds; `cargo test` in a debug build runs a few).

// The storage compares with MemoryPersister, whose locks are loom's there.
#![cfg(not(feature = "loom"))]

use checked_raft::sim::{DiskConfig, Failure, Report, SimConfig, Simulation};
use checked_raft::storage::DiskOptions;

/// Small segments: rotations and deletions happen in every run.
const SEGMENT_SIZE: u64 = 8192;

fn config(seed: u64, crash_at: Option<(usize, u64)>) -> SimConfig {
    SimConfig {
        chaos_ms: 1_500,
        propose_every_ms: 20,
        // Writes span sectors: a crash can tear them.
        command_bytes: 300,
        nemesis_every_ms: 100,
        snapshot_every: Some(4),
        // Half the seeds write in the background (the leader's parallel
        // write), half within the step.
        write_ms: (seed % 2 == 1).then_some((1, 13)),
        disk: Some(DiskConfig {
            crash_at,
            ..DiskConfig::new(DiskOptions::with_segment_size(SEGMENT_SIZE))
        }),
        ..SimConfig::new(seed, 3)
    }
}

fn run(config: SimConfig) -> Result<Report, Box<Failure>> {
    Simulation::new(config)
        .and_then(Simulation::run)
        .map_err(Box::new)
}

/// What a sweep explored.
#[derive(Debug, Default)]
struct Sweep {
    runs: u64,
    crash_points: u64,
    disk_crashes: u64,
    repairs: u64,
    acknowledged: u64,
    snapshots: u64,
}

/// Runs seed `seed` once without a planned crash, then once for every
/// crash point of its chaos.
fn sweep_seed(seed: u64, sweep: &mut Sweep) -> Result<(), Box<Failure>> {
    sweep_seed_with(seed, sweep, &|config| config)
}

/// [`sweep_seed`], with every run's config changed by `change`.
fn sweep_seed_with(
    seed: u64,
    sweep: &mut Sweep,
    change: &dyn Fn(SimConfig) -> SimConfig,
) -> Result<(), Box<Failure>> {
    let config = |seed, crash_at| change(config(seed, crash_at));
    let reference = run(config(seed, None))?;
    sweep.runs += 1;
    sweep.disk_crashes += reference.stats.servers.disk_crashes;
    sweep.repairs += reference.stats.servers.disk_repairs;
    for (server, &points) in reference.chaos_disk_operations.iter().enumerate() {
        for at in 1..=points {
            let report = run(config(seed, Some((server, at))))?;
            sweep.runs += 1;
            sweep.crash_points += 1;
            assert!(
                report.stats.servers.disk_crashes > 0,
                "seed {seed}: the crash point {at} of server {} was never reached",
                server + 1
            );
            sweep.disk_crashes += report.stats.servers.disk_crashes;
            sweep.repairs += report.stats.servers.disk_repairs;
            sweep.acknowledged += report.acknowledged as u64;
            sweep.snapshots += report.stats.servers.snapshots_taken;
        }
    }
    Ok(())
}

fn seeds() -> u64 {
    let default = match cfg!(debug_assertions) {
        true => 3,
        false => 1000,
    };
    std::env::var("CLUSTER_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_crash_point_of_a_cluster_loses_an_acknowledged_write_or_breaks_a_property() {
    let seeds = seeds();
    let mut sweep = Sweep::default();
    for seed in 0..seeds {
        if let Err(failure) = sweep_seed(seed, &mut sweep) {
            panic!("{failure}");
        }
    }
    println!(
        "{seeds} seeds: {} runs, {} crash points, {} crashes at a crash point, {} restarts that cut a torn tail, {} acknowledged writes kept, {} snapshots",
        sweep.runs,
        sweep.crash_points,
        sweep.disk_crashes,
        sweep.repairs,
        sweep.acknowledged,
        sweep.snapshots
    );
    assert!(sweep.crash_points > 0 && sweep.acknowledged > 0);
    assert!(
        sweep.repairs > 0,
        "no restart exercised the torn-tail repair"
    );
}

/// The sweep must catch each bug of the log's catalogue, with the check of
/// each reopened log and, apart, without it (the cluster's own checks must
/// catch a log that loses writes by themselves): `cargo test --release
/// --features bug-catalogue --test cluster_crash`.
#[cfg(feature = "bug-catalogue")]
#[test]
fn the_cluster_sweep_catches_every_bug_of_the_logs_catalogue() {
    use checked_raft::sim::FailureReason;
    use checked_raft::storage::WalBug;
    let mut missed = Vec::new();
    for check_recovery in [true, false] {
        for bug in WalBug::ALL {
            let change = |config: SimConfig| SimConfig {
                disk: config.disk.map(|disk| DiskConfig {
                    options: DiskOptions {
                        bug: Some(bug),
                        ..disk.options
                    },
                    check_recovery,
                    ..disk
                }),
                ..config
            };
            let mut sweep = Sweep::default();
            match (0..seeds()).find_map(|seed| sweep_seed_with(seed, &mut sweep, &change).err()) {
                Some(failure) => {
                    let what = match &failure.reason {
                        FailureReason::Storage(_) => {
                            "the storage check (the log refused to reopen, or recovered another state)"
                        }
                        FailureReason::AcknowledgedWriteLost(_) => "no acknowledged write lost",
                        FailureReason::Violation(_) => "a Raft property",
                        _ => "another check",
                    };
                    println!(
                        "{bug:?} (recovery checked: {check_recovery}): caught by {what} after {} runs: seed {} at {} ms: {}",
                        sweep.runs, failure.seed, failure.time_ms, failure.reason
                    );
                }
                None => missed.push((bug, check_recovery)),
            }
        }
    }
    assert!(
        missed.is_empty(),
        "bugs the cluster sweep missed: {missed:?}"
    );
}
