//! [`DiskStorage`]: a [`Persister`] on a segmented write-ahead log.
//!
//! A directory holds numbered segments (`00000000000000000001.wal`, ...),
//! at most one current snapshot file (`snap-<index>-<term>.snap`) and a
//! `LOCK` file. Each [`Persister::persist_batch`] call appends the
//! batch's records and a commit frame with one write, then makes them
//! durable with one `fdatasync`: a batch is on disk whole or not at all.
//!
//! - Rotation: once the current segment reaches
//!   [`DiskOptions::segment_size`], the next batch starts a new segment,
//!   written under a temporary name with its header and a checkpoint (the
//!   hard state, the snapshot in effect and the last index), synced,
//!   renamed, and the directory synced: a crash leaves either no new
//!   segment or a whole one.
//! - Snapshots: the data goes to its own file (temporary name, synced,
//!   renamed, directory synced) before the log's marker naming it is
//!   written; older snapshot files and the segments the snapshot covers
//!   are deleted only once the marker is durable, oldest first, the
//!   directory synced after each.
//! - Recovery ([`crate::storage::recovery`]): every frame is checked; a
//!   torn tail is cut off with a warning; corruption is refused with a
//!   typed error naming the file and offset.
//! - After an I/O error the storage refuses everything (what reached the
//!   disk is unknown, and a failed `fsync` cannot be retried safely): the
//!   peer halts, and a restart recovers from what the disk holds.

