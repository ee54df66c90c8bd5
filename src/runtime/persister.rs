//! Stable storage for one peer: the [`Persister`] trait, which executes the
//! core's incremental [`Persist`] effects, and [`MemoryPersister`], an
//! in-memory implementation like the 6.824 lab's.

use crate::consensus::storage::{encoded_entry_size, encoded_hard_state_size};
use crate::consensus::{Error, Persist, Stored};
use crate::runtime::sync::{Mutex, lock};
use std::sync::Arc;

/// Why a [`Persister`] failed. I/O and corruption are told apart: an I/O
/// error may pass (a full disk), corruption needs an operator.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StorageError {
    /// An effect that does not fit what is stored (an append that leaves a
    /// gap, a truncation past the end): the core and the storage disagree.
    /// Nothing was changed.
    #[error("storage refused an effect: {0}")]
    Rejected(#[from] Error),
    /// The operating system failed a read, write or sync.
    #[error("storage I/O failed: {what}: {source}")]
    Io {
        /// What was being done, and to which file.
        what: String,
        /// The operating system's error (shared, so that the error can be
        /// cloned into every caller that asks for the peer's fault).
        #[source]
        source: Arc<std::io::Error>,
    },
    /// What is stored cannot be what a correct peer wrote (a bad checksum,
    /// a missing segment): the peer must not start from it.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
}

/// Where a peer keeps Figure 2's persistent state and its latest snapshot.
///
/// Each call must be durable when it returns: the runtime sends messages
/// that depend on a change (a vote, an acknowledged entry) only after
/// [`Persister::persist`] has returned. Effects are incremental (append,
/// truncate, replace the snapshot), so a disk implementation does work
/// proportional to the change, never a whole-log rewrite.
pub trait Persister: Send + Sync {
    /// Executes one persist effect. A rejected effect (one that does not
    /// fit what is stored) leaves the stored state unchanged.
    fn persist(&self, op: &Persist) -> Result<(), StorageError>;

    /// Executes the persist effects of one or more handler calls, in order,
    /// durable together when it returns: a disk log writes them with one
    /// write and one sync (group commit). The runtime hands each handler's
    /// effects over in one call. On an error, the ops before the failing
    /// one may be stored and the rest are not.
    fn persist_batch(&self, ops: &[Persist]) -> Result<(), StorageError> {
        ops.iter().try_for_each(|op| self.persist(op))
    }

    /// Everything stored, for [`crate::Node::restart`]; an error when it
    /// cannot be read or is corrupt.
    fn load(&self) -> Result<Stored, StorageError>;

    /// Bytes of Raft state stored (hard state and log entries, as encoded
    /// by the wire format), which a service compares with its
    /// `maxraftstate` to decide when to snapshot.
    fn raft_state_size(&self) -> usize;

    /// Bytes of the stored snapshot's data (0 without one).
    fn snapshot_size(&self) -> usize;

    /// Whether a batch costs about as little as handing it to another
    /// thread (memory, no sync). Then the runtime writes each batch on the
    /// thread that decided it, when no other write is in progress, and
    /// spares the hand-off; otherwise its storage thread writes, so that
    /// no caller (a proposer, a transport's delivery thread) waits for the
    /// disk. The same storage round runs either way. Default: false.
    fn writes_are_cheap(&self) -> bool {
        false
    }
}

/// The lab's persister: state kept in memory, sizes queryable, and
/// [`MemoryPersister::copy`] to hand a restarted peer what its crashed
/// predecessor had stored, so that the crashed instance's late writes (it
/// may still be finishing a handler) are invisible to its successor.
#[derive(Debug, Default)]
pub struct MemoryPersister {
    state: Mutex<SizedStored>,
    /// Reports its writes as not cheap ([`MemoryPersister::slow`]).
    slow: bool,
}

/// What a persister stores, with the encoded size of its entries kept up
/// to date incrementally (an append adds its entries' sizes; a truncation
/// or a snapshot recounts what is left): every persister's
/// [`Persister::raft_state_size`] in O(1).
#[derive(Clone, Debug, Default)]
pub(crate) struct SizedStored {
    /// The stored state.
    pub(crate) stored: Stored,
    entries_size: usize,
}

impl SizedStored {
    /// `stored`, its size counted.
    pub(crate) fn new(stored: Stored) -> SizedStored {
        let entries_size = stored.entries.iter().map(encoded_entry_size).sum();
        SizedStored {
            stored,
            entries_size,
        }
    }

    /// Executes `op` ([`Stored::apply`]: a refused op changes nothing).
    pub(crate) fn apply(&mut self, op: &Persist) -> Result<(), Error> {
        self.stored.apply(op)?;
        self.entries_size = match op {
            Persist::HardState(_) => self.entries_size,
            Persist::Append(entries) => {
                self.entries_size + entries.iter().map(encoded_entry_size).sum::<usize>()
            }
            Persist::TruncateAfter { .. } | Persist::Snapshot(_) => {
                self.stored.entries.iter().map(encoded_entry_size).sum()
            }
        };
        Ok(())
    }

    /// [`Persister::raft_state_size`].
    pub(crate) fn raft_state_size(&self) -> usize {
        encoded_hard_state_size(&self.stored.hard_state) + self.entries_size
    }

    /// [`Persister::snapshot_size`].
    pub(crate) fn snapshot_size(&self) -> usize {
        self.stored.snapshot.as_ref().map_or(0, |s| s.data.len())
    }
}

