//! porcupine's kvraft logs: a key/value store with get/put/append, one EDN
//! map per line.
//!
//! ```text
//! {:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
//! {:process 1, :type :invoke, :f :get, :key "9", :value nil}
//! {:process 1, :type :ok, :f :get, :key "9", :value ""}
//! ```
//!
//! Keys `:process` (an integer, or `:nemesis`, whose lines are skipped),
//! `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f` (`:get`, `:put`,
//! `:append`), `:key` (a string or integer) and `:value`; other keys are
//! ignored. The time of an event is its line number. An `:ok :get` with
//! value `nil` read `""` (the key's initial value). `:fail` operations did
//! not happen and are dropped; `:info` ones are open until the end.

use crate::format::edn::{Edn, parse_map};
use crate::format::{LineErrors, ParseError, numbered_lines};
use crate::history::{Completion, History, HistoryBuilder};
use crate::models::kv::{KvInput, KvOp, KvOutput, KvValues};
use std::sync::Arc;

/// Parses a porcupine kv log named `file` (the name is only used in errors).
pub fn parse(file: &str, text: &str) -> Result<History<KvInput, KvOutput>, ParseError> {
    let errors = LineErrors { file };
    let mut builder = HistoryBuilder::new();
    // Reads share their prefixes with the key's last value (memory linear
    // in the history).
    let mut values = KvValues::new();
    for (line, content) in numbered_lines(text) {
        let fields = parse_map(content).map_err(|reason| errors.at(line, reason))?;
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let process = match get("process") {
            Some(Edn::Int(p)) if *p >= 0 => *p as u64,
            Some(Edn::Keyword(k)) if k == "nemesis" => {
                builder.skip();
                continue;
            }
            Some(other) => return Err(errors.at(line, format!("bad :process {other:?}"))),
            None => return Err(errors.at(line, "missing :process")),
        };
        let kind = match get("type") {
            Some(Edn::Keyword(k)) => k.as_str(),
            _ => return Err(errors.at(line, "missing or bad :type")),
        };
        let f = match get("f") {
            Some(Edn::Keyword(k)) => k.as_str(),
            _ => return Err(errors.at(line, "missing or bad :f")),
        };
        let value = get("value").unwrap_or(&Edn::Nil);
        let time = line as u64;
        let result = match kind {
            "invoke" => {
                let key = match get("key") {
                    Some(Edn::Str(k)) => k.clone(),
                    Some(Edn::Int(k)) => k.to_string(),
                    _ => return Err(errors.at(line, "missing or bad :key")),
                };
                let op = match (f, value) {
                    ("get", _) => KvOp::Get,
                    ("put", Edn::Str(v)) => KvOp::Put(Arc::from(v.as_str())),
                    ("append", Edn::Str(v)) => KvOp::Append(Arc::from(v.as_str())),
                    ("put" | "append", _) => {
                        return Err(errors.at(line, format!(":{f} needs a string :value")));
                    }
                    _ => return Err(errors.at(line, format!("unknown :f :{f}"))),
                };
                builder.invoke(process, time, line, KvInput { key, op })
            }
            "ok" | "fail" | "info" => builder.complete(process, time, line, |input| {
                complete(&mut values, input, kind, f, value)
            }),
            _ => return Err(errors.at(line, format!("unknown :type :{kind}"))),
        };
        result.map_err(|e| errors.at(line, e.to_string()))?;
    }
    Ok(builder.finish(|_| KvOutput::Unknown))
}

fn complete(
    values: &mut KvValues,
    input: &KvInput,
    kind: &str,
    f: &str,
    value: &Edn,
) -> Result<Completion<KvOutput>, String> {
    let invoked = match input.op {
        KvOp::Get => "get",
        KvOp::Put(_) => "put",
        KvOp::Append(_) => "append",
    };
    if f != invoked {
        return Err(format!("completes :{f} but the process invoked :{invoked}"));
    }
    Ok(match (kind, &input.op) {
        ("ok", KvOp::Get) => match value {
            Edn::Str(v) => Completion::Ok(KvOutput::Value(values.intern(&input.key, v.clone()))),
            Edn::Nil => Completion::Ok(KvOutput::Value(values.intern(&input.key, String::new()))),
            other => return Err(format!("a get returns a string, not {other:?}")),
        },
        ("ok", _) => Completion::Ok(KvOutput::Ack),
        ("info", _) => Completion::Info,
        _ => Completion::Fail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OPEN, Status};

    #[test]
    fn parses_events() {
        let text = r#"{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "0", :value nil}
{:process 2, :type :invoke, :f :put, :key 7, :value "p"}
{:process :nemesis, :type :info, :f :start, :value nil}
{:process 1, :type :ok, :f :get, :key "0", :value "x 0 0 y"}
{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}
{:process 2, :type :info, :f :put, :key 7, :value "p"}
{:process 1, :type :invoke, :f :get, :key "0", :value nil}
{:process 1, :type :fail, :f :get, :key "0", :value nil}
"#;
        let h = parse("kv.txt", text).unwrap();
        assert_eq!((h.dropped, h.skipped), (1, 1));
        let ops: Vec<_> = h
            .operations
            .iter()
            .map(|o| {
                (
                    o.input.key.as_str(),
                    o.output.clone(),
                    o.call,
                    o.return_time,
                    o.status,
                )
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                ("0", KvOutput::Ack, 1, 6, Status::Ok),
                ("0", KvOutput::Value("x 0 0 y".into()), 2, 5, Status::Ok),
                ("7", KvOutput::Unknown, 3, OPEN, Status::Indeterminate),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        for case in [
            "{:process 1, :type :invoke, :f :get, :key \"0\"",
            "{:type :invoke, :f :get, :key \"0\", :value nil}",
            "{:process -1, :type :invoke, :f :get, :key \"0\", :value nil}",
            "{:process 1, :type :invoke, :f :get, :value nil}",
            "{:process 1, :type :invoke, :f :put, :key \"0\", :value 3}",
            "{:process 1, :type :invoke, :f :cas, :key \"0\", :value nil}",
            "{:process 1, :type :call, :f :get, :key \"0\", :value nil}",
            "{:process 1, :f :get, :key \"0\", :value nil}",
            "{:process 0, :type :ok, :f :put, :key \"0\", :value \"\"}",
            "{:process 0, :type :ok, :f :get, :key \"0\", :value 3}",
            "{:process 3, :type :ok, :f :get, :key \"0\", :value \"\"}",
        ] {
            let text =
                format!("{{:process 0, :type :invoke, :f :get, :key \"0\", :value nil}}\n{case}\n");
            match parse("bad.txt", &text) {
                Err(ParseError::Line { file, line, .. }) => {
                    assert_eq!((file.as_str(), line), ("bad.txt", 2), "{case}")
                }
                other => panic!("{case:?} gave {other:?}"),
            }
        }
    }
}
