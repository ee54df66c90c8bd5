//! Reading a log directory back: scanning each segment's frames
//! ([`scan_segment`]), replaying the committed records into the stored
//! state ([`replay`]), and the rules that tell a torn tail (repaired) from
//! corruption (refused). The dump tool
//! ([`inspect`](fn@crate::storage::inspect)) uses the same scan, read-only.
//!
//! The rules:
//! - Records count only up to a segment's last commit frame: a batch is
//!   durable whole or not at all.
//! - In the last segment, damage after which no valid frame follows (a
//!   zero-filled tail, a frame cut short, a frame torn mid-write) and
//!   committed-free records at the end are what a crash during a write
//!   leaves: they are cut off, with a warning naming the file and offset.
//! - Anything else is corruption, refused with the file and offset: a bad
//!   frame followed by a valid one, a damaged frame in an earlier segment
//!   (a segment is synced before the next is started), a checksum-valid
//!   record that does not parse, a missing segment, records that do not
//!   follow each other, a snapshot file missing or failing its checksum.

use crate::consensus::{Entry, HardState, LogIndex, Snapshot, SnapshotMeta, Stored};
use crate::runtime::StorageError;
use crate::storage::format::{
    self, Frame, Record, SEGMENT_HEADER_LEN, SnapshotRef, read_frame, valid_frame_after,
};
use crate::storage::fs::Fs;
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// The name of segment `seq`.
pub fn segment_name(seq: u64) -> String {
    format!("{seq:020}.wal")
}

/// The name of the snapshot file for `meta` whose data has checksum
/// `data_crc`: two snapshots that end at the same place but hold other
/// bytes never share a file, so writing one never overwrites the one the
/// log names.
pub fn snapshot_name(meta: SnapshotMeta, data_crc: u32) -> String {
    format!(
        "snap-{:020}-{:020}-{data_crc:08x}.snap",
        meta.last_included_index.0, meta.last_included_term.0
    )
}

/// The segment number a file name gives, if it names a segment.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// How a segment's scan ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every byte accounted for: frames, then nothing or zeros.
    Clean,
    /// Damage with nothing valid after it: what a crash mid-write leaves.
    Torn {
        /// Where the damage starts.
        offset: usize,
        /// What is wrong there.
        why: &'static str,
    },
    /// Damage followed by a valid frame, or a record that does not parse.
    Corrupt {
        /// Where the damage is.
        offset: usize,
        /// What is wrong there.
        why: String,
    },
}

/// One segment, scanned.
#[derive(Clone, Debug)]
pub struct SegmentScan {
    /// The valid records in order, with their offsets (committed or not).
    pub records: Vec<(usize, Record)>,
    /// How many of `records` a commit frame covers.
    pub committed: usize,
    /// The offset just past the last commit frame (the header's end if
    /// none).
    pub committed_end: usize,
    /// The file's length.
    pub len: usize,
    /// How the scan ended.
    pub ending: Ending,
}

/// Scans a segment's frames (its header already checked). The records'
/// commands are slices of `data`, not copies.
pub fn scan_segment(data: &Bytes) -> SegmentScan {
    let mut scan = SegmentScan {
        records: Vec::new(),
        committed: 0,
        committed_end: SEGMENT_HEADER_LEN,
        len: data.len(),
        ending: Ending::Clean,
    };
    let mut offset = SEGMENT_HEADER_LEN;
    loop {
        match read_frame(data, offset) {
            Frame::Valid { body, next } => {
                let Some(record) = Record::decode_with(body, &|sub| data.slice_ref(sub)) else {
                    scan.ending = Ending::Corrupt {
                        offset,
                        why: "a frame whose checksum matches holds no valid record".into(),
                    };
                    return scan;
                };
                let commit = record == Record::Commit;
                scan.records.push((offset, record));
                if commit {
                    scan.committed = scan.records.len();
                    scan.committed_end = next;
                }
                offset = next;
            }
            Frame::End => {
                if let Some(at) = data
                    .get(offset..)
                    .and_then(|rest| rest.iter().position(|&b| b != 0).map(|k| offset + k))
                {
                    scan.ending = match valid_frame_after(data, offset) {
                        Some(valid) => Ending::Corrupt {
                            offset,
                            why: format!("a zero frame length, yet a valid frame at {valid}"),
                        },
                        None => Ending::Torn {
                            offset: at,
                            why: "non-zero bytes after the end of the log",
                        },
                    };
                }
                return scan;
            }
            Frame::Invalid(why) => {
                scan.ending = match valid_frame_after(data, offset) {
                    Some(valid) => Ending::Corrupt {
                        offset,
                        why: format!("{why}, yet a valid frame follows at {valid}"),
                    },
                    None => Ending::Torn { offset, why },
                };
                return scan;
            }
        }
    }
}

