//! The project's own history format: JSON lines, one event per line.
//!
//! ```text
//! {"process": 0, "type": "invoke", "f": "write", "value": 3, "time": 1000}
//! {"process": 1, "type": "invoke", "f": "read", "value": null, "time": 1500}
//! {"process": 0, "type": "ok", "f": "write", "value": 3, "time": 2000}
//! {"process": "nemesis", "type": "info", "f": "start-partition", "time": 2100}
//! {"process": 1, "type": "ok", "f": "read", "value": 3, "time": 2500}
//! {"process": 2, "type": "invoke", "f": "cas", "key": "k1", "value": [3, 4], "time": 2600}
//! {"process": 2, "type": "fail", "f": "cas", "key": "k1", "value": [3, 4], "time": 2700}
//! ```
//!
//! Fields:
//!
//! * `process`: a non-negative integer, or the string `"nemesis"`: nemesis
//!   events (e.g. fault windows) are accepted and skipped by the checker.
//! * `type`: `"invoke"`, `"ok"`, `"fail"` or `"info"`, with Jepsen's meaning
//!   (see [`crate::history`]): `fail` did not happen and is dropped, except a
//!   failed `cas`, which found another value; `info`, or no completion at
//!   all, is open until the end of the history.
//! * `f`: `"read"`, `"write"`, `"cas"` (register model) or `"get"`, `"put"`,
//!   `"append"` (kv model).
//! * `key`: a string (an integer is read as its decimal string). Required by
//!   the kv model; optional for the register model, where operations with a
//!   key are independent registers, one per key.
//! * `value`: register values are integers or `null` (nil); a `cas` takes
//!   `[from, to]`; a read's invocation value is ignored and its `ok` carries
//!   the value read. Kv values are strings: `put`/`append` take the string,
//!   a `get`'s invocation value is `null` and its `ok` carries the string
//!   read (`null` reads as `""`, the initial value).
//! * `time`: monotonic time in nanoseconds, a non-negative integer below
//!   2^64 - 1. A completion must not be earlier than its invocation.
//!   Intervals are closed: an invocation at the time of another operation's
//!   completion is concurrent with it.
//!
//! Unknown fields are ignored. Invocations and completions pair per
//! process: a process has at most one outstanding operation, and each
//! completion must repeat its invocation's `f` (and `key`, if it has one).

use crate::format::{LineErrors, ModelKind, ParseError, numbered_lines};
use crate::history::{Completion, History, HistoryBuilder};
use crate::models::kv::{KvInput, KvOp, KvOutput, KvValues};
use crate::models::register::{RegisterInput, RegisterOp, RegisterOutput, Value};
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// The `type` of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One client event line, before the model gives it a meaning.
struct Event {
    line: usize,
    process: u64,
    kind: Kind,
    f: String,
    key: Option<String>,
    value: Json,
    time: u64,
}

