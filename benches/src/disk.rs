//! The disk's own speed, measured in the same run as a disk-backed
//! cluster: the latency of appending a small record to a file and making
//! it durable with `fdatasync`, which bounds how fast any durable commit
//! can be (each needs at least one, on the leader and on a follower).

use crate::report::{Percentiles, percentile};
use anyhow::Context;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Appends `samples` records of `record_bytes` bytes to a fresh file in
/// `dir`, each followed by `fdatasync`, and returns the latencies of the
/// pairs (the file is removed afterwards).
pub fn fdatasync_latency(
    dir: &Path,
    samples: usize,
    record_bytes: usize,
) -> anyhow::Result<Percentiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("fdatasync-probe");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let record = vec![0x5a; record_bytes];
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        latencies.push(start.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    latencies.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    Ok(Percentiles {
        p50: us(percentile(&latencies, 0.50)),
        p99: us(percentile(&latencies, 0.99)),
        p999: us(percentile(&latencies, 0.999)),
        max: us(latencies.last().copied().unwrap_or_default()),
    })
}
