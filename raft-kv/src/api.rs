//! The client API's wire format: etcd v3's JSON gateway (`POST
//! /v3/kv/put`, `/v3/kv/range`, `/v3/kv/deleterange`, `/v3/kv/txn`),
//! keys and values in base64, 64-bit numbers as strings, so that etcd's
//! curl examples work and one load generator drives both systems.
//!
//! Pure: a request body in, a [`Call`] (or a [`BadRequest`] saying what is
//! wrong) out; a call's [`Output`] in, the response body out. What raft-kv
//! does not do (ranges over several keys, reads at an old revision, more
//! than one compare or one put in a transaction) is refused by name, never
//! silently ignored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use checked_raft::kv::{Op, Output};
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

/// `POST /v3/kv/txn`'s body: a compare-and-swap (see [`Call::Cas`]).
pub fn txn(body: &Value) -> Result<Call, BadRequest> {
    let [compare] = list(body, "compare")? else {
        return Err(bad("txn: exactly one compare is supported"));
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
        assert!(refused(txn(&json!({"compare": [], "success": []}))).contains("one compare"));
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
