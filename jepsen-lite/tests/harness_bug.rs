//! The harness finds a broken service: with the bug catalogue's
//! `local-reads` (every server answers gets from its own copy, without the
//! log), a run under kills is not linearizable, and the report says why.
//! Needs `--features bug-catalogue`.
//!
//! Kills, because the clerk follows the leader: reads reach a lagging
//! server mostly while a clerk looks for the leader after a fault, and a
//! server restarted after a kill lags furthest (its store is its last
//! snapshot until it learns the commit index). Under partitions alone a
//! clerk leaves a deposed leader at its first write, before the majority
//! has committed anything newer, and the bug showed in only about one run
//! in five.

use jepsen_lite::harness::results::Validity;
use jepsen_lite::harness::runner;
use jepsen_lite::harness::{Backend, NemesisKind, RunOptions, ServiceBug, Storage, Workload};
use std::path::PathBuf;
use std::time::Duration;

fn options(backend: Backend, seed: u64) -> RunOptions {
    RunOptions {
        nodes: 3,
        clients: 6,
        time: Duration::from_secs(8),
        workload: Workload::Register,
        nemesis: vec![NemesisKind::Kill],
        seed,
        rate: Some(200.0),
        nemesis_on: Duration::from_secs(1),
        nemesis_off: Duration::from_millis(500),
        op_timeout: Duration::from_secs(1),
        // One key: every client reads what every other writes.
        keys: 1,
        ops_per_key: 1000,
        recovery: Duration::from_secs(10),
        check_timeout: Duration::from_secs(60),
        store: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("harness-bug-store"),
        backend,
        storage: Storage::Memory,
        bug: Some(ServiceBug::LocalReads),
        server_bin: None,
    }
}

/// Runs up to `attempts` seeds until one history is found invalid, and
/// checks that run's report. The simulator is deterministic, so one seed
/// that finds the bug always does; on real threads, whether a client
/// happens to read from a lagging server depends on timing, so the claim
/// is that the harness finds the bug within a few short runs.
fn assert_found(backend: Backend, attempts: u64) {
    let mut dirs = Vec::new();
    for seed in 11..11 + attempts {
        let outcome = runner::run(&options(backend, seed), &mut |_| {}).expect("the run completes");
        if outcome.results.valid != Validity::Invalid {
            dirs.push(outcome.dir.display().to_string());
            continue;
        }
        let results = std::fs::read_to_string(outcome.dir.join("results.json")).unwrap();
        assert!(results.contains(r#""valid": false"#), "{results}");
        assert!(results.contains("explanation"), "{results}");
        assert!(outcome.dir.join("linearizability.html").is_file());
        assert_eq!(outcome.exit_code(), 1);
        return;
    }
    panic!("stale local reads went unnoticed in {attempts} runs; reports in {dirs:?}");
}

#[test]
fn local_reads_are_found_on_threads() {
    assert_found(Backend::Threads, 5);
}

#[test]
fn local_reads_are_found_in_the_simulator() {
    assert_found(Backend::Sim, 1);
}

/// The Elle-style checker finds the same bug in list-append transactions:
/// a transaction of reads answered from a lagging server's copy misses
/// appends that completed before it began (an anomaly that needs real
/// time, such as G-single-realtime), and the report names it.
#[test]
fn local_reads_are_found_by_the_elle_checker_in_the_simulator() {
    let mut dirs = Vec::new();
    for seed in 11..16 {
        let options = RunOptions {
            workload: Workload::ListAppend,
            keys: 3,
            ops_per_key: 32,
            ..options(Backend::Sim, seed)
        };
        let outcome = runner::run(&options, &mut |_| {}).expect("the run completes");
        if outcome.results.valid != Validity::Invalid {
            dirs.push(outcome.dir.display().to_string());
            continue;
        }
        let elle: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(outcome.dir.join("elle.json")).unwrap())
                .unwrap();
        let counts = elle["counts"].as_object().unwrap();
        assert!(!counts.is_empty(), "{elle}");
        let explanation = outcome.results.checker.explanation.clone().unwrap();
        assert!(
            counts
                .keys()
                .any(|kind| explanation.contains(kind.as_str())),
            "{explanation}"
        );
        assert_eq!(outcome.exit_code(), 1);
        // The timeline marks the anomaly's first transaction as an
        // anomaly, not as an operation that could not be linearized.
        let timeline = std::fs::read_to_string(outcome.dir.join("timeline.html")).unwrap();
        assert!(
            timeline.contains("This transaction is in the first anomaly the checker found, G"),
            "{}",
            outcome.dir.display()
        );
        assert!(!timeline.contains("could not linearize"));
        eprintln!("seed {seed}: {counts:?}");
        return;
    }
    panic!("stale local reads went unnoticed by the Elle checker; reports in {dirs:?}");
}