/// Everything a directory holds, read back.
pub struct Recovered {
    /// The stored state.
    pub stored: Stored,
    /// The kept segments in order: number, and the last log index when it
    /// was started (its checkpoint's).
    pub segments: Vec<(u64, LogIndex)>,
    /// The last segment's length once repaired.
    pub tail_len: u64,
    /// What was repaired (a torn tail cut off), one line each.
    pub repairs: Vec<String>,
}

/// The state replayed so far.
struct Replay {
    hard_state: HardState,
    snapshot: Option<SnapshotRef>,
    entries: Vec<Entry>,
    /// Entries after the snapshot through this index were written in
    /// segments since deleted: a later snapshot must cover them.
    missing_through: LogIndex,
}

impl Replay {
    fn snapshot_index(&self) -> LogIndex {
        self.snapshot
            .map_or(LogIndex(0), |s| s.meta.last_included_index)
    }

    fn last_index(&self) -> LogIndex {
        self.entries.last().map_or_else(
            || self.missing_through.max(self.snapshot_index()),
            |e| e.index,
        )
    }

    /// Applies one committed record; why not, if it does not follow.
    fn apply(&mut self, record: &Record) -> Result<(), String> {
        match record {
            Record::Checkpoint {
                hard_state,
                snapshot,
                last_index,
            } => {
                let found = (*hard_state, *snapshot, *last_index);
                let own = (self.hard_state, self.snapshot, self.last_index());
                if found != own {
                    return Err(format!(
                        "a checkpoint {found:?} that disagrees with the log before it {own:?}"
                    ));
                }
            }
            Record::HardState(hard_state) => self.hard_state = *hard_state,
            Record::Entries(entries) => {
                for entry in entries {
                    let expected = self.last_index().next();
                    if entry.index != expected {
                        return Err(format!(
                            "entry {} where {} was next",
                            entry.index.0, expected.0
                        ));
                    }
                    self.entries.push(entry.clone());
                }
            }
            Record::Truncate { after } => {
                self.entries.retain(|e| e.index <= *after);
                self.missing_through = self.missing_through.min(*after);
            }
            Record::Snapshot(snapshot) => {
                let index = snapshot.meta.last_included_index;
                self.entries.retain(|e| e.index > index);
                if self.missing_through <= index {
                    self.missing_through = LogIndex(0);
                }
                self.snapshot = Some(*snapshot);
            }
            Record::Commit => {}
        }
        Ok(())
    }
}

fn corrupt(path: &Path, offset: usize, why: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("{} at offset {offset}: {why}", path.display()))
}

pub(crate) fn io(what: String, e: std::io::Error) -> StorageError {
    StorageError::Io {
        what,
        source: std::sync::Arc::new(e),
    }
}

/// The segment numbers in `names`, in order; an error if one is missing
/// between two others.
pub fn segments_in(dir: &Path, names: &[String]) -> Result<Vec<u64>, StorageError> {
    let mut seqs: Vec<u64> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
    seqs.sort_unstable();
    for pair in seqs.windows(2) {
        if pair[1] != pair[0] + 1 {
            return Err(StorageError::Corrupt(format!(
                "{}: segment {} is missing (found {} and {})",
                dir.display(),
                segment_name(pair[0] + 1),
                segment_name(pair[0]),
                segment_name(pair[1])
            )));
        }
    }
    Ok(seqs)
}

