//! `jepsen-lite run`: the harness's command line, progress bar and final
//! summary.

use clap::{Args, ValueEnum};
use jepsen_lite::harness::results::{Validity, summary_lines};
use jepsen_lite::harness::runner::{self, Outcome};
use jepsen_lite::harness::{Backend, NemesisKind, Progress, RunOptions, Storage, Workload};
use std::io::{IsTerminal, Write};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Exit code when the run itself could not be carried out.
pub const EXIT_ERROR: u8 = 254;

#[derive(Clone, Copy, ValueEnum)]
enum WorkloadArg {
    /// read / write / cas of small integers; each key an independent register.
    Register,
    /// get / put / append of short strings.
    Kv,
    /// appends of unique values, and gets.
    Append,
    /// transactions of reads and appends over several keys, checked for
    /// strict serializability by the Elle-style checker.
    ListAppend,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    /// The thread runtime over the emulated network, in real time.
    Threads,
    /// The seeded simulator, in virtual time (exactly reproducible).
    Sim,
    /// Real raft-kv server processes on loopback (SIGKILL, SIGSTOP,
    /// partitions through per-link TCP proxies).
    Process,
}

#[derive(Clone, Copy, ValueEnum)]
enum StorageArg {
    /// In memory; a killed server restarts from a copy of what it persisted.
    Memory,
    /// A write-ahead log on disk per server (fdatasync per batch), in a
    /// temporary directory; a killed server reopens its log (the sim
    /// backend: a simulated disk that crashes).
    Disk,
}

#[derive(Clone, Copy, ValueEnum)]
enum BugArg {
    /// Servers answer gets from their own state, not through the log.
    LocalReads,
}

/// `jepsen-lite run`'s arguments.
#[derive(Args)]
pub struct RunArgs {
    /// Servers in the cluster.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Concurrent client processes.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// How long clients run under faults, e.g. `30s`, `2m`, `500ms`
    /// (virtual time with `--backend sim`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    time: Duration,
    /// The operations clients run.
    #[arg(long, value_enum, default_value = "register")]
    workload: WorkloadArg,
    /// Faults, comma-separated: partition, kill, unreliable, reorder,
    /// pause (process backend only); or `none`.
    #[arg(long, default_value = "partition,kill,unreliable,reorder", value_parser = parse_nemesis)]
    nemesis: NemesisList,
    /// Seeds every random choice [default: from the clock, printed].
    #[arg(long)]
    seed: Option<u64>,
    /// With `--backend sim`: run every seed of a range `A..B` (inclusive)
    /// and stop at the first whose history is not valid.
    #[arg(long, value_parser = parse_seeds, conflicts_with = "seed")]
    seeds: Option<RangeInclusive<u64>>,
    /// Client operations per second, over all clients, or `unlimited`.
    #[arg(long, default_value = "200", value_parser = parse_rate)]
    rate: Rate,
    /// Where reports go: `<store>/<test>/<timestamp>/`.
    #[arg(long, default_value = "store")]
    store: PathBuf,
    /// What runs the cluster.
    #[arg(long, value_enum, default_value = "threads")]
    backend: BackendArg,
    /// Where the servers keep their Raft state [default: disk with
    /// `--backend process`, else memory].
    #[arg(long, value_enum)]
    storage: Option<StorageArg>,
    /// The process backend's raft-kv binary [default: next to this
    /// executable, else on the PATH].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// How long each fault lasts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    nemesis_on: Duration,
    /// The pause between faults.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    nemesis_off: Duration,
    /// A client gives up on an operation after this long (a read is then
    /// `fail`, a write `info`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    op_timeout: Duration,
    /// Keys in use at once.
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Operations on a key before it is replaced by a fresh one; for
    /// list-append, appends to a key (Jepsen's max-writes-per-key)
    /// [default: 300; list-append 32]
    #[arg(long)]
    ops_per_key: Option<u64>,
    /// After the final heal, how long to wait for the cluster to serve.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    recovery: Duration,
    /// The checker's time limit; an undecided history is `unknown`.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    check_timeout: Duration,
    /// Run a deliberately broken service (needs a build with
    /// `--features bug-catalogue`): the harness must find it invalid.
    #[arg(long, value_enum)]
    bug: Option<BugArg>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// `--nemesis`'s value.
#[derive(Clone)]
struct NemesisList(Vec<NemesisKind>);

/// `--rate`'s value.
#[derive(Clone, Copy)]
struct Rate(Option<f64>);

fn parse_nemesis(s: &str) -> Result<NemesisList, String> {
    if s == "none" || s.is_empty() {
        return Ok(NemesisList(Vec::new()));
    }
    let mut kinds = Vec::new();
    for part in s.split(',').map(str::trim) {
        let kind = NemesisKind::EVERY
            .into_iter()
            .find(|k| k.name() == part)
            .ok_or_else(|| {
                format!(
                    "unknown fault {part:?}: expected partition, kill, unreliable, reorder, pause or none"
                )
            })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(NemesisList(kinds))
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    if s == "unlimited" {
        return Ok(Rate(None));
    }
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(Rate(Some(r))),
        _ => Err(format!(
            "{s:?} is not a positive number of operations per second (or `unlimited`)"
        )),
    }
}

/// `30s`, `2m`, `1h`, `500ms`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 2m, 500ms)"))?;
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{s:?} is not a duration (e.g. 30s, 2m, 500ms)"));
    }
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{s:?}: {e}"))
}