/// Reads a line: `None` for a nemesis event.
fn read_event(line: usize, content: &str) -> Result<Option<Event>, String> {
    let object: Map<String, Json> = match serde_json::from_str(content) {
        Ok(Json::Object(o)) => o,
        Ok(_) => return Err("expected a JSON object".to_string()),
        Err(e) => return Err(format!("invalid JSON: {e}")),
    };
    let process = match object.get("process") {
        Some(Json::String(s)) if s == "nemesis" => return Ok(None),
        Some(p) => p
            .as_u64()
            .ok_or_else(|| format!("bad \"process\" {p}: expected an integer or \"nemesis\""))?,
        None => return Err("missing \"process\"".to_string()),
    };
    let kind = match object.get("type").and_then(Json::as_str) {
        Some("invoke") => Kind::Invoke,
        Some("ok") => Kind::Ok,
        Some("fail") => Kind::Fail,
        Some("info") => Kind::Info,
        Some(other) => return Err(format!("unknown \"type\" {other:?}")),
        None => return Err("missing or bad \"type\"".to_string()),
    };
    let f = match object.get("f") {
        Some(Json::String(f)) => f.clone(),
        _ => return Err("missing or bad \"f\"".to_string()),
    };
    let key = match object.get("key") {
        None | Some(Json::Null) => None,
        Some(Json::String(k)) => Some(k.clone()),
        Some(Json::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Some(other) => return Err(format!("bad \"key\" {other}: expected a string")),
    };
    let time = match object.get("time") {
        Some(t) => t
            .as_u64()
            .filter(|&t| t != u64::MAX)
            .ok_or_else(|| format!("bad \"time\" {t}: expected nanoseconds as an integer"))?,
        None => return Err("missing \"time\"".to_string()),
    };
    let value = object.get("value").cloned().unwrap_or(Json::Null);
    Ok(Some(Event {
        line,
        process,
        kind,
        f,
        key,
        value,
        time,
    }))
}

/// The model the events' functions belong to: that of the first client
/// event. `None` if there is none or its `f` is unknown.
pub fn detect_model(text: &str) -> Option<ModelKind> {
    numbered_lines(text).find_map(|(line, content)| match read_event(line, content) {
        Ok(Some(e)) => match e.f.as_str() {
            "read" | "write" | "cas" => Some(Some(ModelKind::Register)),
            "get" | "put" | "append" => Some(Some(ModelKind::Kv)),
            _ => Some(None),
        },
        _ => None,
    })?
}

/// Whether the first client event is a transaction (`f: "txn"`): a
/// list-append history, for the Elle-style checker (`jepsen-lite elle`).
pub fn is_transactional(text: &str) -> bool {
    numbered_lines(text)
        .find_map(|(line, content)| match read_event(line, content) {
            Ok(Some(e)) => Some(e.f == "txn"),
            _ => None,
        })
        .unwrap_or(false)
}

/// Folds the file's events into a history, with `invoke` making an input and
/// `complete` judging a completion.
fn parse_with<I, O>(
    file: &str,
    text: &str,
    invoke: impl Fn(&Event) -> Result<I, String>,
    mut complete: impl FnMut(&I, &Event) -> Result<Completion<O>, String>,
    unknown: impl Fn(&I) -> O,
) -> Result<History<I, O>, ParseError> {
    let errors = LineErrors { file };
    let mut builder = HistoryBuilder::new();
    for (line, content) in numbered_lines(text) {
        let Some(event) = read_event(line, content).map_err(|r| errors.at(line, r))? else {
            builder.skip();
            continue;
        };
        let result = if event.kind == Kind::Invoke {
            let input = invoke(&event).map_err(|r| errors.at(line, r))?;
            builder.invoke(event.process, event.time, line, input)
        } else {
            builder.complete(event.process, event.time, event.line, |input| {
                complete(input, &event)
            })
        };
        result.map_err(|e| errors.at(line, e.to_string()))?;
    }
    Ok(builder.finish(unknown))
}

/// Parses a history of register operations.
pub fn parse_register(
    file: &str,
    text: &str,
) -> Result<History<RegisterInput, RegisterOutput>, ParseError> {
    parse_with(file, text, register_input, register_completion, |_| {
        RegisterOutput::Unknown
    })
}

/// Parses a history of key/value operations.
pub fn parse_kv(file: &str, text: &str) -> Result<History<KvInput, KvOutput>, ParseError> {
    // Reads share their prefixes with the key's last value: memory linear
    // in the history however long the values grow.
    let mut values = KvValues::new();
    parse_with(
        file,
        text,
        kv_input,
        |input, e| kv_completion(&mut values, input, e),
        |_| KvOutput::Unknown,
    )
}

fn register_value(v: &Json) -> Result<Value, String> {
    match v {
        Json::Null => Ok(None),
        _ => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("bad register value {v}: expected an integer or null")),
    }
}

fn register_input(e: &Event) -> Result<RegisterInput, String> {
    let op = match e.f.as_str() {
        "read" => RegisterOp::Read,
        "write" => RegisterOp::Write(register_value(&e.value)?),
        "cas" => match &e.value {
            Json::Array(pair) if pair.len() == 2 => RegisterOp::Cas {
                from: register_value(&pair[0])?,
                to: register_value(&pair[1])?,
            },
            other => return Err(format!("a cas needs [from, to], not {other}")),
        },
        f => {
            return Err(format!(
                "unknown \"f\" {f:?} for the register model (read, write, cas)"
            ));
        }
    };
    Ok(RegisterInput {
        key: e.key.clone(),
        op,
    })
}

fn same_function(invoked: &str, invoked_key: Option<&str>, e: &Event) -> Result<(), String> {
    if e.f != invoked {
        return Err(format!(
            "completes {:?} but the process invoked {invoked:?}",
            e.f
        ));
    }
    match (invoked_key, e.key.as_deref()) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "completes key {b:?} but the process invoked key {a:?}"
        )),
        _ => Ok(()),
    }
}

