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
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    const MS: u64 = 1_000_000;

    fn client(index: u64, process: u64, kind: Kind, f: &str, time_ms: u64) -> Event {
        Event {
            index,
            process: Process::Client(process),
            kind,
            f: f.into(),
            key: Some("k".into()),
            value: Json::Null,
            time: time_ms * MS,
            error: None,
            node: None,
        }
    }

    fn nemesis(index: u64, f: &str, time_ms: u64) -> Event {
        Event {
            index,
            process: Process::Nemesis,
            kind: Kind::Info,
            f: f.into(),
            key: None,
            value: json!("halves [0] [1 2]"),
            time: time_ms * MS,
            error: None,
            node: None,
        }
    }

    /// Two processes; a partition from 100 to 200 ms.
    ///
    /// | process | f     | invoked | completed  |
    /// |---------|-------|---------|------------|
    /// | 0       | read  | 0       | ok at 10   |
    /// | 1       | write | 5       | ok at 25   |
    /// | 0       | read  | 20      | ok at 60   |
    /// | 1       | write | 110     | info at 190|
    /// | 0       | read  | 120     | fail at 150|
    /// | 0       | read  | 160     | ok at 170  |
    /// | 2       | write | 210     | never      |
    /// | 0       | cas   | 220     | ok at 230  |
    pub(crate) fn history() -> Vec<Event> {
        let mut events = vec![
            client(0, 0, Kind::Invoke, "read", 0),
            client(0, 1, Kind::Invoke, "write", 5),
            client(0, 0, Kind::Ok, "read", 10),
            client(0, 0, Kind::Invoke, "read", 20),
            client(0, 1, Kind::Ok, "write", 25),
            client(0, 0, Kind::Ok, "read", 60),
            nemesis(0, "start-partition", 100),
            client(0, 1, Kind::Invoke, "write", 110),
            client(0, 0, Kind::Invoke, "read", 120),
            client(0, 0, Kind::Fail, "read", 150),
            client(0, 0, Kind::Invoke, "read", 160),
            client(0, 0, Kind::Ok, "read", 170),
            client(0, 1, Kind::Info, "write", 190),
            nemesis(0, "stop-partition", 200),
            client(0, 2, Kind::Invoke, "write", 210),
            client(0, 0, Kind::Invoke, "cas", 220),
            client(0, 0, Kind::Ok, "cas", 230),
        ];
        for (i, e) in events.iter_mut().enumerate() {
            e.index = i as u64;
        }
        // The failed read timed out, as the harness records it.
        events[9].error = Some("timeout".into());
        events
    }

    pub(crate) fn checker(validity: Validity) -> CheckerSummary {
        CheckerSummary {
            validity,
            seconds: 0.5,
            explanation: None,
            report_html: None,
        }
    }

    #[test]
    fn operations_pair_invocations_with_completions_per_process() {
        let events = history();
        let ops = operations(&events);
        assert_eq!(ops.len(), 8);
        let summary: Vec<(&str, Outcome, Option<u64>)> = ops
            .iter()
            .map(|o| (o.f(), o.outcome(), o.latency().map(|l| l / MS)))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("read", Outcome::Ok, Some(10)),
                ("write", Outcome::Ok, Some(20)),
                ("read", Outcome::Ok, Some(40)),
                ("write", Outcome::Info, Some(80)),
                ("read", Outcome::Fail, Some(30)),
                ("read", Outcome::Ok, Some(10)),
                ("write", Outcome::Incomplete, None),
                ("cas", Outcome::Ok, Some(10)),
            ]
        );
    }

    #[test]
    fn malformed_histories_do_not_confuse_the_pairing() {
        let events = vec![
            client(0, 0, Kind::Ok, "read", 0),      // no invocation: ignored
            client(1, 0, Kind::Invoke, "read", 1),  // left incomplete by the next
            client(2, 0, Kind::Invoke, "write", 2), //
            client(3, 0, Kind::Ok, "write", 1),     // completes before it began
        ];
        let ops = operations(&events);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome(), Outcome::Incomplete);
        assert_eq!((ops[1].outcome(), ops[1].latency()), (Outcome::Ok, Some(0)));
        assert!(operations(&[]).is_empty());
    }

    #[test]
    fn counts_per_function_and_outcome() {
        let r = results(&RunOptions::default(), &history(), checker(Validity::Valid));
        let c = r.total.counts;
        assert_eq!(
            (c.invoked, c.ok, c.fail, c.info, c.incomplete),
            (8, 5, 1, 1, 1)
        );
        let read = r.functions["read"].counts;
        assert_eq!((read.invoked, read.ok, read.fail), (4, 3, 1));
        let write = r.functions["write"].counts;
        assert_eq!((write.ok, write.info, write.incomplete), (1, 1, 1));
        assert_eq!(r.functions["cas"].counts.ok, 1);
        assert_eq!(r.functions.len(), 3);
        assert!((r.duration_s - 0.230).abs() < 1e-12);
        assert_eq!(r.test, RunOptions::default().test_name());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut ns: Vec<u64> = (1..=1000).rev().map(|i| i * MS).collect();
        let p = Percentiles::of(&mut ns).unwrap();
        assert_eq!(
            (p.count, p.p50, p.p90, p.p99, p.p999, p.max),
            (1000, 500.0, 900.0, 990.0, 999.0, 1000.0)
        );
        let p = Percentiles::of(&mut [3 * MS]).unwrap();
        assert_eq!((p.p50, p.p999, p.max), (3.0, 3.0, 3.0));
        let p = Percentiles::of(&mut [4 * MS, 2 * MS]).unwrap();
        assert_eq!((p.p50, p.p90), (2.0, 4.0));
        assert_eq!(Percentiles::of(&mut []), None);
    }

    #[test]
    fn latencies_over_ok_and_over_all_completed() {
        let r = results(&RunOptions::default(), &history(), checker(Validity::Valid));
        // ok: 10, 20, 40, 10, 10 ms; completed adds the fail (30) and the
        // info (80); the incomplete write has none.
        let ok = r.total.latency_ms.ok.unwrap();
        assert_eq!((ok.count, ok.p50, ok.max), (5, 10.0, 40.0));
        let all = r.total.latency_ms.completed.unwrap();
        assert_eq!(
            (all.count, all.p50, all.p90, all.max),
            (7, 20.0, 80.0, 80.0)
        );
        let read = r.functions["read"].latency_ms;
        assert_eq!(read.ok.unwrap().max, 40.0);
        assert_eq!(read.completed.unwrap().count, 4);
        let write = r.functions["write"].latency_ms;
        assert_eq!(
            (write.ok.unwrap().count, write.completed.unwrap().max),
            (1, 80.0)
        );
    }

    #[test]
    fn a_cas_that_found_another_value_is_left_out_of_availability() {
        let mut events = history();
        // The cas at 220 fails with an answer, not a timeout.
        events[16].kind = Kind::Fail;
        events[16].error = Some("found 3".into());
        let r = results(&RunOptions::default(), &events, checker(Validity::Valid));
        let c = r.no_fault.counts;
        assert_eq!((c.ok, c.fail, c.cas_mismatch), (3, 1, 1));
        // 3 ok of 4 completed, the mismatch left out: 3 / 3.
        assert_eq!(r.no_fault.availability, Some(1.0));
        // A timed-out read is no mismatch: it counts against.
        let w = &r.windows[0];
        assert_eq!(w.ops.counts.cas_mismatch, 0);
        assert_eq!(w.ops.availability, Some(1.0 / 3.0));
        // A cas that timed out (fail without `found`) counts against too.
        events[16].error = Some("timeout".into());
        let r = results(&RunOptions::default(), &events, checker(Validity::Valid));
        assert_eq!(r.no_fault.counts.cas_mismatch, 0);
        assert_eq!(r.no_fault.availability, Some(3.0 / 4.0));
        // Only mismatches completed: nothing tells, no number.
        let only = OpCounts {
            invoked: 2,
            fail: 2,
            cas_mismatch: 2,
            ..OpCounts::default()
        };
        assert_eq!(only.availability(), None);
        assert!(r.availability_definition.contains("left out"));
    }

    #[test]
    fn availability_is_attributed_by_invocation_time() {
        let r = results(&RunOptions::default(), &history(), checker(Validity::Valid));
        assert_eq!(r.windows.len(), 1);
        let w = &r.windows[0];
        assert_eq!(
            (w.fault.as_str(), w.description.as_str()),
            ("partition", "halves [0] [1 2]")
        );
        assert_eq!((w.start_s, w.end_s, w.stopped), (0.1, 0.2, true));
        // Invoked in [100, 200): the info write, the failed read, the ok read.
        let c = w.ops.counts;
        assert_eq!((c.invoked, c.ok, c.fail, c.info), (3, 1, 1, 1));
        assert_eq!(w.ops.availability, Some(1.0 / 3.0));
        // Outside: three ok before, the incomplete write and the ok cas after.
        let c = r.no_fault.counts;
        assert_eq!((c.invoked, c.ok, c.incomplete), (5, 4, 1));
        assert_eq!(r.no_fault.availability, Some(1.0));
        let p = r.faults["partition"];
        assert_eq!((p.windows, p.ops.counts.invoked), (1, 3));
        assert!((p.seconds - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_window_never_stopped_runs_to_the_end() {
        let mut events = history();
        events.retain(|e| e.f != "stop-partition");
        let r = results(&RunOptions::default(), &events, checker(Validity::Unknown));
        let w = &r.windows[0];
        assert_eq!((w.end_s, w.stopped), (0.23, false));
        assert_eq!(w.ops.counts.invoked, 5);
        assert_eq!(r.no_fault.counts.invoked, 3);
    }

    #[test]
    fn an_empty_history_has_no_numbers_but_no_nans() {
        let r = results(&RunOptions::default(), &[], checker(Validity::Unknown));
        assert_eq!(r.total.counts, OpCounts::default());
        assert_eq!(r.total.latency_ms, Latency::default());
        assert_eq!(r.no_fault.availability, None);
        let text = serde_json::to_string_pretty(&r).unwrap();
        assert!(!text.contains("NaN"));
        assert!(!summary_lines(&r).is_empty());
    }

    #[test]
    fn validity_serializes_as_jepsen_does() {
        assert_eq!(serde_json::to_value(Validity::Valid).unwrap(), json!(true));
        assert_eq!(
            serde_json::to_value(Validity::Invalid).unwrap(),
            json!(false)
        );
        assert_eq!(
            serde_json::to_value(Validity::Unknown).unwrap(),
            json!("unknown")
        );
        assert_eq!(Validity::from(Verdict::NotLinearizable), Validity::Invalid);
    }

    #[test]
    fn results_serialize_with_their_fields() {
        let r = results(
            &RunOptions::default(),
            &history(),
            checker(Validity::Invalid),
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["valid"], json!(false));
        assert_eq!(json["total"]["invoked"], json!(8));
        assert_eq!(json["total"]["latency_ms"]["ok"]["p50"], json!(10.0));
        assert_eq!(json["functions"]["read"]["fail"], json!(1));
        assert_eq!(json["windows"][0]["fault"], json!("partition"));
        assert_eq!(json["windows"][0]["ok"], json!(1));
        assert_eq!(json["faults"]["partition"]["windows"], json!(1));
        assert_eq!(json["no_fault"]["availability"], json!(1.0));
        assert_eq!(json["checker"]["validity"], json!(false));
        assert_eq!(json["options"]["nodes"], json!(5));
    }
}
