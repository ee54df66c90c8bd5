//! `cargo xtask test`: every test suite of the workspace, in one command
//! (the cargo-xtask convention: a plain binary of the workspace, run
//! through the alias in `.cargo/config.toml`). `.ci/run` calls it after
//! `cargo fmt --check` and clippy.
//!
//! ```text
//! cargo xtask test            # every suite, as CI runs them
//! cargo xtask test --quick    # without the real-time suites (lab 2A-2D, kvraft 3A/3B)
//! cargo xtask test --list     # what would run, without running it
//! ```
//!
//! Every suite is a cargo command but one: `bash
//! jepsen-lite/tests/browser-check.sh`, jepsen-lite's pages in headless
//! Chromium (installed from Debian's packages when missing).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The project's tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    /// The task.
    #[command(subcommand)]
    task: Task,
}

/// The tasks.
#[derive(Debug, Subcommand)]
enum Task {
    /// Run every test suite (what CI runs after fmt and clippy).
    Test {
        /// Leave out the suites that run in real time (the lab's Raft tests
        /// 2A-2D and kvraft 3A/3B, most of the wall time); for local work.
        #[arg(long)]
        quick: bool,
        /// Print the cargo commands instead of running them.
        #[arg(long)]
        list: bool,
    },
}

/// One suite: a command line (cargo's, unless `program` names another),
/// its environment, and what it checks.
struct Suite {
    about: &'static str,
    program: Option<&'static str>,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
}

fn suite(about: &'static str, args: &[&str]) -> Suite {
    Suite {
        about,
        program: None,
        args: args.iter().map(ToString::to_string).collect(),
        env: Vec::new(),
    }
}

impl Suite {
    /// The same suite with `key=value` in its environment.
    fn with_env(mut self, key: &'static str, value: &'static str) -> Suite {
        self.env.push((key, value));
        self
    }

    /// The command line as a shell would take it.
    fn command_line(&self) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        format!(
            "{}{} {}",
            env.concat(),
            self.program.unwrap_or("cargo"),
            self.args.join(" ")
        )
    }
}

/// The root package's test targets that run in real time: the lab's Raft
/// and kvraft suites, with the lab's schedules and thresholds.
fn is_real_time(target: &str) -> bool {
    target.starts_with("lab_") || target.starts_with("kv_")
}

