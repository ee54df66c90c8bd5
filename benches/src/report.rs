//! What a run reports, in openraft's words: `time: …, ns/op: N, op/ms: M`,
//! then the commit latency's percentiles; and counts written as openraft
//! writes them (`200k`, `4m`).

use crate::load::Run;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Parses a count as openraft's bench does: digits with optional `_`
/// separators and an optional decimal suffix `k` (thousand), `m`
/// (million) or `g` (billion), either case.
pub fn parse_count(text: &str) -> Result<u64, String> {
    let digits = text.replace('_', "");
    let (number, multiplier) = match digits.chars().last() {
        Some('k' | 'K') => (&digits[..digits.len() - 1], 1_000u64),
        Some('m' | 'M') => (&digits[..digits.len() - 1], 1_000_000),
        Some('g' | 'G') => (&digits[..digits.len() - 1], 1_000_000_000),
        _ => (digits.as_str(), 1),
    };
    let base: u64 = number
        .parse()
        .map_err(|e| format!("`{text}` is not a count like 1000, 200k or 4m: {e}"))?;
    base.checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A count in openraft's short form when it is round (`4m`, `200k`).
pub fn format_count(n: u64) -> String {
    for (unit, suffix) in [(1_000_000_000, "g"), (1_000_000, "m"), (1_000, "k")] {
        if n >= unit && n.is_multiple_of(unit) {
            return format!("{}{suffix}", n / unit);
        }
    }
    n.to_string()
}

/// One run's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Concurrent clients.
    pub clients: usize,
    /// Commands committed.
    pub operations: u64,
    /// Commands per request.
    pub batch: usize,
    /// Cluster size.
    pub members: usize,
    /// `channel` or `network`.
    pub transport: String,
    /// Bytes per command.
    pub payload: usize,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
    /// Nanoseconds per command (wall time / commands).
    pub ns_per_op: u64,
    /// Commands per millisecond.
    pub ops_per_ms: u64,
    /// Commands per second.
    pub ops_per_sec: u64,
    /// Request latency percentiles, in microseconds.
    pub latency_us: Percentiles,
    /// `memory`, or `disk` (every batch made durable with `fdatasync`).
    pub storage: String,
    /// With `disk`: the disk's own latency of a small append and
    /// `fdatasync`, measured in the same run, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fdatasync_us: Option<Percentiles>,
    /// With `disk`: the median `fdatasync` (the name for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fdatasync_p50_us: Option<f64>,
    /// With `disk`: the disk's floor for a commit of this many members
    /// sharing it: one `fdatasync` each, all in parallel, until a majority
    /// is durable ([`crate::disk::majority_fdatasync_latency`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub majority_fdatasync_us: Option<Percentiles>,
    /// The median commit latency, in microseconds (`latency_us.p50`).
    pub commit_p50_us: f64,
    /// The 99th-percentile commit latency (`latency_us.p99`).
    pub commit_p99_us: f64,
    /// Commands committed per second (`ops_per_sec`).
    pub commits_per_s: u64,
}

/// Latency percentiles, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `sorted` (ascending), in microseconds.
    pub fn of(sorted: &[Duration]) -> Percentiles {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        Percentiles {
            p50: us(percentile(sorted, 0.50)),
            p99: us(percentile(sorted, 0.99)),
            p999: us(percentile(sorted, 0.999)),
            max: us(sorted.last().copied().unwrap_or_default()),
        }
    }
}

