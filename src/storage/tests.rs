//! DiskStorage on the in-memory [`CrashFs`] (deterministic) and on the
//! real file system: round trips, rotation and deletion, torn tails,
//! corruption of each record kind, the lock, and crashes at every
//! operation of a run (the crash-consistency sweep is in
//! `tests/wal_crash.rs`).

use super::*;
use crate::consensus::{Entry, HardState, LogIndex, NodeId, Persist, Snapshot, SnapshotMeta};
use crate::consensus::{Stored, Term};
use crate::runtime::{MemoryPersister, Persister, StorageError};
use crate::storage::format::{Frame, Record, SnapshotRef, read_frame};
use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index: LogIndex(index),
        term: Term(term),
        command: Bytes::from(format!("command {index}")),
    }
}

fn hard(term: u64, vote: Option<u64>) -> Persist {
    Persist::HardState(HardState {
        current_term: Term(term),
        voted_for: vote.map(NodeId),
    })
}

fn append(from: u64, to: u64, term: u64) -> Persist {
    Persist::Append((from..=to).map(|i| entry(i, term)).collect())
}

fn snapshot(index: u64, term: u64) -> Persist {
    Persist::Snapshot(Snapshot {
        meta: SnapshotMeta {
            last_included_index: LogIndex(index),
            last_included_term: Term(term),
        },
        data: Bytes::from(format!("state through {index}")),
    })
}

fn dir() -> &'static Path {
    Path::new("/wal")
}

fn open(fs: &CrashFs, segment_size: u64) -> Result<DiskStorage, StorageError> {
    DiskStorage::open_with(
        Arc::new(fs.clone()),
        dir(),
        DiskOptions::with_segment_size(segment_size),
    )
}

/// What a MemoryPersister holds after the same batches.
fn expected(batches: &[Vec<Persist>]) -> Stored {
    let memory = MemoryPersister::new();
    for batch in batches {
        memory.persist_batch(batch).unwrap();
    }
    memory.load().unwrap()
}

/// A run with every record kind, over several segments and snapshots.
fn workload() -> Vec<Vec<Persist>> {
    let mut batches = vec![vec![hard(1, Some(1))], vec![append(1, 3, 1)]];
    for round in 0..6u64 {
        let base = 3 + round * 4;
        batches.push(vec![
            hard(2 + round, Some(round % 3 + 1)),
            append(base + 1, base + 4, 2 + round),
        ]);
        if round % 2 == 1 {
            batches.push(vec![snapshot(base + 2, 2 + round)]);
        }
    }
    // A conflict: the tail replaced by a later leader's entries.
    batches.push(vec![
        Persist::TruncateAfter {
            after: LogIndex(26),
        },
        append(27, 28, 9),
    ]);
    batches
}

#[test]
fn every_record_kind_round_trips_through_its_frame() {
    let records = [
        Record::Checkpoint {
            hard_state: HardState {
                current_term: Term(7),
                voted_for: Some(NodeId(3)),
            },
            snapshot: Some(SnapshotRef {
                meta: SnapshotMeta {
                    last_included_index: LogIndex(4),
                    last_included_term: Term(2),
                },
                len: 77,
                data_crc: 0xdead_beef,
            }),
            last_index: LogIndex(9),
        },
        Record::HardState(HardState::default()),
        Record::Entries(vec![entry(1, 1), entry(2, 1)]),
        Record::Truncate { after: LogIndex(5) },
        Record::Snapshot(SnapshotRef {
            meta: SnapshotMeta::default(),
            len: 12,
            data_crc: 99,
        }),
        Record::Checkpoint {
            hard_state: HardState::default(),
            snapshot: None,
            last_index: LogIndex(0),
        },
        Record::Commit,
    ];
    for record in records {
        let mut frame = Vec::new();
        record.encode(&mut frame);
        assert_eq!(frame.len() % 8, 0, "{record:?} is not 8-aligned");
        match read_frame(&frame, 0) {
            Frame::Valid { body, next } => {
                assert_eq!(next, frame.len());
                assert_eq!(Record::decode(body), Some(record.clone()));
            }
            other => panic!("{record:?}: {other:?}"),
        }
        // Any flipped bit of the length, checksum or body is caught.
        let body_end = 8 + u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
        for byte in 0..body_end {
            let mut bad = frame.clone();
            bad[byte] ^= 0x10;
            assert!(
                !matches!(read_frame(&bad, 0), Frame::Valid { body, .. } if Record::decode(body) == Some(record.clone())),
                "{record:?}: a flip at byte {byte} went unnoticed"
            );
        }
    }
}

