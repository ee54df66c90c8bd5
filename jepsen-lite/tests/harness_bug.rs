//! The harness finds a broken service: with the bug catalogue's
//! `local-reads` (every server answers gets from its own copy, without the
//! log), a run under partitions is not linearizable, and the report says
//! why. Needs `--features bug-catalogue`.

use jepsen_lite::harness::results::Validity;
use jepsen_lite::harness::runner;
use jepsen_lite::harness::{Backend, NemesisKind, RunOptions, ServiceBug, Workload};
use std::path::PathBuf;
use std::time::Duration;

fn options(backend: Backend, seed: u64) -> RunOptions {
    RunOptions {
        nodes: 3,
        clients: 6,
        time: Duration::from_secs(6),
        workload: Workload::Register,
        nemesis: vec![NemesisKind::Partition],
        seed,
        rate: Some(200.0),
        nemesis_on: Duration::from_secs(2),
        nemesis_off: Duration::from_millis(500),
        op_timeout: Duration::from_secs(1),
        keys: 2,
        ops_per_key: 200,
        recovery: Duration::from_secs(10),
        check_timeout: Duration::from_secs(60),
        store: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("harness-bug-store"),
        backend,
        bug: Some(ServiceBug::LocalReads),
    }
}

fn assert_found(backend: Backend) {
    let outcome = runner::run(&options(backend, 11), &mut |_| {}).expect("the run completes");
    assert_eq!(
        outcome.results.valid,
        Validity::Invalid,
        "stale local reads went unnoticed; report in {}",
        outcome.dir.display()
    );
    let results = std::fs::read_to_string(outcome.dir.join("results.json")).unwrap();
    assert!(results.contains(r#""valid": false"#), "{results}");
    assert!(results.contains("explanation"), "{results}");
    assert!(outcome.dir.join("linearizability.html").is_file());
    assert_eq!(outcome.exit_code(), 1);
}

#[test]
fn local_reads_are_found_on_threads() {
    assert_found(Backend::Threads);
}

#[test]
fn local_reads_are_found_in_the_simulator() {
    assert_found(Backend::Sim);
}
