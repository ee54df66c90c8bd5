//! The numbers of a run, as written to `results.json`: the verdict, the
//! options, operation counts per function and outcome, latency
//! percentiles, and availability inside and outside each nemesis window;
//! and [`summary_lines`], the same on one screen for the terminal.
//!
//! Also the pairing of a history's invocations with their completions
//! ([`operations`]), which the timeline and the latency plot draw from.
//!
//! Conventions:
//!
//! - An operation's *outcome* is its completion's type, or
//!   [`Outcome::Incomplete`] when it never completed.
//! - Latency is completion time minus invocation time. Percentiles are
//!   nearest-rank (the smallest latency with at least p% of the latencies
//!   at or below it), in milliseconds, computed twice: over `ok`
//!   operations only, and over every completed operation (`ok`, `fail`
//!   and `info`; an `info` latency is how long the client waited before
//!   giving up). Operations that never completed have no latency.
//! - An operation belongs to the nemesis windows its *invocation* falls in
//!   (from the window's start, inclusive, to its stop, exclusive; a window
//!   never stopped runs to the end of the history), and to "no fault" when
//!   it falls in none. Availability is `ok / (ok + fail + info - cas
//!   mismatches)` over the operations invoked there: a CAS that found
//!   another value (a `fail` with error `found …`) is a definite answer
//!   from a working system that says nothing about availability either
//!   way, so it is left out of both sides (and counted apart, as
//!   `cas_mismatch`); every other `fail` (a timed-out read) and every
//!   `info` counts against it. Operations that never completed are left
//!   out too, as nothing is known of them.

use crate::check::Verdict;
use crate::harness::event::{self, Event, Kind, Process, Window};
use crate::harness::options::RunOptions;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Jepsen's `valid?`: true, false or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Validity {
    /// The history is linearizable (serializes as `true`).
    Valid,
    /// It is not (`false`).
    Invalid,
    /// The checker could not decide, e.g. it timed out (`"unknown"`).
    Unknown,
}

impl Validity {
    /// How the terminal shows it: `valid`, `INVALID`, `unknown`.
    pub fn label(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "INVALID",
            Validity::Unknown => "unknown",
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => serializer.serialize_bool(true),
            Validity::Invalid => serializer.serialize_bool(false),
            Validity::Unknown => serializer.serialize_str("unknown"),
        }
    }
}

impl From<Verdict> for Validity {
    fn from(verdict: Verdict) -> Validity {
        match verdict {
            Verdict::Linearizable => Validity::Valid,
            Verdict::NotLinearizable => Validity::Invalid,
            Verdict::Unknown => Validity::Unknown,
        }
    }
}

/// What the checker said about the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckerSummary {
    /// The verdict.
    pub validity: Validity,
    /// How long the check took, in seconds.
    pub seconds: f64,
    /// The checker's account of a failure (or of why it could not decide).
    pub explanation: Option<String>,
    /// The file name of the checker's HTML page, written when the history
    /// is invalid.
    pub report_html: Option<String>,
}

/// How a client operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened.
    Ok,
    /// It certainly did not happen.
    Fail,
    /// It may or may not have happened.
    Info,
    /// It was invoked and never completed (also indeterminate).
    Incomplete,
}

impl Outcome {
    /// The name: `ok`, `fail`, `info`, `incomplete`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// A client operation: its invocation and, if it completed, its
/// completion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpRecord<'a> {
    /// The `invoke` event.
    pub invoke: &'a Event,
    /// The `ok`, `fail` or `info` event of the same process that followed.
    pub completion: Option<&'a Event>,
}

