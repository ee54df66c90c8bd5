//! The list-append data model (Elle §4): transactions of micro-operations
//! that append a unique integer to a key's list or read the whole list.

use serde::Serialize;

/// A micro-operation of a list-append transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mop {
    /// Append `value` to the list at `key`. Values are unique per key, so
    /// that every element of a read names the transaction that wrote it
    /// (Elle §4.1, "recoverability").
    Append {
        /// The key.
        key: u64,
        /// The element appended.
        value: u64,
    },
    /// Read the list at `key`.
    Read {
        /// The key.
        key: u64,
        /// The list observed; `None` when unknown (an invocation, or an
        /// `info` completion).
        value: Option<Vec<u64>>,
    },
}

impl Mop {
    /// The key the micro-operation touches.
    pub fn key(&self) -> u64 {
        match self {
            Mop::Append { key, .. } | Mop::Read { key, .. } => *key,
        }
    }
}

/// How a transaction completed (Jepsen's completion types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TxnStatus {
    /// `ok`: it committed, and its reads carry the values observed.
    Ok,
    /// `fail`: it certainly did not take effect.
    Fail,
    /// `info` or no completion: it may or may not have taken effect; its
    /// appends may be observed, its reads are unknown.
    Info,
}

/// One transaction of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Txn {
    /// Its position in the history (the invocation's `index`), used to name
    /// it (`T12`) in reports.
    pub index: usize,
    /// The process (client) that ran it.
    pub process: u64,
    /// How it completed.
    pub status: TxnStatus,
    /// Invocation time, in nanoseconds.
    pub invoke_ns: u64,
    /// Completion time, in nanoseconds; `None` if it never completed (an
    /// `info` completion or none at all).
    pub complete_ns: Option<u64>,
    /// Its micro-operations, in order.
    pub mops: Vec<Mop>,
}

impl Txn {
    /// An `ok` transaction over `[invoke_ns, complete_ns]`.
    pub fn ok(
        index: usize,
        process: u64,
        invoke_ns: u64,
        complete_ns: u64,
        mops: Vec<Mop>,
    ) -> Self {
        Txn {
            index,
            process,
            status: TxnStatus::Ok,
            invoke_ns,
            complete_ns: Some(complete_ns),
            mops,
        }
    }

    /// Whether it can be a node of the dependency graph: it committed, or
    /// may have (Adya: aborted transactions are not in the DSG).
    pub fn may_have_happened(&self) -> bool {
        self.status != TxnStatus::Fail
    }
}

/// Shorthand for an append micro-operation.
pub fn append(key: u64, value: u64) -> Mop {
    Mop::Append { key, value }
}

/// Shorthand for a read micro-operation that observed `value`.
pub fn read(key: u64, value: &[u64]) -> Mop {
    Mop::Read {
        key,
        value: Some(value.to_vec()),
    }
}
