//! A client of a raft-kv cluster (the `put`, `get`, `cas` and `bench`
//! commands, and jepsen-lite's process backend): finds the leader from any
//! listed endpoint (following the followers' redirects), and retries a
//! request until it is answered, under one session (a random client id,
//! one sequence number per operation), so that a retried write is applied
//! once (as the lab's clerk).

use crate::api;
use crate::http::{CLIENT_HEADER, MEMBER_HEADER, SEQ_HEADER};
use checked_raft::kv::{TxnOp, TxnResult};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Why an operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server answered it within the client's deadline: a write may or
    /// may not have taken effect.
    #[error("no answer within {0:?} (last: {1}); a write may or may not have happened")]
    Unavailable(Duration, String),
    /// The server refused the request as malformed (never retried).
    #[error("refused: {0}")]
    BadRequest(String),
    /// The server answered something that is not etcd's shape.
    #[error("a malformed answer from {0}: {1}")]
    Malformed(String, String),
}

/// The outcome of a compare-and-swap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasOutcome {
    /// Whether the value was swapped.
    pub swapped: bool,
    /// On failure, the value the key had (`None`: none).
    pub found: Option<String>,
}

/// A client with one session.
#[derive(Debug)]
pub struct Client {
    endpoints: Vec<String>,
    http: reqwest::Client,
    current: usize,
    id: u64,
    seq: u64,
    /// How long an operation is retried before [`ClientError::Unavailable`].
    pub deadline: Duration,
    /// The member that answered the last operation.
    pub last_member: Option<u64>,
    /// Attempts of the last operation (1 when the first one answered).
    pub last_attempts: u32,
}

fn base(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    match trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        true => trimmed.to_owned(),
        false => format!("http://{trimmed}"),
    }
}