#[test]
fn a_reopened_log_holds_what_a_memory_persister_would() {
    let fs = CrashFs::new();
    let batches = workload();
    {
        let storage = open(&fs, 256).unwrap();
        for batch in &batches {
            storage.persist_batch(batch).unwrap();
        }
        assert_eq!(storage.load().unwrap(), expected(&batches));
        let stats = storage.stats();
        assert_eq!(stats.batches, batches.len() as u64);
        assert_eq!(stats.syncs, stats.batches, "one sync a batch");
        assert!(stats.rotations >= 3, "{stats:?}");
        assert!(stats.segments_deleted >= 1, "{stats:?}");
    }
    let reopened = open(&fs, 256).unwrap();
    assert!(reopened.repairs().is_empty(), "{:?}", reopened.repairs());
    assert_eq!(reopened.load().unwrap(), expected(&batches));
    let memory = MemoryPersister::new();
    for batch in &batches {
        memory.persist_batch(batch).unwrap();
    }
    assert_eq!(reopened.raft_state_size(), memory.raft_state_size());
    assert_eq!(reopened.snapshot_size(), memory.snapshot_size());
    // Only the snapshot in effect is kept.
    let names = fs.list(dir()).unwrap();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".snap")).count(),
        1,
        "{names:?}"
    );
}

#[test]
fn a_refused_op_writes_nothing_of_itself_or_what_follows() {
    let fs = CrashFs::new();
    let storage = open(&fs, 1 << 20).unwrap();
    storage.persist_batch(&[append(1, 2, 1)]).unwrap();
    let gap = storage.persist_batch(&[append(3, 3, 1), append(9, 9, 1), append(4, 4, 1)]);
    assert!(matches!(gap, Err(StorageError::Rejected(_))), "{gap:?}");
    let want = expected(&[vec![append(1, 3, 1)]]);
    assert_eq!(storage.load().unwrap(), want);
    // Not a fault: the storage goes on.
    storage.persist(&append(4, 4, 1)).unwrap();
    drop(storage);
    assert_eq!(
        open(&fs, 1 << 20).unwrap().load().unwrap().last_index(),
        LogIndex(4)
    );
}

#[test]
fn a_second_opener_of_the_same_directory_is_refused() {
    let fs = CrashFs::new();
    let first = open(&fs, 1 << 20).unwrap();
    let second = open(&fs, 1 << 20).unwrap_err();
    assert!(second.to_string().contains("another"), "{second}");
    drop(first);
    open(&fs, 1 << 20).unwrap();
}

/// Writes `batches` and returns the file system with the log closed.
fn written(batches: &[Vec<Persist>], segment_size: u64) -> CrashFs {
    let fs = CrashFs::new();
    let storage = open(&fs, segment_size).unwrap();
    for batch in batches {
        storage.persist_batch(batch).unwrap();
    }
    fs
}

