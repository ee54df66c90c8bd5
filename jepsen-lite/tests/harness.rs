//! `jepsen-lite run` on the thread runtime: short runs under each nemesis
//! are valid, and every file of the report is written.
//!
//! These run in real time (a few seconds each) on the library's thread
//! runtime over the emulated network. The runs are serialized: each uses
//! both cores.

use jepsen_lite::harness::results::Validity;
use jepsen_lite::harness::runner;
use jepsen_lite::harness::{Backend, NemesisKind, RunOptions, Storage, Workload};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn store() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("harness-store")
}

/// A short run: 3 servers, 4 clients, 4 s with faults 1 s on / 0.5 s off.
fn short(workload: Workload, nemesis: &[NemesisKind], seed: u64) -> RunOptions {
    RunOptions {
        nodes: 3,
        clients: 4,
        time: Duration::from_secs(4),
        workload,
        nemesis: nemesis.to_vec(),
        seed,
        rate: Some(100.0),
        nemesis_on: Duration::from_secs(1),
        nemesis_off: Duration::from_millis(500),
        op_timeout: Duration::from_secs(1),
        keys: 2,
        ops_per_key: 100,
        recovery: Duration::from_secs(10),
        check_timeout: Duration::from_secs(60),
        store: store(),
        backend: Backend::Threads,
        storage: Storage::Memory,
        bug: None,
        server_bin: None,
    }
}

fn run_valid(options: &RunOptions) {
    if checked_raft::runtime::LOOM_BUILD {
        // `cargo test --features loom` turns the runtime into loom's, which
        // runs only inside loom models; these tests run in the plain build.
        eprintln!("skipped in the loom build");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let outcome = runner::run(options, &mut |_| {}).expect("the run completes");
    let results = &outcome.results;
    assert_eq!(
        results.valid,
        Validity::Valid,
        "{}: not valid; report in {}",
        options.test_name(),
        outcome.dir.display()
    );
    for file in [
        "history.jsonl",
        "results.json",
        "timeline.html",
        "latency.svg",
        "rate.svg",
        "latency-quantiles.svg",
        "jepsen.log",
    ] {
        assert!(
            outcome.dir.join(file).is_file(),
            "{file} missing in {}",
            outcome.dir.display()
        );
    }
    let history = std::fs::read_to_string(outcome.dir.join("history.jsonl")).unwrap();
    let oks = history
        .lines()
        .filter(|l| l.contains(r#""type":"ok""#))
        .count();
    assert!(
        oks > 20,
        "{}: only {oks} operations succeeded",
        options.test_name()
    );
    if !options.nemesis.is_empty() {
        assert!(
            history.contains(r#""process":"nemesis""#),
            "no nemesis events recorded"
        );
    }
}

#[test]
fn no_faults_is_valid() {
    run_valid(&short(Workload::Register, &[], 1));
}

#[test]
fn partitions_are_valid() {
    run_valid(&short(Workload::Register, &[NemesisKind::Partition], 2));
}

#[test]
fn kills_are_valid() {
    run_valid(&short(Workload::Kv, &[NemesisKind::Kill], 3));
}

#[test]
fn kills_on_disk_are_valid() {
    // Every server on a DiskStorage: a killed server reopens its log.
    let options = RunOptions {
        storage: Storage::Disk,
        ..short(Workload::Kv, &[NemesisKind::Kill], 7)
    };
    run_valid(&options);
}

#[test]
fn an_unreliable_network_is_valid() {
    run_valid(&short(Workload::Append, &[NemesisKind::Unreliable], 4));
}

#[test]
fn long_reordering_is_valid() {
    run_valid(&short(Workload::Register, &[NemesisKind::Reorder], 5));
}

#[test]
fn every_fault_together_is_valid() {
    let mut options = short(Workload::Register, &NemesisKind::ALL, 6);
    options.nodes = 5;
    options.time = Duration::from_secs(6);
    run_valid(&options);
}
