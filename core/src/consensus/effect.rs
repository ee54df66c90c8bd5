//! The effects a handler asks its driver to carry out, in order.
//!
//! Every handler of [`crate::Node`] returns a `Vec<Effect>`. The driver must
//! execute them in the order given: a [`Effect::Persist`] must be durable
//! before any later [`Effect::Send`] leaves, because that message may promise
//! what was persisted (a vote, an acknowledged entry), with one exception,
//! [`Effect::may_overtake_persists`]: a leader's AppendEntries and
//! InstallSnapshot promise nothing about the leader's own storage, so they
//! may leave before earlier writes are durable, and the leader writes its
//! log in parallel with replicating it (thesis §10.2.1). The leader then
//! counts itself toward a commit majority only up to what its
//! [`Effect::Durable`] reports say is durable. Apply effects may be handed
//! to the application asynchronously, but in order.
//!
//! A driver whose writes are durable when they return (the simulator, the
//! model checker by default) simply carries out every effect in order.

use crate::consensus::message::Message;
use crate::consensus::types::{Entry, HardState, LogIndex, NodeId, Snapshot, Term};
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
    /// A marker after the [`Effect::Persist`] that stores the entry at
    /// `index` of term `term`: once every `Persist` before this one is
    /// durable, call [`crate::Node::handle_persisted`] with these two
    /// numbers (raft-rs's `on_persist_ready`, etcd's `MsgStorageAppendResp`).
    /// The term guards against a report that arrives after a truncation
    /// replaced the entry (etcd's "ABA" race).
    Durable {
        /// The index of the last entry written.
        index: LogIndex,
        /// That entry's term.
        term: Term,
    },
}

impl Effect {
    /// Whether this effect may be carried out before the [`Effect::Persist`]
    /// effects that precede it are durable: only a leader's AppendEntries
    /// and InstallSnapshot, which carry the leader's log and snapshot but
    /// promise nothing about its storage (thesis §10.2.1: "the leader can
    /// write to its disk in parallel with replicating to the followers").
    /// The leader's term, which they carry, was made durable before it
    /// asked for votes. Every other message waits: a vote or an
    /// acknowledgement promises what was persisted.
    pub fn may_overtake_persists(&self) -> bool {
        matches!(
            self,
            Effect::Send {
                message: Message::AppendEntries(_) | Message::InstallSnapshot(_),
                ..
            }
        )
    }
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