fn segment(fs: &CrashFs, k: usize) -> std::path::PathBuf {
    let mut names: Vec<String> = fs
        .list(dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .collect();
    names.sort();
    dir().join(&names[k])
}

#[test]
fn a_torn_tail_is_cut_off_with_a_warning_and_nothing_acknowledged_is_lost() {
    let batches = vec![vec![hard(1, Some(1))], vec![append(1, 3, 1)]];
    let fs = written(&batches, 1 << 20);
    let path = segment(&fs, 0);
    let len = fs.read(&path).unwrap().len();
    // A batch written but never synced, torn: its frame half there.
    let mut torn = Vec::new();
    Record::Entries(vec![entry(4, 1)]).encode(&mut torn);
    Record::Commit.encode(&mut torn);
    let mut file = fs.open_append(&path).unwrap();
    file.append(&torn[..torn.len() - 12]).unwrap();
    file.sync().unwrap();
    let storage = open(&fs, 1 << 20).unwrap();
    assert_eq!(storage.load().unwrap(), expected(&batches));
    let repair = storage.repairs().join("\n");
    assert!(repair.contains(&path.display().to_string()), "{repair}");
    assert!(repair.contains(&format!("after offset {len}")), "{repair}");
    drop(storage);
    // Repaired for good: the next open finds a clean log.
    assert!(open(&fs, 1 << 20).unwrap().repairs().is_empty());
    // A zero-filled tail (preallocated, or a crash that kept only the
    // file's new length) is a torn tail too.
    let mut file = fs.open_append(&path).unwrap();
    file.append(&[0; 4096]).unwrap();
    file.sync().unwrap();
    let storage = open(&fs, 1 << 20).unwrap();
    assert_eq!(storage.load().unwrap(), expected(&batches));
    assert_eq!(storage.repairs().len(), 1);
}

#[test]
fn records_without_their_commit_frame_are_not_replayed() {
    let batches = vec![vec![append(1, 2, 1)]];
    let fs = written(&batches, 1 << 20);
    let path = segment(&fs, 0);
    let mut uncommitted = Vec::new();
    Record::Entries(vec![entry(3, 1)]).encode(&mut uncommitted);
    let mut file = fs.open_append(&path).unwrap();
    file.append(&uncommitted).unwrap();
    file.sync().unwrap();
    let storage = open(&fs, 1 << 20).unwrap();
    assert_eq!(storage.load().unwrap(), expected(&batches));
    assert!(
        storage.repairs()[0].contains("1 uncommitted record"),
        "{:?}",
        storage.repairs()
    );
}

/// Flips one byte of the first record of `kind` in `segment`, with valid
/// records after it, and expects a typed refusal naming the file and the
/// offset.
fn corrupting(kind: &str, segment_index: usize) {
    let batches = workload();
    let fs = written(&batches, 1 << 20);
    let path = segment(&fs, segment_index);
    let data = fs.read(&path).unwrap();
    let scan = recovery::scan_segment(&Bytes::from(data.clone()));
    let (offset, _) = scan
        .records
        .iter()
        .find(|(_, r)| r.name() == kind)
        .unwrap_or_else(|| panic!("no {kind} record"));
    fs.corrupt(&path, offset + 9, data[offset + 9] ^ 0x01)
        .unwrap();
    match open(&fs, 1 << 20) {
        Err(StorageError::Corrupt(why)) => {
            assert!(why.contains(&path.display().to_string()), "{kind}: {why}");
            assert!(why.contains(&format!("offset {offset}")), "{kind}: {why}");
        }
        other => panic!("{kind}: expected corruption, got {other:?}"),
    }
}

#[test]
fn a_flipped_byte_in_any_record_kind_is_refused_with_file_and_offset() {
    for kind in [
        "checkpoint",
        "hard state",
        "entries",
        "truncate",
        "snapshot marker",
    ] {
        corrupting(kind, 0);
    }
}

#[test]
fn a_missing_segment_or_snapshot_is_refused() {
    let batches = workload();
    let fs = written(&batches, 128);
    let names = fs.list(dir()).unwrap();
    let mut segments: Vec<&String> = names.iter().filter(|n| n.ends_with(".wal")).collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    let lost = fs.clone();
    lost.lose(&dir().join(segments[1]));
    let err = open(&lost, 128).unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");

    let fs = written(&batches, 128);
    let snap = names.iter().find(|n| n.ends_with(".snap")).unwrap();
    fs.lose(&dir().join(snap));
    let err = open(&fs, 128).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt(_)), "{err}");
    assert!(
        err.to_string()
            .contains("snapshot the log names is missing"),
        "{err}"
    );

    // Every segment lost, the snapshot left: refused, not started empty.
    let fs = written(&batches, 128);
    for name in fs
        .list(dir())
        .unwrap()
        .iter()
        .filter(|n| n.ends_with(".wal"))
    {
        fs.lose(&dir().join(name));
    }
    let err = open(&fs, 128).unwrap_err();
    assert!(err.to_string().contains("no segment"), "{err}");
    assert!(fs.list(dir()).unwrap().iter().any(|n| n.ends_with(".snap")));

    let fs = written(&batches, 128);
    let path = dir().join(snap);
    let len = fs.read(&path).unwrap().len();
    fs.corrupt(&path, len - 1, 0xff).unwrap();
    let err = open(&fs, 128).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn inspect_reports_what_recovery_would_do() {
    let batches = workload();
    let fs = written(&batches, 256);
    let report = inspect(&fs, dir()).unwrap();
    let text = report.to_string();
    let want = expected(&batches);
    assert!(
        text.contains(&format!("last index {}", want.last_index().0)),
        "{text}"
    );
    assert!(text.contains("every committed record verified"), "{text}");
    let path = segment(&fs, 0);
    fs.corrupt(&path, 50, 0xaa).unwrap();
    let text = inspect(&fs, dir()).unwrap().to_string();
    assert!(text.contains("REFUSE"), "{text}");
}

#[test]
fn the_real_file_system_round_trips_and_locks() {
    let tmp = tempfile::tempdir().unwrap();
    let batches = workload();
    let open_real = || {
        DiskStorage::open_with(
            Arc::new(OsFs),
            tmp.path(),
            DiskOptions::with_segment_size(512),
        )
    };
    {
        let storage = open_real().unwrap();
        for batch in &batches {
            storage.persist_batch(batch).unwrap();
        }
        let err = open_real().unwrap_err();
        assert!(err.to_string().contains("another"), "{err}");
    }
    let storage = open_real().unwrap();
    assert_eq!(storage.load().unwrap(), expected(&batches));
}
