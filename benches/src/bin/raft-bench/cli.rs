//! The command line of `raft-bench` and what it runs.

use anyhow::ensure;
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

    /// One JSON object per run on stdout instead of the text summary.
    #[arg(long)]
    json: bool,
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
    for _ in 0..args.runs {
        let mut options = ClusterOptions::new(args.members, args.transport);
        options.raft.max_inflight = args.max_inflight;
        options.raft.max_entries_per_message = args.max_entries;
        options.snapshot_every = args.snapshot_every;
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
        let summary = Summary::new(
            &measured,
            clients,
            batch,
            args.members,
            &args.transport.to_string(),
            args.payload,
        );
        if args.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            println!("{summary}");
        }
    }
    Ok(())
}
