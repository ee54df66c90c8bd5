//! [`inspect`]: what a log directory holds, read-only (no lock taken,
//! nothing repaired), for the `raft-wal dump` tool and for tests.

use crate::consensus::{HardState, LogIndex, SnapshotMeta};
use crate::runtime::StorageError;
use crate::storage::format::{self, Record};
use crate::storage::fs::Fs;
use crate::storage::recovery::{self, Ending, io, scan_segment, segment_name};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// One segment's contents.
#[derive(Clone, Debug)]
pub struct SegmentReport {
    /// Its file name.
    pub name: String,
    /// Its length in bytes.
    pub len: usize,
    /// Valid records by kind (committed or not).
    pub records: BTreeMap<&'static str, usize>,
    /// Records after the last commit frame.
    pub uncommitted: usize,
    /// The first and last entry index appended in it, if any.
    pub entries: Option<(LogIndex, LogIndex)>,
    /// "ok", or what is wrong and where.
    pub status: String,
}

/// What a directory holds.
#[derive(Clone, Debug)]
pub struct Inspection {
    /// Each segment, in order.
    pub segments: Vec<SegmentReport>,
    /// The snapshot files present.
    pub snapshot_files: Vec<String>,
    /// The state recovery would start from, or why it would refuse.
    pub recovered: Result<Recovered, String>,
}

/// The state a directory recovers to, in brief.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The hard state.
    pub hard_state: HardState,
    /// The snapshot in effect (zeros: none) and its data's length.
    pub snapshot: Option<(SnapshotMeta, usize)>,
    /// The first and last index of the log after the snapshot.
    pub first_index: LogIndex,
    /// The last index.
    pub last_index: LogIndex,
    /// What recovery would repair.
    pub repairs: Vec<String>,
}

/// Reads `dir` without changing it.
pub fn inspect(fs: &dyn Fs, dir: &Path) -> Result<Inspection, StorageError> {
    let names = fs
        .list(dir)
        .map_err(|e| io(format!("listing {}", dir.display()), e))?;
    let mut seqs: Vec<u64> = names
        .iter()
        .filter_map(|n| recovery::parse_segment_name(n))
        .collect();
    seqs.sort_unstable();
    let mut segments = Vec::new();
    for &seq in &seqs {
        let name = segment_name(seq);
        let path = dir.join(&name);
        let data = bytes::Bytes::from(
            fs.read(&path)
                .map_err(|e| io(format!("reading {}", path.display()), e))?,
        );
        let mut report = SegmentReport {
            name,
            len: data.len(),
            records: BTreeMap::new(),
            uncommitted: 0,
            entries: None,
            status: "ok".into(),
        };
        if let Err(why) = format::check_segment_header(&data, seq) {
            report.status = format!("bad header: {why}");
            segments.push(report);
            continue;
        }
        let scan = scan_segment(&data);
        for (_, record) in &scan.records {
            *report.records.entry(record.name()).or_default() += 1;
            if let Record::Entries(entries) = record
                && let (Some(first), Some(last)) = (entries.first(), entries.last())
            {
                report.entries = Some(match report.entries {
                    None => (first.index, last.index),
                    Some((a, _)) => (a, last.index),
                });
            }
        }
        report.uncommitted = scan.records.len() - scan.committed;
        report.status = match scan.ending {
            Ending::Clean => "ok".into(),
            Ending::Torn { offset, why } => format!("torn tail at offset {offset}: {why}"),
            Ending::Corrupt { offset, why } => format!("CORRUPT at offset {offset}: {why}"),
        };
        segments.push(report);
    }
    let mut snapshot_files: Vec<String> = names
        .iter()
        .filter(|n| n.ends_with(".snap"))
        .cloned()
        .collect();
    snapshot_files.sort();
    let recovered = match recovery::segments_in(dir, &names) {
        Err(e) => Err(e.to_string()),
        Ok(seqs) if seqs.is_empty() => Err("no segment: an empty or new directory".into()),
        Ok(seqs) => recovery::replay(fs, dir, &seqs, false)
            .map(|r| Recovered {
                hard_state: r.stored.hard_state,
                snapshot: r.stored.snapshot.as_ref().map(|s| (s.meta, s.data.len())),
                first_index: r.stored.snapshot_meta().last_included_index.next(),
                last_index: r.stored.last_index(),
                repairs: r.repairs,
            })
            .map_err(|e| e.to_string()),
    };
    Ok(Inspection {
        segments,
        snapshot_files,
        recovered,
    })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "segments: {}", self.segments.len())?;
        for s in &self.segments {
            let records: Vec<String> = s.records.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let entries = s.entries.map_or("no entries".to_string(), |(a, b)| {
                format!("entries {}..={}", a.0, b.0)
            });
            writeln!(
                f,
                "  {}  {} bytes  {}  [{}]{}  {}",
                s.name,
                s.len,
                entries,
                records.join(", "),
                match s.uncommitted {
                    0 => String::new(),
                    n => format!("  {n} uncommitted"),
                },
                s.status
            )?;
        }
        match self.snapshot_files.is_empty() {
            true => writeln!(f, "snapshot files: none")?,
            false => writeln!(f, "snapshot files: {}", self.snapshot_files.join(", "))?,
        }
        match &self.recovered {
            Ok(r) => {
                let vote = r
                    .hard_state
                    .voted_for
                    .map_or("-".to_string(), |v| v.0.to_string());
                writeln!(
                    f,
                    "hard state: term {} voted for {vote}",
                    r.hard_state.current_term.0
                )?;
                match r.snapshot {
                    Some((meta, len)) => writeln!(
                        f,
                        "snapshot: through index {} (term {}), {len} bytes",
                        meta.last_included_index.0, meta.last_included_term.0
                    )?,
                    None => writeln!(f, "snapshot: none")?,
                }
                writeln!(
                    f,
                    "log: first index {}, last index {}",
                    r.first_index.0, r.last_index.0
                )?;
                for repair in &r.repairs {
                    writeln!(f, "recovery would repair: {repair}")?;
                }
                write!(f, "checksums: every committed record verified")
            }
            Err(why) => write!(f, "recovery would REFUSE: {why}"),
        }
    }
}
