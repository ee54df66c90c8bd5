//! The effects a handler asks its driver to carry out, in order.
//!
//! Every handler of [`crate::Node`] returns a `Vec<Effect>`. The driver must
//! execute them in the order given: a [`Effect::Persist`] must be durable
//! before any later [`Effect::Send`] leaves, because that message may promise
//! what was persisted (a vote, an acknowledged entry). Apply effects may be
//! handed to the application asynchronously, but in order.

use crate::consensus::message::Message;
use crate::consensus::types::{Entry, HardState, LogIndex, NodeId, Snapshot};
use alloc::vec::Vec;

/// One thing for the driver to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Change stable storage (incrementally: never a whole-log rewrite).
    Persist(Persist),
    /// Send `message` to server `to`.
    Send {
        /// The recipient.
        to: NodeId,
        /// What to send; the sender is this node.
        message: Message,
    },
    /// (Re)arm the election timer with a fresh randomized timeout (§5.2). When
    /// it fires, call [`crate::Node::handle_election_timeout`].
    ResetElectionTimer,
    /// Arm the heartbeat timer (leaders only). When it fires, call
    /// [`crate::Node::handle_heartbeat_timeout`].
    SetHeartbeatTimer,
    /// Hand these newly committed entries, in index order, to the state
    /// machine (Figure 2, "Rules for Servers": apply `log[lastApplied]`).
    ApplyEntries(Vec<Entry>),
    /// Replace the state machine's state with this snapshot (§7).
    ApplySnapshot(Snapshot),
}

/// A change to stable storage. A disk log executes each in time proportional
/// to the change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Persist {
    /// Store `current_term` and `voted_for`.
    HardState(HardState),
    /// Append these entries; the first one's index is one past the last
    /// stored entry (or past the stored snapshot when no entry is stored).
    Append(Vec<Entry>),
    /// Delete every stored entry with an index greater than `after`.
    TruncateAfter {
        /// The last index to keep.
        after: LogIndex,
    },
    /// Store this snapshot in place of the previous one, then delete every
    /// stored entry with index `<= last_included_index`.
    Snapshot(Snapshot),
}
