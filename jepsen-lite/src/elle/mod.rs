//! An Elle-style checker for list-append transactions.
//!
//! Elle (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
//! Experimental Observations", VLDB 2020) checks a history of transactions
//! over lists that are only appended to and read whole. Because every
//! appended element is unique, a read names the transaction that wrote each
//! element, and the longest read of a key orders all its versions
//! (§4.1-4.2). From these it infers Adya's dependency graph ("Weak
//! Consistency", MIT PhD thesis, 1999): write (ww), read (wr) and
//! anti-dependency (rw) edges, plus real-time edges for strict
//! serializability (§4.3, §4.5). A cycle in the graph is an anomaly, named
//! after the strictest Adya class it belongs to (G0, G1c, G-single, G2, and
//! their `-realtime` variants); a few anomalies need no cycle (G1a aborted
//! reads, G1b intermediate reads, internal inconsistencies, garbage reads,
//! incompatible orders).
//!
//! The search is the crate's own: strongly connected components by an
//! iterative Tarjan, then a breadth-first search for a short cycle of each
//! class inside each component.
//!
//! - [`history`](crate::elle::history): [`Mop`](crate::elle::Mop),
//!   [`Txn`](crate::elle::Txn), [`TxnStatus`](crate::elle::TxnStatus).
//! - [`parse`](crate::elle::parse): Jepsen-style JSON lines to
//!   transactions.
//! - [`anomaly`](crate::elle::anomaly):
//!   [`AnomalyKind`](crate::elle::AnomalyKind),
//!   [`Anomaly`](crate::elle::Anomaly),
//!   [`ElleReport`](crate::elle::ElleReport).
//! - [`generate`](crate::elle::generate): large valid histories, for
//!   benchmarks.
//!
//! ```
//! use jepsen_lite::elle::{check, ElleOptions, Txn, append, read};
//!
//! // T0 appends 1 to key 0 and reads key 1 empty; T1 appends 2 to key 1
//! // and reads key 0 empty: each missed the other's write (G2, write skew).
//! let history = vec![
//!     Txn::ok(0, 0, 0, 10, vec![append(0, 1), read(1, &[])]),
//!     Txn::ok(1, 1, 0, 10, vec![append(1, 2), read(0, &[])]),
//!     Txn::ok(2, 2, 20, 30, vec![read(0, &[1]), read(1, &[2])]),
//! ];
//! let report = check(&history, &ElleOptions::default()).unwrap();
//! assert!(!report.valid);
//! assert_eq!(report.anomalies[0].kind.name(), "G2");
//! ```

pub mod anomaly;
mod cycle;
pub mod explain;
mod graph;
pub mod history;
pub mod parse;
mod versions;

// Not part of the check: histories for benchmarks and tests.
pub mod generate;

pub use anomaly::{Anomaly, AnomalyKind, ElleReport};
pub use explain::explain;
pub use history::{Mop, Txn, TxnStatus, append, read};
pub use parse::{ParseError, parse_jsonl};

use anomaly::Collector;
use graph::{ALL, EdgeList, Graph, RT};

/// The consistency model to check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConsistencyModel {
    /// Serializable and consistent with real time (Elle §4.5): real-time
    /// edges are part of the graph.
    #[default]
    StrictSerializable,
    /// Serializable: data dependencies only; anomalies that need real time
    /// are not reported.
    Serializable,
}

impl ConsistencyModel {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ConsistencyModel::StrictSerializable => "strict-serializable",
            ConsistencyModel::Serializable => "serializable",
        }
    }
}

/// How to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElleOptions {
    /// The consistency model.
    pub model: ConsistencyModel,
    /// How many examples of each kind of anomaly to keep (all are counted).
    pub max_examples: usize,
}

impl Default for ElleOptions {
    /// Strict serializability, 8 examples per kind.
    fn default() -> Self {
        ElleOptions {
            model: ConsistencyModel::StrictSerializable,
            max_examples: 8,
        }
    }
}

/// Why a history cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElleError {
    /// A transaction completed before it was invoked.
    #[error(
        "transaction T{index} completes at {complete_ns} ns, before its invocation at {invoke_ns} ns"
    )]
    CompleteBeforeInvoke {
        /// The transaction's index.
        index: usize,
        /// Its invocation time.
        invoke_ns: u64,
        /// Its completion time.
        complete_ns: u64,
    },
    /// An `ok` or `fail` transaction without a completion time.
    #[error("transaction T{index} is {status:?} but has no completion time")]
    MissingCompletion {
        /// The transaction's index.
        index: usize,
        /// Its status.
        status: TxnStatus,
    },
    /// More transactions than the checker numbers (2³² − 1).
    #[error("{0} transactions: too many")]
    TooMany(usize),
}

/// Checks a list-append history against `options.model`.
pub fn check(txns: &[Txn], options: &ElleOptions) -> Result<ElleReport, ElleError> {
    if txns.len() >= u32::MAX as usize {
        return Err(ElleError::TooMany(txns.len()));
    }
    for t in txns {
        match (t.status, t.complete_ns) {
            (TxnStatus::Ok | TxnStatus::Fail, None) => {
                return Err(ElleError::MissingCompletion {
                    index: t.index,
                    status: t.status,
                });
            }
            (_, Some(c)) if c < t.invoke_ns => {
                return Err(ElleError::CompleteBeforeInvoke {
                    index: t.index,
                    invoke_ns: t.invoke_ns,
                    complete_ns: c,
                });
            }
            _ => {}
        }
    }
    let mut out = Collector::new(options.max_examples);
    let mut edges = EdgeList::default();
    let versions = versions::infer(txns, &mut out, &mut edges);
    let allowed = match options.model {
        ConsistencyModel::StrictSerializable => {
            graph::realtime_edges(txns, &mut edges);
            ALL
        }
        ConsistencyModel::Serializable => ALL & !RT,
    };
    let g = Graph::build(txns.len(), edges);
    let sccs = cycle::report_cycles(txns, &versions, &g, allowed, &mut out);
    let (counts, anomalies) = out.finish();
    let count = |s| txns.iter().filter(|t| t.status == s).count();
    Ok(ElleReport {
        valid: counts.is_empty(),
        model: options.model.name(),
        txns: txns.len(),
        ok: count(TxnStatus::Ok),
        info: count(TxnStatus::Info),
        fail: count(TxnStatus::Fail),
        edges: g.edge_count(),
        sccs,
        counts,
        anomalies,
    })
}
