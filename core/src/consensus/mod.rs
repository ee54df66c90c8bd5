//! The sans-IO Raft core: plain data and pure handlers, no threads, clocks,
//! randomness or I/O. Drivers (the simulator, the stateright model, the
//! thread runtime) feed it inputs and execute the [`Effect`]s it returns.

/// `bug!(node, Name)`: whether `node` was configured to reintroduce the
/// catalogue bug [`crate::bugs::Bug`]`::Name`. Without the `bug-catalogue`
/// feature it is the literal `false`, so no switch survives a normal build.
#[cfg(feature = "bug-catalogue")]
macro_rules! bug {
    ($node:expr, $name:ident) => {
        $node.bug == Some(crate::bugs::Bug::$name)
    };
}
#[cfg(not(feature = "bug-catalogue"))]
macro_rules! bug {
    ($node:expr, $name:ident) => {
        false
    };
}

pub mod effect;
mod election;
pub mod error;
pub mod log;
pub mod message;
pub mod node;
pub mod progress;
mod rename;
mod replication;
mod snapshot;
pub mod storage;
pub mod types;

pub use effect::{Effect, Persist};
pub use error::{Error, NotLeader};
pub use log::Log;
pub use message::{
    AppendEntries, AppendEntriesReply, AppendResult, InstallSnapshot, InstallSnapshotReply,
    Message, RequestVote, RequestVoteReply,
};
pub use node::{Config, Node, Proposed, Role};
pub use progress::{MAX_INFLIGHT, Progress};
pub use storage::Stored;
pub use types::{Entry, HardState, LogIndex, NodeId, Snapshot, SnapshotMeta, Term};
