//! Jepsen-style JSON lines to list-append transactions: one event per
//! line, an `invoke` then its completion (`ok`, `fail` or `info`) by the
//! same process, e.g.
//!
//! ```text
//! {"index":0,"process":3,"type":"invoke","f":"txn","value":[["append",1,5],["r",2,null]],"time":123}
//! {"process":3,"type":"ok","f":"txn","value":[["append",1,5],["r",2,[1,4]]],"time":456}
//! ```
//!
//! An invocation never completed counts as `info`. Events of a process
//! that is not an integer (Jepsen's `"nemesis"`) are skipped. Blank lines
//! are skipped.

use super::history::{Mop, Txn, TxnStatus};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// Why a history could not be parsed: the line (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The line, 1-based.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

fn field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    obj.get(name)
        .ok_or_else(|| format!("missing field `{name}`"))
}

fn uint(obj: &serde_json::Map<String, Value>, name: &str) -> Result<u64, String> {
    field(obj, name)?
        .as_u64()
        .ok_or_else(|| format!("field `{name}` is not a non-negative integer"))
}

fn mops(value: &Value) -> Result<Vec<Mop>, String> {
    let list = value
        .as_array()
        .ok_or("field `value` is not a list of micro-ops")?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let shape = || format!("micro-op {i} is not [f, key, value]");
            let parts = m.as_array().filter(|p| p.len() == 3).ok_or_else(shape)?;
            let f = parts[0].as_str().ok_or_else(shape)?;
            let key = parts[1]
                .as_u64()
                .ok_or_else(|| format!("micro-op {i}: key is not a non-negative integer"))?;
            match f {
                "append" => {
                    let value = parts[2].as_u64().ok_or_else(|| {
                        format!("micro-op {i}: appended value is not a non-negative integer")
                    })?;
                    Ok(Mop::Append { key, value })
                }
                "r" => {
                    let value = match &parts[2] {
                        Value::Null => None,
                        Value::Array(items) => Some(
                            items
                                .iter()
                                .map(Value::as_u64)
                                .collect::<Option<Vec<u64>>>()
                                .ok_or_else(|| {
                                    format!("micro-op {i}: read value holds a non-integer")
                                })?,
                        ),
                        _ => return Err(format!("micro-op {i}: read value is not a list or null")),
                    };
                    Ok(Mop::Read { key, value })
                }
                other => Err(format!(
                    "micro-op {i}: unknown function {other:?} (expected \"append\" or \"r\")"
                )),
            }
        })
        .collect()
}

/// A pending invocation: (index, invocation time, micro-ops).
type Pending = (usize, u64, Vec<Mop>);

/// Parses JSON lines into transactions, in order of invocation.
pub fn parse_jsonl(text: &str) -> Result<Vec<Txn>, ParseError> {
    let mut txns: Vec<Option<Txn>> = Vec::new();
    let mut open: FxHashMap<u64, (usize, Pending)> = FxHashMap::default();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let err = |message: String| ParseError { line, message };
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw).map_err(|e| err(format!("not JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| err("not a JSON object".into()))?;
        let process = match field(obj, "process").map_err(err)? {
            Value::String(_) => continue,
            p => p
                .as_u64()
                .ok_or_else(|| err("field `process` is not a non-negative integer".into()))?,
        };
        let kind = field(obj, "type")
            .map_err(err)?
            .as_str()
            .ok_or_else(|| err("field `type` is not a string".into()))?;
        let time = uint(obj, "time").map_err(err)?;
        match kind {
            "invoke" => {
                let mops = mops(field(obj, "value").map_err(err)?).map_err(err)?;
                let index = match obj.get("index") {
                    None => txns.len(),
                    Some(i) => i
                        .as_u64()
                        .map(|i| i as usize)
                        .ok_or_else(|| err("field `index` is not a non-negative integer".into()))?,
                };
                if open.contains_key(&process) {
                    return Err(err(format!(
                        "process {process} invoked again before completing"
                    )));
                }
                open.insert(process, (txns.len(), (index, time, mops)));
                txns.push(None);
            }
            "ok" | "fail" | "info" => {
                let (slot, (index, invoke_ns, invoked)) =
                    open.remove(&process).ok_or_else(|| {
                        err(format!("process {process} completed without an invocation"))
                    })?;
                let (status, complete_ns, mops) = match kind {
                    "ok" => (
                        TxnStatus::Ok,
                        Some(time),
                        mops(field(obj, "value").map_err(err)?).map_err(err)?,
                    ),
                    "fail" => (TxnStatus::Fail, Some(time), invoked),
                    _ => (TxnStatus::Info, None, invoked),
                };
                if complete_ns.is_some_and(|c| c < invoke_ns) {
                    return Err(err(format!(
                        "completes at {time}, before its invocation at {invoke_ns}"
                    )));
                }
                let mops = if status == TxnStatus::Ok {
                    mops
                } else {
                    mops.into_iter().map(unknown_reads).collect()
                };
                txns[slot] = Some(Txn {
                    index,
                    process,
                    status,
                    invoke_ns,
                    complete_ns,
                    mops,
                });
            }
            other => return Err(err(format!("unknown type {other:?}"))),
        }
    }
    // Invocations never completed: indeterminate.
    for (process, (slot, (index, invoke_ns, mops))) in open {
        txns[slot] = Some(Txn {
            index,
            process,
            status: TxnStatus::Info,
            invoke_ns,
            complete_ns: None,
            mops: mops.into_iter().map(unknown_reads).collect(),
        });
    }
    Ok(txns.into_iter().flatten().collect())
}

/// The micro-op with its read (if any) made unknown.
fn unknown_reads(m: Mop) -> Mop {
    match m {
        Mop::Read { key, .. } => Mop::Read { key, value: None },
        m => m,
    }
}
