//! The list-append workload's transactions (Elle's `list-append`,
//! Kingsbury and Alvaro, VLDB 2020, §5): each transaction is one to
//! [`MAX_TXN_LEN`] micro-operations, each a read of a key or an append of
//! a value never appended before, on the few keys in use. A key's value
//! is its appended elements, each written as the decimal number and a
//! space, so a read shows every append it saw and their order; a key is
//! replaced by a fresh one after a bounded number of appends (Jepsen's
//! `:max-writes-per-key`), which keeps reads short.
//!
//! In the history a transaction is `f: "txn"` with Jepsen's value
//! `[["append", 3, 17], ["r", 4, null]]`; its completion fills in each
//! read (`["r", 4, [2, 9]]`).

use crate::harness::event::Kind;
use crate::harness::generator::ClientOp;
use checked_raft::kv::{Indeterminate, Op, Output, TxnOp, TxnResult};
use serde_json::{Value as Json, json};

/// The most micro-operations in one transaction (Jepsen's default
/// `:max-txn-length`).
pub const MAX_TXN_LEN: usize = 4;

/// Appends to a key before it is replaced by a fresh one, by default
/// (Jepsen's `:max-writes-per-key`): reads stay short.
pub const MAX_WRITES_PER_KEY: u64 = 32;

/// One micro-operation as drawn: a read of a key, or an append to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mop {
    /// Read the key.
    Read(u64),
    /// Append the value to the key.
    Append(u64, u64),
}

/// The client operation running `mops` as one transaction.
pub fn txn(mops: &[Mop]) -> ClientOp {
    let value = Json::Array(
        mops.iter()
            .map(|mop| match *mop {
                Mop::Read(key) => json!(["r", key, null]),
                Mop::Append(key, value) => json!(["append", key, value]),
            })
            .collect(),
    );
    let ops = mops
        .iter()
        .map(|mop| match *mop {
            Mop::Read(key) => TxnOp::Read {
                key: key.to_string(),
            },
            Mop::Append(key, value) => TxnOp::Append {
                key: key.to_string(),
                value: format!("{value} "),
            },
        })
        .collect();
    ClientOp {
        f: "txn",
        key: None,
        value,
        op: Op::Txn { ops },
    }
}

/// A key's value as the list of its elements; `Err` names what is not
/// an element.
pub fn parse_list(value: &str) -> Result<Vec<u64>, String> {
    value
        .split_ascii_whitespace()
        .map(|item| {
            item.parse::<u64>()
                .map_err(|_| format!("{item:?} is not an appended element"))
        })
        .collect()
}

/// How a transaction ended, as a history completion. A transaction of
/// reads only that timed out is `fail` (it changed nothing); one with an
/// append `info` (it may yet take effect).
pub fn completion(
    op: &ClientOp,
    result: Result<Output, Indeterminate>,
) -> (Kind, Json, Option<String>) {
    let Op::Txn { ops } = &op.op else {
        return (
            Kind::Info,
            op.value.clone(),
            Some("not a transaction".into()),
        );
    };
    match result {
        Err(Indeterminate) if op.op.is_read_only() => {
            (Kind::Fail, op.value.clone(), Some("timeout".into()))
        }
        Err(Indeterminate) => (Kind::Info, op.value.clone(), Some("timeout".into())),
        Ok(Output::Txn(results)) if results.len() == ops.len() => {
            let mut errors = Vec::new();
            let value = ops
                .iter()
                .zip(&results)
                .map(|(mop, result)| match (mop, result) {
                    (TxnOp::Read { key }, TxnResult::Read(found)) => {
                        let key: Json = key.parse::<u64>().map_or(json!(key), |k| json!(k));
                        match parse_list(found.as_deref().unwrap_or("")) {
                            Ok(list) => json!(["r", key, list]),
                            // Recorded as read, so the checker sees it.
                            Err(e) => {
                                errors.push(e);
                                json!(["r", key, found])
                            }
                        }
                    }
                    (TxnOp::Append { key, value }, _) => {
                        let key: Json = key.parse::<u64>().map_or(json!(key), |k| json!(k));
                        let value: Json = value
                            .trim()
                            .parse::<u64>()
                            .map_or(json!(value), |v| json!(v));
                        json!(["append", key, value])
                    }
                    (TxnOp::Put { key, value }, _) => json!(["w", key, value]),
                    (TxnOp::Read { key }, TxnResult::Done) => json!(["r", key, null]),
                })
                .collect();
            let error = (!errors.is_empty()).then(|| errors.join("; "));
            (Kind::Ok, Json::Array(value), error)
        }
        // A clerk only accepts an output that fits its operation, so this
        // is a server's error: the transaction's effect is unknown.
        Ok(other) => (
            Kind::Info,
            op.value.clone(),
            Some(format!(
                "an output that does not fit the transaction: {other:?}"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_read_back_as_lists() {
        let op = txn(&[Mop::Append(3, 17), Mop::Read(3), Mop::Read(4)]);
        assert_eq!(
            op.value,
            json!([["append", 3, 17], ["r", 3, null], ["r", 4, null]])
        );
        let done = Output::Txn(vec![
            TxnResult::Done,
            TxnResult::Read(Some("2 17 ".into())),
            TxnResult::Read(None),
        ]);
        assert_eq!(
            completion(&op, Ok(done)),
            (
                Kind::Ok,
                json!([["append", 3, 17], ["r", 3, [2, 17]], ["r", 4, []]]),
                None
            )
        );
        assert_eq!(completion(&op, Err(Indeterminate)).0, Kind::Info);
        let reads = txn(&[Mop::Read(1)]);
        assert_eq!(completion(&reads, Err(Indeterminate)).0, Kind::Fail);
        // A corrupt value is recorded, and said.
        let bad = completion(
            &reads,
            Ok(Output::Txn(vec![TxnResult::Read(Some("1 x ".into()))])),
        );
        assert_eq!(bad.1, json!([["r", 1, "1 x "]]));
        assert!(bad.2.unwrap().contains("\"x\""));
        // An output of another shape is a server's error.
        assert_eq!(completion(&reads, Ok(Output::Done)).0, Kind::Info);
    }
}
