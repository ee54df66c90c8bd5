//! `raft-kv bench`: a closed-loop put load. `clients` clients, each with
//! its own session and connection, each putting random keys one at a
//! time until `ops` puts are done in all; throughput and latency
//! percentiles of the acknowledged puts. The requests are etcd's JSON
//! gateway's, so the same generator measures an etcd cluster (its servers
//! ignore the session headers).

use crate::client::Client;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The cluster's client endpoints.
    pub endpoints: Vec<String>,
    /// Concurrent clients.
    pub clients: usize,
    /// Puts in all.
    pub ops: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Bytes per value.
    pub value_size: usize,
}

/// What it measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Puts acknowledged.
    pub ops: usize,
    /// Puts that failed (no answer within the client's deadline).
    pub failed: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Acknowledged puts per second.
    pub ops_per_sec: f64,
    /// Latency percentiles of acknowledged puts, microseconds.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// The slowest.
    pub max_us: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    u64::try_from(sorted[i].as_micros()).unwrap_or(u64::MAX)
}

/// Runs the load.
pub async fn run(config: &BenchConfig) -> BenchReport {
    let clients = config.clients.max(1);
    // Find the leader first, so that no client's first put pays for it.
    let mut probe = Client::new(&config.endpoints);
    let _ = probe.get("bench-warmup").await;
    let value = "x".repeat(config.value_size);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let share = config.ops / clients + usize::from(c < config.ops % clients);
        let mut client = Client::new(&config.endpoints).starting_at(c);
        let value = value.clone();
        let keys = config.keys.max(1);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            let mut failed = 0;
            for _ in 0..share {
                let key = format!("k{}", rand::random_range(0..keys));
                let sent = Instant::now();
                match client.put(&key, &value).await {
                    Ok(()) => latencies.push(sent.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::with_capacity(config.ops);
    let mut failed = 0;
    for task in tasks {
        if let Ok((l, f)) = task.await {
            latencies.extend(l);
            failed += f;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    BenchReport {
        clients,
        ops: latencies.len(),
        failed,
        seconds,
        ops_per_sec: latencies.len() as f64 / seconds,
        p50_us: percentile(&latencies, 0.50),
        p90_us: percentile(&latencies, 0.90),
        p99_us: percentile(&latencies, 0.99),
        max_us: percentile(&latencies, 1.0),
    }
}