/// The value below which `q` (0 to 1) of `sorted` lies (nearest rank).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Summarises `run` under the given configuration.
    pub fn new(
        run: &Run,
        clients: usize,
        batch: usize,
        members: usize,
        transport: &str,
        payload: usize,
    ) -> Summary {
        let mut sorted = run.latencies.clone();
        sorted.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let nanos = run.elapsed.as_nanos().max(1);
        let ops = u128::from(run.operations.max(1));
        Summary {
            clients,
            operations: run.operations,
            batch,
            members,
            transport: transport.to_string(),
            payload,
            seconds: run.elapsed.as_secs_f64(),
            ns_per_op: (nanos / ops) as u64,
            ops_per_ms: (ops * 1_000_000 / nanos) as u64,
            ops_per_sec: (ops * 1_000_000_000 / nanos) as u64,
            latency_us: Percentiles::of(&sorted),
            storage: "memory".to_string(),
            fdatasync_us: None,
            fdatasync_p50_us: None,
            majority_fdatasync_us: None,
            commit_p50_us: us(percentile(&sorted, 0.50)),
            commit_p99_us: us(percentile(&sorted, 0.99)),
            commits_per_s: (ops * 1_000_000_000 / nanos) as u64,
        }
    }

    /// Marks the run as disk-backed, with the disk's `fdatasync` latency,
    /// alone and of a majority of the members in parallel, measured in the
    /// same run.
    pub fn on_disk(mut self, fdatasync: Percentiles, majority: Percentiles) -> Summary {
        self.storage = "disk".to_string();
        self.fdatasync_p50_us = Some(fdatasync.p50);
        self.fdatasync_us = Some(fdatasync);
        self.majority_fdatasync_us = Some(majority);
        self
    }
}

impl fmt::Display for Summary {
    /// openraft's summary line, then the latencies:
    /// `clients: 256, n: 4m, batch: 1, raft_members: 3, transport: channel:
    /// time: 3.1s, ns/op: 781, op/ms: 1279` and `latency: p50 … µs, …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "clients: {}, n: {}, batch: {}, raft_members: {}, transport: {}, payload: {} B: \
             time: {:?}, ns/op: {}, op/ms: {}",
            self.clients,
            format_count(self.operations),
            self.batch,
            self.members,
            self.transport,
            self.payload,
            Duration::from_secs_f64(self.seconds),
            self.ns_per_op,
            self.ops_per_ms,
        )?;
        let l = self.latency_us;
        write!(
            f,
            "commit latency: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
            l.p50, l.p99, l.p999, l.max
        )?;
        if let Some(d) = self.fdatasync_us {
            write!(
                f,
                "\nstorage: disk; fdatasync of a small append: p50 {:.1} µs, p99 {:.1} µs \
                 (commit p50 / fdatasync p50 = {:.2})",
                d.p50,
                d.p99,
                l.p50 / d.p50.max(f64::MIN_POSITIVE)
            )?;
        }
        if let Some(m) = self.majority_fdatasync_us {
            write!(
                f,
                "\nthe disk's floor for a commit: {} members' fdatasyncs in parallel, until a majority is durable: \
                 p50 {:.1} µs, p99 {:.1} µs (commit p50 / that p50 = {:.2})",
                self.members,
                m.p50,
                m.p99,
                l.p50 / m.p50.max(f64::MIN_POSITIVE)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_openrafts_suffixes() {
        assert_eq!(parse_count("200k"), Ok(200_000));
        assert_eq!(parse_count("4m"), Ok(4_000_000));
        assert_eq!(parse_count("4M"), Ok(4_000_000));
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_count("2g"), Ok(2_000_000_000));
        assert_eq!(parse_count("17"), Ok(17));
        assert!(parse_count("k").is_err());
        assert!(parse_count("4x").is_err());
        assert!(parse_count("-1").is_err());
        assert!(
            parse_count("99999999999999g")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(format_count(4_000_000), "4m");
        assert_eq!(format_count(200_000), "200k");
        assert_eq!(format_count(1234), "1234");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_micros(500));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_micros(990));
        assert_eq!(percentile(&sorted, 0.999), Duration::from_micros(999));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_micros(1000));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn the_summary_speaks_openrafts_words() {
        let run = Run {
            elapsed: Duration::from_secs(2),
            operations: 4_000_000,
            latencies: vec![Duration::from_micros(10), Duration::from_micros(30)],
        };
        let text = Summary::new(&run, 256, 1, 3, "channel", 0).to_string();
        assert!(
            text.starts_with(
                "clients: 256, n: 4m, batch: 1, raft_members: 3, transport: channel, payload: 0 B: \
                 time: 2s, ns/op: 500, op/ms: 2000\n"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("p50 10.0 µs, p99 30.0 µs, p99.9 30.0 µs, max 30.0 µs"),
            "{text}"
        );
    }
}
