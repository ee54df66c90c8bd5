//! Human-readable text for a [`Report`]: the verdict line and, for a history
//! that is not linearizable, the failing partition, the longest partial
//! linearization with the state after each operation, and the first
//! operation that could not be linearized with the model's diagnosis
//! when it has one (e.g. a value never written) and the states it was
//! tried against.

use crate::check::Verdict;
use crate::report::{OperationReport, Report};
use std::fmt::Write;

/// How many steps of the longest partial linearization the text shows (the
/// last ones, which lead to the failure); `--json` has them all.
pub const SHOWN_STEPS: usize = 12;
/// Longer descriptions are shortened in the table and the list of
/// rejected states (not in the failing operation and its state).
const MAX_STATE_CHARS: usize = 60;

/// Formats milliseconds for people: `0.42 ms`, `3.1 ms`, `1.25 s`.
pub fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `NAME: linearizable (N ops, P partitions, T)`; the verdict is
/// `linearizable`, `NOT linearizable` or `UNKNOWN` (timed out).
pub fn verdict_line(name: &str, report: &Report) -> String {
    let unfinished = match report.unfinished {
        0 => String::new(),
        n => format!("{n} unfinished, "),
    };
    if report.nothing_to_check() {
        return format!(
            "{name}: nothing to check (no completed operation; {unfinished}{} ops)",
            report.operations
        );
    }
    let (verdict, note) = match report.verdict {
        Verdict::Linearizable => ("linearizable", ""),
        Verdict::NotLinearizable => ("NOT linearizable", ""),
        Verdict::Unknown => ("UNKNOWN", "timed out; "),
    };
    format!(
        "{name}: {verdict} ({note}{} ops, {unfinished}{}, {})",
        report.operations,
        plural(report.partitions.len(), "partition"),
        format_ms(report.elapsed_ms)
    )
}

/// Shortens a long description to its start and end.
fn shorten(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= MAX_STATE_CHARS {
        return s.to_string();
    }
    let head: String = chars[..MAX_STATE_CHARS / 2].iter().collect();
    let tail: String = chars[chars.len() - MAX_STATE_CHARS / 2 + 5..]
        .iter()
        .collect();
    format!("{head}…{tail} ({} chars)", chars.len())
}

/// Where an operation is: its source lines, or else its times.
pub fn place(op: &OperationReport) -> String {
    match (op.lines, op.return_time) {
        (Some(l), _) => match l.complete {
            Some(c) => format!("lines {}-{c}", l.invoke),
            None => format!("line {}-", l.invoke),
        },
        (None, Some(r)) => format!("t {}..{r}", op.call),
        (None, None) => format!("t {}..", op.call),
    }
}

/// The explanation of a non-linearizable or unknown verdict (indented two
/// spaces, ending with a newline); empty for a linearizable one.
pub fn explain(report: &Report) -> String {
    let mut out = String::new();
    match report.verdict {
        Verdict::Linearizable => {}
        Verdict::Unknown => {
            let undecided: Vec<String> = report
                .partitions
                .iter()
                .filter(|p| p.outcome != "linearizable")
                .map(|p| format!("{} ({} ops)", p.name, p.operations))
                .collect();
            let _ = writeln!(
                out,
                "  timed out with {} of {} undecided: {}",
                undecided.len(),
                plural(report.partitions.len(), "partition"),
                undecided.join(", ")
            );
        }
        Verdict::NotLinearizable => match &report.failure {
            None => {
                let _ = writeln!(out, "  (run with explanations for details)");
            }
            Some(f) => {
                let _ = writeln!(
                    out,
                    "  partition {} ({}) is not linearizable",
                    f.partition,
                    plural(f.partition_operations, "operation")
                );
                let n = f.longest.len();
                let shown = n.min(SHOWN_STEPS);
                let _ = write!(
                    out,
                    "  longest partial linearization: {n} of {} operations",
                    f.partition_operations
                );
                if shown < n {
                    let _ = write!(out, " (the last {shown} shown)");
                }
                out.push('\n');
                if n > 0 {
                    let rows: Vec<[String; 5]> = f.longest[n - shown..]
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            [
                                (n - shown + i + 1).to_string(),
                                s.operation.process.to_string(),
                                place(&s.operation),
                                shorten(&s.operation.description),
                                shorten(&s.state_after),
                            ]
                        })
                        .collect();
                    let header =
                        ["#", "process", "where", "operation", "state after"].map(String::from);
                    let widths: Vec<usize> = (0..5)
                        .map(|c| {
                            std::iter::once(&header)
                                .chain(&rows)
                                .map(|r| r[c].chars().count())
                                .max()
                                .unwrap_or(0)
                        })
                        .collect();
                    let line = |r: &[String; 5]| {
                        format!(
                            "    {:>w0$}  {:>w1$}  {:<w2$}  {:<w3$}  {}",
                            r[0],
                            r[1],
                            r[2],
                            r[3],
                            r[4],
                            w0 = widths[0],
                            w1 = widths[1],
                            w2 = widths[2],
                            w3 = widths[3]
                        )
                        .trim_end()
                        .to_string()
                    };
                    let _ = writeln!(out, "{}", line(&header));
                    if shown < n {
                        let _ = writeln!(
                            out,
                            "    {:>w$}  ({} earlier)",
                            "...",
                            n - shown,
                            w = widths[0]
                        );
                    }
                    for r in &rows {
                        let _ = writeln!(out, "{}", line(r));
                    }
                }
                let s = &f.stuck;
                let _ = writeln!(out, "  first operation that could not be linearized:");
                let _ = writeln!(
                    out,
                    "    process {}, {}: {}",
                    s.process,
                    place(s),
                    s.description
                );
                if let Some(diagnosis) = &f.diagnosis {
                    let _ = writeln!(out, "    diagnosis: {diagnosis}");
                }
                let after = if n == 0 {
                    "initial state".to_string()
                } else {
                    "state after the partial linearization".to_string()
                };
                let _ = writeln!(out, "    {after}: {}", f.state_at_stuck);
                let rejected: Vec<String> = f.rejected_states.iter().map(|s| shorten(s)).collect();
                if rejected.is_empty() {
                    let _ = writeln!(
                        out,
                        "    (the model accepts it there, but every order that does leads to a dead end)"
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "    rejected by the model in states: {}",
                        rejected.join(", ")
                    );
                }
            }
        },
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_shortens() {
        assert_eq!(format_ms(0.4234), "0.42 ms");
        assert_eq!(format_ms(3.04), "3.0 ms");
        assert_eq!(format_ms(1250.0), "1.25 s");
        let long = "x".repeat(100);
        let s = shorten(&long);
        assert!(s.contains('…') && s.ends_with("(100 chars)"), "{s}");
        assert_eq!(shorten("abc"), "abc");
    }
}
