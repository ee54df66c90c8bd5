//! `raft-wal`: inspects a `DiskStorage` directory without changing it.
//!
//! ```text
//! raft-wal dump DIR          # segments, records, hard state, snapshot, first and last index
//! raft-wal dump DIR --json   # the same as one JSON object
//! raft-wal bench-recovery DIR --mib 1024   # write a 1 GiB log, time reopening it
//! ```
//!
//! It takes no lock and repairs nothing: it reads what recovery would read
//! and says what recovery would do (cut a torn tail, or refuse to start
//! and why). Exit status: 0 the log would open, 1 recovery would refuse
//! it, 2 bad arguments or an unreadable directory.

use anyhow::Context;
use checked_raft::storage::{OsFs, inspect};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Inspect a checked-raft write-ahead log.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Segments (records by kind, entries, checksum status), snapshot
    /// files, the hard state, the snapshot, first and last index, and what
    /// recovery would do.
    Dump {
        /// The log's directory.
        dir: PathBuf,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Writes a log of about `--mib` MiB into DIR (which must not exist;
    /// it is removed afterwards), in batches of `--batch` entries of
    /// `--entry-bytes` bytes, each batch made durable; then times opening
    /// it (recovery: every frame read and checked, the log rebuilt in
    /// memory). Prints one JSON object.
    BenchRecovery {
        /// Where to write the log (on the disk to measure).
        dir: PathBuf,
        /// Size of the log in MiB.
        #[arg(long, default_value_t = 1024)]
        mib: u64,
        /// Bytes per entry's command.
        #[arg(long, default_value_t = 1024)]
        entry_bytes: usize,
        /// Entries per batch.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Empty the page cache before reopening (Linux, as root: writes
        /// 3 to /proc/sys/vm/drop_caches), so recovery reads from the
        /// disk, not from memory.
        #[arg(long)]
        drop_caches: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("raft-wal: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints the dump; whether the log would open.
fn run(args: Args) -> anyhow::Result<bool> {
    let (dir, json) = match args.command {
        Command::Dump { dir, json } => (dir, json),
        Command::BenchRecovery {
            dir,
            mib,
            entry_bytes,
            batch,
            drop_caches,
        } => {
            bench_recovery(&dir, mib, entry_bytes, batch, drop_caches)?;
            return Ok(true);
        }
    };
    if !dir.is_dir() {
        anyhow::bail!("{} is not a directory", dir.display());
    }
    let report = inspect(&OsFs, &dir).with_context(|| format!("inspecting {}", dir.display()))?;
    if json {
        let segments: Vec<_> = report
            .segments
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "bytes": s.len,
                    "records": s.records,
                    "uncommitted": s.uncommitted,
                    "entries": s.entries.map(|(a, b)| [a.0, b.0]),
                    "status": s.status,
                })
            })
            .collect();
        let recovered = match &report.recovered {
            Ok(r) => serde_json::json!({
                "opens": true,
                "term": r.hard_state.current_term.0,
                "voted_for": r.hard_state.voted_for.map(|v| v.0),
                "snapshot": r.snapshot.map(|(meta, len)| serde_json::json!({
                    "index": meta.last_included_index.0,
                    "term": meta.last_included_term.0,
                    "bytes": len,
                })),
                "first_index": r.first_index.0,
                "last_index": r.last_index.0,
                "repairs": r.repairs,
            }),
            Err(why) => serde_json::json!({ "opens": false, "refusal": why }),
        };
        let out = serde_json::json!({
            "dir": dir.display().to_string(),
            "segments": segments,
            "snapshot_files": report.snapshot_files,
            "recovery": recovered,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", dir.display());
        println!("{report}");
    }
    Ok(report.recovered.is_ok())
}

/// `bench-recovery`: writes the log, reopens it, prints the figures.
fn bench_recovery(
    dir: &std::path::Path,
    mib: u64,
    entry_bytes: usize,
    batch: usize,
    drop_caches: bool,
) -> anyhow::Result<()> {
    use checked_raft::consensus::{Entry, LogIndex, Persist, Term};
    use checked_raft::runtime::Persister;
    use checked_raft::storage::DiskStorage;
    use std::time::Instant;
    anyhow::ensure!(
        !dir.exists(),
        "{} exists: give a directory that does not",
        dir.display()
    );
    anyhow::ensure!(
        batch > 0 && entry_bytes > 0,
        "--batch and --entry-bytes must be positive"
    );
    let target = mib << 20;
    let command = bytes::Bytes::from(vec![0x42; entry_bytes]);
    let written = Instant::now();
    let entries = {
        let storage = DiskStorage::open(dir)?;
        let mut next = 1u64;
        while storage.stats().bytes < target {
            let ops: Vec<Entry> = (next..next + batch as u64)
                .map(|i| Entry {
                    index: LogIndex(i),
                    term: Term(1),
                    command: command.clone(),
                })
                .collect();
            storage.persist(&Persist::Append(ops))?;
            next += batch as u64;
        }
        next - 1
    };
    let write_s = written.elapsed().as_secs_f64();
    let bytes: u64 = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    if drop_caches {
        std::fs::write("/proc/sys/vm/drop_caches", "3\n")
            .context("emptying the page cache (needs Linux and root)")?;
    }
    let opened = Instant::now();
    let storage = DiskStorage::open(dir)?;
    let recovery_s = opened.elapsed().as_secs_f64();
    let last = storage.load()?.last_index().0;
    anyhow::ensure!(last == entries, "recovered {last} entries of {entries}");
    drop(storage);
    std::fs::remove_dir_all(dir)?;
    println!(
        "{}",
        serde_json::json!({
            "log_bytes": bytes,
            "entries": entries,
            "entry_bytes": entry_bytes,
            "write_s": write_s,
            "recovery_s": recovery_s,
            "recovery_mib_per_s": bytes as f64 / (1u64 << 20) as f64 / recovery_s,
            "page_cache": if drop_caches { "emptied" } else { "warm" },
        })
    );
    Ok(())
}
