//! The file-system seam under [`crate::storage::DiskStorage`]: the few
//! operations a write-ahead log needs, with their durability spelled out.
//! [`OsFs`] is the real one (`std::fs`, `fdatasync`, directory fsync, an
//! advisory lock); [`crate::storage::CrashFs`] is the in-memory,
//! fault-injecting one the crash-consistency tests run the same
//! `DiskStorage` code on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// A file opened for appending.
pub trait AppendFile: Send {
    /// Appends `data` at the end (not yet durable).
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes every append so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// The operations a write-ahead log needs. A name created, renamed or
/// removed is durable only once its directory is synced
/// ([`Fs::sync_dir`]); data only once its file is ([`AppendFile::sync`],
/// or [`Fs::write_synced`]).
pub trait Fs: Send + Sync {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates `path` (replacing any file of that name) holding `data`,
    /// and syncs its data (not its name).
    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Opens `path`, which exists, for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Cuts `path` to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the names in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `dir` (through a `LOCK` file in it),
    /// held until the returned guard is dropped; an error if another
    /// holder has it.
    fn lock(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>>;
}

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsFs;

struct OsFile(File);

impl AppendFile for OsFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Fs for OsFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut file = File::create(path)?;
        file.write_all(data)?;
        file.sync_all()
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(OsFile(file)))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "another process (or another DiskStorage) has it open",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}