fn parse_seeds(s: &str) -> Result<RangeInclusive<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not a range of seeds like 1..1000"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a seed"))?;
    let b: u64 = b
        .trim()
        .trim_start_matches('=')
        .parse()
        .map_err(|_| format!("{b:?} is not a seed"))?;
    if a > b {
        return Err(format!("empty range of seeds {s:?}"));
    }
    Ok(a..=b)
}

impl RunArgs {
    fn options(&self, seed: u64) -> RunOptions {
        RunOptions {
            nodes: self.nodes,
            clients: self.clients,
            time: self.time,
            workload: match self.workload {
                WorkloadArg::Register => Workload::Register,
                WorkloadArg::Kv => Workload::Kv,
                WorkloadArg::Append => Workload::Append,
                WorkloadArg::ListAppend => Workload::ListAppend,
            },
            nemesis: self.nemesis.0.clone(),
            seed,
            rate: self.rate.0,
            nemesis_on: self.nemesis_on,
            nemesis_off: self.nemesis_off,
            op_timeout: self.op_timeout,
            keys: self.keys,
            ops_per_key: self.ops_per_key.unwrap_or(match self.workload {
                WorkloadArg::ListAppend => jepsen_lite::harness::list_append::MAX_WRITES_PER_KEY,
                _ => 300,
            }),
            recovery: self.recovery,
            check_timeout: self.check_timeout,
            store: self.store.clone(),
            backend: match self.backend {
                BackendArg::Threads => Backend::Threads,
                BackendArg::Sim => Backend::Sim,
                BackendArg::Process => Backend::Process,
            },
            storage: match (self.storage, self.backend) {
                (Some(StorageArg::Memory), _) => Storage::Memory,
                (Some(StorageArg::Disk), _) => Storage::Disk,
                (None, BackendArg::Process) => {
                    jepsen_lite::harness::options::PROCESS_DEFAULT_STORAGE
                }
                (None, _) => Storage::Memory,
            },
            server_bin: self.server_bin.clone(),
            bug: self.bug.map(|b| match b {
                BugArg::LocalReads => jepsen_lite::harness::ServiceBug::LocalReads,
            }),
        }
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: &RunArgs) -> u8 {
    if args.seeds.is_some() && !matches!(args.backend, BackendArg::Sim) {
        eprintln!("error: --seeds sweeps the simulator: add --backend sim");
        return EXIT_ERROR;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000)
            .unwrap_or(0)
    });
    let options = args.options(seed);
    if let Err(e) = options.validate() {
        eprintln!("error: {e}");
        return EXIT_ERROR;
    }
    if let Some(seeds) = &args.seeds {
        return run_sweep(&options, seeds.clone(), args.quiet);
    }
    eprintln!(
        "jepsen-lite run: {} — {} nodes, {} clients, {:?} under {}, seed {}, {} backend, {} storage",
        options.test_name(),
        options.nodes,
        options.clients,
        options.time,
        if options.nemesis.is_empty() {
            "no faults".to_string()
        } else {
            options
                .nemesis
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        },
        seed,
        options.backend.name(),
        options.storage.name()
    );
    let mut bar = ProgressBar::new(options.time, args.quiet);
    let outcome = runner::run(&options, &mut |p| bar.show(p));
    bar.finish();
    match outcome {
        Ok(outcome) => {
            print_summary(&outcome);
            outcome.exit_code()
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

fn run_sweep(options: &RunOptions, seeds: RangeInclusive<u64>, quiet: bool) -> u8 {
    let (first, last) = (*seeds.start(), *seeds.end());
    eprintln!(
        "jepsen-lite run: sweeping seeds {first}..{last} of {} in the simulator ({:?} of virtual time each)",
        options.test_name(),
        options.time
    );
    let started = Instant::now();
    let mut last_print = Instant::now();
    let result = runner::sweep(options, seeds, &mut |seed, validity, ops| {
        if !quiet && (last_print.elapsed() > Duration::from_secs(2) || *validity != Validity::Valid)
        {
            eprintln!(
                "  seed {seed}: {validity:?}, {ops} operations ({:.1} s so far)",
                started.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
    });
    match result {
        Ok(sweep) => {
            println!(
                "{} seeds ({} client operations) in {:.1} s",
                sweep.runs,
                sweep.ops,
                started.elapsed().as_secs_f64()
            );
            match sweep.failure {
                None => {
                    println!("Every seed valid. Everything looks good! ヽ(‘ー`)ノ");
                    0
                }
                Some((seed, outcome)) => {
                    let rerun = RunOptions {
                        seed,
                        ..options.clone()
                    };
                    println!("First failing seed: {seed}; rerun it with:");
                    println!("  {}", rerun.command_line());
                    print_summary(&outcome);
                    outcome.exit_code()
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

fn print_summary(outcome: &Outcome) {
    let mut out = std::io::stdout().lock();
    for line in summary_lines(&outcome.results) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Report: {}", outcome.dir.display());
    let verdict = match outcome.results.valid {
        Validity::Valid => "Everything looks good! ヽ(‘ー`)ノ".to_string(),
        Validity::Invalid => format!(
            "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻  See {}",
            outcome.dir.join("results.json").display()
        ),
        Validity::Unknown => {
            "Errors occurred during analysis, but no anomalies found. ಠ~ಠ".to_string()
        }
    };
    let _ = writeln!(out, "{verdict}");
    let _ = out.flush();
}

/// The progress line on standard error: redrawn in place on a terminal,
/// a line every five seconds otherwise.
struct ProgressBar {
    total: Duration,
    quiet: bool,
    tty: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl ProgressBar {
    fn new(total: Duration, quiet: bool) -> ProgressBar {
        ProgressBar {
            total,
            quiet,
            tty: std::io::stderr().is_terminal(),
            last: None,
            drawn: false,
        }
    }

    fn show(&mut self, p: &Progress) {
        if self.quiet {
            return;
        }
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let fraction = if self.total.is_zero() {
            1.0
        } else {
            (p.elapsed.as_secs_f64() / self.total.as_secs_f64()).min(1.0)
        };
        let width = 24;
        let filled = (fraction * width as f64).round() as usize;
        let bar: String = "█".repeat(filled) + &"░".repeat(width - filled);
        let line = format!(
            "[{:>6.1}/{:.0} s] {bar} {} ops, {} ok | {}: {}",
            p.elapsed.as_secs_f64(),
            self.total.as_secs_f64(),
            p.ops,
            p.ok,
            p.phase,
            p.nemesis.as_deref().unwrap_or("no fault")
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}
