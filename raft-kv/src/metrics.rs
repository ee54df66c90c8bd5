//! `/metrics`: the server's state and counters in Prometheus's text
//! exposition format (version 0.0.4): a `# HELP` and a `# TYPE` line per
//! metric, labels in braces, histograms as cumulative `_bucket{le=...}`
//! lines with `_sum` and `_count`.

use crate::node::Node;
use checked_raft::storage::SYNC_BUCKETS_US;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

struct Page(String);

impl Page {
    fn metric(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP raft_kv_{name} {help}");
        let _ = writeln!(self.0, "# TYPE raft_kv_{name} {kind}");
    }

    fn value(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let _ = match labels.is_empty() {
            true => writeln!(self.0, "raft_kv_{name} {value}"),
            false => writeln!(self.0, "raft_kv_{name}{{{labels}}} {value}"),
        };
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.metric(name, kind, help);
        self.value(name, "", value);
    }
}

/// The page for `node`.
pub fn render(node: &Node) -> String {
    let mut p = Page(String::new());
    let status = node.status();
    let c = &node.counters;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    p.one("term", "gauge", "The server's current term.", status.term);
    p.metric("role", "gauge", "1 for the server's role.");
    for role in ["follower", "candidate", "leader"] {
        p.value(
            "role",
            &format!("role=\"{role}\""),
            u8::from(status.role == role),
        );
    }
    p.one(
        "leader",
        "gauge",
        "The id of the leader this server knows of (0: none).",
        status.leader.map_or(0, |l| l.0),
    );
    p.one(
        "commit_index",
        "gauge",
        "The server's commit index.",
        status.commit,
    );
    p.one(
        "applied_index",
        "gauge",
        "The last log index the server's store applied.",
        status.applied,
    );
    p.one(
        "requests_total",
        "counter",
        "Client requests proposed or answered by this server.",
        get(&c.requests),
    );
    p.metric("responses_total", "counter", "Client requests by outcome.");
    p.value("responses_total", "outcome=\"ok\"", get(&c.answered));
    p.value(
        "responses_total",
        "outcome=\"not_leader\"",
        get(&c.not_leader),
    );
    p.value(
        "responses_total",
        "outcome=\"timed_out\"",
        get(&c.timed_out),
    );
    p.one(
        "term_changes_total",
        "counter",
        "Terms this server has seen begin (each an election somewhere).",
        get(&c.term_changes),
    );
    p.one(
        "elections_won_total",
        "counter",
        "Times this server became leader.",
        get(&c.elections_won),
    );
    if let Some(disk) = node.disk() {
        let stats = disk.stats();
        p.one(
            "wal_batches_total",
            "counter",
            "Batches written to the log.",
            stats.batches,
        );
        p.one(
            "wal_bytes_total",
            "counter",
            "Bytes appended to the log.",
            stats.bytes,
        );
        p.metric(
            "wal_fsync_duration_seconds",
            "histogram",
            "How long each batch's fdatasync took.",
        );
        let mut cumulative = 0;
        for (bound, count) in SYNC_BUCKETS_US.iter().zip(stats.sync_latency.buckets) {
            cumulative += count;
            let le = *bound as f64 / 1e6;
            p.value(
                "wal_fsync_duration_seconds_bucket",
                &format!("le=\"{le}\""),
                cumulative,
            );
        }
        p.value(
            "wal_fsync_duration_seconds_bucket",
            "le=\"+Inf\"",
            stats.sync_latency.count(),
        );
        p.value(
            "wal_fsync_duration_seconds_sum",
            "",
            stats.sync_latency.sum_us as f64 / 1e6,
        );
        p.value(
            "wal_fsync_duration_seconds_count",
            "",
            stats.sync_latency.count(),
        );
    }
    let peers = node.transport().peer_counts();
    for (name, help) in [
        (
            "peer_messages_sent_total",
            "Raft messages written to a peer's connection.",
        ),
        (
            "peer_messages_dropped_total",
            "Raft messages for a peer dropped (full queue, broken connection).",
        ),
        (
            "peer_handshakes_refused_total",
            "Handshakes with a peer refused (wrong cluster or node).",
        ),
    ] {
        p.metric(name, "counter", help);
        for (peer, counts) in &peers {
            let value = match name {
                "peer_messages_sent_total" => counts.sent,
                "peer_messages_dropped_total" => counts.dropped,
                _ => counts.refused,
            };
            p.value(name, &format!("peer=\"{}\"", peer.0), value);
        }
    }
    let tcp = node.transport().counts();
    p.one(
        "peer_messages_received_total",
        "counter",
        "Raft messages received from peers.",
        tcp.received,
    );
    p.one(
        "peer_bad_frames_total",
        "counter",
        "Peer connections closed for a malformed frame.",
        tcp.bad_frames,
    );
    p.one(
        "peer_inbound_refused_total",
        "counter",
        "Handshakes refused in all (inbound and outbound).",
        tcp.refused,
    );
    p.0
}