fn register_completion(
    input: &RegisterInput,
    e: &Event,
) -> Result<Completion<RegisterOutput>, String> {
    let invoked = match input.op {
        RegisterOp::Read => "read",
        RegisterOp::Write(_) => "write",
        RegisterOp::Cas { .. } => "cas",
    };
    same_function(invoked, input.key.as_deref(), e)?;
    Ok(match (e.kind, input.op) {
        (Kind::Ok, RegisterOp::Read) => {
            Completion::Ok(RegisterOutput::Read(register_value(&e.value)?))
        }
        (Kind::Ok, RegisterOp::Write(_)) => Completion::Ok(RegisterOutput::Written),
        (Kind::Ok, RegisterOp::Cas { .. }) => Completion::Ok(RegisterOutput::Cas(true)),
        (Kind::Fail, RegisterOp::Cas { .. }) => Completion::FailResult(RegisterOutput::Cas(false)),
        (Kind::Fail, _) => Completion::Fail,
        (Kind::Info, _) => Completion::Info,
        (Kind::Invoke, _) => return Err("an invocation cannot complete an operation".to_string()),
    })
}

fn kv_input(e: &Event) -> Result<KvInput, String> {
    let key = e
        .key
        .clone()
        .ok_or_else(|| format!("a {:?} needs a \"key\"", e.f))?;
    let string = |v: &Json| match v {
        Json::String(s) => Ok(Arc::<str>::from(s.as_str())),
        other => Err(format!("a {:?} needs a string value, not {other}", e.f)),
    };
    let op = match e.f.as_str() {
        "get" => KvOp::Get,
        "put" => KvOp::Put(string(&e.value)?),
        "append" => KvOp::Append(string(&e.value)?),
        f => {
            return Err(format!(
                "unknown \"f\" {f:?} for the kv model (get, put, append)"
            ));
        }
    };
    Ok(KvInput { key, op })
}

