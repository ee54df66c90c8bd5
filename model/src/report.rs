//! What `check` prints: progress on stderr while the search runs, then the
//! text report or the JSON object on stdout, and the exit status.

use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION, Setup};
use checked_raft::bugs::Bug;
use raft_model::route::Route;
use raft_model::run::{Action, Outcome, Progress, PropertyOutcome, Verdict};
use raft_model::scenarios::{Scenario, out_of_reach};
use raft_model::{Bounds, NetworkKind, RaftState, bug_property, describe_action, describe_servers};
use serde_json::{Value, json};
use stateright::{Expectation, Path};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Whether a progress line is showing on the terminal (to be cleared).
static LINE_SHOWN: AtomicBool = AtomicBool::new(false);
/// When the last plain progress line was printed, in milliseconds since the
/// search started.
static LAST_PLAIN_MS: AtomicU64 = AtomicU64::new(0);
/// Plain progress lines (stderr not a terminal) come at most this often.
const PLAIN_EVERY_MS: u64 = 5_000;

/// The progress callback for this stderr: one line rewritten in place on a
/// terminal, plain lines at most every five seconds otherwise (CI logs).
pub fn progress_reporter() -> fn(&Progress) {
    if std::io::stderr().is_terminal() {
        progress_on_terminal
    } else {
        progress_plain
    }
}

/// One progress line: counts, rate, depth and time so far.
fn progress_line(p: &Progress) -> String {
    let seconds = p.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        (p.states as f64 / seconds) as u64
    } else {
        0
    };
    format!(
        "  {}states {}  unique {}  {} states/s  depth {}  {}s",
        if p.shortest { "shortest: " } else { "" },
        p.states,
        p.unique,
        rate,
        p.depth,
        p.elapsed.as_secs()
    )
}

