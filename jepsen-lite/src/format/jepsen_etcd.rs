//! Jepsen's etcd logs: one compare-and-set register, one event per line.
//!
//! ```text
//! INFO  jepsen.util - 2 :invoke :cas [3 0]
//! INFO  jepsen.util - 2 :fail :cas [3 0]
//! INFO  jepsen.util - 4 :info :write :timed-out
//! ```
//!
//! After `jepsen.util -` come the process, the type (`:invoke`, `:ok`,
//! `:fail`, `:info`), the function (`:read`, `:write`, `:cas`) and the
//! value (`nil`, an integer, `[from to]`, or a keyword such as
//! `:timed-out`); anything before `jepsen.util` (a timestamp, the level) is
//! ignored, and so are lines of the `:nemesis` process. The time of an event
//! is its line number.
//!
//! Meaning (as in porcupine's `parseJepsenLog` and `etcdModel`): the register
//! starts as nil; `:ok :read v` read v; `:fail :cas` means the value was not
//! `from` (a result); `:fail :read` (e.g. `:timed-out`) and `:fail :write`
//! did not happen and are dropped; `:info` is indeterminate: open until the
//! end with an unknown output.

use crate::format::{LineErrors, ParseError, numbered_lines};
use crate::history::{Completion, History, HistoryBuilder};
use crate::models::register::{RegisterInput, RegisterOp, RegisterOutput, Value};

/// A value field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field<'a> {
    Value(Value),
    Pair(Value, Value),
    Keyword(&'a str),
}

/// Parses a Jepsen etcd log named `file` (the name is only used in errors).
pub fn parse(file: &str, text: &str) -> Result<History<RegisterInput, RegisterOutput>, ParseError> {
    let errors = LineErrors { file };
    let mut builder = HistoryBuilder::new();
    for (line, content) in numbered_lines(text) {
        let event = parse_line(content).map_err(|reason| errors.at(line, reason))?;
        let Some((process, kind, f, value)) = event else {
            builder.skip();
            continue;
        };
        let time = line as u64;
        let result = match kind {
            "invoke" => {
                let op = match (f, value) {
                    ("read", _) => RegisterOp::Read,
                    ("write", Field::Value(v)) => RegisterOp::Write(v),
                    ("cas", Field::Pair(from, to)) => RegisterOp::Cas { from, to },
                    ("write", _) => return Err(errors.at(line, "a write needs nil or an integer")),
                    ("cas", _) => return Err(errors.at(line, "a cas needs [from to]")),
                    _ => return Err(errors.at(line, format!("unknown function :{f}"))),
                };
                builder.invoke(process, time, line, RegisterInput { key: None, op })
            }
            "ok" | "fail" | "info" => builder.complete(process, time, line, |input| {
                complete(&input.op, kind, f, value)
            }),
            _ => return Err(errors.at(line, format!("unknown type :{kind}"))),
        };
        result.map_err(|e| errors.at(line, e.to_string()))?;
    }
    Ok(builder.finish(|_| RegisterOutput::Unknown))
}

/// (process, type, f, value), or `None` for a nemesis line.
type Event<'a> = Option<(u64, &'a str, &'a str, Field<'a>)>;

fn parse_line(line: &str) -> Result<Event<'_>, String> {
    let mut tokens = line.split_whitespace();
    if !tokens.any(|t| t == "jepsen.util") {
        return Err("expected a `jepsen.util -` event".to_string());
    }
    if tokens.next() != Some("-") {
        return Err("expected `-` after jepsen.util".to_string());
    }
    let process = tokens.next().ok_or("missing process")?;
    if process == ":nemesis" {
        return Ok(None);
    }
    let process: u64 = process
        .parse()
        .map_err(|_| format!("bad process {process:?}"))?;
    let kind = keyword(tokens.next(), "type")?;
    let f = keyword(tokens.next(), "function")?;
    let rest: Vec<&str> = tokens.collect();
    let value = parse_value(&rest)?;
    Ok(Some((process, kind, f, value)))
}

fn keyword<'a>(token: Option<&'a str>, what: &str) -> Result<&'a str, String> {
    match token {
        Some(t) if t.len() > 1 && t.starts_with(':') => Ok(&t[1..]),
        Some(t) => Err(format!("bad {what} {t:?}")),
        None => Err(format!("missing {what}")),
    }
}

fn parse_value<'a>(tokens: &[&'a str]) -> Result<Field<'a>, String> {
    match tokens {
        [] => Err("missing value".to_string()),
        [single] if single.starts_with(':') && single.len() > 1 => Ok(Field::Keyword(&single[1..])),
        [single] if !single.starts_with('[') => Ok(Field::Value(scalar(single)?)),
        _ => {
            let joined = tokens.join(" ");
            let inner = joined
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .ok_or_else(|| format!("cannot read value {joined:?}"))?;
            match inner.split_whitespace().collect::<Vec<_>>()[..] {
                [a, b] => Ok(Field::Pair(scalar(a)?, scalar(b)?)),
                _ => Err(format!("expected [from to], found {joined:?}")),
            }
        }
    }
}

fn scalar(token: &str) -> Result<Value, String> {
    if token == "nil" {
        return Ok(None);
    }
    token
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("cannot read value {token:?}"))
}

