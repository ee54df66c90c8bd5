//! The `jepsen-lite` command line: `jepsen-lite check FILE...` checks
//! histories for linearizability; `jepsen-lite elle FILE...` checks
//! list-append histories of transactions (Elle-style); `jepsen-lite run`
//! runs the key/value service under a nemesis and checks its history.
//!
//! Exit codes (Jepsen's): 0 when every history is linearizable (valid), 1
//! when any is not, 2 when any is unknown (timed out) and none is not, 254
//! for bad arguments, a file that cannot be read or parsed, or a run that
//! could not be carried out.

mod elle;
mod run;

use anyhow::{Context, Result};
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use jepsen_lite::explain::{explain, format_ms, verdict_line};
use jepsen_lite::format::{self, Format, ModelKind, ParsedHistory};
use jepsen_lite::models::{Kv, Register};
use jepsen_lite::{CheckOptions, History, Model, Report, Verdict, check, html};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code: every history linearizable.
const EXIT_OK: u8 = 0;
/// Exit code: some history not linearizable.
const EXIT_NOT_LINEARIZABLE: u8 = 1;
/// Exit code: some history unknown (or with nothing to check), none not
/// linearizable.
const EXIT_UNKNOWN: u8 = 2;
/// Exit code: bad arguments or unreadable input.
const EXIT_BAD_ARGUMENTS: u8 = 254;

#[derive(Parser)]
#[command(
    name = "jepsen-lite",
    version,
    about = "A small Jepsen: a porcupine-class linearizability checker and a fault-injection harness",
    long_about = "A small Jepsen: a porcupine-class linearizability checker (`check`) and a \
        harness that runs the checked-raft key/value service under client load and a \
        nemesis and checks the history (`run`).\n\n\
        Exit codes: 0 all linearizable (valid), 1 any not linearizable, \
        2 any unknown (timed out), 254 bad arguments, unreadable input or a failed run."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check histories for linearizability.
    Check(CheckArgs),
    /// Run the key/value service under client load and a nemesis, record
    /// the history, check it and write a report.
    Run(run::RunArgs),
    /// Check list-append histories (transactions) for strict
    /// serializability with the Elle-style checker, naming each anomaly.
    Elle(elle::ElleArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum ModelArg {
    /// A nil-able read/write/cas register (per key if operations have keys).
    Register,
    /// A key/value store with get/put/append, partitioned per key.
    Kv,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Jepsen etcd logs: `INFO jepsen.util - 3 :ok :read 4`.
    JepsenEtcd,
    /// porcupine kv logs: `{:process 0, :type :invoke, :f :get, ...}`.
    PorcupineKv,
    /// JSON lines: `{"process": 0, "type": "invoke", "f": "read", "time": 1}`.
    Jsonl,
}

#[derive(Args)]
struct CheckArgs {
    /// History files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The model to check against [default: implied by the format, or for
    /// jsonl by the first event's function].
    #[arg(long, value_enum)]
    model: Option<ModelArg>,
    /// The files' format [default: detected from the first line].
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Give up on a history after SECS seconds (fractions allowed); its
    /// verdict is then unknown.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    timeout: Option<Duration>,
    /// Write a self-contained HTML visualization of all histories.
    #[arg(long, value_name = "OUT.html")]
    html: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    json: bool,
    /// How many partitions to search at once [default: all cores; 1 checks
    /// them one after the other].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("the timeout must be positive".to_string());
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// One file's entry in the JSON output.
#[derive(Serialize)]
struct FileEntry {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    report: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, Default)]
struct Summary {
    histories: usize,
    linearizable: usize,
    not_linearizable: usize,
    unknown: usize,
    /// Histories without a completed operation (counted as unknown: exit 2).
    nothing_to_check: usize,
    errors: usize,
    elapsed_ms: f64,
    exit_code: u8,
}

#[derive(Serialize)]
struct JsonOutput {
    files: Vec<FileEntry>,
    summary: Summary,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_BAD_ARGUMENTS),
            };
        }
    };
    match cli.command {
        Command::Check(args) => ExitCode::from(run_check(&args)),
        Command::Run(args) => ExitCode::from(run::run(&args)),
        Command::Elle(args) => ExitCode::from(elle::run(&args)),
    }
}