/// Rewrites the progress line in place.
fn progress_on_terminal(p: &Progress) {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r{}\x1b[K", progress_line(p));
    let _ = stderr.flush();
    LINE_SHOWN.store(true, Ordering::Relaxed);
}

/// Prints a progress line if the last one is five seconds old.
fn progress_plain(p: &Progress) {
    let now = u64::try_from(p.elapsed.as_millis()).unwrap_or(u64::MAX);
    let last = LAST_PLAIN_MS.load(Ordering::Relaxed);
    // A clock behind the last line's is the next search's (the search for
    // a shortest counterexample starts its own).
    if now >= last && now < last.saturating_add(PLAIN_EVERY_MS) {
        return;
    }
    LAST_PLAIN_MS.store(now, Ordering::Relaxed);
    eprintln!("{}", progress_line(p));
}

/// Clears the terminal's progress line, if one is showing.
pub fn end_progress() {
    if LINE_SHOWN.swap(false, Ordering::Relaxed) {
        eprint!("\r\x1b[K");
    }
    // The next search's clock starts again at zero.
    LAST_PLAIN_MS.store(0, Ordering::Relaxed);
}

/// `--list-bugs`: one bug a line, its name first, then the property it
/// breaks and what it does.
pub fn bug_list() -> String {
    let name_width = Bug::ALL.iter().map(|b| b.name().len()).max().unwrap_or(0);
    let property_width = Bug::ALL
        .iter()
        .map(|b| bug_property(*b).len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for bug in Bug::ALL {
        let _ = writeln!(
            out,
            "{:<name_width$}  {:<property_width$}  {}",
            bug.name(),
            bug_property(bug),
            bug.description()
        );
    }
    out
}

/// The bounds and search settings on one line.
pub fn header(setup: &Setup) -> String {
    let options = &setup.options;
    let mut line = format!(
        "{}; symmetry {}; stale messages {}; {} thread(s)",
        setup.bounds,
        if options.symmetry { "on" } else { "off" },
        if options.discard_stale {
            "discarded"
        } else {
            "kept"
        },
        options.threads
    );
    if !options.forget_crashed_state && setup.bounds.crashes > 0 {
        line.push_str("; crashed state kept");
    }
    if !options.subsume_drops
        && setup.bounds.lossy
        && setup.bounds.network == NetworkKind::Duplicating
    {
        line.push_str("; drops explored");
    }
    if !options.subsume_networks && setup.bounds.network == NetworkKind::Duplicating {
        line.push_str("; covered states explored");
    }
    if raft_model::route::applies(&setup.bounds, options) {
        line.push_str("; by the duplicating route");
    }
    if !options.audit {
        line.push_str("; reductions UNAUDITED (their claims about the core taken on trust)");
    }
    if let Some(depth) = options.max_depth {
        let _ = write!(line, "; depth <= {depth}");
    }
    if let Some(timeout) = options.timeout {
        let _ = write!(line, "; timeout {}s", timeout.as_secs());
    }
    if let Some(bug) = setup.bug {
        let _ = write!(line, "; bug {}", bug.name());
    }
    line
}

/// Whether this property's verdict fails the check.
fn fails(bounds: &Bounds, property: &PropertyOutcome) -> bool {
    match property.verdict {
        Verdict::Violated => true,
        Verdict::NotFound => out_of_reach(bounds, property.name).is_none(),
        Verdict::Holds | Verdict::Found | Verdict::Unknown => false,
    }
}

/// The exit status: see the crate documentation.
pub fn exit_status(setup: &Setup, outcome: &Outcome) -> u8 {
    if let Some(bug) = setup.bug {
        return if expected_violation_found(bug, outcome) {
            EXIT_VIOLATION
        } else {
            EXIT_INCOMPLETE
        };
    }
    if outcome.properties.iter().any(|p| fails(&setup.bounds, p)) {
        EXIT_VIOLATION
    } else if !outcome.complete {
        EXIT_INCOMPLETE
    } else {
        EXIT_OK
    }
}

/// Whether the search found the violation that `bug` causes.
fn expected_violation_found(bug: Bug, outcome: &Outcome) -> bool {
    outcome
        .property(bug_property(bug))
        .is_some_and(|p| p.verdict == Verdict::Violated)
}

/// `always` or `sometimes`.
fn expectation_name(expectation: &Expectation) -> &'static str {
    match expectation {
        Expectation::Always => "always",
        Expectation::Sometimes => "sometimes",
        Expectation::Eventually => "eventually",
    }
}

/// The text report: header, counts, the table of verdicts, then a
/// counterexample for every violated property.
pub fn human(setup: &Setup, outcome: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header(setup));
    let _ = writeln!(
        out,
        "states {}{}, unique {}, max depth {}, {:.1} s, {}",
        outcome.states,
        match outcome.subsumed {
            Some(n) => format!(" ({n} covered by a state kept)"),
            None => String::new(),
        },
        outcome.unique,
        outcome.max_depth,
        outcome.elapsed.as_secs_f64(),
        if outcome.complete {
            "complete"
        } else {
            "INCOMPLETE"
        }
    );
    if let Some(route) = &outcome.route {
        out.push_str(&route_line(route));
    }
    if outcome.audit && outcome.discard_stale {
        let ledger = outcome.ledger;
        let _ = writeln!(
            out,
            "audit: {} discard(s) followed along {} step(s) between {} server state(s) in {:.1} s",
            ledger.discards,
            ledger.steps,
            ledger.cores,
            outcome.audit_time.as_secs_f64()
        );
    }
    if let Some(search) = outcome.shortest_search {
        let _ = writeln!(
            out,
            "shortest: {} steps, {} by a search of every state within {} steps ({} states, {} unique{}) in {:.1} s",
            search.steps,
            if search.proven {
                "proven"
            } else if search.breach {
                "NOT proven (the audit after the search found a breach)"
            } else {
                "NOT proven (the search ran out of budget)"
            },
            search.steps.saturating_sub(1),
            search.states,
            search.unique,
            if search.sleep_sets {
                ", sleep sets"
            } else {
                ""
            },
            search.elapsed.as_secs_f64()
        );
    }
    let width = outcome
        .properties
        .iter()
        .map(|p| p.name.len())
        .chain(["property".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out);
    let _ = writeln!(out, "  {:<width$}  {:<9}  verdict", "property", "expects");
    for property in &outcome.properties {
        let verdict = match property.verdict {
            Verdict::Violated => "VIOLATED".to_string(),
            Verdict::NotFound => match out_of_reach(&setup.bounds, property.name) {
                Some(why) => format!("not found (out of reach: {why})"),
                None => "NOT FOUND".to_string(),
            },
            ref other => other.name().to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<9}  {verdict}",
            property.name,
            expectation_name(&property.expectation)
        );
    }
    let out_of_reach_count = outcome
        .properties
        .iter()
        .filter(|p| p.verdict == Verdict::NotFound)
        .filter(|p| out_of_reach(&setup.bounds, p.name).is_some())
        .count();
    if out_of_reach_count > 0 {
        let _ = writeln!(
            out,
            "  (a Sometimes property out of reach of these bounds is not a failure)"
        );
    }
    for property in &outcome.properties {
        if let (Verdict::Violated, Some(path)) = (&property.verdict, &property.path) {
            let _ = writeln!(out);
            out.push_str(&counterexample(property.name, path, property.shortest));
        }
        if let (Verdict::Violated, Some(detail)) = (&property.verdict, &property.detail) {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{} (found by the audit after the search):\n  {detail}",
                property.name
            );
        }
    }
    if let Some(bug) = setup.bug {
        let expected = bug_property(bug);
        let _ = writeln!(out);
        let _ = if expected_violation_found(bug, outcome) {
            writeln!(
                out,
                "bug {}: {expected} violated, as expected: the checker catches it",
                bug.name()
            )
        } else {
            writeln!(
                out,
                "bug {}: NO {expected} violation found within these bounds{}",
                bug.name(),
                if outcome.complete {
                    ""
                } else {
                    " (search incomplete)"
                }
            )
        };
    }
    out
}

