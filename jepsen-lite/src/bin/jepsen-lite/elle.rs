//! `jepsen-lite elle FILE...`: checks list-append histories (transactions
//! of reads and appends) with the Elle-style checker, for strict
//! serializability (or serializability), naming every anomaly found.

use crate::{EXIT_BAD_ARGUMENTS, EXIT_NOT_LINEARIZABLE, EXIT_OK, EXIT_UNKNOWN, emit};
use anyhow::Context;
use clap::{Args, ValueEnum};
use jepsen_lite::elle::{self, ConsistencyModel, ElleOptions, ElleReport};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
enum ConsistencyArg {
    /// Serializable, and consistent with real time: a transaction that
    /// completed before another began precedes it.
    StrictSerializable,
    /// Serializable: some order of the transactions explains every read.
    Serializable,
}

/// `jepsen-lite elle`'s arguments.
#[derive(Args)]
pub struct ElleArgs {
    /// History files (JSON lines, `f: "txn"`, Jepsen's list-append values).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The consistency model to check.
    #[arg(long, value_enum, default_value = "strict-serializable")]
    consistency: ConsistencyArg,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Entry {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<ElleReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Runs `jepsen-lite elle`; returns the exit code (Jepsen's: 0 valid, 1
/// an anomaly, 2 nothing to check, 254 bad input).
pub fn run(args: &ElleArgs) -> u8 {
    let started = Instant::now();
    let options = ElleOptions {
        model: match args.consistency {
            ConsistencyArg::StrictSerializable => ConsistencyModel::StrictSerializable,
            ConsistencyArg::Serializable => ConsistencyModel::Serializable,
        },
        ..ElleOptions::default()
    };
    let mut entries = Vec::new();
    let (mut valid, mut invalid, mut empty, mut errors) = (0, 0, 0, 0);
    for path in &args.files {
        let name = path.display().to_string();
        let checked = std::fs::read_to_string(path)
            .with_context(|| format!("{name}: cannot read"))
            .and_then(|text| {
                let txns = elle::parse_jsonl(&text).with_context(|| name.clone())?;
                let at = Instant::now();
                let report = elle::check(&txns, &options).with_context(|| name.clone())?;
                Ok((report, at.elapsed()))
            });
        match checked {
            Ok((report, took)) => {
                match (report.valid, report.ok) {
                    (_, 0) => empty += 1,
                    (true, _) => valid += 1,
                    (false, _) => invalid += 1,
                }
                if !args.json {
                    let text = if report.ok == 0 {
                        format!(
                            "{name}: nothing to check (no transaction completed; {} transactions)\n",
                            report.txns
                        )
                    } else {
                        format!("{name}: {}", elle::explain(&report))
                    };
                    emit(&format!(
                        "{}  checked in {:.1} ms\n",
                        text,
                        took.as_secs_f64() * 1e3
                    ));
                }
                entries.push(Entry {
                    file: name,
                    report: Some(report),
                    error: None,
                });
            }
            Err(e) => {
                errors += 1;
                if !args.json {
                    eprintln!("error: {e:#}");
                }
                entries.push(Entry {
                    file: name,
                    report: None,
                    error: Some(format!("{e:#}")),
                });
            }
        }
    }
    let code = if errors > 0 {
        EXIT_BAD_ARGUMENTS
    } else if invalid > 0 {
        EXIT_NOT_LINEARIZABLE
    } else if empty > 0 {
        EXIT_UNKNOWN
    } else {
        EXIT_OK
    };
    if args.json {
        match serde_json::to_string_pretty(&entries) {
            Ok(s) => emit(&format!("{s}\n")),
            Err(e) => {
                eprintln!("error: cannot write JSON: {e}");
                return EXIT_BAD_ARGUMENTS;
            }
        }
    } else {
        let mut line = format!(
            "{} {}: {valid} {}, {invalid} not",
            args.files.len(),
            if args.files.len() == 1 {
                "history"
            } else {
                "histories"
            },
            options.model.name()
        );
        if empty > 0 {
            line.push_str(&format!(", {empty} with nothing to check"));
        }
        if errors > 0 {
            line.push_str(&format!(", {errors} with errors"));
        }
        emit(&format!(
            "{line} in {:.1} ms\n",
            started.elapsed().as_secs_f64() * 1e3
        ));
    }
    code
}