/// Reads every segment of `dir` (at least one) and replays it. Repairs a
/// torn tail of the last segment on `fs` when `repair` is set (else
/// reports it only).
pub fn replay(
    fs: &dyn Fs,
    dir: &Path,
    seqs: &[u64],
    repair: bool,
) -> Result<Recovered, StorageError> {
    let mut state: Option<Replay> = None;
    let mut segments = Vec::new();
    let mut repairs = Vec::new();
    let mut tail_len = 0;
    for (k, &seq) in seqs.iter().enumerate() {
        let last = k + 1 == seqs.len();
        let path = dir.join(segment_name(seq));
        let data = Bytes::from(
            fs.read(&path)
                .map_err(|e| io(format!("reading {}", path.display()), e))?,
        );
        format::check_segment_header(&data, seq).map_err(|why| corrupt(&path, 0, why))?;
        let scan = scan_segment(&data);
        match &scan.ending {
            Ending::Corrupt { offset, why } => return Err(corrupt(&path, *offset, why)),
            Ending::Torn { offset, why } if !last => {
                return Err(corrupt(
                    &path,
                    *offset,
                    format!("{why} in a sealed segment"),
                ));
            }
            _ => {}
        }
        if !last && scan.committed != scan.records.len() {
            let offset = scan.records[scan.committed].0;
            return Err(corrupt(
                &path,
                offset,
                "uncommitted records in a sealed segment",
            ));
        }
        let mut records = scan.records[..scan.committed].iter();
        let Some((at, checkpoint @ Record::Checkpoint { last_index, .. })) = records.next() else {
            return Err(corrupt(
                &path,
                SEGMENT_HEADER_LEN,
                "the segment does not start with a committed checkpoint",
            ));
        };
        match &mut state {
            // The first segment's checkpoint is where the state starts.
            None => {
                if let Record::Checkpoint {
                    hard_state,
                    snapshot,
                    last_index,
                } = checkpoint
                {
                    state = Some(Replay {
                        hard_state: *hard_state,
                        snapshot: *snapshot,
                        entries: Vec::new(),
                        missing_through: *last_index,
                    });
                }
            }
            // A later one must agree with the log before it.
            Some(replay) => replay
                .apply(checkpoint)
                .map_err(|why| corrupt(&path, *at, why))?,
        }
        let first = *last_index;
        let Some(replay) = state.as_mut() else {
            return Err(corrupt(&path, *at, "no state after a checkpoint"));
        };
        for (offset, record) in records {
            replay
                .apply(record)
                .map_err(|why| corrupt(&path, *offset, why))?;
        }
        segments.push((seq, first));
        if last {
            tail_len = scan.committed_end as u64;
            if scan.committed_end < scan.len {
                let what = match &scan.ending {
                    Ending::Torn { offset, why } => format!("{why} at offset {offset}"),
                    _ => format!(
                        "{} uncommitted record(s)",
                        scan.records.len() - scan.committed
                    ),
                };
                repairs.push(format!(
                    "{}: cut {} bytes after offset {} ({what}): a write the crash interrupted, never acknowledged",
                    path.display(),
                    scan.len - scan.committed_end,
                    scan.committed_end
                ));
                if repair {
                    fs.truncate(&path, tail_len)
                        .map_err(|e| io(format!("truncating {}", path.display()), e))?;
                }
            }
        }
    }
    let Some(replay) = state else {
        return Err(StorageError::Corrupt(format!(
            "{}: no segment to replay",
            dir.display()
        )));
    };
    if replay.missing_through > replay.snapshot_index() {
        return Err(StorageError::Corrupt(format!(
            "{}: entries {}..={} were in deleted segments and no snapshot covers them",
            dir.display(),
            replay.snapshot_index().next().0,
            replay.missing_through.0
        )));
    }
    let snapshot = match replay.snapshot {
        None => None,
        Some(snapshot) => Some(load_snapshot(fs, dir, snapshot)?),
    };
    Ok(Recovered {
        stored: Stored {
            hard_state: replay.hard_state,
            snapshot,
            entries: replay.entries,
        },
        segments,
        tail_len,
        repairs,
    })
}

/// Loads the snapshot file the log names.
fn load_snapshot(fs: &dyn Fs, dir: &Path, snapshot: SnapshotRef) -> Result<Snapshot, StorageError> {
    let SnapshotRef {
        meta,
        len,
        data_crc,
    } = snapshot;
    let path: PathBuf = dir.join(snapshot_name(meta, data_crc));
    let file = fs.read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => StorageError::Corrupt(format!(
            "{}: the snapshot the log names is missing",
            path.display()
        )),
        _ => io(format!("reading {}", path.display()), e),
    })?;
    let (found, data) = format::read_snapshot_file(&file).map_err(|why| corrupt(&path, 0, why))?;
    if found != meta {
        return Err(corrupt(&path, 0, "it names another snapshot"));
    }
    if data.len() as u64 != len || format::crc(&data) != data_crc {
        return Err(corrupt(&path, 0, "it is not the snapshot the log recorded"));
    }
    Ok(Snapshot { meta, data })
}
