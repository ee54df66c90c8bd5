//! `raft-wal`: inspects a `DiskStorage` directory without changing it.
//!
//! ```text
//! raft-wal dump DIR          # segments, records, hard state, snapshot, first and last index
//! raft-wal dump DIR --json   # the same as one JSON object
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
    let Command::Dump { dir, json } = args.command;
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
