//! `raft-wal dump` on a real directory: what it prints for a healthy log,
//! a torn tail and corruption, and its exit codes.

use bytes::Bytes;
use checked_raft::consensus::{Entry, HardState, LogIndex, NodeId, Persist, Term};
use checked_raft::runtime::Persister;
use checked_raft::storage::DiskStorage;
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn dump(dir: &Path, json: bool) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_raft-wal"));
    command.arg("dump").arg(dir);
    if json {
        command.arg("--json");
    }
    let out = command.output().expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn write_log(dir: &Path) {
    let storage = DiskStorage::open(dir).unwrap();
    storage
        .persist(&Persist::HardState(HardState {
            current_term: Term(3),
            voted_for: Some(NodeId(2)),
        }))
        .unwrap();
    let entries = (1..=5)
        .map(|i| Entry {
            index: LogIndex(i),
            term: Term(3),
            command: Bytes::from(format!("put k{i}")),
        })
        .collect();
    storage.persist(&Persist::Append(entries)).unwrap();
}

#[test]
fn a_healthy_log_is_described_and_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    write_log(tmp.path());
    let (code, text) = dump(tmp.path(), false);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("hard state: term 3 voted for 2"), "{text}");
    assert!(text.contains("log: first index 1, last index 5"), "{text}");
    assert!(text.contains("entries 1..=5"), "{text}");
    let (code, json) = dump(tmp.path(), true);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["recovery"]["last_index"], 5);
    assert_eq!(value["recovery"]["opens"], true);
}

#[test]
fn a_torn_tail_is_reported_as_a_repair_and_corruption_as_a_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    write_log(tmp.path());
    let segment = tmp.path().join("00000000000000000001.wal");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    file.write_all(&[7, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(file);
    let (code, text) = dump(tmp.path(), false);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("recovery would repair"), "{text}");
    // Dumping changed nothing: the torn bytes are still there.
    let (_, again) = dump(tmp.path(), false);
    assert!(again.contains("recovery would repair"), "{again}");

    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[60] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    let (code, text) = dump(tmp.path(), false);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("REFUSE"), "{text}");
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let (code, text) = dump(Path::new("/nonexistent/raft-wal-dir"), false);
    assert_eq!(code, 2);
    assert!(text.contains("is not a directory"), "{text}");
}
