//! One run from start to verdict: the backend produces a history, the
//! checker judges it, and the report goes to `<store>/<test>/<timestamp>/`:
//!
//! - `history.jsonl`: every event ([`crate::format::jsonl`]; check it
//!   again with `jepsen-lite check history.jsonl --format jsonl --model
//!   register|kv`);
//! - `results.json`: the verdict, counts, latencies, availability per
//!   nemesis window and, when invalid, the checker's explanation
//!   ([`crate::harness::results`]);
//! - `linearizability.html`: the checker's page for an invalid history;
//! - `timeline.html`, `latency.svg`: the history drawn;
//! - `jepsen.log`: what the backend and the checker did.
//!
//! `<store>/<test>/latest` and `<store>/latest` link to the newest run.

use crate::elle::{self, ElleOptions};
use crate::explain::explain;
use crate::format::{self, Format, ModelKind, ParsedHistory};
use crate::harness::event::{self, Event};
use crate::harness::results::{self, CheckerSummary, Results, Validity};
use crate::harness::{
    Backend, BackendRun, Progress, RunOptions, Workload, latency, rate, sim, threads, timeline,
};
use crate::models::{Kv, Register};
use crate::{CheckOptions, History, Model, Report, Verdict, check, html};
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    /// Where its report is.
    pub dir: PathBuf,
    /// What `results.json` holds.
    pub results: Results,
}

impl Outcome {
    /// The exit code Jepsen would give: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        exit_code(&self.results.valid)
    }
}

/// Jepsen's exit code for a verdict: 0 valid, 1 invalid, 2 unknown.
pub fn exit_code(validity: &Validity) -> u8 {
    match validity {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    }
}

