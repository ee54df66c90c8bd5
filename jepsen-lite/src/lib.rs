//! jepsen-lite: a porcupine-class linearizability checker.
//!
//! Given a concurrent history (operations with invocation and return times)
//! and a sequential specification ([`Model`]), it decides whether the
//! history is linearizable: whether every operation can be given a single
//! instant between its call and its return such that, in that order, the
//! operations form a legal sequential execution of the model.
//!
//! # Algorithm
//!
//! The search is porcupine's ([`check()`]): Wing & Gong's backtracking
//! search (1993) over the time-ordered call/return events, with Lowe's
//! memoization (2017) of every (set of linearized operations, model state)
//! already reached, so that no configuration is explored twice. Histories are
//! first split into independent partitions (P-compositionality, Horn &
//! Kroening 2015; e.g. one partition per key) that are searched in parallel;
//! the first partition found illegal cancels the others, and a timeout
//! turns an undecided check into [`Verdict::Unknown`]. Two sound reductions
//! beyond porcupine (operations with equal input and output are linearized
//! in real-time order; read-only operations are linearized greedily) are
//! explained in the search module and cross-checked against a brute-force
//! reference by the property tests.
//!
//! # Semantics
//!
//! Intervals are closed: a call and a return at equal times are concurrent.
//! Completions follow Jepsen ([`history`]): `ok` happened; `fail` definitely
//! did not happen and is dropped, except where the failure is itself a
//! result (a CAS that found another value); `info` or no completion is
//! indeterminate: the operation may or may not have taken effect and stays
//! open until the end of the history.
//!
//! # Modules
//!
//! - [`history`]: operations, completion types, building histories from
//!   invoke/complete events.
//! - [`model`], [`models`]: the [`Model`] trait; a nil-able
//!   read/write/CAS [`models::Register`] and a get/put/append
//!   [`models::Kv`] store (partitioned per key).
//! - [`mod@check`]: partitioning, the parallel search, the overall result.
//! - [`mod@format`]: parsers for Jepsen etcd logs, porcupine kv logs and the
//!   project's JSON lines ([`format::jsonl`] documents it).
//! - [`report`], [`explain`], [`html`]: the account of a check as JSON, as
//!   text, and as a self-contained HTML page.
//! - [`harness`]: `jepsen-lite run`, a small Jepsen: the library's
//!   key/value service under client load and a nemesis, its history
//!   checked and reported.
//!
//! # Example
//!
//! ```
//! use jepsen_lite::{check, CheckOptions, Operation, Verdict};
//! use jepsen_lite::models::{Register, RegisterInput, RegisterOp, RegisterOutput};
//!
//! let write = |v, call, ret| Operation::new(
//!     0, RegisterInput { key: None, op: RegisterOp::Write(Some(v)) },
//!     RegisterOutput::Written, call, ret);
//! let read = |v, call, ret| Operation::new(
//!     1, RegisterInput { key: None, op: RegisterOp::Read },
//!     RegisterOutput::Read(Some(v)), call, ret);
//!
//! // The read overlaps the second write, so it may see either value...
//! let history = vec![write(1, 0, 10), write(2, 20, 30), read(1, 25, 35)];
//! let result = check(&Register, &history, &CheckOptions::default()).unwrap();
//! assert_eq!(result.verdict, Verdict::Linearizable);
//!
//! // ...but not once the second write has returned.
//! let history = vec![write(1, 0, 10), write(2, 20, 30), read(1, 31, 35)];
//! let result = check(&Register, &history, &CheckOptions::default()).unwrap();
//! assert_eq!(result.verdict, Verdict::NotLinearizable);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bitset;
pub mod check;
/// An Elle-style checker for list-append transactions (Kingsbury & Alvaro,
/// VLDB 2020): dependency cycles named by Adya's anomaly classes.
pub mod elle;
pub mod explain;
pub mod format;
pub mod harness;
pub mod history;
pub mod html;
pub mod model;
pub mod models;
pub mod report;
mod search;

pub use check::{
    CheckError, CheckOptions, CheckResult, Failure, PartitionOutcome, PartitionResult, Verdict,
    check,
};
pub use history::{Completion, History, HistoryBuilder, OPEN, Operation, Status};
pub use model::{Model, Partition};
pub use report::Report;