impl OpRecord<'_> {
    /// The client process.
    pub fn process(&self) -> Process {
        self.invoke.process
    }

    /// The function (`read`, `write`, …).
    pub fn f(&self) -> &str {
        &self.invoke.f
    }

    /// How it ended.
    pub fn outcome(&self) -> Outcome {
        match self.completion.map(|c| c.kind) {
            Some(Kind::Ok) => Outcome::Ok,
            Some(Kind::Fail) => Outcome::Fail,
            Some(Kind::Info) => Outcome::Info,
            Some(Kind::Invoke) | None => Outcome::Incomplete,
        }
    }

    /// True for an expected failure: a CAS that found another value
    /// (`fail` of a `cas` whose error is `found …`), a definite answer
    /// from a working system rather than a sign of unavailability.
    pub fn cas_mismatch(&self) -> bool {
        self.outcome() == Outcome::Fail
            && self.f() == "cas"
            && self
                .completion
                .and_then(|c| c.error.as_deref())
                .is_some_and(|e| e.starts_with("found "))
    }

    /// When it was invoked, in nanoseconds.
    pub fn start(&self) -> u64 {
        self.invoke.time
    }

    /// Its latency in nanoseconds, if it completed (zero should the
    /// completion's time precede the invocation's).
    pub fn latency(&self) -> Option<u64> {
        self.completion
            .map(|c| c.time.saturating_sub(self.invoke.time))
    }
}

/// The client operations of a history, in order of invocation: each
/// `invoke` paired with the next completion of the same process.
///
/// Malformed histories are tolerated: a completion with no outstanding
/// invocation is ignored, and an invocation by a process that still has
/// one outstanding leaves the earlier one incomplete.
pub fn operations(events: &[Event]) -> Vec<OpRecord<'_>> {
    let mut ops: Vec<OpRecord<'_>> = Vec::new();
    let mut outstanding: BTreeMap<u64, usize> = BTreeMap::new();
    for event in events {
        let Process::Client(process) = event.process else {
            continue;
        };
        if event.kind == Kind::Invoke {
            outstanding.insert(process, ops.len());
            ops.push(OpRecord {
                invoke: event,
                completion: None,
            });
        } else if let Some(i) = outstanding.remove(&process)
            && let Some(op) = ops.get_mut(i)
        {
            op.completion = Some(event);
        }
    }
    ops
}

/// Operations counted by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// All invoked.
    pub invoked: u64,
    /// Completed `ok`.
    pub ok: u64,
    /// Completed `fail`.
    pub fail: u64,
    /// Completed `info`.
    pub info: u64,
    /// Never completed.
    pub incomplete: u64,
    /// Of the `fail`s, the CASes that found another value: expected
    /// answers, left out of availability.
    pub cas_mismatch: u64,
}

impl OpCounts {
    /// Counts one more operation.
    pub fn add(&mut self, outcome: Outcome) {
        self.invoked += 1;
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Info => self.info += 1,
            Outcome::Incomplete => self.incomplete += 1,
        }
    }

    /// Counts one more operation, and whether it was a CAS mismatch.
    pub fn record(&mut self, op: &OpRecord<'_>) {
        self.add(op.outcome());
        if op.cas_mismatch() {
            self.cas_mismatch += 1;
        }
    }

    /// Those that completed: `ok + fail + info`.
    pub fn completed(&self) -> u64 {
        self.ok + self.fail + self.info
    }

    /// The operations availability counts: those completed, less the CAS
    /// mismatches.
    pub fn counted(&self) -> u64 {
        self.completed().saturating_sub(self.cas_mismatch)
    }

    /// `ok / (completed - cas_mismatch)`, or `None` when that is zero:
    /// the share of the operations that could tell that succeeded (a CAS
    /// that found another value tells nothing and is left out; a timeout,
    /// a timed-out read's `fail` and an `info` count against).
    pub fn availability(&self) -> Option<f64> {
        match self.counted() {
            0 => None,
            n => Some(self.ok as f64 / n as f64),
        }
    }
}