/// The checker's verdict on a history, with what a report needs.
pub struct Judgement {
    /// For `results.json`.
    pub summary: CheckerSummary,
    /// The checker's HTML page, when the history is not linearizable.
    pub page: Option<String>,
    /// Lines for `jepsen.log`.
    pub log: Vec<String>,
    /// More files of the checker's (name, contents), e.g. `elle.json`.
    pub files: Vec<(&'static str, String)>,
    /// The operation the checker found at fault (the one it could not
    /// linearize, or the first transaction of an anomaly), for the
    /// timeline.
    pub failing: Option<timeline::Failing>,
}

/// Runs `options` on its backend, judges the history and writes the
/// report. Progress goes to `progress` while the backend runs.
pub fn run(options: &RunOptions, progress: &mut dyn FnMut(&Progress)) -> Result<Outcome> {
    options.validate().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let backend_run = match options.backend {
        Backend::Threads => threads::run(options, progress)?,
        Backend::Sim => sim::run(options, progress)?,
        #[cfg(feature = "process")]
        Backend::Process => crate::harness::process::run(options, progress)?,
        #[cfg(not(feature = "process"))]
        Backend::Process => anyhow::bail!("{}", crate::harness::options::NO_PROCESS_BACKEND),
    };
    let ran = started.elapsed();
    let judgement = judge(options.workload, &backend_run.events, options)?;
    let dir = new_run_dir(&options.store, &options.test_name())?;
    let results = write_report(&dir, options, &backend_run, judgement, ran.as_secs_f64())?;
    Ok(Outcome { dir, results })
}

/// The first failing seed of a sweep, or none.
#[derive(Debug)]
pub struct Sweep {
    /// Seeds run.
    pub runs: u64,
    /// Client operations over all runs.
    pub ops: u64,
    /// The first seed whose history is not valid (invalid or unknown),
    /// with its report.
    pub failure: Option<(u64, Outcome)>,
}

/// Runs the simulator for each seed in `seeds` (other options as given)
/// until a history is not valid; writes the report of that one only.
/// `each` hears about every seed's verdict.
pub fn sweep(
    options: &RunOptions,
    seeds: std::ops::RangeInclusive<u64>,
    each: &mut dyn FnMut(u64, &Validity, u64),
) -> Result<Sweep> {
    let mut sweep = Sweep {
        runs: 0,
        ops: 0,
        failure: None,
    };
    for seed in seeds {
        let options = RunOptions {
            seed,
            backend: Backend::Sim,
            ..options.clone()
        };
        options.validate().map_err(anyhow::Error::msg)?;
        let started = Instant::now();
        let backend_run =
            sim::run(&options, &mut |_| {}).with_context(|| format!("seed {seed}"))?;
        let ran = started.elapsed();
        let ops = backend_run
            .events
            .iter()
            .filter(|e| e.is_client() && e.kind != crate::harness::Kind::Invoke)
            .count() as u64;
        sweep.runs += 1;
        sweep.ops += ops;
        let judgement = judge(options.workload, &backend_run.events, &options)?;
        let validity = judgement.summary.validity;
        each(seed, &validity, ops);
        if validity != Validity::Valid {
            let dir = new_run_dir(&options.store, &options.test_name())?;
            let results = write_report(&dir, &options, &backend_run, judgement, ran.as_secs_f64())?;
            sweep.failure = Some((seed, Outcome { dir, results }));
            break;
        }
    }
    Ok(sweep)
}

/// Checks a history (as written to `history.jsonl`, parsed back by the
/// same parser as any other) against the workload's model.
pub fn judge(workload: Workload, events: &[Event], options: &RunOptions) -> Result<Judgement> {
    let text = event::to_jsonl(events);
    let model = match workload {
        Workload::Register => ModelKind::Register,
        Workload::Kv | Workload::Append => ModelKind::Kv,
        Workload::ListAppend => return judge_list_append(&text),
    };
    let parsed = format::parse("history.jsonl", &text, Some(Format::Jsonl), Some(model))
        .context("the recorded history does not parse")?;
    let check_options = CheckOptions {
        timeout: Some(options.check_timeout),
        threads: 0,
        explain: true,
    };
    match parsed {
        ParsedHistory::Register(h) => judge_with(&Register, &h, &check_options),
        ParsedHistory::Kv(h) => judge_with(&Kv, &h, &check_options),
    }
}

fn judge_with<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    options: &CheckOptions,
) -> Result<Judgement> {
    let started = Instant::now();
    let result = check(model, &history.operations, options).context("the checker failed")?;
    let seconds = started.elapsed().as_secs_f64();
    let report = Report::new(model, history, &result);
    let validity = match result.verdict {
        // No completed operation: the run says nothing about the service.
        _ if report.nothing_to_check() => Validity::Unknown,
        Verdict::Linearizable => Validity::Valid,
        Verdict::NotLinearizable => Validity::Invalid,
        Verdict::Unknown => Validity::Unknown,
    };
    let text = explain(&report);
    let mut log = vec![format!(
        "checked {} operations in {:.3} s: {:?}",
        history.operations.len(),
        seconds,
        result.verdict
    )];
    log.extend(text.lines().map(str::to_owned));
    let page = (validity == Validity::Invalid).then(|| {
        let section = html::render_section(model, "history.jsonl", history, &result);
        html::render_page("jepsen-lite: linearizability", &[section])
    });
    let failing = report.failure.as_ref().map(failing_of);
    Ok(Judgement {
        failing,
        summary: CheckerSummary {
            validity,
            seconds,
            explanation: (validity != Validity::Valid).then_some(text),
            report_html: page.as_ref().map(|_| "linearizability.html".to_string()),
        },
        page,
        log,
        files: Vec::new(),
    })
}

