//! [`CrashFs`]: an in-memory [`Fs`] that remembers what is durable and
//! what is not, and can crash. The crash-consistency tests run the real
//! [`crate::storage::DiskStorage`] code on it, in the manner of ALICE and
//! LazyFS: the machine stops at a chosen operation (every later operation
//! fails), and the disk that a reboot finds keeps what was synced plus
//! some of what was not, as [`CrashMode`] says.
//!
//! What it models, as Linux file systems behave at worst: file data is
//! durable once its file is synced; a name created, renamed or removed is
//! durable once its directory is synced (before that, a crash may keep a
//! prefix of the directory's pending changes, in order); unsynced appends
//! may be lost, kept in part, torn at a 512-byte sector boundary, or kept
//! out of order (a later write without an earlier one, which then reads
//! as zeros). Deterministic: the same seed, the same disk.

use crate::storage::fs::{AppendFile, Fs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a crash keeps of the writes and directory changes that were not
/// yet synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// Nothing unsynced survives.
    LoseUnsynced,
    /// Everything written survives (the page cache was flushed in time).
    KeepAll,
    /// A prefix of each file's unsynced writes (and of the directory's
    /// changes) survives, of a random length.
    KeepPrefix,
    /// As `KeepPrefix`, and the first write not kept survives in part, cut
    /// at a sector boundary (a torn write).
    TornWrite,
    /// A random subset of the unsynced writes survives, in any order.
    Reorder,
}

impl CrashMode {
    /// Every mode.
    pub const ALL: [CrashMode; 5] = [
        CrashMode::LoseUnsynced,
        CrashMode::KeepAll,
        CrashMode::KeepPrefix,
        CrashMode::TornWrite,
        CrashMode::Reorder,
    ];
}

const SECTOR: usize = 512;

impl Inode {
    /// Makes every write so far durable: the pending writes, in order,
    /// on the durable content (as long as they are, not as long as the
    /// file).
    fn sync(&mut self) {
        for (offset, bytes) in std::mem::take(&mut self.pending) {
            write_at(&mut self.durable, offset, &bytes);
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What survives any crash.
    durable: Vec<u8>,
    /// Writes since the last sync: offset and bytes.
    pending: Vec<(usize, Vec<u8>)>,
}

#[derive(Clone, Debug)]
enum DirOp {
    Link(PathBuf, usize),
    Unlink(PathBuf),
    Rename(PathBuf, PathBuf),
}

impl DirOp {
    fn dir(&self) -> Option<&Path> {
        match self {
            DirOp::Link(p, _) | DirOp::Unlink(p) | DirOp::Rename(p, _) => p.parent(),
        }
    }

    fn apply(&self, names: &mut BTreeMap<PathBuf, usize>) {
        match self {
            DirOp::Link(path, inode) => {
                names.insert(path.clone(), *inode);
            }
            DirOp::Unlink(path) => {
                names.remove(path);
            }
            DirOp::Rename(from, to) => {
                if let Some(inode) = names.remove(from) {
                    names.insert(to.clone(), inode);
                }
            }
        }
    }
}

#[derive(Clone, Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    names: BTreeMap<PathBuf, usize>,
    durable_names: BTreeMap<PathBuf, usize>,
    pending_dir: Vec<DirOp>,
    locked: Vec<PathBuf>,
    /// Mutating operations so far (each a crash point).
    ops: u64,
    /// The operation at which the machine stops.
    crash_at: Option<u64>,
    crashed: bool,
}

impl State {
    /// Frees the content of files no name holds, durably or not, and no
    /// pending directory change can bring back (a long run's deleted
    /// segments would otherwise stay in memory).
    fn forget_unlinked(&mut self) {
        let mut held = vec![false; self.inodes.len()];
        for &inode in self.names.values().chain(self.durable_names.values()) {
            held[inode] = true;
        }
        for op in &self.pending_dir {
            if let DirOp::Link(_, inode) = op {
                held[*inode] = true;
            }
        }
        for (inode, held) in self.inodes.iter_mut().zip(held) {
            if !held {
                *inode = Inode::default();
            }
        }
    }
}

/// An in-memory file system that can crash; clones share it.
#[derive(Clone, Debug, Default)]
pub struct CrashFs {
    state: Arc<Mutex<State>>,
}

fn crashed() -> io::Error {
    io::Error::other("simulated crash: the machine has stopped")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

impl CrashFs {
    /// An empty file system.
    pub fn new() -> CrashFs {
        CrashFs::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the machine at mutating operation number `at` (counted from
    /// 1 since this file system was made): that operation and every later
    /// one fails, doing nothing.
    pub fn crash_at(&self, at: u64) {
        self.state().crash_at = Some(at);
    }

    /// Mutating operations so far: the crash points a run passed.
    pub fn operations(&self) -> u64 {
        self.state().ops
    }

    /// Whether the machine has stopped.
    pub fn has_crashed(&self) -> bool {
        self.state().crashed
    }

    /// The disk a reboot finds after a crash now (whether or not the
    /// machine stopped on its own): what was synced, plus what `mode`
    /// keeps of the rest, chosen with `seed`. No lock is held on it.
    pub fn reboot(&self, mode: CrashMode, seed: u64) -> CrashFs {
        let old = self.state();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut names = old.durable_names.clone();
        let keep_dir = match mode {
            CrashMode::LoseUnsynced => 0,
            CrashMode::KeepAll => old.pending_dir.len(),
            _ => rng.random_range(0..=old.pending_dir.len()),
        };
        for op in &old.pending_dir[..keep_dir] {
            op.apply(&mut names);
        }
        let inodes = old
            .inodes
            .iter()
            .map(|inode| {
                let mut data = inode.durable.clone();
                let n = inode.pending.len();
                let kept: Vec<usize> = match mode {
                    CrashMode::LoseUnsynced => Vec::new(),
                    CrashMode::KeepAll => (0..n).collect(),
                    CrashMode::KeepPrefix | CrashMode::TornWrite => {
                        (0..rng.random_range(0..=n)).collect()
                    }
                    CrashMode::Reorder => (0..n).filter(|_| rng.random_bool(0.5)).collect(),
                };
                for &k in &kept {
                    write_at(&mut data, inode.pending[k].0, &inode.pending[k].1);
                }
                if mode == CrashMode::TornWrite
                    && let Some((offset, bytes)) = inode.pending.get(kept.len())
                {
                    // Whole sectors of the write survive, up to a random one.
                    let end = offset + bytes.len();
                    let boundaries: Vec<usize> = (offset / SECTOR + 1..=end / SECTOR)
                        .map(|s| s * SECTOR)
                        .filter(|&b| b > *offset && b < end)
                        .collect();
                    if !boundaries.is_empty() {
                        let cut = boundaries[rng.random_range(0..boundaries.len())];
                        write_at(&mut data, *offset, &bytes[..cut - offset]);
                    }
                }
                Inode {
                    durable: data.clone(),
                    data,
                    pending: Vec::new(),
                }
            })
            .collect();
        CrashFs {
            state: Arc::new(Mutex::new(State {
                inodes,
                durable_names: names.clone(),
                names,
                ..State::default()
            })),
        }
    }

    /// Overwrites byte `offset` of `path` with `byte`, durably (a test's
    /// bit rot).
    pub fn corrupt(&self, path: &Path, offset: usize, byte: u8) -> io::Result<()> {
        let mut state = self.state();
        let inode = *state.names.get(path).ok_or_else(|| not_found(path))?;
        let file = &mut state.inodes[inode];
        if offset >= file.data.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "past the end"));
        }
        file.data[offset] = byte;
        file.durable = file.data.clone();
        Ok(())
    }

    /// Removes `path` durably (a test's lost file).
    pub fn lose(&self, path: &Path) {
        let mut state = self.state();
        state.names.remove(path);
        state.durable_names.remove(path);
    }

    /// Counts one mutating operation; an error once the machine stopped.
    fn step(state: &mut State) -> io::Result<()> {
        if state.crashed {
            return Err(crashed());
        }
        state.ops += 1;
        if state.crash_at == Some(state.ops) {
            state.crashed = true;
            return Err(crashed());
        }
        Ok(())
    }
}

fn write_at(data: &mut Vec<u8>, offset: usize, bytes: &[u8]) {
    if data.len() < offset + bytes.len() {
        data.resize(offset + bytes.len(), 0);
    }
    data[offset..offset + bytes.len()].copy_from_slice(bytes);
}

struct CrashFile {
    fs: CrashFs,
    inode: usize,
}

impl AppendFile for CrashFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut state = self.fs.state();
        CrashFs::step(&mut state)?;
        let file = &mut state.inodes[self.inode];
        file.pending.push((file.data.len(), data.to_vec()));
        file.data.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.fs.state();
        CrashFs::step(&mut state)?;
        state.inodes[self.inode].sync();
        Ok(())
    }
}