use crate::consensus::{LogIndex, Persist, Stored};
use crate::runtime::persister::SizedStored;
use crate::runtime::{Persister, StorageError};
use crate::storage::format::{self, Record, SnapshotRef};
use crate::storage::fs::{AppendFile, Fs, OsFs};
use crate::storage::recovery::{self, io, segment_name, snapshot_name};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Settings of a [`DiskStorage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskOptions {
    /// A batch that finds the current segment this long or longer starts
    /// a new one.
    pub segment_size: u64,
    /// A crash-consistency bug to reintroduce (mutation testing of the
    /// crash tests; `bug-catalogue` builds only).
    #[cfg(feature = "bug-catalogue")]
    pub bug: Option<WalBug>,
}

impl Default for DiskOptions {
    /// 64 MiB segments.
    fn default() -> DiskOptions {
        DiskOptions {
            segment_size: 64 << 20,
            #[cfg(feature = "bug-catalogue")]
            bug: None,
        }
    }
}

impl DiskOptions {
    /// The defaults, with segments of `bytes` bytes.
    // The update fills `bug` in bug-catalogue builds.
    #[allow(clippy::needless_update)]
    pub fn with_segment_size(bytes: u64) -> DiskOptions {
        DiskOptions {
            segment_size: bytes,
            ..DiskOptions::default()
        }
    }
}

/// The write-ahead log's bug catalogue: each a classic crash-consistency
/// mistake, which the crash tests (`tests/wal_crash.rs`) must catch.
#[cfg(feature = "bug-catalogue")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalBug {
    /// A batch is acknowledged without its `fdatasync`.
    NoSync,
    /// A new segment is renamed into place without syncing the directory:
    /// a crash can lose the segment, and the batches acknowledged in it.
    RotateWithoutDirSync,
    /// A snapshot's marker is written (and synced) before its file.
    MarkerBeforeSnapshotFile,
    /// The segments a snapshot covers are deleted before its marker is
    /// durable.
    DeleteBeforeMarker,
}

#[cfg(feature = "bug-catalogue")]
impl WalBug {
    /// Every bug.
    pub const ALL: [WalBug; 4] = [
        WalBug::NoSync,
        WalBug::RotateWithoutDirSync,
        WalBug::MarkerBeforeSnapshotFile,
        WalBug::DeleteBeforeMarker,
    ];
}

/// Whether `options` reintroduces `bug` (never, outside `bug-catalogue`
/// builds).
macro_rules! bug {
    ($options:expr, $bug:ident) => {{
        #[cfg(feature = "bug-catalogue")]
        let on = $options.bug == Some(WalBug::$bug);
        #[cfg(not(feature = "bug-catalogue"))]
        let on = false;
        on
    }};
}

/// Counters of what a [`DiskStorage`] did since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Batches written (each one write and one `fdatasync`).
    pub batches: u64,
    /// `fdatasync` calls on segments.
    pub syncs: u64,
    /// Bytes appended to segments.
    pub bytes: u64,
    /// Segments started.
    pub rotations: u64,
    /// Segments deleted because a snapshot covers them.
    pub segments_deleted: u64,
    /// How long each batch's `fdatasync` took.
    pub sync_latency: SyncLatency,
}

/// The upper bounds, in microseconds, of [`SyncLatency`]'s buckets (the
/// last bucket has none).
pub const SYNC_BUCKETS_US: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

/// A histogram of `fdatasync` latencies (for a server's metrics): counts
/// per bucket of [`SYNC_BUCKETS_US`] (not cumulative; the last counts
/// what is above every bound) and the sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncLatency {
    /// Syncs that took at most `SYNC_BUCKETS_US[i]` µs (and more than the
    /// bound before); the last, those above every bound.
    pub buckets: [u64; SYNC_BUCKETS_US.len() + 1],
    /// The total time, in microseconds.
    pub sum_us: u64,
}

impl SyncLatency {
    fn record(&mut self, took: std::time::Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = SYNC_BUCKETS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(SYNC_BUCKETS_US.len());
        self.buckets[bucket] += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// How many syncs were timed.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// A [`Persister`] on a segmented write-ahead log in a directory.
pub struct DiskStorage {
    dir: PathBuf,
    fs: Arc<dyn Fs>,
    options: DiskOptions,
    inner: Mutex<Inner>,
    repairs: Vec<String>,
    _lock: Box<dyn Send + Sync>,
}

impl std::fmt::Debug for DiskStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStorage")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// What the log holds, as [`Persister::load`] returns it, with its
    /// size.
    log: SizedStored,
    file: Box<dyn AppendFile>,
    /// The kept segments: number and the last index when it was started.
    segments: Vec<(u64, LogIndex)>,
    /// Bytes in the current segment.
    written: u64,
    /// The snapshot in effect: its data's length and checksum (which its
    /// file's name and each checkpoint carry).
    snapshot: Option<(u64, u32)>,
    /// Set by an I/O error: every later call fails with it.
    fault: Option<StorageError>,
    stats: DiskStats,
}

fn lock(mutex: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DiskStorage {
    /// Opens (or creates) the log in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>) -> Result<DiskStorage, StorageError> {
        DiskStorage::open_with(Arc::new(OsFs), dir, DiskOptions::default())
    }

    /// Opens (or creates) the log in `dir` on `fs`: takes the directory's
    /// lock, recovers what it holds (cutting off a torn tail, refusing
    /// corruption) and removes leftovers of interrupted writes.
    pub fn open_with(
        fs: Arc<dyn Fs>,
        dir: impl AsRef<Path>,
        options: DiskOptions,
    ) -> Result<DiskStorage, StorageError> {
        let dir = dir.as_ref().to_path_buf();
        let shown = dir.display().to_string();
        fs.create_dir_all(&dir)
            .map_err(|e| io(format!("creating {shown}"), e))?;
        let guard = fs.lock(&dir).map_err(|e| {
            io(
                format!("locking {shown} (is another peer using this directory?)"),
                e,
            )
        })?;
        let names = fs
            .list(&dir)
            .map_err(|e| io(format!("listing {shown}"), e))?;
        let mut cleaned = false;
        for name in names.iter().filter(|n| n.ends_with(".tmp")) {
            fs.remove(&dir.join(name))
                .map_err(|e| io(format!("removing {shown}/{name}"), e))?;
            cleaned = true;
        }
        let seqs = recovery::segments_in(&dir, &names)?;
        // Snapshot files without any segment: the segments were lost (a
        // fresh directory holds neither). Starting empty would delete them.
        if seqs.is_empty()
            && let Some(snap) = names.iter().find(|n| n.ends_with(".snap"))
        {
            return Err(StorageError::Corrupt(format!(
                "{shown}: a snapshot file ({snap}) but no segment: the log is missing"
            )));
        }
        let (stored, segments, written, repairs) = match seqs.is_empty() {
            true => {
                let stored = Stored::default();
                create_segment(fs.as_ref(), &dir, 1, &stored, None, true)?;
                let written = segment_bytes(1, &stored, None).len() as u64;
                (stored, vec![(1, LogIndex(0))], written, Vec::new())
            }
            false => {
                let recovered = recovery::replay(fs.as_ref(), &dir, &seqs, true)?;
                for repair in &recovered.repairs {
                    tracing::warn!(dir = %shown, "torn tail repaired: {repair}");
                }
                (
                    recovered.stored,
                    recovered.segments,
                    recovered.tail_len,
                    recovered.repairs,
                )
            }
        };
        // Snapshot files other than the one in effect: older ones, or one
        // whose marker never became durable.
        let snapshot = stored
            .snapshot
            .as_ref()
            .map(|s| (s.data.len() as u64, format::crc(&s.data)));
        let current = stored
            .snapshot
            .as_ref()
            .zip(snapshot)
            .map(|(s, (_, crc))| snapshot_name(s.meta, crc));
        for name in names.iter().filter(|n| n.ends_with(".snap")) {
            if Some(name) != current.as_ref() {
                fs.remove(&dir.join(name))
                    .map_err(|e| io(format!("removing {shown}/{name}"), e))?;
                cleaned = true;
            }
        }
        if cleaned {
            fs.sync_dir(&dir)
                .map_err(|e| io(format!("syncing {shown}"), e))?;
        }
        let (seq, _) = segments[segments.len() - 1];
        let path = dir.join(segment_name(seq));
        let file = fs
            .open_append(&path)
            .map_err(|e| io(format!("opening {}", path.display()), e))?;
        Ok(DiskStorage {
            dir,
            fs,
            options,
            inner: Mutex::new(Inner {
                log: SizedStored::new(stored),
                file,
                segments,
                written,
                snapshot,
                fault: None,
                stats: DiskStats::default(),
            }),
            repairs,
            _lock: guard,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What opening repaired (a torn tail cut off), one line each; empty
    /// after a clean shutdown.
    pub fn repairs(&self) -> &[String] {
        &self.repairs
    }

    /// What it did since it was opened.
    pub fn stats(&self) -> DiskStats {
        lock(&self.inner).stats
    }

    /// Starts segment `seq` after the current one.
    fn rotate(&self, inner: &mut Inner) -> Result<(), StorageError> {
        let seq = inner.segments[inner.segments.len() - 1].0 + 1;
        let sync_dir = !bug!(self.options, RotateWithoutDirSync);
        create_segment(
            self.fs.as_ref(),
            &self.dir,
            seq,
            &inner.log.stored,
            inner.snapshot,
            sync_dir,
        )?;
        let path = self.dir.join(segment_name(seq));
        inner.file = self
            .fs
            .open_append(&path)
            .map_err(|e| io(format!("opening {}", path.display()), e))?;
        inner.written = segment_bytes(seq, &inner.log.stored, inner.snapshot).len() as u64;
        inner.segments.push((seq, inner.log.stored.last_index()));
        inner.stats.rotations += 1;
        Ok(())
    }

    /// Writes a snapshot's file, durably, before its marker.
    fn write_snapshot(
        &self,
        snapshot: &crate::consensus::Snapshot,
        data_crc: u32,
    ) -> Result<(), StorageError> {
        let name = snapshot_name(snapshot.meta, data_crc);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(&name);
        let bytes = format::snapshot_file(snapshot.meta, &snapshot.data);
        self.fs
            .write_synced(&tmp, &bytes)
            .map_err(|e| io(format!("writing {}", tmp.display()), e))?;
        self.fs
            .rename(&tmp, &path)
            .map_err(|e| io(format!("renaming {}", tmp.display()), e))?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<(), StorageError> {
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| io(format!("syncing {}", self.dir.display()), e))
    }

    /// Once a snapshot's marker is durable: deletes older snapshot files
    /// and the segments it covers (a segment goes when the next one's
    /// checkpoint shows every entry written before it is covered).
    fn collect(&self, inner: &mut Inner, previous: Option<String>) -> Result<(), StorageError> {
        let (Some(snapshot), Some((_, crc))) = (&inner.log.stored.snapshot, inner.snapshot) else {
            return Ok(());
        };
        let covered = snapshot.meta.last_included_index;
        if let Some(previous) = previous.filter(|p| *p != snapshot_name(snapshot.meta, crc)) {
            self.remove_durably(&previous)?;
        }
        self.delete_covered_segments(inner, covered)
    }

    /// Deletes the oldest segments while the next one's checkpoint shows
    /// that everything written before it is covered through `covered`.
    fn delete_covered_segments(
        &self,
        inner: &mut Inner,
        covered: LogIndex,
    ) -> Result<(), StorageError> {
        while inner.segments.len() >= 2 && inner.segments[1].1 <= covered {
            self.remove_durably(&segment_name(inner.segments[0].0))?;
            inner.segments.remove(0);
            inner.stats.segments_deleted += 1;
        }
        Ok(())
    }

    /// Removes file `name` and syncs the directory (one at a time: a
    /// crash then never leaves a later removal without an earlier one).
    fn remove_durably(&self, name: &str) -> Result<(), StorageError> {
        let path = self.dir.join(name);
        self.fs
            .remove(&path)
            .map_err(|e| io(format!("removing {}", path.display()), e))?;
        self.sync_dir()
    }

    fn write_batch(&self, inner: &mut Inner, ops: &[Persist]) -> Result<(), StorageError> {
        if inner.written >= self.options.segment_size {
            self.rotate(inner)?;
        }
        let previous = inner
            .log
            .stored
            .snapshot
            .as_ref()
            .zip(inner.snapshot)
            .map(|(s, (_, crc))| snapshot_name(s.meta, crc));
        let mut buf = Vec::new();
        let mut refused = None;
        let mut snapshotted = false;
        let mut late_snapshots = Vec::new();
        if bug!(self.options, DeleteBeforeMarker)
            && let Some(Persist::Snapshot(s)) =
                ops.iter().find(|op| matches!(op, Persist::Snapshot(_)))
        {
            self.delete_covered_segments(inner, s.meta.last_included_index)?;
        }
        for op in ops {
            // The mirror checks the op fits, changing nothing if not (a
            // correct core never asks for one that does not); a refused op
            // and those after it are not written.
            if let Err(e) = inner.log.apply(op) {
                refused = Some(StorageError::Rejected(e));
                break;
            }
            let record = match op {
                Persist::HardState(hard_state) => Record::HardState(*hard_state),
                Persist::Append(entries) => Record::Entries(entries.clone()),
                Persist::TruncateAfter { after } => Record::Truncate { after: *after },
                Persist::Snapshot(snapshot) => {
                    let (len, data_crc) = (snapshot.data.len() as u64, format::crc(&snapshot.data));
                    match bug!(self.options, MarkerBeforeSnapshotFile) {
                        true => late_snapshots.push((snapshot, data_crc)),
                        false => self.write_snapshot(snapshot, data_crc)?,
                    }
                    snapshotted = true;
                    inner.snapshot = Some((len, data_crc));
                    Record::Snapshot(SnapshotRef {
                        meta: snapshot.meta,
                        len,
                        data_crc,
                    })
                }
            };
            record.encode(&mut buf);
        }
        if !buf.is_empty() {
            Record::Commit.encode(&mut buf);
            let path = || {
                self.dir
                    .join(segment_name(inner.segments[inner.segments.len() - 1].0))
            };
            inner
                .file
                .append(&buf)
                .map_err(|e| io(format!("writing {}", path().display()), e))?;
            if !bug!(self.options, NoSync) {
                let started = std::time::Instant::now();
                inner
                    .file
                    .sync()
                    .map_err(|e| io(format!("syncing {}", path().display()), e))?;
                inner.stats.sync_latency.record(started.elapsed());
            }
            inner.written += buf.len() as u64;
            inner.stats.batches += 1;
            inner.stats.syncs += 1;
            inner.stats.bytes += buf.len() as u64;
        }
        for (snapshot, data_crc) in late_snapshots {
            self.write_snapshot(snapshot, data_crc)?;
        }
        if snapshotted {
            self.collect(inner, previous)?;
        }
        refused.map_or(Ok(()), Err)
    }
}

/// A new segment's bytes: header, checkpoint of `stored` (whose snapshot's
/// data has `snapshot`'s length and checksum), commit.
fn segment_bytes(seq: u64, stored: &Stored, snapshot: Option<(u64, u32)>) -> Vec<u8> {
    let mut bytes = format::segment_header(seq);
    Record::Checkpoint {
        hard_state: stored.hard_state,
        snapshot: stored
            .snapshot
            .as_ref()
            .zip(snapshot)
            .map(|(s, (len, data_crc))| SnapshotRef {
                meta: s.meta,
                len,
                data_crc,
            }),
        last_index: stored.last_index(),
    }
    .encode(&mut bytes);
    Record::Commit.encode(&mut bytes);
    bytes
}

/// Writes segment `seq` whole: under a temporary name, synced, renamed,
/// and the directory synced.
fn create_segment(
    fs: &dyn Fs,
    dir: &Path,
    seq: u64,
    stored: &Stored,
    snapshot: Option<(u64, u32)>,
    sync_dir: bool,
) -> Result<(), StorageError> {
    let path = dir.join(segment_name(seq));
    let tmp = dir.join(format!("{}.tmp", segment_name(seq)));
    fs.write_synced(&tmp, &segment_bytes(seq, stored, snapshot))
        .map_err(|e| io(format!("writing {}", tmp.display()), e))?;
    fs.rename(&tmp, &path)
        .map_err(|e| io(format!("renaming {}", tmp.display()), e))?;
    if !sync_dir {
        return Ok(());
    }
    fs.sync_dir(dir)
        .map_err(|e| io(format!("syncing {}", dir.display()), e))
}

impl Persister for DiskStorage {
    fn persist(&self, op: &Persist) -> Result<(), StorageError> {
        self.persist_batch(std::slice::from_ref(op))
    }

    /// Writes the batch's records and a commit frame with one write and
    /// one `fdatasync` (a snapshot's file is written and synced first).
    fn persist_batch(&self, ops: &[Persist]) -> Result<(), StorageError> {
        let mut inner = lock(&self.inner);
        if let Some(fault) = &inner.fault {
            return Err(fault.clone());
        }
        let result = self.write_batch(&mut inner, ops);
        if let Err(e @ StorageError::Io { .. }) = &result {
            tracing::error!(dir = %self.dir.display(), error = %e, "storage failed: refusing every later write");
            inner.fault = Some(e.clone());
        }
        result
    }

    fn load(&self) -> Result<Stored, StorageError> {
        let inner = lock(&self.inner);
        match &inner.fault {
            Some(fault) => Err(fault.clone()),
            None => Ok(inner.log.stored.clone()),
        }
    }

    fn raft_state_size(&self) -> usize {
        lock(&self.inner).log.raft_state_size()
    }

    fn snapshot_size(&self) -> usize {
        lock(&self.inner).log.snapshot_size()
    }
}
