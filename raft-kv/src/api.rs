//! The client API's wire format: etcd v3's JSON gateway (`POST
//! /v3/kv/put`, `/v3/kv/range`, `/v3/kv/deleterange`, `/v3/kv/txn`),
//! keys and values in base64, 64-bit numbers as strings, so that etcd's
//! curl examples work and one load generator drives both systems.
//!
//! Pure: a request body in, a [`Call`] (or a [`BadRequest`] saying what is
//! wrong) out; a call's [`Output`] in, the response body out. What raft-kv
//! does not do (ranges over several keys, reads at an old revision, more
//! than one compare, a compare with several writes) is refused by name,
//! never silently ignored.
//!
//! Transactions come in two shapes: etcd's compare-and-swap (one compare,
//! one put, optionally a range on failure) and, with no compare, a list of
//! reads and writes on any keys applied atomically at one position of the
//! log ([`Call::Txn`]). For the latter raft-kv accepts, next to etcd's
//! `request_range` and `request_put`, a `request_append` (key, value: the
//! value is appended), its one extension of etcd's API: the list-append
//! workload's appends (Elle) in one round trip, where etcd needs a read and
//! a compare on revisions.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use checked_raft::kv::{Op, Output, TxnOp, TxnResult};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A request the server understands, decoded from its JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /v3/kv/put`.
    Put {
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// `POST /v3/kv/range` on one key.
    Range {
        /// The key.
        key: String,
    },
    /// `POST /v3/kv/deleterange` on one key.
    Delete {
        /// The key.
        key: String,
    },
    /// `POST /v3/kv/txn`: one compare (on the value, or on the key's
    /// absence), one put on success, and on failure nothing or a range of
    /// the same key.
    Cas {
        /// The key compared and written.
        key: String,
        /// The value it must have (`None`: it must have none).
        expected: Option<String>,
        /// The value it then gets.
        new: String,
        /// Whether the failure branch reads the key back.
        range_on_failure: bool,
    },
    /// `POST /v3/kv/txn` without a compare: `success` is a list of reads
    /// (`request_range` on one key), puts and appends (`request_append`,
    /// raft-kv's extension) on any keys, applied atomically in order.
    Txn {
        /// The micro-operations, in order.
        ops: Vec<TxnOp>,
    },
}

/// Why a request body is not one the server runs (HTTP 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

fn bad(message: impl Into<String>) -> BadRequest {
    BadRequest(message.into())
}

/// A base64 field as UTF-8 text (raft-kv's keys and values are text).
fn text(field: &str, encoded: &str) -> Result<String, BadRequest> {
    let bytes = B64
        .decode(encoded)
        .map_err(|e| bad(format!("{field}: not base64 ({e})")))?;
    String::from_utf8(bytes).map_err(|_| bad(format!("{field}: raft-kv keys and values are UTF-8")))
}

fn b64(s: &str) -> String {
    B64.encode(s)
}

/// A 64-bit integer field: etcd's gateway writes them as strings and
/// accepts numbers too. Absent is 0 (proto3's default).
fn int(field: &str, v: Option<&Value>) -> Result<i64, BadRequest> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad(format!("{field}: not an integer"))),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| bad(format!("{field}: {s:?} is not an integer"))),
        Some(other) => Err(bad(format!("{field}: {other} is not an integer"))),
    }
}

#[derive(Deserialize)]
struct KeyOnly {
    key: Option<String>,
    range_end: Option<String>,
    revision: Option<Value>,
}

fn one_key(what: &str, body: &Value) -> Result<String, BadRequest> {
    let r: KeyOnly =
        serde_json::from_value(body.clone()).map_err(|e| bad(format!("{what}: {e}")))?;
    let key = r
        .key
        .ok_or_else(|| bad(format!("{what}: key is required")))?;
    if r.range_end.as_deref().is_some_and(|e| !e.is_empty()) {
        return Err(bad(format!(
            "{what}: range_end is not supported (raft-kv serves single keys)"
        )));
    }
    if int("revision", r.revision.as_ref())? != 0 {
        return Err(bad(format!(
            "{what}: revision is not supported (raft-kv keeps no history)"
        )));
    }
    let key = text("key", &key)?;
    if key.is_empty() {
        return Err(bad(format!("{what}: key is empty")));
    }
    Ok(key)
}

