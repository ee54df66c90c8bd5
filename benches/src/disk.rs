//! The disk's own speed, measured in the same run as a disk-backed
//! cluster: the latency of appending a small record to a file and making
//! it durable with `fdatasync`, which bounds how fast any durable commit
//! can be (each needs at least one, on the leader and on a follower).

use crate::report::Percentiles;
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
    Ok(Percentiles::of(&latencies))
}

/// The disk's floor for one durable commit of `members` servers sharing
/// it: in each of `samples` rounds, `members` threads each append a
/// `record_bytes` record to a file of their own and `fdatasync` it, all
/// starting together (as a leader's write and its followers' run in
/// parallel, thesis §10.2.1); a round's latency is the time until a
/// majority of them is durable (a commit needs no more). On one disk the
/// parallel `fdatasync`s contend, so this is above
/// [`fdatasync_latency`]'s figure. The files are removed afterwards.
pub fn majority_fdatasync_latency(
    dir: &Path,
    members: usize,
    samples: usize,
    record_bytes: usize,
) -> anyhow::Result<Percentiles> {
    anyhow::ensure!(members > 0, "a cluster needs at least one member");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let barrier = std::sync::Barrier::new(members);
    let record = vec![0x5a; record_bytes];
    let timings: Vec<Vec<(Instant, Instant)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..members)
            .map(|m| {
                let (barrier, record) = (&barrier, &record);
                scope.spawn(move || -> anyhow::Result<Vec<(Instant, Instant)>> {
                    let path = dir.join(format!("fdatasync-probe-{m}"));
                    let mut file = OpenOptions::new()
                        .create(true)
                        .truncate(true)
                        .write(true)
                        .open(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut rounds = Vec::with_capacity(samples);
                    for _ in 0..samples {
                        barrier.wait();
                        let start = Instant::now();
                        file.write_all(record)?;
                        file.sync_data()?;
                        rounds.push((start, Instant::now()));
                    }
                    drop(file);
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                    Ok(rounds)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow::anyhow!("a probe thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let majority = members / 2 + 1;
    let mut latencies: Vec<Duration> = (0..samples)
        .map(|k| {
            let start = timings.iter().map(|t| t[k].0).min().expect("members > 0");
            let mut ends: Vec<Instant> = timings.iter().map(|t| t[k].1).collect();
            ends.sort_unstable();
            ends[majority - 1] - start
        })
        .collect();
    latencies.sort_unstable();
    Ok(Percentiles::of(&latencies))
}