/// The root package's integration tests (`tests/*.rs`), by name.
fn root_test_targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("tests");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The suites, in the order CI runs them.
fn suites(root: &Path, quick: bool) -> Result<Vec<Suite>> {
    let mut suites = Vec::new();
    if quick {
        suites.push(suite(
            "every crate but the root package's real-time suites",
            &["test", "--workspace", "--exclude", "checked-raft"],
        ));
        // `--doc` cannot be combined with other targets: run apart below.
        let mut args: Vec<String> = ["test", "-p", "checked-raft", "--lib"]
            .iter()
            .map(ToString::to_string)
            .collect();
        for target in root_test_targets(root)?
            .into_iter()
            .filter(|t| !is_real_time(t))
        {
            args.push("--test".into());
            args.push(target);
        }
        suites.push(Suite {
            about: "the root package without the lab and kvraft suites",
            program: None,
            args,
            env: Vec::new(),
        });
        suites.push(suite(
            "the root package's doc tests",
            &["test", "-p", "checked-raft", "--doc"],
        ));
    } else {
        suites.push(suite(
            "every crate's tests, doc tests and examples, lab 2A-2D and kvraft 3A/3B included",
            &["test"],
        ));
        suites.push(
            suite(
                "lab 2C (persistence) again, every server on a DiskStorage in a temporary directory",
                &["test", "-p", "checked-raft", "--test", "lab_2c"],
            )
            .with_env("LAB_STORAGE", "disk"),
        );
        suites.push(
            suite(
                "kvraft 3B (snapshots) again, every server on a DiskStorage in a temporary directory",
                &["test", "-p", "checked-raft", "--test", "kv_3b"],
            )
            .with_env("LAB_STORAGE", "disk"),
        );
    }
    suites.extend([
        suite(
            "the loom models of the runtime (the root package: the other crates' tests do not touch the runtime's locks, and clippy --features loom already compiles them all under loom)",
            &["test", "-p", "checked-raft", "--features", "loom"],
        ),
        suite(
            "the simulator finds every bug of the catalogue",
            &[
                "test",
                "--release",
                "--features",
                "bug-catalogue",
                "--test",
                "bug_catalogue_sim",
            ],
        ),
        suite(
            "the write-ahead log's crash sweep catches every bug of its catalogue",
            &[
                "test",
                "--release",
                "--features",
                "bug-catalogue",
                "--test",
                "wal_crash",
                "the_crash_sweep_catches",
            ],
        ),
        suite(
            "whole simulated clusters on the write-ahead log: every crash point of 1,000 seeds, and the sweep catches every bug of the log's catalogue",
            &[
                "test",
                "--release",
                "--features",
                "bug-catalogue",
                "--test",
                "cluster_crash",
            ],
        ),
        suite(
            "the model checker finds every bug of the catalogue",
            &[
                "test",
                "--release",
                "-p",
                "raft-model",
                "--features",
                "bug-catalogue",
                "--test",
                "bug_catalogue",
            ],
        ),
        suite(
            "jepsen-lite's harness finds the catalogue's service bugs",
            &[
                "test",
                "-p",
                "jepsen-lite",
                "--features",
                "bug-catalogue",
                "--test",
                "harness_bug",
            ],
        ),
        suite(
            "jepsen-lite's process backend finds the local-reads bug built into real raft-kv processes",
            &[
                "test",
                "-p",
                "raft-kv",
                "--features",
                "bug-catalogue",
                "--test",
                "jepsen_process",
                "the_process_backend_finds",
            ],
        ),
        suite(
            "the example a newcomer runs first works",
            &["run", "--example", "replicated_counter"],
        ),
        suite(
            "the benches compile (they are run by hand, never timed in CI): raft-bench's and jepsen-lite's, the two crates that have any",
            &[
                "bench",
                "--no-run",
                "-p",
                "raft-bench",
                "-p",
                "jepsen-lite",
                "--no-default-features",
            ],
        ),
        Suite {
            about: "jepsen-lite's pages render in headless Chromium (installed from Debian's packages if missing): a valid and an invalid run's timeline, the linearizability pages, the plots",
            program: Some("bash"),
            args: vec!["jepsen-lite/tests/browser-check.sh".into()],
            env: Vec::new(),
        },
    ]);
    Ok(suites)
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn test(quick: bool, list: bool) -> Result<()> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let suites = suites(&root, quick)?;
    if list {
        for s in &suites {
            println!("{}    # {}", s.command_line(), s.about);
        }
        return Ok(());
    }
    let started = Instant::now();
    let mut times = Vec::new();
    for (i, s) in suites.iter().enumerate() {
        eprintln!(
            "== [{}/{}] {}  ({})",
            i + 1,
            suites.len(),
            s.command_line(),
            s.about
        );
        let begun = Instant::now();
        let mut command = Command::new(s.program.unwrap_or(&cargo));
        // A full run builds each crate once per profile and feature set;
        // incremental caches would only double its disk use (they outgrew
        // a CI disk once). A caller's own setting wins.
        if std::env::var_os("CARGO_INCREMENTAL").is_none() {
            command.env("CARGO_INCREMENTAL", "0");
        }
        let status = command
            .args(&s.args)
            .envs(s.env.iter().copied())
            .current_dir(&root)
            .status()
            .with_context(|| format!("starting {}", s.command_line()))?;
        times.push((s, begun.elapsed()));
        if !status.success() {
            bail!(
                "{} failed ({status}) after {:.0?}",
                s.command_line(),
                begun.elapsed()
            );
        }
    }
    eprintln!("== every suite passed in {:.0?}", started.elapsed());
    for (s, took) in times {
        eprintln!("   {:>6.0?}  {}", took, s.command_line());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    eprintln!(
        "== target dir {} holds {:.1} GB",
        target.display(),
        disk_use(&target) as f64 / 1e9
    );
    Ok(())
}

/// Bytes under `dir` (files only, symlinks not followed); unreadable
/// entries count as zero, since this is a report, not a check.
fn disk_use(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_use(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Test { quick, list } => test(quick, list),
    }
}
