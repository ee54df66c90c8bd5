//! `simulate`: runs the seeded whole-cluster simulator over many seeds and
//! reports what it exercised, or the first failures with their last events.
//!
//! ```text
//! cargo run --release --bin simulate -- --servers 5 --seeds 10000
//! cargo run --release --bin simulate -- --servers 3 --first-seed 354 --seeds 1
//! cargo run --release --bin simulate -- --servers 3 --storage disk --write-ms 1-13
//! ```
//!
//! Exit status: 0 every run passed, 1 a run failed, 2 bad arguments.

use checked_raft::sim::{Delays, DiskConfig, Faults, Report, SimConfig, Simulation, Stats};
use checked_raft::storage::DiskOptions;
use clap::{Parser, ValueEnum};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Sweep the Raft cluster simulator over a range of seeds.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Servers in the cluster.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=15))]
    servers: u64,
    /// How many seeds to run.
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// The first seed; runs use first-seed .. first-seed + seeds.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Virtual milliseconds of faults before the network heals.
    #[arg(long, default_value_t = 4000)]
    chaos_ms: u64,
    /// Probability that a message is lost.
    #[arg(long, default_value_t = 0.1, value_parser = probability)]
    loss: f64,
    /// Probability that a message is delivered twice.
    #[arg(long, default_value_t = 0.1, value_parser = probability)]
    duplicate: f64,
    /// Probability that a message is delayed long enough to be reordered.
    #[arg(long, default_value_t = 0.05, value_parser = probability)]
    long_delay: f64,
    /// Probability, per effect, of a crash between two effects of a handler.
    #[arg(long, default_value_t = 0.002, value_parser = probability)]
    crash_mid_step: f64,
    /// No partitions.
    #[arg(long)]
    no_partitions: bool,
    /// No crashes or restarts.
    #[arg(long)]
    no_crashes: bool,
    /// Applications snapshot after this many entries (0: never).
    #[arg(long, default_value_t = 8)]
    snapshot_every: u64,
    /// Worker threads (default: available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Stop after this many failures.
    #[arg(long, default_value_t = 1)]
    max_failures: u64,
    /// Where servers keep their state: `memory` (what their writes
    /// stored), or `disk` (the real write-ahead log on simulated disks;
    /// every crash keeps a random part of what was not synced, and each
    /// restart must find exactly what was acknowledged).
    #[arg(long, value_enum, default_value_t = Storage::Memory)]
    storage: Storage,
    /// With `--storage disk`: segment size in bytes (small: rotations and
    /// deletions happen often).
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u64).range(512..))]
    segment_bytes: u64,
    /// Writes complete in events of their own, MIN-MAX virtual ms after
    /// they are made (a leader replicates while it writes, thesis
    /// §10.2.1); default: within the step that makes them.
    #[arg(long, value_parser = range_ms, value_name = "MIN-MAX")]
    write_ms: Option<(u64, u64)>,
}

/// Where simulated servers keep their state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Storage {
    /// What their writes stored, in memory.
    Memory,
    /// The real write-ahead log on simulated disks that crash.
    Disk,
}

fn range_ms(s: &str) -> Result<(u64, u64), String> {
    let (min, max) = s
        .split_once('-')
        .ok_or_else(|| format!("`{s}` is not MIN-MAX (for example 1-13)"))?;
    let parse = |x: &str| {
        x.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{x}` is not a whole number of milliseconds"))
    };
    let (min, max) = (parse(min)?, parse(max)?);
    if min >= max {
        return Err(format!("MIN ({min}) must be less than MAX ({max})"));
    }
    Ok((min, max))
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability in 0..=1"))
    }
}

impl Args {
    fn config(&self, seed: u64) -> SimConfig {
        SimConfig {
            faults: Faults {
                loss: self.loss,
                duplicate: self.duplicate,
                long_delay: self.long_delay,
                partitions: !self.no_partitions,
                crashes: !self.no_crashes,
                crash_mid_step: self.crash_mid_step,
            },
            delays: Delays {
                normal_ms: 10,
                long_ms: 300,
            },
            chaos_ms: self.chaos_ms,
            snapshot_every: (self.snapshot_every > 0).then_some(self.snapshot_every),
            write_ms: self.write_ms,
            disk: (self.storage == Storage::Disk)
                .then(|| DiskConfig::new(DiskOptions::with_segment_size(self.segment_bytes))),
            ..SimConfig::new(seed, self.servers as usize)
        }
    }
}

#[derive(Default)]
struct Totals {
    passed: u64,
    stats: Stats,
    elections: usize,
    slowest_recovery_ms: u64,
    acknowledged: usize,
}

impl Totals {
    fn add(&mut self, report: &Report) {
        self.passed += 1;
        self.stats.add(&report.stats);
        self.elections += report.elections;
        self.acknowledged += report.acknowledged;
        self.slowest_recovery_ms = self.slowest_recovery_ms.max(report.recovery_ms);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicU64::new(args.first_seed);
    let end = args.first_seed.saturating_add(args.seeds);
    let failures = AtomicU64::new(0);
    let totals = Mutex::new(Totals::default());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    if failures.load(Ordering::Relaxed) >= args.max_failures {
                        return;
                    }
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        return;
                    }
                    match Simulation::new(args.config(seed)).and_then(Simulation::run) {
                        Ok(report) => totals.lock().expect("no worker panics").add(&report),
                        Err(failure) => {
                            if failures.fetch_add(1, Ordering::Relaxed) < args.max_failures {
                                eprintln!("{failure}");
                            }
                        }
                    }
                }
            });
        }
    });
    let totals = totals.into_inner().expect("no worker panics");
    let failed = failures.load(Ordering::Relaxed);
    let s = &totals.stats;
    println!(
        "{} servers, seeds {}..{}: {} passed, {} failed in {:.1} s",
        args.servers,
        args.first_seed,
        end,
        totals.passed,
        failed,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  {} steps, each followed by a check of every property; {} elections; {} proposals accepted",
        s.steps, totals.elections, s.servers.proposals
    );
    println!(
        "  {} messages sent, {} dropped, {} duplicated; {} partitions",
        s.sent, s.dropped, s.duplicated, s.partitions
    );
    println!(
        "  {} crashes ({} between two effects of a handler), {} restarts from storage",
        s.servers.crashes, s.servers.crashes_mid_step, s.servers.restarts
    );
    println!(
        "  {} snapshots taken, {} installed by InstallSnapshot; slowest recovery after healing: {} ms",
        s.servers.snapshots_taken, s.servers.snapshots_installed, totals.slowest_recovery_ms
    );
    println!(
        "  {} writes clients saw acknowledged, every one in every server's final state",
        totals.acknowledged
    );
    if args.storage == Storage::Disk {
        println!(
            "  on disks: every restart found exactly what was acknowledged; {} restarts cut a torn or unsynced tail",
            s.servers.disk_repairs
        );
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
