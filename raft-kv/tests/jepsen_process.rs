//! jepsen-lite's process backend against real `raft-kv` processes: a run
//! under kill -9, SIGSTOP and partitions through the harness's link
//! proxies must be valid, with every requested fault fired; built with the
//! service's bug catalogue, the same backend must find reads served from a
//! server's own copy invalid. List-append transactions under the same
//! faults are strict serializable.

use jepsen_lite::harness::results::Validity;
use jepsen_lite::harness::runner;
use jepsen_lite::harness::{Backend, NemesisKind, RunOptions, Storage};
use std::path::PathBuf;
use std::time::Duration;

fn options(store: &std::path::Path, seed: u64) -> RunOptions {
    RunOptions {
        nodes: 3,
        clients: 5,
        time: Duration::from_secs(30),
        nemesis: vec![
            NemesisKind::Kill,
            NemesisKind::Pause,
            NemesisKind::Partition,
        ],
        seed,
        nemesis_on: Duration::from_secs(5),
        nemesis_off: Duration::from_secs(5),
        store: store.to_owned(),
        backend: Backend::Process,
        storage: Storage::Disk,
        server_bin: Some(PathBuf::from(env!("CARGO_BIN_EXE_raft-kv"))),
        ..RunOptions::default()
    }
}

#[cfg(not(feature = "bug-catalogue"))]
#[test]
fn a_30_second_run_under_kill_pause_and_partition_is_valid_and_every_fault_fires() {
    if skip_in_loom_build() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let outcome = runner::run(&options(store.path(), 7), &mut |_| {}).unwrap();
    let results = &outcome.results;
    let summary = jepsen_lite::harness::results::summary_lines(results).join("\n");
    assert_eq!(results.valid, Validity::Valid, "{summary}");
    assert!(results.never_fired.is_empty(), "{summary}");
    for fault in ["kill", "pause", "partition"] {
        assert!(
            results.faults[fault].windows >= 1,
            "{fault} never fired: {summary}"
        );
    }
    // Most operations succeeded, and each answer names its server.
    assert!(results.total.counts.ok > 500, "{summary}");
    let history = std::fs::read_to_string(outcome.dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"node\":"));
    // The servers' own logs are in the report.
    for n in 1..=3 {
        assert!(outcome.dir.join(format!("n{n}.log")).exists());
    }
}

/// List-append transactions over HTTP (`txn` without a compare, with
/// `request_append`) under the same faults: strict serializable by the
/// Elle-style checker.
#[cfg(not(feature = "bug-catalogue"))]
#[test]
fn a_list_append_run_under_kill_pause_and_partition_is_strict_serializable() {
    if skip_in_loom_build() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    let options = RunOptions {
        workload: jepsen_lite::harness::Workload::ListAppend,
        keys: 3,
        ops_per_key: 32,
        ..options(store.path(), 5)
    };
    let outcome = runner::run(&options, &mut |_| {}).unwrap();
    let results = &outcome.results;
    let summary = jepsen_lite::harness::results::summary_lines(results).join("\n");
    assert_eq!(results.valid, Validity::Valid, "{summary}");
    assert!(results.never_fired.is_empty(), "{summary}");
    assert!(results.total.counts.ok > 500, "{summary}");
    let elle = std::fs::read_to_string(outcome.dir.join("elle.json")).unwrap();
    assert!(elle.contains(r#""valid": true"#), "{elle}");
}

#[test]
fn too_short_a_run_for_every_fault_to_fire_is_refused() {
    let store = tempfile::tempdir().unwrap();
    let short = RunOptions {
        time: Duration::from_secs(20),
        ..options(store.path(), 1)
    };
    let error = runner::run(&short, &mut |_| {}).unwrap_err().to_string();
    assert!(
        error.contains("shorter than one round of faults"),
        "{error}"
    );
}

/// Reads served from a server's own copy (the catalogue's `local-reads`)
/// are stale on a follower: a client bound to it reads an old value just
/// after a write was acknowledged through the leader.
#[cfg(feature = "bug-catalogue")]
#[test]
fn the_process_backend_finds_local_reads_invalid() {
    if skip_in_loom_build() {
        return;
    }
    let store = tempfile::tempdir().unwrap();
    for seed in 1..=3 {
        let options = RunOptions {
            bug: Some(jepsen_lite::harness::ServiceBug::LocalReads),
            ..options(store.path(), seed)
        };
        let outcome = runner::run(&options, &mut |_| {}).unwrap();
        if outcome.results.valid == Validity::Invalid {
            eprintln!(
                "local-reads found invalid at seed {seed}: {}",
                outcome.dir.display()
            );
            return;
        }
    }
    panic!("three 30 s process-backend runs did not find local reads");
}

/// `cargo test --features loom` swaps the runtime for loom's, which runs
/// only inside loom models: real servers cannot start in that build.
fn skip_in_loom_build() -> bool {
    if checked_raft::runtime::LOOM_BUILD {
        eprintln!("skipped in the loom build");
    }
    checked_raft::runtime::LOOM_BUILD
}