/// `POST /v3/kv/put`'s body.
pub fn put(body: &Value) -> Result<Call, BadRequest> {
    let key = one_key("put", body)?;
    let value = match body.get("value") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(v)) => text("value", v)?,
        Some(other) => return Err(bad(format!("put: value {other} is not a base64 string"))),
    };
    Ok(Call::Put { key, value })
}

/// `POST /v3/kv/range`'s body.
pub fn range(body: &Value) -> Result<Call, BadRequest> {
    Ok(Call::Range {
        key: one_key("range", body)?,
    })
}

/// `POST /v3/kv/deleterange`'s body.
pub fn delete(body: &Value) -> Result<Call, BadRequest> {
    Ok(Call::Delete {
        key: one_key("deleterange", body)?,
    })
}

/// A field by its proto name or its camelCase JSON name (the gateway
/// accepts both).
fn field<'a>(v: &'a Value, snake: &str, camel: &str) -> Option<&'a Value> {
    v.get(snake).or_else(|| v.get(camel))
}

fn list<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], BadRequest> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(bad(format!("txn: {name} must be a list, not {other}"))),
    }
}

/// The most micro-operations a [`Call::Txn`] may hold.
pub const MAX_TXN_OPS: usize = 128;

/// A transaction without a compare (see [`Call::Txn`]).
fn multi_txn(body: &Value) -> Result<Call, BadRequest> {
    if !list(body, "failure")?.is_empty() {
        return Err(bad(
            "txn: a transaction without a compare has no failure branch",
        ));
    }
    let success = list(body, "success")?;
    if success.is_empty() {
        return Err(bad("txn: success is empty (nothing to do)"));
    }
    if success.len() > MAX_TXN_OPS {
        return Err(bad(format!(
            "txn: {} operations; at most {MAX_TXN_OPS} in one transaction",
            success.len()
        )));
    }
    let ops = success
        .iter()
        .enumerate()
        .map(|(i, request)| {
            if let Some(read) = field(request, "request_range", "requestRange") {
                Ok(TxnOp::Read {
                    key: one_key(&format!("txn success[{i}] range"), read)?,
                })
            } else if let Some(write) = field(request, "request_put", "requestPut") {
                let Call::Put { key, value } = put(write)? else {
                    return Err(bad("txn: a put that is not one"));
                };
                Ok(TxnOp::Put { key, value })
            } else if let Some(append) = field(request, "request_append", "requestAppend") {
                let Call::Put { key, value } = put(append)? else {
                    return Err(bad("txn: an append that is not one"));
                };
                Ok(TxnOp::Append { key, value })
            } else {
                Err(bad(format!(
                    "txn: success[{i}] must be a request_range, request_put or request_append"
                )))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Call::Txn { ops })
}

/// `POST /v3/kv/txn`'s body: a compare-and-swap (see [`Call::Cas`]), or
/// without a compare a transaction of reads and writes (see
/// [`Call::Txn`]).
pub fn txn(body: &Value) -> Result<Call, BadRequest> {
    let compares = list(body, "compare")?;
    if compares.is_empty() {
        return multi_txn(body);
    }
    let [compare] = compares else {
        return Err(bad("txn: at most one compare is supported"));
    };
    let [success] = list(body, "success")? else {
        return Err(bad("txn: exactly one request_put in success is supported"));
    };
    let key = match compare.get("key") {
        Some(Value::String(k)) => text("compare.key", k)?,
        _ => return Err(bad("txn: compare.key is required")),
    };
    if compare
        .get("range_end")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.is_empty())
    {
        return Err(bad("txn: compare.range_end is not supported"));
    }
    match compare
        .get("result")
        .and_then(Value::as_str)
        .unwrap_or("EQUAL")
    {
        "EQUAL" => {}
        other => {
            return Err(bad(format!(
                "txn: compare result {other} is not supported (EQUAL only)"
            )));
        }
    }
    let target = compare
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or("VERSION");
    let expected = match target {
        "VALUE" => match compare.get("value") {
            Some(Value::String(v)) => Some(text("compare.value", v)?),
            None | Some(Value::Null) => Some(String::new()),
            Some(other) => return Err(bad(format!("txn: compare.value {other} is not base64"))),
        },
        // A key that was never created has version and create revision 0.
        "CREATE" | "VERSION" => {
            let name = if target == "CREATE" {
                "create_revision"
            } else {
                "version"
            };
            let camel = if target == "CREATE" {
                "createRevision"
            } else {
                "version"
            };
            match int(name, field(compare, name, camel))? {
                0 => None,
                _ => {
                    return Err(bad(format!(
                        "txn: compare on {name} other than 0 is not supported (raft-kv keeps no revisions)"
                    )));
                }
            }
        }
        other => return Err(bad(format!("txn: compare target {other} is not supported"))),
    };
    let put = field(success, "request_put", "requestPut")
        .ok_or_else(|| bad("txn: success must be one request_put"))?;
    let Call::Put {
        key: put_key,
        value,
    } = self::put(put)?
    else {
        unreachable!("put() returns a Call::Put");
    };
    if put_key != key {
        return Err(bad("txn: the put must be on the compared key"));
    }
    let range_on_failure = match list(body, "failure")? {
        [] => false,
        [read] => {
            let read = field(read, "request_range", "requestRange")
                .ok_or_else(|| bad("txn: failure may only be one request_range"))?;
            if one_key("txn failure range", read)? != key {
                return Err(bad("txn: the failure range must be on the compared key"));
            }
            true
        }
        _ => return Err(bad("txn: failure may only be one request_range")),
    };
    Ok(Call::Cas {
        key,
        expected,
        new: value,
        range_on_failure,
    })
}

impl Call {
    /// The operation the call runs through the log.
    pub fn op(&self) -> Op {
        match self {
            Call::Put { key, value } => Op::Put {
                key: key.clone(),
                value: value.clone(),
            },
            Call::Range { key } => Op::Read { key: key.clone() },
            Call::Delete { key } => Op::Delete { key: key.clone() },
            Call::Cas {
                key, expected, new, ..
            } => Op::Cas {
                key: key.clone(),
                expected: expected.clone(),
                new: new.clone(),
            },
            Call::Txn { ops } => Op::Txn { ops: ops.clone() },
        }
    }

    /// The response body for `output`, under `header`; `None` if the
    /// output does not fit the call (a server error).
    pub fn response(&self, output: &Output, header: &Header) -> Option<Value> {
        let mut body = Map::new();
        body.insert("header".into(), header.json());
        match (self, output) {
            (Call::Put { .. }, Output::Done) => {}
            (Call::Range { key }, Output::Found(found)) => {
                if let Some(value) = found {
                    body.insert("kvs".into(), json!([kv(key, value)]));
                    body.insert("count".into(), json!("1"));
                }
            }
            (Call::Delete { .. }, Output::Deleted { existed }) => {
                if *existed {
                    body.insert("deleted".into(), json!("1"));
                }
            }
            (
                Call::Cas {
                    key,
                    range_on_failure,
                    ..
                },
                Output::Cas { swapped, found },
            ) => {
                if *swapped {
                    body.insert("succeeded".into(), json!(true));
                    body.insert(
                        "responses".into(),
                        json!([{ "response_put": { "header": header.json() } }]),
                    );
                } else if *range_on_failure {
                    let mut range = Map::new();
                    range.insert("header".into(), header.json());
                    if let Some(value) = found {
                        range.insert("kvs".into(), json!([kv(key, value)]));
                        range.insert("count".into(), json!("1"));
                    }
                    body.insert("responses".into(), json!([{ "response_range": range }]));
                }
            }
            (Call::Txn { ops }, Output::Txn(results)) if ops.len() == results.len() => {
                let responses = ops
                    .iter()
                    .zip(results)
                    .map(|(op, result)| match (op, result) {
                        (TxnOp::Read { key }, TxnResult::Read(found)) => {
                            let mut range = Map::new();
                            range.insert("header".into(), header.json());
                            if let Some(value) = found {
                                range.insert("kvs".into(), json!([kv(key, value)]));
                                range.insert("count".into(), json!("1"));
                            }
                            Some(json!({ "response_range": range }))
                        }
                        (TxnOp::Put { .. }, TxnResult::Done) => {
                            Some(json!({ "response_put": { "header": header.json() } }))
                        }
                        (TxnOp::Append { .. }, TxnResult::Done) => {
                            Some(json!({ "response_append": { "header": header.json() } }))
                        }
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                body.insert("succeeded".into(), json!(true));
                body.insert("responses".into(), Value::Array(responses));
            }
            _ => return None,
        }
        Some(Value::Object(body))
    }
}

fn kv(key: &str, value: &str) -> Value {
    json!({ "key": b64(key), "value": b64(value) })
}

/// etcd's response header. `revision` is the server's applied log index
/// when it answered (raft-kv keeps no multi-version history, so there is
/// no per-key revision).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The cluster's id.
    pub cluster_id: u64,
    /// The answering server's id.
    pub member_id: u64,
    /// Its applied index.
    pub revision: u64,
    /// Its term.
    pub raft_term: u64,
}

impl Header {
    fn json(&self) -> Value {
        json!({
            "cluster_id": self.cluster_id.to_string(),
            "member_id": self.member_id.to_string(),
            "revision": self.revision.to_string(),
            "raft_term": self.raft_term.to_string(),
        })
    }
}

/// An error body as etcd's gateway writes it (`code` is the gRPC code).
pub fn error_body(code: u16, message: &str) -> Value {
    json!({ "error": message, "code": code, "message": message })
}

/// gRPC's InvalidArgument.
pub const INVALID_ARGUMENT: u16 = 3;
/// gRPC's DeadlineExceeded.
pub const DEADLINE_EXCEEDED: u16 = 4;
/// gRPC's Unavailable.
pub const UNAVAILABLE: u16 = 14;

/// Decodes a response's base64 key or value (for clients).
pub fn decode_text(encoded: &str) -> Result<String, BadRequest> {
    text("value", encoded)
}

/// Encodes a key or value as the API carries it (for clients).
pub fn encode_text(s: &str) -> String {
    b64(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> Header {
        Header {
            cluster_id: 7,
            member_id: 2,
            revision: 41,
            raft_term: 3,
        }
    }

    #[test]
    fn etcds_curl_examples_decode() {
        // From etcd's "gRPC gateway" documentation: foo=bar.
        let body = json!({"key": "Zm9v", "value": "YmFy"});
        assert_eq!(
            put(&body).unwrap(),
            Call::Put {
                key: "foo".into(),
                value: "bar".into()
            }
        );
        assert_eq!(
            range(&json!({"key": "Zm9v"})).unwrap(),
            Call::Range { key: "foo".into() }
        );
        // The documentation's transaction, in camelCase as it is written.
        let cas = json!({
            "compare": [{"target": "VALUE", "key": "Zm9v", "value": "YmFy"}],
            "success": [{"requestPut": {"key": "Zm9v", "value": "YmF6"}}],
            "failure": [{"requestRange": {"key": "Zm9v"}}],
        });
        assert_eq!(
            txn(&cas).unwrap(),
            Call::Cas {
                key: "foo".into(),
                expected: Some("bar".into()),
                new: "baz".into(),
                range_on_failure: true
            }
        );
        let create = json!({
            "compare": [{"target": "CREATE", "key": "Zm9v", "create_revision": "0"}],
            "success": [{"request_put": {"key": "Zm9v", "value": "YmF6"}}],
        });
        assert!(matches!(
            txn(&create).unwrap(),
            Call::Cas {
                expected: None,
                range_on_failure: false,
                ..
            }
        ));
    }

    #[test]
    fn what_raft_kv_does_not_do_is_refused_by_name() {
        let refused = |r: Result<Call, BadRequest>| r.unwrap_err().0;
        assert!(refused(range(&json!({"key": "Zm9v", "range_end": "Zm9w"}))).contains("range_end"));
        assert!(refused(range(&json!({"key": "Zm9v", "revision": "3"}))).contains("revision"));
        assert!(refused(put(&json!({"value": "YmFy"}))).contains("key is required"));
        assert!(refused(put(&json!({"key": "!!"}))).contains("not base64"));
        assert!(refused(put(&json!({"key": "/w=="}))).contains("UTF-8"));
        assert!(refused(put(&json!({"key": 5}))).contains("put:"));
        assert!(refused(txn(&json!({"compare": [], "success": []}))).contains("success is empty"));
        let two = json!({"target": "VALUE", "key": "Zm9v", "value": "YmFy"});
        let two_compares = json!({"compare": [two, two], "success": []});
        assert!(refused(txn(&two_compares)).contains("at most one compare"));
        let delete_in_txn = json!({"success": [{"request_delete_range": {"key": "Zm9v"}}]});
        assert!(refused(txn(&delete_in_txn)).contains("success[0] must be"));
        let failure = json!({
            "success": [{"request_range": {"key": "Zm9v"}}],
            "failure": [{"request_range": {"key": "Zm9v"}}],
        });
        assert!(refused(txn(&failure)).contains("no failure branch"));
        let many = vec![json!({"request_range": {"key": "Zm9v"}}); MAX_TXN_OPS + 1];
        assert!(refused(txn(&json!({ "success": many }))).contains("at most"));
        let mod_rev = json!({
            "compare": [{"target": "MOD", "key": "Zm9v", "mod_revision": "3"}],
            "success": [{"request_put": {"key": "Zm9v", "value": "YmF6"}}],
        });
        assert!(refused(txn(&mod_rev)).contains("MOD"));
        let other_key = json!({
            "compare": [{"target": "VALUE", "key": "Zm9v", "value": "YmFy"}],
            "success": [{"request_put": {"key": "YmFy", "value": "YmF6"}}],
        });
        assert!(refused(txn(&other_key)).contains("compared key"));
    }

    #[test]
    fn a_transaction_without_a_compare_runs_its_reads_and_writes_in_order() {
        let call = txn(&json!({
            "success": [
                {"request_append": {"key": b64("1"), "value": b64("7 ")}},
                {"request_range": {"key": b64("1")}},
                {"requestPut": {"key": b64("2"), "value": b64("x")}},
                {"request_range": {"key": b64("3")}},
            ],
        }))
        .unwrap();
        let ops = vec![
            TxnOp::Append {
                key: "1".into(),
                value: "7 ".into(),
            },
            TxnOp::Read { key: "1".into() },
            TxnOp::Put {
                key: "2".into(),
                value: "x".into(),
            },
            TxnOp::Read { key: "3".into() },
        ];
        assert_eq!(call, Call::Txn { ops: ops.clone() });
        assert_eq!(call.op(), Op::Txn { ops });
        let output = Output::Txn(vec![
            TxnResult::Done,
            TxnResult::Read(Some("3 7 ".into())),
            TxnResult::Done,
            TxnResult::Read(None),
        ]);
        let body = call.response(&output, &h()).unwrap();
        assert_eq!(body["succeeded"], true);
        let responses = body["responses"].as_array().unwrap();
        assert!(responses[0].get("response_append").is_some());
        assert_eq!(
            responses[1]["response_range"]["kvs"][0]["value"],
            b64("3 7 ")
        );
        assert!(responses[2].get("response_put").is_some());
        assert!(responses[3]["response_range"].get("kvs").is_none());
        // Results that do not fit the operations are the server's error.
        assert!(call.response(&Output::Txn(vec![]), &h()).is_none());
    }

    #[test]
    fn responses_have_etcds_shape() {
        let get = Call::Range { key: "foo".into() };
        let found = get
            .response(&Output::Found(Some("bar".into())), &h())
            .unwrap();
        assert_eq!(found["kvs"][0]["value"], "YmFy");
        assert_eq!(found["count"], "1");
        assert_eq!(found["header"]["raft_term"], "3");
        let missing = get.response(&Output::Found(None), &h()).unwrap();
        assert!(missing.get("kvs").is_none());
        let cas = txn(&json!({
            "compare": [{"target": "VALUE", "key": "Zm9v", "value": "YmFy"}],
            "success": [{"request_put": {"key": "Zm9v", "value": "YmF6"}}],
            "failure": [{"request_range": {"key": "Zm9v"}}],
        }))
        .unwrap();
        let failed = cas
            .response(
                &Output::Cas {
                    swapped: false,
                    found: Some("qux".into()),
                },
                &h(),
            )
            .unwrap();
        assert!(failed.get("succeeded").is_none());
        assert_eq!(
            failed["responses"][0]["response_range"]["kvs"][0]["value"],
            b64("qux")
        );
        // An output that does not fit its call is the server's error.
        assert!(get.response(&Output::Done, &h()).is_none());
    }
}