struct Held {
    fs: CrashFs,
    dir: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.fs.state().locked.retain(|d| *d != self.dir);
    }
}

impl Fs for CrashFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.state();
        Ok(state
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.state();
        let inode = *state.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(state.inodes[inode].data.clone())
    }

    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        // Two crash points: the write, and its sync.
        CrashFs::step(&mut state)?;
        state.inodes.push(Inode {
            data: data.to_vec(),
            durable: Vec::new(),
            pending: vec![(0, data.to_vec())],
        });
        let inode = state.inodes.len() - 1;
        let op = DirOp::Link(path.to_path_buf(), inode);
        op.apply(&mut state.names);
        state.pending_dir.push(op);
        CrashFs::step(&mut state)?;
        state.inodes[inode].sync();
        Ok(())
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let state = self.state();
        let inode = *state.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(CrashFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.state();
        CrashFs::step(&mut state)?;
        let inode = *state.names.get(path).ok_or_else(|| not_found(path))?;
        let file = &mut state.inodes[inode];
        file.data.truncate(len as usize);
        file.durable = file.data.clone();
        file.pending.clear();
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.state();
        CrashFs::step(&mut state)?;
        if !state.names.contains_key(from) {
            return Err(not_found(from));
        }
        let op = DirOp::Rename(from.to_path_buf(), to.to_path_buf());
        op.apply(&mut state.names);
        state.pending_dir.push(op);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.state();
        CrashFs::step(&mut state)?;
        if !state.names.contains_key(path) {
            return Err(not_found(path));
        }
        let op = DirOp::Unlink(path.to_path_buf());
        op.apply(&mut state.names);
        state.pending_dir.push(op);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state();
        CrashFs::step(&mut state)?;
        let pending = std::mem::take(&mut state.pending_dir);
        let (now, later): (Vec<DirOp>, Vec<DirOp>) =
            pending.into_iter().partition(|op| op.dir() == Some(dir));
        for op in &now {
            op.apply(&mut state.durable_names);
        }
        state.pending_dir = later;
        state.forget_unlinked();
        Ok(())
    }

    fn lock(&self, dir: &Path) -> io::Result<Box<dyn Send + Sync>> {
        let mut state = self.state();
        if state.locked.iter().any(|d| d == dir) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "another process (or another DiskStorage) has it open",
            ));
        }
        state.locked.push(dir.to_path_buf());
        Ok(Box::new(Held {
            fs: self.clone(),
            dir: dir.to_path_buf(),
        }))
    }
}
