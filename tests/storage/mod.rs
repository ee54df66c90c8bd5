//! Where a test harness's servers keep their persistent state: the lab's
//! in-memory persister (copied at a crash, so the dead instance's late
//! writes stay invisible to its successor), or, with `LAB_STORAGE=disk`,
//! a real `DiskStorage` per server in a temporary directory (closed at a
//! crash, reopened from disk at a restart, its torn-tail repair and
//! checksums included). `cargo xtask test` runs the 2C and kvraft 3B
//! groups both ways.

use checked_raft::runtime::{MemoryPersister, Persister};
use checked_raft::storage::DiskStorage;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Each server's stable storage.
pub struct Storages {
    memory: Vec<Arc<MemoryPersister>>,
    disk: Option<Disk>,
}

struct Disk {
    dir: tempfile::TempDir,
    open: Vec<Option<Arc<DiskStorage>>>,
    /// Raft state and snapshot sizes when each was last closed.
    sizes: Vec<(usize, usize)>,
}

impl Storages {
    /// Storage for `n` servers: on disk if `LAB_STORAGE=disk`, else in
    /// memory.
    pub fn new(n: usize) -> Storages {
        let disk = match std::env::var("LAB_STORAGE").as_deref() {
            Ok("disk") => Some(Disk {
                dir: tempfile::tempdir().expect("a temporary directory"),
                open: (0..n).map(|_| None).collect(),
                sizes: vec![(0, 0); n],
            }),
            Ok("memory") | Err(_) => None,
            Ok(other) => panic!("LAB_STORAGE={other}: expected memory or disk"),
        };
        Storages {
            memory: (0..n).map(|_| Arc::new(MemoryPersister::new())).collect(),
            disk,
        }
    }

    /// Server `i` crashed: what it wrote stays, what it may still write
    /// does not reach its successor. Call before shutting the server down.
    pub fn crash(&mut self, i: usize) {
        match &mut self.disk {
            None => self.memory[i] = Arc::new(self.memory[i].copy()),
            Some(disk) => {
                if let Some(storage) = disk.open[i].take() {
                    disk.sizes[i] = (storage.raft_state_size(), storage.snapshot_size());
                }
            }
        }
    }

    /// The storage server `i` (re)starts from.
    pub fn open(&mut self, i: usize) -> Arc<dyn Persister> {
        self.crash(i);
        match &mut self.disk {
            None => self.memory[i].clone(),
            Some(disk) => {
                let dir = disk.dir.path().join(format!("server-{i}"));
                // The crashed instance's last references (its handler in
                // a network thread) go within moments: its directory lock
                // with them.
                let deadline = Instant::now() + Duration::from_secs(10);
                let storage = loop {
                    match DiskStorage::open(&dir) {
                        Ok(storage) => break Arc::new(storage),
                        Err(e)
                            if Instant::now() < deadline && e.to_string().contains("another") =>
                        {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(e) => panic!("reopening {}: {e}", dir.display()),
                    }
                };
                disk.open[i] = Some(storage.clone());
                storage
            }
        }
    }

    /// Server `i`'s Raft state size in bytes (as last stored).
    pub fn raft_state_size(&self, i: usize) -> usize {
        match &self.disk {
            None => self.memory[i].raft_state_size(),
            Some(disk) => disk.open[i]
                .as_ref()
                .map_or(disk.sizes[i].0, |s| s.raft_state_size()),
        }
    }

    /// Server `i`'s snapshot size in bytes (as last stored).
    pub fn snapshot_size(&self, i: usize) -> usize {
        match &self.disk {
            None => self.memory[i].snapshot_size(),
            Some(disk) => disk.open[i]
                .as_ref()
                .map_or(disk.sizes[i].1, |s| s.snapshot_size()),
        }
    }

    /// How many servers.
    pub fn len(&self) -> usize {
        self.memory.len()
    }
}
