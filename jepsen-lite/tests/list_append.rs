//! The list-append workload end to end: transactions of reads and appends
//! over several keys run on the simulated and the thread cluster under
//! faults, recorded, and judged by the Elle-style checker (strict
//! serializability); the report has `elle.json`, and the `elle`
//! subcommand reaches the same verdict on the recorded history.

use jepsen_lite::harness::results::Validity;
use jepsen_lite::harness::runner;
use jepsen_lite::harness::{Backend, NemesisKind, RunOptions, Storage, Workload};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn options(backend: Backend, seed: u64, secs: u64) -> RunOptions {
    RunOptions {
        nodes: 5,
        clients: 8,
        time: Duration::from_secs(secs),
        workload: Workload::ListAppend,
        nemesis: NemesisKind::ALL.to_vec(),
        seed,
        rate: Some(200.0),
        nemesis_on: Duration::from_millis(800),
        nemesis_off: Duration::from_millis(400),
        op_timeout: Duration::from_secs(1),
        keys: 4,
        ops_per_key: 32,
        recovery: Duration::from_secs(10),
        check_timeout: Duration::from_secs(60),
        store: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("list-append-store"),
        backend,
        storage: Storage::Memory,
        bug: None,
        server_bin: None,
    }
}

fn assert_valid(options: &RunOptions) {
    let outcome = runner::run(options, &mut |_| {}).expect("the run completes");
    let dir = &outcome.dir;
    assert_eq!(
        outcome.results.valid,
        Validity::Valid,
        "report in {}",
        dir.display()
    );
    let elle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("elle.json")).unwrap()).unwrap();
    assert_eq!(elle["valid"], true);
    assert_eq!(elle["model"], "strict-serializable");
    assert!(elle["ok"].as_u64().unwrap() > 100, "{elle}");
    // Transactions touch several keys: the graph has edges to check.
    assert!(elle["edges"].as_u64().unwrap() > 100, "{elle}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains(r#""f":"txn""#));
    // The subcommand agrees on the recorded history.
    let out = Command::new(env!("CARGO_BIN_EXE_jepsen-lite"))
        .arg("elle")
        .arg(dir.join("history.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("strict-serializable: valid"), "{stdout}");
}

#[test]
fn simulated_list_append_runs_under_every_fault_are_strict_serializable() {
    for seed in [1, 2] {
        assert_valid(&options(Backend::Sim, seed, 20));
    }
}

#[test]
fn thread_list_append_runs_under_every_fault_are_strict_serializable() {
    if checked_raft::runtime::LOOM_BUILD {
        // The runtime is loom's in that build: it runs only in loom models.
        return;
    }
    assert_valid(&options(Backend::Threads, 3, 8));
}

#[test]
fn check_refuses_a_transactional_history_and_points_to_elle() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    std::fs::write(
        &file,
        r#"{"process":0,"type":"invoke","f":"txn","value":[["append",1,1]],"time":1}
{"process":0,"type":"ok","f":"txn","value":[["append",1,1]],"time":2}
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jepsen-lite"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jepsen-lite elle"));
    let out = Command::new(env!("CARGO_BIN_EXE_jepsen-lite"))
        .args(["elle", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["report"]["valid"], true);
}