fn run_check(args: &CheckArgs) -> u8 {
    let start = Instant::now();
    let options = CheckOptions {
        timeout: args.timeout,
        threads: args.threads,
        explain: true,
    };
    let format = args.format.map(|f| match f {
        FormatArg::JepsenEtcd => Format::JepsenEtcd,
        FormatArg::PorcupineKv => Format::PorcupineKv,
        FormatArg::Jsonl => Format::Jsonl,
    });
    let model = args.model.map(|m| match m {
        ModelArg::Register => ModelKind::Register,
        ModelArg::Kv => ModelKind::Kv,
    });
    let mut entries = Vec::new();
    let mut sections = Vec::new();
    let mut summary = Summary::default();
    for path in &args.files {
        let name = path.display().to_string();
        summary.histories += 1;
        let checked = std::fs::read_to_string(path)
            .with_context(|| format!("{name}: cannot read"))
            .and_then(|text| {
                let detected = format.or_else(|| Format::detect(&text));
                let parsed = format::parse(&name, &text, format, model)?;
                let html = args.html.is_some().then_some(&mut sections);
                let report = match parsed {
                    ParsedHistory::Register(h) => check_one(&Register, &name, &h, &options, html)?,
                    ParsedHistory::Kv(h) => check_one(&Kv, &name, &h, &options, html)?,
                };
                Ok((detected, report))
            });
        match checked {
            Ok((detected, report)) => {
                match report.verdict {
                    _ if report.nothing_to_check() => summary.nothing_to_check += 1,
                    Verdict::Linearizable => summary.linearizable += 1,
                    Verdict::NotLinearizable => summary.not_linearizable += 1,
                    Verdict::Unknown => summary.unknown += 1,
                }
                if !args.json {
                    emit(&format!(
                        "{}\n{}",
                        verdict_line(&name, &report),
                        explain(&report)
                    ));
                }
                entries.push(FileEntry {
                    file: name,
                    format: detected.map(|f| f.name().to_string()),
                    report: Some(report),
                    error: None,
                });
            }
            Err(e) => {
                summary.errors += 1;
                if !args.json {
                    eprintln!("error: {e:#}");
                }
                entries.push(FileEntry {
                    file: name,
                    format: None,
                    report: None,
                    error: Some(format!("{e:#}")),
                });
            }
        }
    }
    if let Some(out) = &args.html {
        let page = html::render_page("jepsen-lite linearizability check", &sections);
        if let Err(e) = std::fs::write(out, page) {
            summary.errors += 1;
            eprintln!("{}: error: cannot write the HTML page: {e}", out.display());
        }
    }
    summary.elapsed_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    summary.exit_code = if summary.errors > 0 {
        EXIT_BAD_ARGUMENTS
    } else if summary.not_linearizable > 0 {
        EXIT_NOT_LINEARIZABLE
    } else if summary.unknown > 0 || summary.nothing_to_check > 0 {
        EXIT_UNKNOWN
    } else {
        EXIT_OK
    };
    if args.json {
        let output = JsonOutput {
            files: entries,
            summary,
        };
        match serde_json::to_string_pretty(&output) {
            Ok(s) => emit(&format!("{s}\n")),
            Err(e) => {
                eprintln!("error: cannot write JSON: {e}");
                return EXIT_BAD_ARGUMENTS;
            }
        }
        output.summary.exit_code
    } else {
        let mut line = format!(
            "{} {}: {} linearizable, {} not, {} unknown",
            summary.histories,
            if summary.histories == 1 {
                "history"
            } else {
                "histories"
            },
            summary.linearizable,
            summary.not_linearizable,
            summary.unknown
        );
        if summary.nothing_to_check > 0 {
            line.push_str(&format!(
                ", {} with nothing to check",
                summary.nothing_to_check
            ));
        }
        if summary.errors > 0 {
            line.push_str(&format!(", {} with errors", summary.errors));
        }
        emit(&format!("{line} in {}\n", format_ms(summary.elapsed_ms)));
        summary.exit_code
    }
}

/// Writes to standard output, ignoring errors: a reader that went away
/// (`jepsen-lite check ... | head`) does not change the verdict or the exit
/// code.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn check_one<M: Model>(
    model: &M,
    name: &str,
    history: &History<M::Input, M::Output>,
    options: &CheckOptions,
    html: Option<&mut Vec<String>>,
) -> Result<Report> {
    let result = check(model, &history.operations, options)
        .with_context(|| format!("{name}: cannot check"))?;
    if let Some(sections) = html {
        sections.push(html::render_section(model, name, history, &result));
    }
    Ok(Report::new(model, history, &result))
}
