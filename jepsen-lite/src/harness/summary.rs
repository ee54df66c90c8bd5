//! [`summary_lines`]: a run's results on one screen for the terminal (and
//! `jepsen.log`): operations and outcomes per function with their p50/p99
//! latency, availability outside faults and per fault kind, the verdict,
//! and the checker's explanation with the failing operation in full.

use crate::harness::results::{OpStats, Percentiles, Results};

fn percent(availability: Option<f64>) -> String {
    availability.map_or_else(|| "-".into(), |a| format!("{:.1}%", a * 100.0))
}

fn latency_cell(p: Option<Percentiles>, pick: fn(&Percentiles) -> f64) -> String {
    p.map_or_else(|| "-".into(), |p| format_latency(pick(&p)))
}

/// A latency in milliseconds, shortly: `0.42`, `12.3`, `1250`.
fn format_latency(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

const MAX_EXPLANATION_LINES: usize = 8;

/// A one-screen summary for the terminal: operations and outcomes per
/// function with their p50/p99 latency, availability outside faults and
/// per fault kind, and the verdict.
pub fn summary_lines(results: &Results) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {} operations in {:.1} s",
        results.test, results.total.counts.invoked, results.duration_s
    )];
    lines.push(format!(
        "  {:<10} {:>8} {:>8} {:>6} {:>6} {:>10} {:>9} {:>9}",
        "function", "invoked", "ok", "fail", "info", "incomplete", "p50 ms", "p99 ms"
    ));
    let row = |name: &str, stats: &OpStats| {
        let c = &stats.counts;
        format!(
            "  {:<10} {:>8} {:>8} {:>6} {:>6} {:>10} {:>9} {:>9}",
            name,
            c.invoked,
            c.ok,
            c.fail,
            c.info,
            c.incomplete,
            latency_cell(stats.latency_ms.ok, |p| p.p50),
            latency_cell(stats.latency_ms.ok, |p| p.p99),
        )
    };
    for (f, stats) in &results.functions {
        lines.push(row(f, stats));
    }
    lines.push(row("total", &results.total));
    lines.push("  (latencies of ok operations)".into());

    lines.push(
        "availability (ok / completed operations less CAS mismatches, by invocation time):".into(),
    );
    lines.push(format!(
        "  {:<12} {:>7} of {:>7} counted",
        "no fault",
        percent(results.no_fault.availability),
        results.no_fault.counts.counted()
    ));
    for (fault, summary) in &results.faults {
        lines.push(format!(
            "  {:<12} {:>7} of {:>7} counted, {} window{} ({:.1} s)",
            fault,
            percent(summary.ops.availability),
            summary.ops.counts.counted(),
            summary.windows,
            if summary.windows == 1 { "" } else { "s" },
            summary.seconds
        ));
    }

    for fault in &results.never_fired {
        lines.push(format!(
            "WARNING: the {fault} fault never fired: this run did not test it (run longer, or shorten --nemesis-on/--nemesis-off)"
        ));
    }

    let checker = &results.checker;
    let mut verdict = format!(
        "verdict: {} (checked in {:.2} s)",
        checker.validity.label(),
        checker.seconds
    );
    if let Some(page) = &checker.report_html {
        verdict.push_str(&format!("; see {page}"));
    }
    lines.push(verdict);
    if let Some(explanation) = &checker.explanation {
        lines.extend(explanation_lines(explanation));
    }
    lines
}

/// The line of the explanation that opens the failing operation's part.
const FAILING_MARKER: &str = "first operation that could not be linearized";
/// How many lines of the failing operation's part (the operation, its
/// state, the states it was tried against) are printed; each at most
/// [`MAX_LINE_CHARS`] characters.
const MAX_FAILING_LINES: usize = 12;
/// How many of the longest partial linearization's last steps are printed
/// before the failing operation.
const STEPS_BEFORE_FAILING: usize = 3;
const MAX_LINE_CHARS: usize = 240;