/// What the duplicating route did, on one line.
fn route_line(route: &Route) -> String {
    let network = "the duplicating network, which has every run of the unordered one";
    match route.exact {
        None => format!(
            "route: the counts are {network}; {} example(s) and counterexample(s) found there \
             replayed on the unordered network\n",
            route.replayed
        ),
        Some(exact) if !exact.whole => format!(
            "route: the counts are {network}; {} replayed on the unordered network, but not \
             what it found for {}, so the unordered network was searched until it had one of \
             each ({} states, {} unique, {:.1} s)\n",
            route.replayed,
            route.not_replayed.join(", "),
            exact.states,
            exact.unique,
            exact.elapsed.as_secs_f64()
        ),
        Some(_) => format!(
            "route: what {network} ({} states, {} kept, {:.1} s) found for {} does not replay \
             on the unordered network; the counts are the unordered network's own search\n",
            route.states,
            route.unique,
            route.elapsed.as_secs_f64(),
            route.not_replayed.join(", ")
        ),
    }
}

/// A counterexample: the initial servers, then each action and the servers
/// after it. `shortest` says whether it is known to be a shortest one.
fn counterexample(name: &str, path: &Path<RaftState, Action>, shortest: bool) -> String {
    let steps = path.clone().into_vec();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Counterexample for {name} ({} steps):",
        steps.len().saturating_sub(1)
    );
    if !shortest {
        let _ = writeln!(out, "  (not necessarily the shortest)");
    }
    if let Some((initial, _)) = steps.first() {
        let _ = writeln!(out, "  initial state");
        for line in describe_servers(initial) {
            let _ = writeln!(out, "      {line}");
        }
    }
    for (i, pair) in steps.windows(2).enumerate() {
        let [(_, action), (after, _)] = pair else {
            continue;
        };
        if let Some(action) = action {
            let _ = writeln!(out, "  {}. {}", i + 1, describe_action(action));
        }
        for line in describe_servers(after) {
            let _ = writeln!(out, "      {line}");
        }
    }
    if let Some(breach) = steps
        .last()
        .and_then(|(state, _)| state.history.breach.as_ref())
        .filter(|breach| breach.claim.property() == name)
    {
        let _ = writeln!(out, "  {}: {}", breach.claim.property(), breach.detail);
    }
    out
}

/// The bounds as a JSON object, every field named as in [`Bounds`] (the
/// pattern names every field, so that a new bound fails to compile here
/// until it is reported). `bug` is null without the `bug-catalogue` feature.
fn bounds_json(setup: &Setup) -> Value {
    let Bounds {
        servers,
        max_term,
        values,
        max_log,
        crashes,
        network,
        lossy,
        snapshots,
        max_entries,
        heartbeats,
        max_copies,
        async_writes,
        #[cfg(feature = "bug-catalogue")]
            bug: _,
    } = &setup.bounds;
    json!({
        "servers": servers,
        "max_term": max_term,
        "values": values,
        "max_log": max_log,
        "crashes": crashes,
        "network": network.name(),
        "lossy": lossy,
        "snapshots": snapshots,
        "max_entries": max_entries,
        "heartbeats": heartbeats,
        "max_copies": max_copies,
        "async_writes": async_writes,
        "bug": setup.bug.map(Bug::name),
    })
}