/// Judges a list-append history with the Elle-style checker, for strict
/// serializability: every anomaly found is named, with a cycle explained
/// edge by edge (`elle.json` has the report).
fn judge_list_append(text: &str) -> Result<Judgement> {
    let txns = elle::parse_jsonl(text).context("the recorded history does not parse")?;
    let started = Instant::now();
    let report = elle::check(&txns, &ElleOptions::default()).context("the checker failed")?;
    let seconds = started.elapsed().as_secs_f64();
    let validity = match report.valid {
        // No transaction completed: the run says nothing about the service.
        _ if report.ok == 0 => Validity::Unknown,
        true => Validity::Valid,
        false => Validity::Invalid,
    };
    let text = elle::explain(&report);
    let mut log = vec![format!(
        "checked {} transactions ({} ok, {} info, {} fail) for {} in {seconds:.3} s: {} dependency edges, {} strongly connected components",
        report.txns, report.ok, report.info, report.fail, report.model, report.edges, report.sccs
    )];
    log.extend(text.lines().map(str::to_owned));
    let json = serde_json::to_string_pretty(&report).context("cannot encode elle.json")?;
    Ok(Judgement {
        summary: CheckerSummary {
            validity,
            seconds,
            explanation: (validity != Validity::Valid).then_some(text),
            report_html: None,
        },
        page: None,
        log,
        files: vec![("elle.json", json + "\n")],
        failing: elle_failing(&txns, &report),
    })
}

/// How many of the states the failing operation was tried against the
/// timeline lists.
const SHOWN_REJECTED_STATES: usize = 20;

/// The failing operation of a report, as the timeline marks it.
fn failing_of(failure: &crate::report::FailureReport) -> timeline::Failing {
    let stuck = &failure.stuck;
    let mut text = format!(
        "{} (process {}, invoked at {:.6} s)\nstate when it could not be linearized: {}",
        stuck.description,
        stuck.process,
        stuck.call as f64 / 1e9,
        failure.state_at_stuck
    );
    if let Some(diagnosis) = &failure.diagnosis {
        text.push_str(&format!("\ndiagnosis: {diagnosis}"));
    }
    let rejected = &failure.rejected_states;
    if !rejected.is_empty() {
        let states = if rejected.len() == 1 {
            "state"
        } else {
            "states"
        };
        text.push_str(&format!("\ntried against {} {states}:", rejected.len()));
        for state in rejected.iter().take(SHOWN_REJECTED_STATES) {
            text.push_str(&format!("\n  {state}"));
        }
        if rejected.len() > SHOWN_REJECTED_STATES {
            text.push_str(&format!(
                "\n  … {} more in linearizability.html",
                rejected.len() - SHOWN_REJECTED_STATES
            ));
        }
    }
    timeline::Failing {
        headline: "The checker could not linearize this operation".into(),
        process: stuck.process,
        time: stuck.call,
        text,
    }
}

/// The first transaction of the first anomaly found, for the timeline to
/// mark and centre on, with the anomaly in words.
fn elle_failing(txns: &[elle::Txn], report: &elle::ElleReport) -> Option<timeline::Failing> {
    let anomaly = report.anomalies.first()?;
    let first = *anomaly.txns.first()?;
    let txn = txns.iter().find(|t| t.index == first)?;
    Some(timeline::Failing {
        headline: format!(
            "This transaction is in the first anomaly the checker found, {}",
            anomaly.kind.name()
        ),
        process: txn.process,
        time: txn.invoke_ns,
        text: format!(
            "{}: {}",
            anomaly.kind.name(),
            anomaly.explanation.join("; ")
        ),
    })
}