/// Latency percentiles, in milliseconds (nearest rank).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    /// Operations measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// The largest.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `latencies` (nanoseconds, in any order), or
    /// `None` for none.
    pub fn of(latencies: &mut [u64]) -> Option<Percentiles> {
        latencies.sort_unstable();
        let n = latencies.len();
        // Nearest rank, with the quantile in thousandths to stay exact.
        let at = |per_mille: usize| -> f64 {
            let rank = (n * per_mille).div_ceil(1000).clamp(1, n);
            ms(latencies.get(rank - 1).copied().unwrap_or(0))
        };
        (n > 0).then(|| Percentiles {
            count: n as u64,
            p50: at(500),
            p90: at(900),
            p99: at(990),
            p999: at(999),
            max: at(1000),
        })
    }
}

/// Latency percentiles over two sets of operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Over operations that completed `ok` (`null`: none did).
    pub ok: Option<Percentiles>,
    /// Over every completed operation: `ok`, `fail` and `info` (`null`:
    /// none completed).
    pub completed: Option<Percentiles>,
}

impl Latency {
    fn of<'a>(ops: impl Iterator<Item = &'a OpRecord<'a>>) -> Latency {
        let mut ok = Vec::new();
        let mut completed = Vec::new();
        for op in ops {
            if let Some(latency) = op.latency() {
                completed.push(latency);
                if op.outcome() == Outcome::Ok {
                    ok.push(latency);
                }
            }
        }
        Latency {
            ok: Percentiles::of(&mut ok),
            completed: Percentiles::of(&mut completed),
        }
    }
}

/// Counts and latencies of a set of operations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OpStats {
    /// By outcome.
    #[serde(flatten)]
    pub counts: OpCounts,
    /// Latency percentiles.
    pub latency_ms: Latency,
}

/// Operations invoked in some stretch of time, by outcome, and the
/// availability there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Availability {
    /// By outcome.
    #[serde(flatten)]
    pub counts: OpCounts,
    /// `ok / (ok + fail + info - cas_mismatch)`: CASes that found another
    /// value are answers that tell nothing of availability, and are left
    /// out (`null`: nothing else completed).
    pub availability: Option<f64>,
}

impl Availability {
    fn of(counts: OpCounts) -> Availability {
        Availability {
            counts,
            availability: counts.availability(),
        }
    }
}

/// One nemesis window and the operations invoked during it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowAvailability {
    /// The fault, e.g. `partition`.
    pub fault: String,
    /// What it did, e.g. `halves [0 1] [2 3 4]`.
    pub description: String,
    /// When it started, in seconds.
    pub start_s: f64,
    /// When it stopped, in seconds (the end of the history if it never
    /// did).
    pub end_s: f64,
    /// False if the history ended with the fault still on.
    pub stopped: bool,
    /// The operations invoked during it.
    #[serde(flatten)]
    pub ops: Availability,
}

/// The windows of one fault kind together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FaultAvailability {
    /// How many windows.
    pub windows: u64,
    /// Their total length, in seconds.
    pub seconds: f64,
    /// The operations invoked during any of them (each counted once).
    #[serde(flatten)]
    pub ops: Availability,
}

/// Everything `results.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// Jepsen's `valid?`: the checker's verdict.
    pub valid: Validity,
    /// The test's name, e.g. `register-partition-kill`.
    pub test: String,
    /// The options of the run.
    pub options: RunOptions,
    /// The time of the history's last event, in seconds since the run
    /// began.
    pub duration_s: f64,
    /// Every client operation.
    pub total: OpStats,
    /// Per function (`read`, `write`, `cas`, `get`, `put`, `append`).
    pub functions: BTreeMap<String, OpStats>,
    /// Each nemesis window, in order of start.
    pub windows: Vec<WindowAvailability>,
    /// Per fault kind, over all its windows (`windows`: how many times
    /// it fired).
    pub faults: BTreeMap<String, FaultAvailability>,
    /// Requested fault kinds that never fired: the run did not test them.
    pub never_fired: Vec<String>,
    /// Operations invoked outside every window.
    pub no_fault: Availability,
    /// What the checker said.
    pub checker: CheckerSummary,
    /// How `availability` is computed, in one sentence
    /// ([`AVAILABILITY_DEFINITION`]).
    pub availability_definition: &'static str,
    /// The report's plots: `latency.svg`, `rate.svg`,
    /// `latency-quantiles.svg` (and `timeline.html` for the history).
    pub plots: [&'static str; 4],
}

