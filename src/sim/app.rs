//! The simulator's state machine: a running digest of every applied entry.
//!
//! Two servers whose state machines hold the same digest at the same index
//! applied the same sequence of commands. The digest travels as snapshot
//! data, so a snapshot installed from another server is checked too.

use crate::consensus::{Entry, LogIndex, Snapshot};
use crate::sim::servers::{AppEffect, Application, StorageInfo};
use bytes::Bytes;

/// The volatile state machine of one simulated server.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct App {
    /// Index of the last entry applied (or restored from a snapshot).
    pub applied_index: LogIndex,
    /// FNV-1a over (index, term, command) of every entry applied so far.
    pub digest: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

impl App {
    /// A state machine that has applied nothing.
    pub fn new() -> App {
        App {
            applied_index: LogIndex(0),
            digest: FNV_OFFSET,
        }
    }

    /// Applies the next entry. Entries must come in index order, each once.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        if entry.index != self.applied_index.next() {
            return Err(format!(
                "applied {} after {}: entries must be applied in order, once",
                entry.index, self.applied_index
            ));
        }
        let mut digest = fnv(self.digest, &entry.index.0.to_le_bytes());
        digest = fnv(digest, &entry.term.0.to_le_bytes());
        self.digest = fnv(digest, &entry.command);
        self.applied_index = entry.index;
        Ok(())
    }

    /// The state as snapshot data: applied index and digest.
    pub fn snapshot_data(&self) -> Bytes {
        let mut data = Vec::with_capacity(16);
        data.extend_from_slice(&self.applied_index.0.to_le_bytes());
        data.extend_from_slice(&self.digest.to_le_bytes());
        Bytes::from(data)
    }

    /// Replaces the state with a snapshot's. The state never moves backwards
    /// (§7), and the data must describe the index the snapshot claims.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<(), String> {
        let index = snapshot.meta.last_included_index;
        if index <= self.applied_index {
            return Err(format!(
                "snapshot through {index} would move the state machine back from {}",
                self.applied_index
            ));
        }
        let (at, digest) = decode(&snapshot.data)
            .ok_or_else(|| format!("snapshot through {index} has unreadable data"))?;
        if at != index {
            return Err(format!("snapshot through {index} holds the state at {at}"));
        }
        self.applied_index = index;
        self.digest = digest;
        Ok(())
    }
}

fn decode(data: &[u8]) -> Option<(LogIndex, u64)> {
    let index = u64::from_le_bytes(data.get(0..8)?.try_into().ok()?);
    let digest = u64::from_le_bytes(data.get(8..16)?.try_into().ok()?);
    Some((LogIndex(index), digest))
}

/// [`App`] as a simulated server's application: applies entries (and
/// reports each to the driver), restores snapshots, and snapshots once it
/// has applied `snapshot_every` entries past the server's last snapshot.
#[derive(Clone, Debug)]
pub struct DigestApp {
    /// The state machine.
    pub app: App,
    /// Snapshot this many entries past the last snapshot (`None`: never).
    pub snapshot_every: Option<u64>,
}

impl DigestApp {
    /// A state machine that has applied nothing.
    pub fn new(snapshot_every: Option<u64>) -> DigestApp {
        DigestApp {
            app: App::new(),
            snapshot_every,
        }
    }
}

impl Application for DigestApp {
    /// Each entry applied.
    type Output = Entry;

    fn apply(
        &mut self,
        entry: &Entry,
        storage: StorageInfo,
    ) -> Result<Vec<AppEffect<Entry>>, String> {
        self.app.apply(entry)?;
        let mut effects = vec![AppEffect::Output(entry.clone())];
        let since = storage.snapshot_index.0;
        if let Some(every) = self.snapshot_every
            && self.app.applied_index.0 >= since + every
        {
            effects.push(AppEffect::Snapshot {
                index: self.app.applied_index,
                data: self.app.snapshot_data(),
            });
        }
        Ok(effects)
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<Vec<AppEffect<Entry>>, String> {
        self.app.restore(snapshot)?;
        Ok(Vec::new())
    }

    fn fingerprint(&self) -> Option<(LogIndex, u64)> {
        Some((self.app.applied_index, self.app.digest))
    }
}