impl Client {
    /// A client of the cluster reachable at `endpoints` (`host:port` or
    /// URLs), with a fresh session, retrying each operation for up to 30 s.
    pub fn new(endpoints: &[String]) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .expect("a client without TLS always builds");
        Client {
            endpoints: endpoints.iter().map(|e| base(e)).collect(),
            http,
            current: 0,
            id: rand::random::<u64>().max(1),
            seq: 0,
            deadline: Duration::from_secs(30),
            last_member: None,
            last_attempts: 0,
        }
    }

    /// Starts at endpoint `i` (spreads clients of a bench).
    pub fn starting_at(mut self, i: usize) -> Client {
        self.current = i % self.endpoints.len().max(1);
        self
    }

    /// Sends the next operation to endpoint `i` first (as a Jepsen client
    /// bound to its node; redirects are still followed).
    pub fn go_to(&mut self, i: usize) {
        self.current = i % self.endpoints.len().max(1);
    }

    /// Sets the key to the value.
    pub async fn put(&mut self, key: &str, value: &str) -> Result<(), ClientError> {
        let body = json!({"key": api::encode_text(key), "value": api::encode_text(value)});
        self.call("/v3/kv/put", body).await.map(drop)
    }

    /// The key's value, if it has one.
    pub async fn get(&mut self, key: &str) -> Result<Option<String>, ClientError> {
        let answer = self
            .call("/v3/kv/range", json!({"key": api::encode_text(key)}))
            .await?;
        self.first_value(&answer)
    }

    /// Removes the key; whether it had a value.
    pub async fn delete(&mut self, key: &str) -> Result<bool, ClientError> {
        let answer = self
            .call("/v3/kv/deleterange", json!({"key": api::encode_text(key)}))
            .await?;
        Ok(answer.get("deleted").is_some())
    }

    /// Sets the key to `new` if its value is `expected` now (`None`: it
    /// has none).
    pub async fn cas(
        &mut self,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<CasOutcome, ClientError> {
        let k = api::encode_text(key);
        let compare = match expected {
            Some(v) => json!({"target": "VALUE", "key": k, "value": api::encode_text(v)}),
            None => json!({"target": "CREATE", "key": k, "create_revision": "0"}),
        };
        let body = json!({
            "compare": [compare],
            "success": [{"request_put": {"key": k, "value": api::encode_text(new)}}],
            "failure": [{"request_range": {"key": k}}],
        });
        let answer = self.call("/v3/kv/txn", body).await?;
        if answer.get("succeeded").and_then(Value::as_bool) == Some(true) {
            return Ok(CasOutcome {
                swapped: true,
                found: None,
            });
        }
        let range = &answer["responses"][0]["response_range"];
        Ok(CasOutcome {
            swapped: false,
            found: self.first_value(range)?,
        })
    }

    /// Runs `ops` as one transaction (reads, puts and appends on any keys,
    /// applied atomically in order: etcd's `txn` without a compare, with
    /// raft-kv's `request_append`); one result per operation.
    pub async fn txn(&mut self, ops: &[TxnOp]) -> Result<Vec<TxnResult>, ClientError> {
        let success: Vec<Value> = ops
            .iter()
            .map(|op| match op {
                TxnOp::Read { key } => json!({"request_range": {"key": api::encode_text(key)}}),
                TxnOp::Put { key, value } => json!({"request_put": {
                    "key": api::encode_text(key), "value": api::encode_text(value)}}),
                TxnOp::Append { key, value } => json!({"request_append": {
                    "key": api::encode_text(key), "value": api::encode_text(value)}}),
            })
            .collect();
        let answer = self
            .call("/v3/kv/txn", json!({ "success": success }))
            .await?;
        let responses = answer
            .get("responses")
            .and_then(Value::as_array)
            .filter(|r| r.len() == ops.len())
            .ok_or_else(|| {
                ClientError::Malformed(
                    self.endpoints[self.current].clone(),
                    format!(
                        "a txn of {} operations answered without as many responses",
                        ops.len()
                    ),
                )
            })?;
        ops.iter()
            .zip(responses)
            .map(|(op, response)| match op {
                TxnOp::Read { .. } => {
                    let range = response.get("response_range").ok_or_else(|| {
                        ClientError::Malformed(
                            self.endpoints[self.current].clone(),
                            "a txn's read answered without a response_range".into(),
                        )
                    })?;
                    self.first_value(range).map(TxnResult::Read)
                }
                TxnOp::Put { .. } | TxnOp::Append { .. } => Ok(TxnResult::Done),
            })
            .collect()
    }

    fn first_value(&self, answer: &Value) -> Result<Option<String>, ClientError> {
        match answer.get("kvs").and_then(|kvs| kvs.get(0)) {
            None => Ok(None),
            Some(kv) => {
                let value = kv.get("value").and_then(Value::as_str).unwrap_or("");
                api::decode_text(value)
                    .map(Some)
                    .map_err(|e| ClientError::Malformed(self.endpoints[self.current].clone(), e.0))
            }
        }
    }

    /// Sends one operation (the session's next sequence number) until a
    /// server answers it.
    async fn call(&mut self, path: &str, body: Value) -> Result<Value, ClientError> {
        self.seq += 1;
        let started = Instant::now();
        let mut backoff = Duration::from_millis(10);
        let mut last = String::from("nothing tried");
        self.last_attempts = 0;
        while started.elapsed() < self.deadline {
            self.last_attempts += 1;
            let url = format!("{}{path}", self.endpoints[self.current]);
            // No attempt outlives the operation's deadline.
            let left = self.deadline.saturating_sub(started.elapsed());
            let sent = self
                .http
                .post(&url)
                .timeout(left.min(Duration::from_secs(10)))
                .header(CLIENT_HEADER, self.id)
                .header(SEQ_HEADER, self.seq)
                .json(&body)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) => {
                    last = format!("{url}: {e}");
                    self.next_endpoint();
                    sleep_within(backoff, self.deadline.saturating_sub(started.elapsed())).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                    continue;
                }
            };
            let status = response.status();
            let member = response
                .headers()
                .get(MEMBER_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = response.text().await.unwrap_or_default();
            match status {
                StatusCode::OK => {
                    self.last_member = member;
                    return serde_json::from_str(&text)
                        .map_err(|e| ClientError::Malformed(url, e.to_string()));
                }
                StatusCode::BAD_REQUEST => return Err(ClientError::BadRequest(text)),
                StatusCode::TEMPORARY_REDIRECT if location.is_some() => {
                    let location = location.unwrap_or_default();
                    let target = location.strip_suffix(path).unwrap_or(&location).to_owned();
                    last = format!("{url}: redirected to {target}");
                    self.current = match self.endpoints.iter().position(|e| *e == target) {
                        Some(i) => i,
                        None => {
                            self.endpoints.push(target);
                            self.endpoints.len() - 1
                        }
                    };
                }
                _ => {
                    // 503 (no leader, not the leader, stopping), 504 (not
                    // committed in time): try elsewhere, the same session.
                    last = format!("{url}: {status} {}", text.trim());
                    self.next_endpoint();
                    sleep_within(backoff, self.deadline.saturating_sub(started.elapsed())).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
            }
        }
        Err(ClientError::Unavailable(self.deadline, last))
    }

    /// The session's client id (for logs).
    pub fn id(&self) -> u64 {
        self.id
    }

    fn next_endpoint(&mut self) {
        self.current = (self.current + 1) % self.endpoints.len();
    }
}

/// Sleeps `backoff`, but no longer than what is `left` of the deadline.
async fn sleep_within(backoff: Duration, left: Duration) {
    tokio::time::sleep(backoff.min(left)).await;
}
