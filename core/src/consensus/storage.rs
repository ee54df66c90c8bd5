//! What stable storage holds, as plain data: the reference executor of
//! [`Persist`] effects, and the input of [`crate::Node::restart`].
//!
//! A disk implementation keeps the same three parts and executes each
//! [`Persist`] in time proportional to the change; drivers that keep state in
//! memory (the simulator, the model checker) use this type directly.

use crate::consensus::effect::Persist;
use crate::consensus::error::Error;
use crate::consensus::log::Log;
use crate::consensus::types::{Entry, HardState, LogIndex, Snapshot, SnapshotMeta};
use alloc::{format, vec::Vec};
use serde::{Deserialize, Serialize};

/// Everything Raft keeps on stable storage (Figure 2's persistent state plus
/// the latest snapshot of §7).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stored {
    /// `current_term` and `voted_for`.
    pub hard_state: HardState,
    /// The latest snapshot, if any was taken or installed.
    pub snapshot: Option<Snapshot>,
    /// Log entries after the snapshot, in index order.
    pub entries: Vec<Entry>,
}

impl Stored {
    /// Executes one persist effect. Fails, changing nothing, if `op` does not
    /// fit the stored state (an append that leaves a gap, say), which a
    /// correct core never asks for.
    pub fn apply(&mut self, op: &Persist) -> Result<(), Error> {
        match op {
            Persist::HardState(hard_state) => self.hard_state = *hard_state,
            Persist::Append(entries) => {
                let mut expected = self.last_index().next();
                for entry in entries {
                    if entry.index != expected {
                        return Err(Error::CorruptStorage(format!(
                            "append of {} where {} was expected",
                            entry.index, expected
                        )));
                    }
                    expected = expected.next();
                }
                self.entries.extend(entries.iter().cloned());
            }
            Persist::TruncateAfter { after } => {
                self.entries.retain(|e| e.index <= *after);
            }
            Persist::Snapshot(snapshot) => {
                let through = snapshot.meta.last_included_index;
                if through < self.snapshot_meta().last_included_index {
                    return Err(Error::CorruptStorage(format!(
                        "snapshot through {through} would replace a newer one"
                    )));
                }
                self.entries.retain(|e| e.index > through);
                self.snapshot = Some(snapshot.clone());
            }
        }
        Ok(())
    }

    /// The snapshot's position (index 0, term 0 when there is none).
    pub fn snapshot_meta(&self) -> SnapshotMeta {
        self.snapshot.as_ref().map(|s| s.meta).unwrap_or_default()
    }

    /// Index of the last stored entry, or of the snapshot's end.
    pub fn last_index(&self) -> LogIndex {
        self.entries
            .last()
            .map_or(self.snapshot_meta().last_included_index, |e| e.index)
    }

    /// The log this storage describes, or an error naming what is corrupt.
    pub fn log(&self) -> Result<Log, Error> {
        Log::from_parts(self.snapshot_meta(), self.entries.clone())
            .map_err(|reason| Error::CorruptStorage(format!("stored log: {reason}")))
    }

    /// The bytes the Raft state (hard state and log entries, not the
    /// snapshot) takes in the wire format (postcard): what the lab's
    /// `persister.RaftStateSize()` reports, and what a service compares
    /// with its `maxraftstate`. Linear in the number of entries.
    pub fn raft_state_size(&self) -> usize {
        encoded_hard_state_size(&self.hard_state)
            + self.entries.iter().map(encoded_entry_size).sum::<usize>()
    }
}

/// Bytes a `u64` takes as a variable-length integer (7 bits a byte), as the
/// wire format (postcard) encodes it.
pub fn varint_size(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Encoded size of one entry: index, term, then the command's length and
/// bytes.
pub fn encoded_entry_size(entry: &Entry) -> usize {
    varint_size(entry.index.0)
        + varint_size(entry.term.0)
        + varint_size(entry.command.len() as u64)
        + entry.command.len()
}

/// Encoded size of the hard state: the term and an optional vote.
pub fn encoded_hard_state_size(hard_state: &HardState) -> usize {
    varint_size(hard_state.current_term.0)
        + 1
        + hard_state.voted_for.map_or(0, |id| varint_size(id.0))
}