impl MemoryPersister {
    /// An empty persister: a peer starting from it starts from scratch.
    pub fn new() -> MemoryPersister {
        MemoryPersister::default()
    }

    /// An independent persister holding what this one holds now.
    pub fn copy(&self) -> MemoryPersister {
        MemoryPersister {
            state: Mutex::new(lock(&self.state).clone()),
            slow: self.slow,
        }
    }

    /// This persister, reporting its writes as not cheap
    /// ([`Persister::writes_are_cheap`] false), as a disk log's are: a
    /// peer on it leaves every write to its storage loop, as on a disk.
    /// For tests of that path without a disk.
    pub fn slow(self) -> MemoryPersister {
        MemoryPersister { slow: true, ..self }
    }
}

impl Persister for MemoryPersister {
    fn persist(&self, op: &Persist) -> Result<(), StorageError> {
        lock(&self.state).apply(op)?;
        Ok(())
    }

    fn load(&self) -> Result<Stored, StorageError> {
        Ok(lock(&self.state).stored.clone())
    }

    fn raft_state_size(&self) -> usize {
        lock(&self.state).raft_state_size()
    }

    fn snapshot_size(&self) -> usize {
        lock(&self.state).snapshot_size()
    }

    /// Memory: a batch costs less than a thread hand-off (unless made
    /// [`MemoryPersister::slow`]).
    fn writes_are_cheap(&self) -> bool {
        !self.slow
    }
}

// Its locks are loom's in the loom build, usable only inside `loom::model`.
#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use crate::consensus::storage::varint_size;
    use crate::consensus::{Entry, HardState, LogIndex, NodeId, Snapshot, SnapshotMeta, Term};
    use bytes::Bytes;

    fn entry(index: u64, term: u64, command: &'static [u8]) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(term),
            command: Bytes::from_static(command),
        }
    }

    #[test]
    fn varints_take_seven_bits_a_byte() {
        assert_eq!(varint_size(0), 1);
        assert_eq!(varint_size(127), 1);
        assert_eq!(varint_size(128), 2);
        assert_eq!(varint_size(u64::MAX), 10);
    }

    #[test]
    fn sizes_follow_appends_truncations_and_snapshots() {
        let p = MemoryPersister::new();
        let empty = p.raft_state_size();
        p.persist(&Persist::HardState(HardState {
            current_term: Term(1),
            voted_for: Some(NodeId(2)),
        }))
        .unwrap();
        assert_eq!(p.raft_state_size(), empty + 1);
        p.persist(&Persist::Append(vec![
            entry(1, 1, b"abc"),
            entry(2, 1, b"de"),
        ]))
        .unwrap();
        let with_two = p.raft_state_size();
        assert_eq!(with_two, empty + 1 + (1 + 1 + 1 + 3) + (1 + 1 + 1 + 2));
        // The running count agrees with the stored state's own measure.
        assert_eq!(with_two, p.load().unwrap().raft_state_size());
        p.persist(&Persist::TruncateAfter { after: LogIndex(1) })
            .unwrap();
        assert_eq!(p.raft_state_size(), with_two - 5);
        p.persist(&Persist::Snapshot(Snapshot {
            meta: SnapshotMeta {
                last_included_index: LogIndex(1),
                last_included_term: Term(1),
            },
            data: Bytes::from_static(b"state"),
        }))
        .unwrap();
        assert_eq!(p.raft_state_size(), empty + 1);
        assert_eq!(p.snapshot_size(), 5);
        assert_eq!(
            p.load().unwrap().snapshot.unwrap().meta.last_included_index,
            LogIndex(1)
        );
    }

    #[test]
    fn a_copy_does_not_see_later_writes() {
        let p = MemoryPersister::new();
        p.persist(&Persist::Append(vec![entry(1, 1, b"x")]))
            .unwrap();
        let copy = p.copy();
        p.persist(&Persist::Append(vec![entry(2, 1, b"y")]))
            .unwrap();
        assert_eq!(copy.load().unwrap().entries.len(), 1);
        assert_eq!(p.load().unwrap().entries.len(), 2);
    }

    #[test]
    fn a_misfit_effect_is_refused_and_changes_nothing() {
        let p = MemoryPersister::new();
        let before = p.load().unwrap();
        let err = p.persist(&Persist::Append(vec![entry(5, 1, b"gap")]));
        assert!(matches!(
            err,
            Err(StorageError::Rejected(Error::CorruptStorage(_)))
        ));
        assert_eq!(p.load().unwrap(), before);
        assert_eq!(
            p.raft_state_size(),
            MemoryPersister::new().raft_state_size()
        );
    }

    #[test]
    fn a_batch_is_executed_in_order_and_stops_at_a_misfit() {
        let p = MemoryPersister::new();
        p.persist_batch(&[
            Persist::Append(vec![entry(1, 1, b"x")]),
            Persist::Append(vec![entry(2, 1, b"y")]),
            Persist::TruncateAfter { after: LogIndex(1) },
        ])
        .unwrap();
        assert_eq!(p.load().unwrap().entries.len(), 1);
        let err = p.persist_batch(&[
            Persist::Append(vec![entry(2, 1, b"z")]),
            Persist::Append(vec![entry(9, 1, b"gap")]),
            Persist::Append(vec![entry(3, 1, b"never")]),
        ]);
        assert!(matches!(err, Err(StorageError::Rejected(_))));
        let entries = p.load().unwrap().entries;
        assert_eq!(
            entries.len(),
            2,
            "the op before the misfit is stored, none after"
        );
        assert_eq!(entries[1].command, Bytes::from_static(b"z"));
    }
}