fn kv_completion(
    values: &mut KvValues,
    input: &KvInput,
    e: &Event,
) -> Result<Completion<KvOutput>, String> {
    let invoked = match input.op {
        KvOp::Get => "get",
        KvOp::Put(_) => "put",
        KvOp::Append(_) => "append",
    };
    same_function(invoked, Some(&input.key), e)?;
    Ok(match (e.kind, &input.op) {
        (Kind::Ok, KvOp::Get) => match &e.value {
            Json::String(s) => {
                Completion::Ok(KvOutput::Value(values.intern(&input.key, s.clone())))
            }
            Json::Null => Completion::Ok(KvOutput::Value(values.intern(&input.key, String::new()))),
            other => return Err(format!("a get returns a string, not {other}")),
        },
        (Kind::Ok, _) => Completion::Ok(KvOutput::Ack),
        (Kind::Fail, _) => Completion::Fail,
        (Kind::Info, _) => Completion::Info,
        (Kind::Invoke, _) => return Err("an invocation cannot complete an operation".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OPEN, Status};

    const REGISTER: &str = r#"{"process": 0, "type": "invoke", "f": "write", "value": 3, "time": 1000}
{"process": 1, "type": "invoke", "f": "read", "value": null, "time": 1500}
{"process": 0, "type": "ok", "f": "write", "value": 3, "time": 2000, "extra": [1]}
{"process": "nemesis", "type": "info", "f": "start-partition", "time": 2100}
{"process": 1, "type": "ok", "f": "read", "value": 3, "time": 2500}
{"process": 2, "type": "invoke", "f": "cas", "key": "k1", "value": [3, null], "time": 2600}
{"process": 2, "type": "fail", "f": "cas", "key": "k1", "value": [3, null], "time": 2700}
{"process": 3, "type": "invoke", "f": "write", "key": 7, "value": null, "time": 2800}
{"process": 1, "type": "invoke", "f": "read", "time": 2900}
{"process": 1, "type": "fail", "f": "read", "time": 3000}
"#;

    #[test]
    fn parses_register_events() {
        assert_eq!(detect_model(REGISTER), Some(ModelKind::Register));
        let h = parse_register("h.jsonl", REGISTER).unwrap();
        assert_eq!((h.dropped, h.skipped), (1, 1));
        let ops: Vec<_> = h
            .operations
            .iter()
            .map(|o| {
                (
                    o.input.key.clone(),
                    o.input.op,
                    o.output,
                    o.call,
                    o.return_time,
                    o.status,
                )
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                (
                    None,
                    RegisterOp::Write(Some(3)),
                    RegisterOutput::Written,
                    1000,
                    2000,
                    Status::Ok
                ),
                (
                    None,
                    RegisterOp::Read,
                    RegisterOutput::Read(Some(3)),
                    1500,
                    2500,
                    Status::Ok
                ),
                (
                    Some("k1".into()),
                    RegisterOp::Cas {
                        from: Some(3),
                        to: None
                    },
                    RegisterOutput::Cas(false),
                    2600,
                    2700,
                    Status::Failed
                ),
                (
                    Some("7".into()),
                    RegisterOp::Write(None),
                    RegisterOutput::Unknown,
                    2800,
                    OPEN,
                    Status::Indeterminate
                ),
            ]
        );
    }

    #[test]
    fn parses_kv_events() {
        let text = r#"{"process": 0, "type": "invoke", "f": "append", "key": "a", "value": "x", "time": 1}
{"process": 1, "type": "invoke", "f": "get", "key": "a", "value": null, "time": 2}
{"process": 1, "type": "ok", "f": "get", "key": "a", "value": null, "time": 3}
{"process": 0, "type": "info", "f": "append", "key": "a", "value": "x", "time": 4}
"#;
        assert_eq!(detect_model(text), Some(ModelKind::Kv));
        let h = parse_kv("kv.jsonl", text).unwrap();
        assert_eq!(h.operations.len(), 2);
        assert_eq!(h.operations[0].output, KvOutput::Unknown);
        assert_eq!(h.operations[1].output, KvOutput::Value("".into()));
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let first = r#"{"process": 0, "type": "invoke", "f": "read", "time": 1}"#;
        for case in [
            "not json",
            "[1, 2]",
            r#"{"type": "invoke", "f": "read", "time": 2}"#,
            r#"{"process": "client", "type": "invoke", "f": "read", "time": 2}"#,
            r#"{"process": -1, "type": "invoke", "f": "read", "time": 2}"#,
            r#"{"process": 1, "type": "begin", "f": "read", "time": 2}"#,
            r#"{"process": 1, "f": "read", "time": 2}"#,
            r#"{"process": 1, "type": "invoke", "time": 2}"#,
            r#"{"process": 1, "type": "invoke", "f": "read"}"#,
            r#"{"process": 1, "type": "invoke", "f": "read", "time": -2}"#,
            r#"{"process": 1, "type": "invoke", "f": "read", "time": 1.5}"#,
            r#"{"process": 1, "type": "invoke", "f": "read", "time": 18446744073709551615}"#,
            r#"{"process": 1, "type": "invoke", "f": "write", "value": "x", "time": 2}"#,
            r#"{"process": 1, "type": "invoke", "f": "cas", "value": [1], "time": 2}"#,
            r#"{"process": 1, "type": "invoke", "f": "get", "key": "a", "time": 2}"#,
            r#"{"process": 1, "type": "invoke", "f": "read", "key": [1], "time": 2}"#,
            r#"{"process": 0, "type": "ok", "f": "write", "time": 2}"#,
            r#"{"process": 0, "type": "ok", "f": "read", "value": "3", "time": 2}"#,
            r#"{"process": 0, "type": "ok", "f": "read", "value": 3, "time": 0}"#,
            r#"{"process": 0, "type": "invoke", "f": "read", "time": 2}"#,
            r#"{"process": 5, "type": "ok", "f": "read", "time": 2}"#,
        ] {
            let text = format!("{first}\n{case}\n");
            match parse_register("bad.jsonl", &text) {
                Err(ParseError::Line { file, line, .. }) => {
                    assert_eq!((file.as_str(), line), ("bad.jsonl", 2), "{case}")
                }
                other => panic!("{case:?} gave {other:?}"),
            }
        }
        let kv_first = r#"{"process": 0, "type": "invoke", "f": "get", "key": "a", "time": 1}"#;
        for case in [
            r#"{"process": 1, "type": "invoke", "f": "put", "key": "a", "value": 3, "time": 2}"#,
            r#"{"process": 1, "type": "invoke", "f": "read", "key": "a", "time": 2}"#,
            r#"{"process": 0, "type": "ok", "f": "get", "key": "b", "value": "", "time": 2}"#,
            r#"{"process": 0, "type": "ok", "f": "get", "key": "a", "value": 1, "time": 2}"#,
        ] {
            let text = format!("{kv_first}\n{case}\n");
            match parse_kv("bad.jsonl", &text) {
                Err(ParseError::Line { line, .. }) => assert_eq!(line, 2, "{case}"),
                other => panic!("{case:?} gave {other:?}"),
            }
        }
    }
}
