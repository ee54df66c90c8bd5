//! The client side of a server: etcd v3's JSON gateway API on axum, and
//! the operational endpoints.
//!
//! - `POST /v3/kv/put`, `/v3/kv/range`, `/v3/kv/deleterange`, `/v3/kv/txn`
//!   ([`crate::api`]). Every one, reads included, runs through the log.
//!   A request may carry a session (headers `x-raft-kv-client`, a random
//!   non-zero id, and `x-raft-kv-seq`, one more per operation of that
//!   client): a retry with the same pair is applied once. Without one, as
//!   from curl, it is applied each time it is sent (as etcd's API).
//! - A follower does not forward: it answers `307 Temporary Redirect` to
//!   the leader's client address (`Location`; `curl -L` follows it, with
//!   the body), or `503` naming the leader's id when it does not know the
//!   address, or `503` when it knows no leader. Why not forward: a
//!   forwarded request costs a second hop and a proxy that must hold it
//!   across leader changes, and when the hop fails the follower cannot
//!   tell whether the write happened; redirected, the client that owns
//!   the session retries with the same sequence number, so exactly-once
//!   survives the leader change.
//! - `GET /health`: 200 when a leader is known and the log is healthy,
//!   503 otherwise, with term, role, leader, commit and applied index.
//! - `GET /metrics`: Prometheus text ([`crate::metrics`]).

use crate::api::{self, BadRequest, Call, Header};
use crate::node::{Failure, Node};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// The session headers' names.
pub const CLIENT_HEADER: &str = "x-raft-kv-client";
/// See [`CLIENT_HEADER`].
pub const SEQ_HEADER: &str = "x-raft-kv-seq";
/// The header naming the server that answered (for jepsen-lite's report).
pub const MEMBER_HEADER: &str = "x-raft-kv-member";

/// The router of a server.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/v3/kv/put", post(kv))
        .route("/v3/kv/range", post(kv))
        .route("/v3/kv/deleterange", post(kv))
        .route("/v3/kv/txn", post(kv))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(node)
}

fn json_response(status: StatusCode, body: Value, node: &Node) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(MEMBER_HEADER, HeaderValue::from(node.config.id.0));
    response
}

fn bad_request(node: &Node, e: BadRequest) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        api::error_body(api::INVALID_ARGUMENT, &e.0),
        node,
    )
}

fn session(headers: &HeaderMap) -> Result<Option<(u64, u64)>, BadRequest> {
    let number = |name: &str| -> Result<Option<u64>, BadRequest> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| BadRequest(format!("{name}: not a number")))
            })
            .transpose()
    };
    match (number(CLIENT_HEADER)?, number(SEQ_HEADER)?) {
        (None, None) => Ok(None),
        (Some(0), _) => Err(BadRequest(format!(
            "{CLIENT_HEADER}: 0 is reserved (no session)"
        ))),
        (Some(client), Some(seq)) => Ok(Some((client, seq))),
        _ => Err(BadRequest(format!(
            "{CLIENT_HEADER} and {SEQ_HEADER} go together"
        ))),
    }
}

async fn kv(State(node): State<Arc<Node>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Result<Call, BadRequest> = serde_json::from_slice::<Value>(&body)
        .map_err(|e| BadRequest(format!("the body is not JSON: {e}")))
        .and_then(|body| match uri.path() {
            "/v3/kv/put" => api::put(&body),
            "/v3/kv/range" => api::range(&body),
            "/v3/kv/deleterange" => api::delete(&body),
            _ => api::txn(&body),
        });
    let call = match parsed {
        Ok(call) => call,
        Err(e) => return bad_request(&node, e),
    };
    let session = match session(&headers) {
        Ok(session) => session,
        Err(e) => return bad_request(&node, e),
    };
    match node.submit(call.op(), session).await {
        Ok(output) => {
            let status = node.status();
            let header = Header {
                cluster_id: node.config.cluster_id,
                member_id: node.config.id.0,
                revision: status.applied,
                raft_term: status.term,
            };
            match call.response(&output, &header) {
                Some(body) => json_response(StatusCode::OK, body, &node),
                None => json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    api::error_body(
                        13,
                        &format!("an output that does not fit the request: {output:?}"),
                    ),
                    &node,
                ),
            }
        }
        Err(Failure::NotLeader(Some(leader))) => {
            let message = format!("not the leader; the leader is node {}", leader.0);
            let mut body = api::error_body(api::UNAVAILABLE, &message);
            body["leader"] = json!(leader.0);
            match node.config.clients.get(&leader) {
                Some(addr) if leader != node.config.id => {
                    body["leader_url"] = json!(format!("http://{addr}"));
                    let mut response = json_response(StatusCode::TEMPORARY_REDIRECT, body, &node);
                    if let Ok(location) =
                        HeaderValue::from_str(&format!("http://{addr}{}", uri.path()))
                    {
                        response.headers_mut().insert(header::LOCATION, location);
                    }
                    response
                }
                _ => json_response(StatusCode::SERVICE_UNAVAILABLE, body, &node),
            }
        }
        Err(Failure::NotLeader(None)) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            api::error_body(api::UNAVAILABLE, "no leader known; try again"),
            &node,
        ),
        Err(Failure::ShuttingDown) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            api::error_body(api::UNAVAILABLE, "the server is shutting down"),
            &node,
        ),
        Err(Failure::TimedOut) => json_response(
            StatusCode::GATEWAY_TIMEOUT,
            api::error_body(
                api::DEADLINE_EXCEEDED,
                "not committed within the request timeout: the outcome is unknown (retry with the same session to apply it once)",
            ),
            &node,
        ),
    }
}

async fn health(State(node): State<Arc<Node>>) -> Response {
    let status = node.status();
    let fault = node.fault();
    let healthy = status.leader.is_some() && fault.is_none();
    let reason = match (&fault, status.leader) {
        (Some(fault), _) => format!("the log failed: {fault}"),
        (None, None) => "no leader known".to_owned(),
        (None, Some(_)) => String::new(),
    };
    let body = json!({
        "health": healthy.to_string(),
        "reason": reason,
        "id": node.config.id.0,
        "term": status.term,
        "role": status.role,
        "leader": status.leader.map(|l| l.0),
        "commit_index": status.commit,
        "applied_index": status.applied,
    });
    let code = match healthy {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    json_response(code, body, &node)
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    let page = crate::metrics::render(&node);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        page,
    )
        .into_response()
}

/// Serves `node`'s client API on `listener` until `stop` resolves; then
/// stops accepting, lets the requests in flight finish, and stops the
/// node (its log is flushed: whatever was acknowledged is on disk).
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let served = axum::serve(listener, router(Arc::clone(&node)))
        .with_graceful_shutdown(stop)
        .await;
    let stopping = Arc::clone(&node);
    let _ = tokio::task::spawn_blocking(move || stopping.shutdown()).await;
    served
}
