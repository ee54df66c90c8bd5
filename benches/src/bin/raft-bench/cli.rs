//! The command line of `raft-bench` and what it runs.

use anyhow::{Context, ensure};
use clap::Parser;
use raft_bench::{Cluster, ClusterOptions, Load, Summary, TransportKind, parse_count, run};

/// Commit throughput and latency of checked-raft's thread runtime.
#[derive(Parser, Debug)]
#[command(name = "raft-bench", version, about, long_about = None)]
struct Args {
    /// Concurrent clients, each with one request in flight (`256`, `1k`).
    #[arg(short = 'c', long, default_value = "256", value_parser = parse_count)]
    clients: u64,

    /// Commands in all, across the clients (`200k`, `4m`).
    #[arg(short = 'n', long, default_value = "1m", value_parser = parse_count)]
    operations: u64,

    /// Servers in the cluster.
    #[arg(short = 'm', long, default_value_t = 3)]
    members: usize,

    /// Commands per request (1: `start`; more: `start_batch`).
    #[arg(short = 'b', long, default_value = "1", value_parser = parse_count)]
    batch: u64,

    /// Bytes per command.
    #[arg(long, default_value_t = 0)]
    payload: usize,

    /// How the servers talk: in-process channels, or the emulated network
    /// (reliable, no delays, every message serialized).
    #[arg(long, value_enum, default_value_t = TransportKind::Channel)]
    transport: TransportKind,

    /// AppendEntries in flight per follower (pipelining window, 1-8).
    #[arg(long, default_value_t = 4)]
    max_inflight: usize,

    /// Most entries per AppendEntries.
    #[arg(long, default_value_t = 256)]
    max_entries: usize,

    /// Every server snapshots its (empty) state and compacts its log every
    /// this many entries, as a long-running application does; 0: never
    /// (the in-memory logs then grow with every command).
    #[arg(long, default_value = "100k", value_parser = parse_count)]
    snapshot_every: u64,

    /// Commands committed before measuring (openraft: 1024).
    #[arg(long, default_value = "1024", value_parser = parse_count)]
    warmup: u64,

    /// Runs, each on a fresh cluster (a summary for each).
    #[arg(long, default_value_t = 1)]
    runs: usize,

    /// Where the servers keep their logs: `memory`, or `disk` (a
    /// `DiskStorage` per server under `--dir`, every batch made durable
    /// with `fdatasync`; the disk's own `fdatasync` latency is measured in
    /// the same run and reported beside the commit latency).
    #[arg(long, value_enum, default_value_t = StorageKind::Memory)]
    storage: StorageKind,

    /// With `--storage disk`: the directory the logs go in (a fresh
    /// subdirectory per run, removed afterwards). Defaults to the system's
    /// temporary directory, which may be a RAM disk: give a directory on
    /// the disk you want to measure.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,

    /// With `--storage disk`: leave the logs in place after the run (to
    /// look at them with `raft-wal dump DIR/raft-bench-PID-RUN/peer-N`).
    #[arg(long)]
    keep: bool,

    /// One JSON object per run on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
}

/// Where the servers keep their logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum StorageKind {
    /// In memory (`MemoryPersister`).
    Memory,
    /// On disk (`DiskStorage`).
    Disk,
}

/// Parses the flags, runs the benchmark, prints the summaries.
pub fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.clients > 0, "--clients must be at least 1");
    ensure!(args.batch > 0, "--batch must be at least 1");
    ensure!(args.members > 0, "--members must be at least 1");
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(
        (1..=checked_raft::MAX_INFLIGHT).contains(&args.max_inflight),
        "--max-inflight must be 1 to {}",
        checked_raft::MAX_INFLIGHT
    );
    ensure!(args.max_entries > 0, "--max-entries must be at least 1");
    ensure!(
        (args.dir.is_none() && !args.keep) || args.storage == StorageKind::Disk,
        "--dir and --keep need --storage disk"
    );
    ensure!(
        args.operations >= args.clients * args.batch,
        "-n must give every client at least one request (clients x batch = {})",
        args.clients * args.batch
    );
    let clients = usize::try_from(args.clients)?;
    let batch = usize::try_from(args.batch)?;
    eprintln!(
        "Benchmark config: clients: {clients}, n: {}, batch: {batch}, raft_members: {}, \
         transport: {}, payload: {} B, max_inflight: {}, max_entries: {}, snapshot_every: {}",
        raft_bench::report::format_count(args.operations),
        args.members,
        args.transport,
        args.payload,
        args.max_inflight,
        args.max_entries,
        raft_bench::report::format_count(args.snapshot_every),
    );
    for run_number in 0..args.runs {
        let mut options = ClusterOptions::new(args.members, args.transport);
        options.raft.max_inflight = args.max_inflight;
        options.raft.max_entries_per_message = args.max_entries;
        options.snapshot_every = args.snapshot_every;
        let (run_dir, fdatasync) = match args.storage {
            StorageKind::Memory => (None, None),
            StorageKind::Disk => {
                let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
                let dir = base.join(format!("raft-bench-{}-{run_number}", std::process::id()));
                anyhow::ensure!(!dir.exists(), "{} exists already", dir.display());
                let probe = raft_bench::disk::fdatasync_latency(&dir, 2000, 128)?;
                let majority =
                    raft_bench::disk::majority_fdatasync_latency(&dir, args.members, 2000, 128)?;
                options.storage = Some(dir.clone());
                (Some(dir), Some((probe, majority)))
            }
        };
        let cluster = Cluster::start(&options)?;
        if args.warmup > 0 {
            run(
                &cluster,
                &Load {
                    clients: 1,
                    operations: args.warmup,
                    batch: 1,
                    payload: args.payload,
                },
            )?;
        }
        let measured = run(
            &cluster,
            &Load {
                clients,
                operations: args.operations,
                batch,
                payload: args.payload,
            },
        )?;
        cluster.shutdown();
        if let Some(dir) = run_dir.as_ref().filter(|_| !args.keep) {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let mut summary = Summary::new(
            &measured,
            clients,
            batch,
            args.members,
            &args.transport.to_string(),
            args.payload,
        );
        if let Some((probe, majority)) = fdatasync {
            summary = summary.on_disk(probe, majority);
        }
        if args.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            println!("{summary}");
        }
    }
    Ok(())
}