/// Writes every file of the report into `dir`; returns the results.
pub fn write_report(
    dir: &Path,
    options: &RunOptions,
    run: &BackendRun,
    judgement: Judgement,
    seconds: f64,
) -> Result<Results> {
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
    };
    write("history.jsonl", &event::to_jsonl(&run.events))?;
    let title = format!("{} (seed {})", options.test_name(), options.seed);
    let mut links = vec![
        (
            "latency.svg".to_string(),
            "every operation's latency".to_string(),
        ),
        ("rate.svg".into(), "throughput by outcome".into()),
        (
            "latency-quantiles.svg".into(),
            "latency quantiles over time".into(),
        ),
    ];
    if judgement.page.is_some() {
        links.push((
            "linearizability.html".into(),
            "the checker's account of the failure".into(),
        ));
    }
    links.push(("results.json".into(), "the numbers".into()));
    let extras = timeline::Extras {
        failing: judgement.failing.clone(),
        links,
    };
    write(
        "timeline.html",
        &timeline::render_with(&title, &run.events, &run.leaders, &extras),
    )?;
    write("latency.svg", &latency::render(&run.events))?;
    write("rate.svg", &rate::render_rate(&run.events))?;
    write(
        "latency-quantiles.svg",
        &rate::render_quantiles(&run.events),
    )?;
    if let Some(page) = &judgement.page {
        write("linearizability.html", page)?;
    }
    for (name, contents) in &judgement.files {
        write(name, contents)?;
    }
    for (name, contents) in &run.files {
        let path = dir.join(name);
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let results = results::results(options, &run.events, judgement.summary);
    let json = serde_json::to_string_pretty(&results).context("cannot encode results.json")?;
    write("results.json", &(json + "\n"))?;
    let mut log = Vec::new();
    log.push(format!("jepsen-lite run: {}", options.test_name()));
    log.push(format!(
        "options: {}",
        serde_json::to_string(options).unwrap_or_default()
    ));
    log.extend(run.log.iter().cloned());
    log.push(format!("backend ran {seconds:.3} s"));
    log.extend(judgement.log);
    log.extend(results::summary_lines(&results));
    write("jepsen.log", &(log.join("\n") + "\n"))?;
    Ok(results)
}

/// Makes `<store>/<test>/<timestamp>/` and points the `latest` links at it.
pub fn new_run_dir(store: &Path, test: &str) -> Result<PathBuf> {
    let test_dir = store.join(test);
    let stamp = timestamp(SystemTime::now());
    let mut dir = test_dir.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        dir = test_dir.join(format!("{stamp}-{n}"));
        n += 1;
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    link(&test_dir.join("latest"), Path::new(&name))?;
    link(&store.join("latest"), &Path::new(test).join(&name))?;
    Ok(dir)
}

/// Points the symbolic link `at` to `target` (relative to its directory).
#[cfg(unix)]
fn link(at: &Path, target: &Path) -> Result<()> {
    if fs::symlink_metadata(at).is_ok() {
        fs::remove_file(at).with_context(|| format!("cannot replace {}", at.display()))?;
    }
    std::os::unix::fs::symlink(target, at).with_context(|| format!("cannot link {}", at.display()))
}

/// Without symbolic links, `latest` is a file naming the run.
#[cfg(not(unix))]
fn link(at: &Path, target: &Path) -> Result<()> {
    fs::write(at, target.to_string_lossy().as_bytes())
        .with_context(|| format!("cannot write {}", at.display()))
}

/// A UTC timestamp like Jepsen's store names: `20261123T153012.123Z`.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day
/// number (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
        // 2026-11-23 15:30:12.345 UTC.
        let t = UNIX_EPOCH + Duration::from_millis(1_795_447_812_345);
        assert_eq!(timestamp(t), "20261123T153012.345Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(t), "20000229T000000.000Z");
    }

    #[test]
    fn run_directories_are_new_and_latest_points_at_the_newest() {
        let store = std::env::temp_dir().join(format!("jepsen-lite-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&store);
        let a = new_run_dir(&store, "register-kill").unwrap();
        let b = new_run_dir(&store, "register-kill").unwrap();
        assert_ne!(a, b);
        #[cfg(unix)]
        {
            let latest = fs::canonicalize(store.join("register-kill/latest")).unwrap();
            assert_eq!(latest, fs::canonicalize(&b).unwrap());
            let top = fs::canonicalize(store.join("latest")).unwrap();
            assert_eq!(top, fs::canonicalize(&b).unwrap());
        }
        fs::remove_dir_all(&store).unwrap();
    }
}