/// `--json`: the one object printed on stdout.
pub fn json(setup: &Setup, outcome: &Outcome) -> Value {
    let properties: Vec<Value> = outcome
        .properties
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "expectation": expectation_name(&p.expectation),
                "result": p.verdict.name(),
                "counterexample_length": p.path.as_ref().map(|path| path.clone().into_actions().len()),
                "shortest": p.path.as_ref().map(|_| p.shortest),
                "out_of_reach": out_of_reach(&setup.bounds, p.name),
                "detail": p.detail,
            })
        })
        .collect();
    let shortest_search = outcome.shortest_search.map(|s| {
        json!({
            "steps": s.steps,
            "proven": s.proven,
            "breach": s.breach,
            "sleep_sets": s.sleep_sets,
            "states": s.states,
            "unique": s.unique,
            "seconds": s.elapsed.as_secs_f64(),
        })
    });
    json!({
        "bounds": bounds_json(setup),
        "shortest_search": shortest_search,
        "symmetry": outcome.symmetry,
        "discard_stale": outcome.discard_stale,
        "forget_crashed_state": outcome.forget_crashed_state,
        "subsume_drops": outcome.subsume_drops,
        "subsumed_states": outcome.subsumed,
        "route": outcome.route.as_ref().map(|r| json!({
            "network": "duplicating",
            "states": r.states,
            "kept": r.unique,
            "seconds": r.elapsed.as_secs_f64(),
            "complete": r.complete,
            "replayed": r.replayed,
            "not_replayed": r.not_replayed,
        })),
        "audit": outcome.audit,
        "audit_ledger": {
            "discards": outcome.ledger.discards,
            "server_states": outcome.ledger.cores,
            "steps": outcome.ledger.steps,
            "seconds": outcome.audit_time.as_secs_f64(),
        },
        "states": outcome.states,
        "unique_states": outcome.unique,
        "max_depth": outcome.max_depth,
        "seconds": outcome.elapsed.as_secs_f64(),
        "complete": outcome.complete,
        "properties": properties,
        "exit_status": exit_status(setup, outcome),
    })
}

/// One scenario of the default run, searched.
pub struct ScenarioRun {
    /// The scenario.
    pub scenario: Scenario,
    /// Its bounds and the search options.
    pub setup: Setup,
    /// What the search found.
    pub outcome: Outcome,
}

/// A property's verdict over every scenario of the default run: violated
/// in any, found in any, holds when it held in every complete search; with
/// the scenarios that decided it (those that found or violated it, or all
/// that held it).
fn combined(runs: &[ScenarioRun], name: &str) -> (Verdict, Vec<&'static str>) {
    let verdicts: Vec<(&'static str, &Verdict, bool)> = runs
        .iter()
        .filter_map(|run| {
            let p = run.outcome.property(name)?;
            let reachable = out_of_reach(&run.setup.bounds, name).is_none();
            Some((run.scenario.name, &p.verdict, reachable))
        })
        .collect();
    let having = |wanted: Verdict| -> Vec<&'static str> {
        verdicts
            .iter()
            .filter(|(_, verdict, _)| **verdict == wanted)
            .map(|(scenario, _, _)| *scenario)
            .collect()
    };
    for decisive in [Verdict::Violated, Verdict::Found] {
        let scenarios = having(decisive.clone());
        if !scenarios.is_empty() {
            return (decisive, scenarios);
        }
    }
    // Not found in a scenario that had it within reach fails that
    // scenario; out of reach everywhere cannot happen (scenarios.rs tests
    // it), but would read as "not found".
    let missed: Vec<&'static str> = verdicts
        .iter()
        .filter(|(_, verdict, reachable)| **verdict == Verdict::NotFound && *reachable)
        .map(|(scenario, _, _)| *scenario)
        .collect();
    if !missed.is_empty() || verdicts.iter().all(|(_, v, _)| **v == Verdict::NotFound) {
        return (Verdict::NotFound, missed);
    }
    let held = having(Verdict::Holds);
    if held.len() == verdicts.len() {
        (Verdict::Holds, held)
    } else {
        (Verdict::Unknown, held)
    }
}

