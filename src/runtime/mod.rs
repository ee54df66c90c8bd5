//! The thread runtime: OS threads driving the core's handlers, with the
//! 6.824 lab's API ([`Raft`]: `new`, `start`, `state`, `snapshot`,
//! `shutdown`, and a bounded queue of [`ApplyMsg`]), and [`Replicated`],
//! which drives a [`StateMachine`] from that queue and answers proposals
//! with what applying them returned.
//!
//! It adds no protocol logic: decisions stay in [`crate::Node`]. All
//! locking goes through [`sync`] (the loom build swaps it), time through
//! [`Clock`], storage through [`Persister`], and messages through a
//! [`Transport`] (the emulated network of [`crate::network`], say).

pub mod apply_queue;
pub mod clock;
pub mod config;
pub(crate) mod journal;
pub mod leadership;
#[cfg(not(feature = "loom"))]
pub mod local;
#[cfg(feature = "loom")]
pub mod mutation;
pub mod persister;
pub mod raft;
pub mod replicated;
pub mod sync;
pub mod transport;

pub use apply_queue::{ApplyQueueStats, ApplyReceiver};
pub use clock::{Clock, ManualClock, RealClock};
pub use config::{ApplyMsg, DEFAULT_APPLY_QUEUE_CAPACITY, RaftConfig, RaftError, StartError};
pub use leadership::{LeaderWatch, Leadership};
#[cfg(not(feature = "loom"))]
pub use local::{LocalNetwork, LocalTransport};
pub use persister::{MemoryPersister, Persister, StorageError};
pub use raft::{Raft, StorageLoop, Ticker, Unstarted};
pub use replicated::{ProposeError, Replicated, ReplicatedConfig, StateMachine};
pub use transport::{Handler, Transport};

/// True in builds with the `loom` feature. The runtime's threads, locks and
/// channels are then loom's, which work only inside `loom::model`: code
/// that runs the runtime for real (the key/value service, the jepsen-lite
/// harness's thread backend) must not run in such a build.
pub const LOOM_BUILD: bool = cfg!(feature = "loom");
