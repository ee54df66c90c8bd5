//! Crash consistency of the write-ahead log, with its real code: the same
//! `DiskStorage` that runs on disk runs here on `CrashFs`, which stops the
//! machine at a chosen file operation and reboots to a disk that keeps
//! what was synced plus what a `CrashMode` keeps of the rest (nothing, all,
//! a prefix, a torn sector-aligned write, an out-of-order subset).
//!
//! For each seed: a random workload of batches (hard states, appends of
//! commands up to 1.5 KiB so frames straddle sectors, truncations,
//! snapshots) on small segments (rotation and deletion happen often); then
//! for every operation of that run as the crash point and every crash
//! mode, the log reopened after the crash must hold exactly the state
//! after some batch between the last acknowledged one and the one in
//! flight (nothing acknowledged lost, nothing invented), and must take
//! further writes that survive another reopen.
//!
//! `WAL_CRASH_SEEDS=N` runs N seeds (default 1000).

// Compares with MemoryPersister, whose locks are loom's in the loom build.
#![cfg(not(feature = "loom"))]

use bytes::Bytes;
use checked_raft::consensus::{
    Entry, HardState, LogIndex, NodeId, Persist, Snapshot, SnapshotMeta, Stored, Term,
};
use checked_raft::runtime::{MemoryPersister, Persister};
use checked_raft::storage::{CrashFs, CrashMode, DiskOptions, DiskStats, DiskStorage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::sync::Arc;

/// A random valid workload: each batch fits the state the previous ones
/// left (as a correct core's effects do).
fn workload(seed: u64) -> Vec<Vec<Persist>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = Stored::default();
    let mut term = 0;
    let mut batches = Vec::new();
    for _ in 0..rng.random_range(10..40) {
        let mut batch = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            let op = match rng.random_range(0..10) {
                0 | 1 => {
                    term += rng.random_range(0..=1);
                    Persist::HardState(HardState {
                        current_term: Term(term),
                        voted_for: rng
                            .random_bool(0.7)
                            .then(|| NodeId(rng.random_range(1..=3))),
                    })
                }
                2..=6 => {
                    let first = model.last_index().0 + 1;
                    let count = rng.random_range(1..=4);
                    Persist::Append(
                        (first..first + count)
                            .map(|i| Entry {
                                index: LogIndex(i),
                                term: Term(term),
                                command: Bytes::from(vec![i as u8; rng.random_range(0..1500)]),
                            })
                            .collect(),
                    )
                }
                7 => {
                    let low = model.snapshot_meta().last_included_index.0;
                    let high = model.last_index().0;
                    Persist::TruncateAfter {
                        after: LogIndex(rng.random_range(low..=high)),
                    }
                }
                _ => {
                    let low = model.snapshot_meta().last_included_index.0;
                    let high = model.last_index().0;
                    let index = rng.random_range(low..=high);
                    Persist::Snapshot(Snapshot {
                        meta: SnapshotMeta {
                            last_included_index: LogIndex(index),
                            last_included_term: Term(term),
                        },
                        data: Bytes::from(vec![index as u8; rng.random_range(0..700)]),
                    })
                }
            };
            model.apply(&op).expect("the generator makes valid ops");
            batch.push(op);
        }
        batches.push(batch);
    }
    batches
}

/// The state after each prefix of batches: `states[k]` after `k` batches.
fn states(batches: &[Vec<Persist>]) -> Vec<Stored> {
    let memory = MemoryPersister::new();
    let mut states = vec![memory.load().unwrap()];
    for batch in batches {
        memory.persist_batch(batch).unwrap();
        states.push(memory.load().unwrap());
    }
    states
}

const SEGMENT_SIZE: u64 = 4096;

fn open(
    fs: &CrashFs,
    options: &DiskOptions,
) -> Result<DiskStorage, checked_raft::runtime::StorageError> {
    DiskStorage::open_with(Arc::new(fs.clone()), Path::new("/data"), options.clone())
}

/// Runs the workload on `fs` until it fails: how many batches were
/// acknowledged, whether one was in flight when it failed, and the
/// storage's counters.
fn run(fs: &CrashFs, options: &DiskOptions, batches: &[Vec<Persist>]) -> (usize, bool, DiskStats) {
    let Ok(storage) = open(fs, options) else {
        return (0, false, DiskStats::default());
    };
    for (k, batch) in batches.iter().enumerate() {
        if storage.persist_batch(batch).is_err() {
            return (k, true, storage.stats());
        }
    }
    (batches.len(), false, storage.stats())
}