/// How availability is computed, as `results.json` says it.
pub const AVAILABILITY_DEFINITION: &str = "availability = ok / (ok + fail + info - cas_mismatch) over the operations invoked in the stretch of time: a CAS that found another value is a definite answer from a working system and is left out of both sides, while timeouts (info, or a timed-out read's fail) count as unavailable; operations that never completed are left out.";

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn contains(window: &Window, time: u64) -> bool {
    window.start <= time && window.end.is_none_or(|end| time < end)
}

pub use crate::harness::summary::summary_lines;

/// The results of a run: its options, its history and the checker's
/// verdict on it.
pub fn results(options: &RunOptions, events: &[Event], checker: CheckerSummary) -> Results {
    let ops = operations(events);
    let end = events.iter().map(|e| e.time).max().unwrap_or(0);

    let mut total = OpCounts::default();
    let mut by_function: BTreeMap<&str, (OpCounts, Vec<&OpRecord<'_>>)> = BTreeMap::new();
    for op in &ops {
        total.record(op);
        let entry = by_function.entry(op.f()).or_default();
        entry.0.record(op);
        entry.1.push(op);
    }
    let functions = by_function
        .into_iter()
        .map(|(f, (counts, ops))| {
            let stats = OpStats {
                counts,
                latency_ms: Latency::of(ops.into_iter()),
            };
            (f.to_string(), stats)
        })
        .collect();

    let windows = event::windows(events);
    let mut in_window = vec![OpCounts::default(); windows.len()];
    let mut by_fault: BTreeMap<&str, (OpCounts, FaultAvailability)> = BTreeMap::new();
    for window in &windows {
        let entry = by_fault.entry(&window.fault).or_default();
        entry.1.windows += 1;
        entry.1.seconds += seconds(window.end.unwrap_or(end).saturating_sub(window.start));
    }
    let mut no_fault = OpCounts::default();
    for op in &ops {
        let mut faulted = false;
        let mut faults: Vec<&str> = Vec::new();
        for (window, counts) in windows.iter().zip(&mut in_window) {
            if contains(window, op.start()) {
                counts.record(op);
                faulted = true;
                if !faults.contains(&window.fault.as_str()) {
                    faults.push(&window.fault);
                }
            }
        }
        for fault in faults {
            if let Some(entry) = by_fault.get_mut(fault) {
                entry.0.record(op);
            }
        }
        if !faulted {
            no_fault.record(op);
        }
    }

    let never_fired = options
        .nemesis
        .iter()
        .map(|k| k.name().to_string())
        .filter(|name| !by_fault.contains_key(name.as_str()))
        .collect();
    Results {
        never_fired,
        valid: checker.validity,
        test: options.test_name(),
        options: options.clone(),
        duration_s: seconds(end),
        total: OpStats {
            counts: total,
            latency_ms: Latency::of(ops.iter()),
        },
        functions,
        windows: windows
            .iter()
            .zip(in_window)
            .map(|(w, counts)| WindowAvailability {
                fault: w.fault.clone(),
                description: w.description.clone(),
                start_s: seconds(w.start),
                end_s: seconds(w.end.unwrap_or(end).max(w.start)),
                stopped: w.end.is_some(),
                ops: Availability::of(counts),
            })
            .collect(),
        faults: by_fault
            .into_iter()
            .map(|(fault, (counts, mut summary))| {
                summary.ops = Availability::of(counts);
                (fault.to_string(), summary)
            })
            .collect(),
        no_fault: Availability::of(no_fault),
        checker,
        availability_definition: AVAILABILITY_DEFINITION,
        plots: [
            "timeline.html",
            "latency.svg",
            "rate.svg",
            "latency-quantiles.svg",
        ],
    }
}

#[cfg(test)]
pub(crate) mod tests;
