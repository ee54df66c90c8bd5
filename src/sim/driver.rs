//! What the simulated servers ([`crate::sim::Servers`]) need from the
//! simulation around them and from the application on top, and what they
//! report: the [`Driver`] (clock, network, timers, randomness, crashes,
//! disks' crash modes), the [`Application`] (the state machine) and its
//! [`AppEffect`]s, and a step's result ([`Step`], [`FailureReason`]).

use crate::consensus::{Entry, LogIndex, Message, Node, Snapshot};
use crate::invariants::Violation;
use crate::storage::CrashMode;
use bytes::Bytes;
use std::fmt;

/// A server's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The election timeout (followers and candidates).
    Election,
    /// The heartbeat interval (leaders).
    Heartbeat,
    /// The server's oldest pending write completes (with asynchronous
    /// writes,
    /// [`Servers::write_asynchronously`](crate::sim::Servers::write_asynchronously)).
    Write,
}

/// What an application asks of the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEffect<O> {
    /// Compact the server's log through `index` with `data` (done once the
    /// handler's effects have all run; the latest request wins).
    Snapshot {
        /// The last index the snapshot covers.
        index: LogIndex,
        /// The application's state there.
        data: Bytes,
    },
    /// Something for the driver (a reply to a client, say).
    Output(O),
}

/// The state machine a simulated server runs on top of Raft.
pub trait Application {
    /// What it hands the driver.
    type Output;

    /// Applies the next committed entry; `storage` describes the server's
    /// stable storage (for a snapshot trigger). An error is a broken
    /// contract (an entry out of order, twice, undecodable) and fails the
    /// run.
    fn apply(
        &mut self,
        entry: &Entry,
        storage: StorageInfo,
    ) -> Result<Vec<AppEffect<Self::Output>>, String>;

    /// Replaces the state with a snapshot's (a leader's, or the server's
    /// own at restart); never backwards (§7).
    fn restore(&mut self, snapshot: &Snapshot) -> Result<Vec<AppEffect<Self::Output>>, String>;

    /// Sees the server's core after each of its steps (to follow its term
    /// and role, say).
    fn observe(&mut self, _node: &Node) -> Vec<AppEffect<Self::Output>> {
        Vec::new()
    }

    /// The last index applied and a digest of the state there, if the
    /// application keeps one: equal indices must give equal digests.
    fn fingerprint(&self) -> Option<(LogIndex, u64)> {
        None
    }
}

/// What an application may want to know of its server's stable storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageInfo {
    /// The last index the stored snapshot covers (0: none).
    pub snapshot_index: LogIndex,
    /// The bytes the Raft state takes
    /// ([`Stored::raft_state_size`](crate::consensus::Stored::raft_state_size),
    /// kept up to date as effects are persisted, as a disk log would).
    pub raft_state_size: usize,
}

/// What the servers need from the simulation around them.
pub trait Driver<O> {
    /// Server `from` sends `message` to server `to` (positions).
    fn send(&mut self, from: usize, to: usize, message: Message);
    /// Arm `timer` of `server`; when it fires, call
    /// [`Servers::fire`](crate::sim::Servers::fire) with `generation` (a
    /// re-armed or crashed server's old timer is ignored).
    fn arm(&mut self, server: usize, timer: Timer, generation: u64);
    /// Whether `server` crashes now, before its next effect (so that only
    /// a prefix of a handler's effects happens).
    fn crash_before_effect(&mut self, _server: usize) -> bool {
        false
    }
    /// The application of `server` produced `output`.
    fn output(&mut self, server: usize, output: O);
    /// With disks ([`Servers::use_disks`](crate::sim::Servers::use_disks)):
    /// what the disk of `server`, which crashes now, keeps of what it had
    /// not synced, and the seed of that choice.
    fn reboot(&mut self, _server: usize) -> (CrashMode, u64) {
        (CrashMode::LoseUnsynced, 0)
    }
    /// A line for the run's trace.
    fn note(&mut self, _line: impl FnOnce() -> String) {}
}

/// Why a run failed.
#[derive(Clone, Debug)]
pub enum FailureReason {
    /// A safety property broke.
    Violation(Violation),
    /// The core refused input that a correct cluster produced.
    Refused(crate::consensus::Error),
    /// An application was handed entries out of order, twice, or moved back.
    Apply(String),
    /// No leader, or no fresh commit on every server, in time after healing.
    Liveness(String),
    /// A message the core called stale ([`Node::is_stale`]) did something
    /// when delivered.
    StaleNotInert(String),
    /// With
    /// [`Servers::audit_narrowed_checks`](crate::sim::Servers::audit_narrowed_checks)
    /// on: the narrowed check
    /// ([`check_after_step`](crate::invariants::check_after_step)) judged a
    /// step differently from the full
    /// [`check_invariants`](crate::invariants::check_invariants), or left a
    /// different history.
    NarrowedCheck(String),
    /// With disks ([`Servers::use_disks`](crate::sim::Servers::use_disks)):
    /// the write-ahead log lost an acknowledged write, invented a state,
    /// refused to reopen, or failed a write without a crash.
    Storage(String),
    /// A write a client saw acknowledged is missing from, or replaced in,
    /// a server's final state.
    AcknowledgedWriteLost(String),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Violation(v) => write!(f, "{v}"),
            FailureReason::Refused(e) => write!(f, "core refused: {e}"),
            FailureReason::Apply(s) => write!(f, "apply: {s}"),
            FailureReason::Liveness(s) => write!(f, "liveness: {s}"),
            FailureReason::StaleNotInert(s) => write!(f, "stale message not inert: {s}"),
            FailureReason::NarrowedCheck(s) => write!(f, "narrowed check disagrees: {s}"),
            FailureReason::Storage(s) => write!(f, "storage: {s}"),
            FailureReason::AcknowledgedWriteLost(s) => write!(f, "acknowledged write lost: {s}"),
        }
    }
}

impl std::error::Error for FailureReason {}

/// The result of a simulated step.
pub type Step<T = ()> = Result<T, FailureReason>;

/// Counts of what the servers did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Proposals a leader accepted.
    pub proposals: u64,
    /// Crashes, counting those in the middle of a handler's effects.
    pub crashes: u64,
    /// Crashes that left only a prefix of a handler's effects executed.
    pub crashes_mid_step: u64,
    /// Restarts from stable storage (not counting the first start).
    pub restarts: u64,
    /// Snapshots the applications took.
    pub snapshots_taken: u64,
    /// Snapshots installed from a leader's InstallSnapshot.
    pub snapshots_installed: u64,
    /// With disks: crashes at a file-system crash point (in the middle of
    /// a write, or of a recovery).
    pub disk_crashes: u64,
    /// With disks: restarts whose log had a torn or unsynced tail cut off.
    pub disk_repairs: u64,
}

impl ServerStats {
    /// Adds another run's counts to these.
    pub fn add(&mut self, other: &ServerStats) {
        self.proposals += other.proposals;
        self.crashes += other.crashes;
        self.crashes_mid_step += other.crashes_mid_step;
        self.restarts += other.restarts;
        self.snapshots_taken += other.snapshots_taken;
        self.snapshots_installed += other.snapshots_installed;
        self.disk_crashes += other.disk_crashes;
        self.disk_repairs += other.disk_repairs;
    }
}