/// The completion of an invocation of `op` by an event `kind f value`.
fn complete(
    op: &RegisterOp,
    kind: &str,
    f: &str,
    value: Field<'_>,
) -> Result<Completion<RegisterOutput>, String> {
    let invoked = match op {
        RegisterOp::Read => "read",
        RegisterOp::Write(_) => "write",
        RegisterOp::Cas { .. } => "cas",
    };
    if f != invoked {
        return Err(format!("completes :{f} but the process invoked :{invoked}"));
    }
    Ok(match (kind, op) {
        ("info", _) => Completion::Info,
        ("ok", RegisterOp::Read) => match value {
            Field::Value(v) => Completion::Ok(RegisterOutput::Read(v)),
            _ => return Err("a read returns nil or an integer".to_string()),
        },
        ("ok", RegisterOp::Write(v)) => {
            check_echo(value, Field::Value(*v))?;
            Completion::Ok(RegisterOutput::Written)
        }
        ("ok", RegisterOp::Cas { from, to }) => {
            check_echo(value, Field::Pair(*from, *to))?;
            Completion::Ok(RegisterOutput::Cas(true))
        }
        // A failed CAS is a result: the value was not `from`.
        ("fail", RegisterOp::Cas { from, to }) => {
            check_echo(value, Field::Pair(*from, *to))?;
            Completion::FailResult(RegisterOutput::Cas(false))
        }
        // A failed read or write did not happen.
        _ => Completion::Fail,
    })
}

/// Jepsen repeats the invocation's value in `ok` and `fail` completions of
/// writes and CASes; a different one means the log is corrupt.
fn check_echo(found: Field<'_>, invoked: Field<'_>) -> Result<(), String> {
    match found {
        Field::Keyword(_) => Ok(()),
        _ if found == invoked => Ok(()),
        _ => Err(format!(
            "completion value {found:?} differs from the invocation's {invoked:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OPEN, Status};

    #[test]
    fn parses_events() {
        let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 1\t:invoke\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
                    INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                    \n\
                    INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                    INFO  jepsen.util - 0\t:ok\t:read\t2\n\
                    INFO  jepsen.util - 1\t:fail\t:cas\t[3 0]\n\
                    INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
                    INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n\
                    2017-01-01 INFO jepsen.util - 5 :invoke :write nil\n";
        let h = parse("t.log", text).unwrap();
        assert_eq!(h.dropped, 1);
        assert_eq!(h.skipped, 1);
        let ops: Vec<_> = h
            .operations
            .iter()
            .map(|o| (o.input.op, o.output, o.call, o.return_time, o.status))
            .collect();
        assert_eq!(
            ops,
            vec![
                (
                    RegisterOp::Read,
                    RegisterOutput::Read(Some(2)),
                    1,
                    7,
                    Status::Ok
                ),
                (
                    RegisterOp::Cas {
                        from: Some(3),
                        to: Some(0)
                    },
                    RegisterOutput::Cas(false),
                    2,
                    8,
                    Status::Failed
                ),
                (
                    RegisterOp::Write(Some(4)),
                    RegisterOutput::Unknown,
                    3,
                    OPEN,
                    Status::Indeterminate
                ),
                (
                    RegisterOp::Write(None),
                    RegisterOutput::Unknown,
                    11,
                    OPEN,
                    Status::Indeterminate
                ),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let cases = [
            "hello",
            "INFO jepsen.util 0 :invoke :read nil",
            "INFO jepsen.util - x :invoke :read nil",
            "INFO jepsen.util - 0 invoke :read nil",
            "INFO jepsen.util - 0 :invoke :read",
            "INFO jepsen.util - 0 :invoke :frob nil",
            "INFO jepsen.util - 0 :invoke :write [1 2]",
            "INFO jepsen.util - 0 :invoke :cas 3",
            "INFO jepsen.util - 0 :invoke :cas [1 2 3]",
            "INFO jepsen.util - 0 :invoke :cas [1 x]",
            "INFO jepsen.util - 0 :invoke :write 99999999999999999999",
            "INFO jepsen.util - 0 :ok :read nil",
            "INFO jepsen.util - 0 :frob :read nil",
        ];
        for case in cases {
            let text = format!("INFO  jepsen.util - 9\t:invoke\t:read\tnil\n{case}\n");
            match parse("bad.log", &text) {
                Err(ParseError::Line { file, line, .. }) => {
                    assert_eq!((file.as_str(), line), ("bad.log", 2), "{case}");
                }
                other => panic!("{case:?} gave {other:?}"),
            }
        }
        let mismatched =
            "INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 0 :ok :write 3\n";
        let err = parse("m.log", mismatched).unwrap_err().to_string();
        assert!(
            err.starts_with("m.log:2: completes :write but the process invoked :read"),
            "{err}"
        );
        let echo = "INFO jepsen.util - 0 :invoke :write 1\nINFO jepsen.util - 0 :ok :write 3\n";
        assert!(parse("e.log", echo).is_err());
        let twice =
            "INFO jepsen.util - 0 :invoke :read nil\nINFO jepsen.util - 0 :invoke :read nil\n";
        assert!(
            parse("t.log", twice)
                .unwrap_err()
                .to_string()
                .starts_with("t.log:2: process 0")
        );
    }
}
