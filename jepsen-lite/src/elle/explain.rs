//! An Elle report in words, for the console and `jepsen.log`: the
//! verdict, then each kind of anomaly found with its count and its
//! examples, each a cycle (or a single bad read) explained step by step.

use super::anomaly::{AnomalyKind, ElleReport};
use std::fmt::Write as _;

/// How many examples of each kind are printed.
pub const PRINTED_EXAMPLES: usize = 2;

/// The report in words.
pub fn explain(report: &ElleReport) -> String {
    let mut out = String::new();
    let verdict = if report.valid { "valid" } else { "NOT valid" };
    let _ = writeln!(
        out,
        "{}: {verdict} ({} transactions: {} ok, {} info, {} fail; {} dependency edges, {} strongly connected components)",
        report.model, report.txns, report.ok, report.info, report.fail, report.edges, report.sccs
    );
    for kind in report.kinds() {
        let count = report.count(kind);
        let examples: Vec<_> = report
            .anomalies
            .iter()
            .filter(|a| a.kind == kind)
            .take(PRINTED_EXAMPLES)
            .collect();
        let _ = writeln!(out, "  {}: {count} ({})", kind.name(), description(kind));
        for (i, anomaly) in examples.iter().enumerate() {
            let _ = writeln!(out, "    example {}:", i + 1);
            for line in &anomaly.explanation {
                let _ = writeln!(out, "      {line}");
            }
        }
        if count > examples.len() {
            let _ = writeln!(
                out,
                "    ({} more; {} examples in the JSON report: elle.json, or `jepsen-lite elle --json`)",
                count - examples.len(),
                report.anomalies.iter().filter(|a| a.kind == kind).count()
            );
        }
    }
    out
}

/// What the kind means, in a few words.
pub fn description(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::G0 => "write cycle: appends ordered both ways",
        AnomalyKind::G1a => "aborted read: a read saw the append of a failed transaction",
        AnomalyKind::G1b => "intermediate read: a read saw a transaction's appends only in part",
        AnomalyKind::G1c => "circular information flow: each transaction saw or overwrote the next",
        AnomalyKind::GSingle => "read skew: a cycle with one anti-dependency",
        AnomalyKind::G2 => "anti-dependency cycle (write skew)",
        AnomalyKind::G0Realtime => "write cycle once real-time order is counted",
        AnomalyKind::G1cRealtime => "circular information flow once real-time order is counted",
        AnomalyKind::GSingleRealtime => {
            "a stale read: a cycle with one anti-dependency once real-time order is counted"
        }
        AnomalyKind::G2Realtime => "an anti-dependency cycle once real-time order is counted",
        AnomalyKind::IncompatibleOrder => "two reads of a key that no single order explains",
        AnomalyKind::DuplicateElements => "a read holds one element twice",
        AnomalyKind::Internal => "a read disagrees with its own transaction's earlier operations",
        AnomalyKind::GarbageRead => "a read of an element never appended",
        AnomalyKind::DuplicateAppend => "an element appended twice (the history breaks uniqueness)",
    }
}