/// What a sweep explored.
#[derive(Debug, Default)]
struct Sweep {
    crash_states: u64,
    repaired: u64,
    rotations: u64,
    deletions: u64,
}

/// Crashes seed `seed`'s run at every operation in every mode; the first
/// crash state after which the log loses an acknowledged batch, invents a
/// state, refuses to start, or cannot go on.
fn sweep_seed(seed: u64, options: &DiskOptions, sweep: &mut Sweep) -> Result<(), String> {
    let batches = workload(seed);
    let states = states(&batches);
    // A run without a crash: how many crash points there are.
    let clean = CrashFs::new();
    let (acked, _, stats) = run(&clean, options, &batches);
    assert_eq!(
        acked,
        batches.len(),
        "seed {seed}: the run without a crash failed"
    );
    sweep.rotations += stats.rotations;
    sweep.deletions += stats.segments_deleted;
    let points = clean.operations();
    for at in 1..=points {
        let fs = CrashFs::new();
        fs.crash_at(at);
        let (acked, in_flight, _) = run(&fs, options, &batches);
        for (m, mode) in CrashMode::ALL.into_iter().enumerate() {
            sweep.crash_states += 1;
            let rebooted = fs.reboot(mode, seed * 1_000_003 + at * 7 + m as u64);
            let context = format!(
                "seed {seed}, crash at operation {at} of {points}, {mode:?}, {acked} batches acknowledged"
            );
            let storage = open(&rebooted, options)
                .map_err(|e| format!("{context}: reopening failed: {e}"))?;
            sweep.repaired += u64::from(!storage.repairs().is_empty());
            let got = storage.load().map_err(|e| format!("{context}: {e}"))?;
            let last = acked + usize::from(in_flight);
            let Some(k) = (acked..=last).find(|&k| states[k] == got) else {
                return Err(format!(
                    "{context}: recovered a state that is none of batches {acked}..={last} (last index {})",
                    got.last_index()
                ));
            };
            // The repaired log takes the next batch, durably.
            if let Some(next) = batches.get(k) {
                storage
                    .persist_batch(next)
                    .map_err(|e| format!("{context}: writing after recovery: {e}"))?;
                drop(storage);
                let again = open(&rebooted, options)
                    .map_err(|e| format!("{context}: reopening again: {e}"))?;
                if again.load().ok().as_ref() != Some(&states[k + 1]) {
                    return Err(format!("{context}: the batch after recovery was lost"));
                }
            }
        }
    }
    Ok(())
}

fn seeds() -> u64 {
    std::env::var("WAL_CRASH_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn no_crash_point_loses_an_acknowledged_batch_or_invents_a_state() {
    let options = DiskOptions::with_segment_size(SEGMENT_SIZE);
    let mut sweep = Sweep::default();
    let seeds = seeds();
    for seed in 0..seeds {
        if let Err(failure) = sweep_seed(seed, &options, &mut sweep) {
            panic!("{failure}");
        }
    }
    println!(
        "{seeds} seeds, {} crash states (crash point x mode), {} recovered by cutting a torn tail; the runs without a crash started {} segments and deleted {}",
        sweep.crash_states, sweep.repaired, sweep.rotations, sweep.deletions
    );
    assert!(
        sweep.repaired > 0,
        "no crash state exercised the torn-tail repair"
    );
    assert!(
        sweep.deletions > 0,
        "no run deleted a segment a snapshot covers"
    );
}

/// The sweep must catch each bug of the log's catalogue (a crash test
/// that cannot fail proves nothing): `cargo test --release --features
/// bug-catalogue --test wal_crash`.
#[cfg(feature = "bug-catalogue")]
#[test]
fn the_crash_sweep_catches_every_bug_of_the_logs_catalogue() {
    use checked_raft::storage::WalBug;
    let mut missed = Vec::new();
    for bug in WalBug::ALL {
        let options = DiskOptions {
            segment_size: SEGMENT_SIZE,
            bug: Some(bug),
        };
        let mut sweep = Sweep::default();
        match (0..seeds()).find_map(|seed| sweep_seed(seed, &options, &mut sweep).err()) {
            Some(failure) => println!("{bug:?}: {failure}"),
            None => missed.push(bug),
        }
    }
    assert!(missed.is_empty(), "bugs the crash sweep missed: {missed:?}");
}
