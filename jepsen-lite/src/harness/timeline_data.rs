//! The data of `timeline.html`: the history's operations as one compact
//! JSON array ([`ops_json`]) that the page's script decodes and draws.

use crate::harness::event::Process;
use crate::harness::results::{OpRecord, Outcome};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The longest value or error kept for a bar's label and hover text, in
/// characters.
const MAX_VALUE_CHARS: usize = 120;

/// The outcome code of the data: 0 `ok`, 1 a CAS that found another value,
/// 2 any other `fail`, 3 `info`, 4 never completed.
fn outcome_code(op: &OpRecord<'_>) -> u8 {
    match op.outcome() {
        Outcome::Ok => 0,
        Outcome::Fail if op.cas_mismatch() => 1,
        Outcome::Fail => 2,
        Outcome::Info => 3,
        Outcome::Incomplete => 4,
    }
}

/// JSON text that is safe inside `<script>`: `<` only appears in strings,
/// where `\u003c` means the same.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// The operations as compact JSON: `{"span": µs, "functions": [...],
/// "keys": [...], "lanes": [label, ...], "failing": index | -1,
/// "failingText": "...", "ops": [[Δstart µs, duration µs | -1, outcome,
/// function, key | -1, node | -1, lane, process, "value", "error"?], ...]}`,
/// in order of invocation, each start relative to the previous one's.
/// The value is the read's result for a read and the argument otherwise;
/// the error is left out when empty, and for a timeout (the outcome says
/// it).
pub fn ops_json(
    ops: &[OpRecord<'_>],
    end: u64,
    lane_of: &BTreeMap<Process, usize>,
    lane_labels: &[String],
    failing: Option<(usize, &str)>,
) -> String {
    let us = |ns: u64| ns / 1_000;
    let mut functions: Vec<&str> = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(64 + ops.len() * 40);
    let mut previous = 0;
    let mut rows = String::new();
    for (i, op) in ops.iter().enumerate() {
        let f = match functions.iter().position(|&f| f == op.f()) {
            Some(f) => f,
            None => {
                functions.push(op.f());
                functions.len() - 1
            }
        };
        let key = match op.invoke.key.as_deref() {
            None => -1,
            Some(k) => match keys.iter().position(|&known| known == k) {
                Some(i) => i as i64,
                None => {
                    keys.push(k);
                    keys.len() as i64 - 1
                }
            },
        };
        let start = us(op.start());
        let duration = op.latency().map_or(-1, |l| us(l) as i64);
        let node = op.completion.and_then(|c| c.node).map_or(-1, |n| n as i64);
        let lane = lane_of.get(&op.process()).copied().unwrap_or(0);
        let process = match op.process() {
            Process::Client(p) => p,
            Process::Nemesis => 0,
        };
        let shown = match (op.f(), op.completion) {
            ("read" | "get", Some(c)) if op.outcome() == Outcome::Ok => &c.value,
            _ => &op.invoke.value,
        };
        let value = match shown {
            serde_json::Value::Null => String::new(),
            v => clip(&v.to_string()),
        };
        let error = op
            .completion
            .and_then(|c| c.error.as_deref())
            .filter(|e| *e != "timeout")
            .map(clip);
        if i > 0 {
            rows.push(',');
        }
        let _ = write!(
            rows,
            "[{},{duration},{},{f},{key},{node},{lane},{process},{}",
            start.saturating_sub(previous),
            outcome_code(op),
            serde_json::Value::from(value)
        );
        if let Some(error) = error {
            let _ = write!(rows, ",{}", serde_json::Value::from(error));
        }
        rows.push(']');
        previous = start;
    }
    let strings =
        |list: &[&str]| serde_json::Value::from(list.iter().map(|s| clip(s)).collect::<Vec<_>>());
    let _ = write!(
        out,
        "{{\"span\":{},\"functions\":{},\"keys\":{},\"lanes\":{},\"failing\":{},\"failingText\":{},\"ops\":[{rows}]}}",
        us(end).max(1),
        strings(&functions),
        strings(&keys),
        serde_json::Value::from(lane_labels.to_vec()),
        failing.map_or(-1, |(i, _)| i as i64),
        serde_json::Value::from(failing.map_or("", |(_, t)| t)),
    );
    script_safe(&out)
}

/// A string shortened to [`MAX_VALUE_CHARS`] characters (not escaped: the
/// script sets it as text).
fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_VALUE_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_VALUE_CHARS - 1).collect();
        t.push('…');
        t
    }
}