/// The checker's explanation for the terminal: the failing operation and
/// the states it was tried against in full (up to [`MAX_FAILING_LINES`]),
/// after the first lines and the last few steps leading to it; the rest is
/// in `results.json`. An explanation without a failing operation: its
/// first [`MAX_EXPLANATION_LINES`] lines.
fn explanation_lines(explanation: &str) -> Vec<String> {
    let clip = |line: &str| {
        let mut l: String = line.chars().take(MAX_LINE_CHARS).collect();
        if line.chars().count() > MAX_LINE_CHARS {
            l.push('…');
        }
        format!("  {l}")
    };
    let all: Vec<&str> = explanation.lines().collect();
    let mut lines = Vec::new();
    let Some(at) = all.iter().position(|l| l.contains(FAILING_MARKER)) else {
        lines.extend(all.iter().take(MAX_EXPLANATION_LINES).map(|l| clip(l)));
        if all.len() > MAX_EXPLANATION_LINES {
            lines.push(format!(
                "  … ({} more lines in results.json)",
                all.len() - MAX_EXPLANATION_LINES
            ));
        }
        return lines;
    };
    let (head, failing) = all.split_at(at);
    let first = head.len().min(3);
    let last = head.len().saturating_sub(first).min(STEPS_BEFORE_FAILING);
    lines.extend(head[..first].iter().map(|l| clip(l)));
    let skipped = head.len() - first - last;
    if skipped > 0 {
        lines.push(format!("  … ({skipped} more lines in results.json)"));
    }
    lines.extend(head[head.len() - last..].iter().map(|l| clip(l)));
    lines.extend(failing.iter().take(MAX_FAILING_LINES).map(|l| clip(l)));
    if failing.len() > MAX_FAILING_LINES {
        lines.push(format!(
            "  … ({} more lines in results.json)",
            failing.len() - MAX_FAILING_LINES
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::options::RunOptions;
    use crate::harness::results::Validity;
    use crate::harness::results::results;
    use crate::harness::results::tests::{checker, history};

    #[test]
    fn the_failing_operation_is_printed_in_full() {
        let mut explanation = String::from(
            "  partition key \"0\" is not linearizable\n  longest partial linearization: 30 of 40\n      #  process\n",
        );
        for i in 0..12 {
            explanation.push_str(&format!("    {i} step {i}\n"));
        }
        explanation.push_str("  first operation that could not be linearized:\n    process 4: read(\"0\") -> 3\n    diagnosis: value 3 was never written\n    state after the partial linearization: 4\n");
        let states: Vec<String> = (0..5).map(|i| format!("state-{i}")).collect();
        explanation.push_str(&format!(
            "    rejected by the model in states: {}\n",
            states.join(", ")
        ));
        let lines = explanation_lines(&explanation).join("\n");
        for needle in [
            "not linearizable",
            "longest partial linearization",
            "… (9 more lines in results.json)",
            "9 step 9",
            "11 step 11",
            "first operation that could not be linearized:",
            "read(\"0\") -> 3",
            "diagnosis: value 3 was never written",
            "state after the partial linearization: 4",
            "state-0, state-1, state-2, state-3, state-4",
        ] {
            assert!(lines.contains(needle), "{needle} missing from\n{lines}");
        }
        assert!(!lines.contains("8 step 8"));
        // Bounded: a failing part of 30 lines shows 12 of them.
        let long = format!(
            "{explanation}{}",
            (0..30)
                .map(|i| format!("    more {i}\n"))
                .collect::<String>()
        );
        let lines = explanation_lines(&long);
        assert!(lines.len() <= 3 + 1 + 3 + 12 + 1, "{lines:#?}");
        assert!(lines.last().unwrap().contains("more lines in results.json"));
    }

    #[test]
    fn the_summary_fits_on_a_screen() {
        let mut summary = checker(Validity::Invalid);
        summary.explanation = Some((0..20).map(|i| format!("line {i}\n")).collect());
        summary.report_html = Some("linearizability.html".into());
        let r = results(&RunOptions::default(), &history(), summary);
        let lines = summary_lines(&r);
        assert!(lines.len() <= 25, "{lines:#?}");
        let text = lines.join("\n");
        for needle in [
            "read",
            "write",
            "cas",
            "total",
            "no fault",
            "partition",
            "33.3%",
            "INVALID",
            "linearizability.html",
            "12 more lines",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }
}
