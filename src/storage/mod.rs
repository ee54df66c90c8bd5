//! Durable storage: [`DiskStorage`], a [`crate::runtime::Persister`] on a
//! segmented write-ahead log with CRC-32C-framed records, commit frames,
//! torn-tail repair and typed corruption errors; the file-system seam it
//! runs on ([`Fs`]: [`OsFs`] for real, [`CrashFs`] for crash tests); and
//! [`fn@inspect`], what the `raft-wal dump` tool prints. The format is in
//! [`mod@format`]; the recovery rules in [`recovery`]; `docs/storage.md` has
//! both, with the crash tests and figures.

pub mod crash_fs;
pub mod disk;
pub mod format;
pub mod fs;
pub mod inspect;
pub mod recovery;

pub use crash_fs::{CrashFs, CrashMode};
#[cfg(feature = "bug-catalogue")]
pub use disk::WalBug;
pub use disk::{DiskOptions, DiskStats, DiskStorage, SYNC_BUCKETS_US, SyncLatency};
pub use fs::{AppendFile, Fs, OsFs};
pub use inspect::{Inspection, SegmentReport, inspect};

// The tests compare with MemoryPersister, whose locks are loom's in the
// loom build (usable only inside `loom::model`).
#[cfg(all(test, not(feature = "loom")))]
mod tests;