/// A scenario in which every property held or was found, in four lines:
/// its bounds, its counts, then what held, what was found and what its
/// bounds put out of reach.
fn scenario_summary(run: &ScenarioRun) -> String {
    let full = human(&run.setup, &run.outcome);
    // The header, the counts and the audit line, as a single run has them.
    let mut out: String = full
        .lines()
        .take_while(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    let properties = &run.outcome.properties;
    let named = |verdict: Verdict, reachable: bool| -> Vec<&str> {
        properties
            .iter()
            .filter(|p| p.verdict == verdict)
            .filter(|p| out_of_reach(&run.setup.bounds, p.name).is_none() == reachable)
            .map(|p| p.name)
            .collect()
    };
    let always = properties
        .iter()
        .filter(|p| p.expectation == Expectation::Always)
        .count();
    let _ = writeln!(out, "  holds: all {always} always properties");
    let _ = writeln!(out, "  found: {}", named(Verdict::Found, true).join("; "));
    let missing = named(Verdict::NotFound, false);
    if !missing.is_empty() {
        let _ = writeln!(out, "  out of reach here: {}", missing.join("; "));
    }
    out
}

/// The exit status of the default run: a violation (or a reachable
/// `Sometimes` never found) in any scenario, else incomplete if any search
/// was, else every property held.
pub fn suite_exit_status(runs: &[ScenarioRun]) -> u8 {
    let statuses: Vec<u8> = runs
        .iter()
        .map(|run| exit_status(&run.setup, &run.outcome))
        .collect();
    if statuses.contains(&EXIT_VIOLATION) {
        EXIT_VIOLATION
    } else if statuses.contains(&EXIT_INCOMPLETE) {
        EXIT_INCOMPLETE
    } else {
        EXIT_OK
    }
}

/// The text report of the default run: each scenario's report under its
/// name, then every property's verdict over all of them.
pub fn suite_human(runs: &[ScenarioRun]) -> String {
    let mut out = String::new();
    for run in runs {
        let _ = writeln!(
            out,
            "== scenario {}: {}",
            run.scenario.name, run.scenario.about
        );
        if runs.len() > 1 && exit_status(&run.setup, &run.outcome) == EXIT_OK {
            out.push_str(&scenario_summary(run));
        } else {
            // Every verdict and counterexample, as a single run shows them.
            out.push_str(&human(&run.setup, &run.outcome));
        }
        let _ = writeln!(out);
    }
    if runs.len() == 1 {
        // One scenario (`--scenario NAME`): its own table says it all.
        return out;
    }
    let seconds: f64 = runs.iter().map(|r| r.outcome.elapsed.as_secs_f64()).sum();
    let states: usize = runs.iter().map(|r| r.outcome.states).sum();
    let unique: usize = runs.iter().map(|r| r.outcome.unique).sum();
    let complete = runs.iter().all(|r| r.outcome.complete);
    let _ = writeln!(
        out,
        "== every property over {} scenarios: states {states}, unique {unique}, {seconds:.1} s, {}",
        runs.len(),
        if complete { "complete" } else { "INCOMPLETE" }
    );
    let width = raft_model::PROPERTIES
        .iter()
        .map(|(_, name)| name.len())
        .chain(["property".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out);
    let _ = writeln!(out, "  {:<width$}  {:<9}  verdict", "property", "expects");
    for (expectation, name) in raft_model::PROPERTIES {
        let (verdict, scenarios) = combined(runs, name);
        let verdict = match verdict {
            Verdict::Holds => format!("holds in all {}", scenarios.len()),
            Verdict::Found => format!("found ({})", scenarios.join(", ")),
            Verdict::Violated => format!("VIOLATED ({})", scenarios.join(", ")),
            Verdict::NotFound if scenarios.is_empty() => {
                "not found (out of reach of every scenario)".to_string()
            }
            Verdict::NotFound => format!("NOT FOUND ({})", scenarios.join(", ")),
            Verdict::Unknown => format!("unknown (holds in {})", scenarios.join(", ")),
        };
        let _ = writeln!(
            out,
            "  {name:<width$}  {:<9}  {verdict}",
            expectation_name(&expectation)
        );
    }
    out
}

/// `--json` for the default run: one object with each scenario's object
/// (as a single run prints it, plus its name) and the combined verdicts.
pub fn suite_json(runs: &[ScenarioRun]) -> Value {
    let scenarios: Vec<Value> = runs
        .iter()
        .map(|run| {
            let mut object = json(&run.setup, &run.outcome);
            object["scenario"] = json!(run.scenario.name);
            object["about"] = json!(run.scenario.about);
            object
        })
        .collect();
    let properties: Vec<Value> = raft_model::PROPERTIES
        .iter()
        .map(|(expectation, name)| {
            let (verdict, scenarios) = combined(runs, name);
            json!({
                "name": name,
                "expectation": expectation_name(expectation),
                "result": verdict.name(),
                "scenarios": scenarios,
            })
        })
        .collect();
    json!({
        "scenarios": scenarios,
        "properties": properties,
        "states": runs.iter().map(|r| r.outcome.states).sum::<usize>(),
        "unique_states": runs.iter().map(|r| r.outcome.unique).sum::<usize>(),
        "seconds": runs.iter().map(|r| r.outcome.elapsed.as_secs_f64()).sum::<f64>(),
        "complete": runs.iter().all(|r| r.outcome.complete),
        "exit_status": suite_exit_status(runs),
    })
}
