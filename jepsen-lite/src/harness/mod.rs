//! The harness (`jepsen-lite run`): runs the key/value service under
//! client load while a nemesis injects faults, records the history, judges
//! it with the checker, and writes a report.
//!
//! - [`options`]: what a run does ([`RunOptions`]).
//! - [`generator`]: the workloads' random operations, per-key
//!   independence, and how answers become history events.
//! - [`nemesis`]: the faults (partitions of several shapes, kills,
//!   an unreliable network, long reordering), drawn from the seed.
//! - [`event`]: the history's events and the nemesis windows.
//! - [`threads`]: the thread runtime over the emulated network, in real
//!   time; [`sim`]: the seeded simulator, in virtual time; [`process`]:
//!   real `raft-kv` processes behind per-link TCP [`proxy`]s.
//! - [`results`], [`timeline`], [`latency`], [`rate`]: `results.json`,
//!   `timeline.html`, `latency.svg`, `rate.svg` and
//!   `latency-quantiles.svg`.
//! - [`runner`]: one run from start to verdict, and the store directory.

pub mod event;
pub mod generator;
pub mod latency;
pub mod list_append;
pub mod live;
pub mod nemesis;
pub mod options;
#[cfg(feature = "process")]
pub mod process;
pub mod proxy;
pub mod rate;
pub mod results;
pub mod runner;
pub mod sim;
pub mod summary;
pub mod threads;
pub mod timeline;
pub mod timeline_data;

pub use event::{Event, Kind, Process, Window};
pub use options::{Backend, NemesisKind, RunOptions, ServiceBug, Storage, Workload};

use std::time::Duration;

/// What a backend reports while it runs (for the progress bar).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Time since the run began (virtual in the simulator).
    pub elapsed: Duration,
    /// Client operations completed so far.
    pub ops: u64,
    /// Of which `ok`.
    pub ok: u64,
    /// The fault on now (its start event's description), if any.
    pub nemesis: Option<String>,
    /// The phase: `load`, `heal`, `final reads`.
    pub phase: &'static str,
}

/// What a backend produced.
#[derive(Clone, Debug, Default)]
pub struct BackendRun {
    /// The history, in order of time.
    pub events: Vec<Event>,
    /// Lines for `jepsen.log`: what the backend did, with times.
    pub log: Vec<String>,
    /// More files for the report (name, contents): the process backend's
    /// server logs.
    pub files: Vec<(String, Vec<u8>)>,
    /// Each leader the backend saw take office, in order of time: the
    /// timeline's leader lane.
    pub leaders: Vec<LeaderSeen>,
}

/// A server seen leading, from `time` (the history's clock, ns) on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderSeen {
    /// When it was seen (or, in the simulator, elected).
    pub time: u64,
    /// The server's id.
    pub leader: u64,
    /// Its term.
    pub term: u64,
}
