//! A self-contained HTML visualization in the spirit of porcupine's: per
//! partition, the operations of each process as bars on a time axis, each
//! numbered with its place in the (partial) linearization, the operation
//! that could not be linearized highlighted, and tooltips with the
//! operation, its times and the state after it. Hovering an operation dims
//! those linearized after it. Everything is inline (CSS, SVG, a few lines of
//! JavaScript): the page fetches nothing.
//!
//! The time axis is compressed as porcupine's is: every distinct call or
//! return time gets one column, so short and long gaps look alike and only
//! the real-time order is shown.

use crate::check::{CheckResult, PartitionOutcome, Verdict};
use crate::explain::format_ms;
use crate::history::{DisplayTime, History, OPEN, Status};
use crate::model::Model;
use rustc_hash::FxHashMap;
use std::fmt::Write;

const UNIT: f64 = 18.0;
const ROW: f64 = 24.0;
const BAR: f64 = 16.0;
const LEFT: f64 = 56.0;
const OPEN_TAIL: f64 = 3.0 * UNIT;

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_html(v: Verdict) -> &'static str {
    match v {
        Verdict::Linearizable => "<span class=\"verdict ok\">linearizable</span>",
        Verdict::NotLinearizable => "<span class=\"verdict bad\">NOT linearizable</span>",
        Verdict::Unknown => "<span class=\"verdict unknown\">UNKNOWN (timed out)</span>",
    }
}

/// The place of each operation in the partition's (partial) linearization:
/// history index -> (1-based position, state after).
struct Placement {
    positions: FxHashMap<usize, (usize, String)>,
    stuck: Option<usize>,
    rejected: Vec<String>,
    state_at_stuck: Option<String>,
}

fn placement<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    outcome: &PartitionOutcome<M::State>,
) -> Placement {
    let mut p = Placement {
        positions: FxHashMap::default(),
        stuck: None,
        rejected: Vec::new(),
        state_at_stuck: None,
    };
    match outcome {
        PartitionOutcome::Linearizable(order) => {
            let mut state = model.init();
            for (k, &i) in order.iter().enumerate() {
                let op = &history.operations[i];
                match model.step(&state, &op.input, &op.output) {
                    Some(next) => state = next,
                    None => break,
                }
                p.positions.insert(i, (k + 1, model.describe_state(&state)));
            }
        }
        PartitionOutcome::NotLinearizable(Some(f)) => {
            for (k, (&i, s)) in f.longest.iter().zip(&f.states).enumerate() {
                p.positions.insert(i, (k + 1, model.describe_state(s)));
            }
            p.stuck = Some(f.stuck);
            p.rejected = f
                .rejected_states
                .iter()
                .map(|s| model.describe_state(s))
                .collect();
            p.state_at_stuck = Some(model.describe_state(&f.state_at_stuck));
        }
        _ => {}
    }
    p
}

/// One history's section: a heading with the verdict and, per partition
/// (the failing one first and open), the timeline and the order table.
pub fn render_section<M: Model>(
    model: &M,
    title: &str,
    history: &History<M::Input, M::Output>,
    result: &CheckResult<M::State>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<section class=\"history\">\n<h2>{} &mdash; {}</h2>\n<p class=\"meta\">model {}, {} operations ({} dropped as failed), {} partition(s), checked in {}</p>",
        escape(title),
        verdict_html(result.verdict),
        escape(model.name()),
        history.operations.len(),
        history.dropped,
        result.partitions.len(),
        format_ms(result.elapsed.as_secs_f64() * 1e3),
    );
    let mut order: Vec<usize> = (0..result.partitions.len()).collect();
    order.sort_by(|&a, &b| partition_order(&result.partitions[a].name, &result.partitions[b].name));
    if let Some(f) = result.failed_partition {
        order.retain(|&p| p != f);
        order.insert(0, f);
    }
    // Partitions the search never decided carry no linearization: one
    // line for them all, saying why, instead of a timeline each.
    let undecided: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&p| {
            matches!(
                result.partitions[p].outcome,
                PartitionOutcome::Cancelled | PartitionOutcome::TimedOut
            )
        })
        .collect();
    order.retain(|p| !undecided.contains(p));
    if !undecided.is_empty() {
        let failed = result
            .failed_partition
            .map(|f| result.partitions[f].name.as_str());
        let names: Vec<String> = undecided
            .iter()
            .map(|&p| {
                let partition = &result.partitions[p];
                format!(
                    "{} ({} ops, {})",
                    partition.name,
                    partition.operations.len(),
                    crate::report::outcome_name(&partition.outcome)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<div class=\"undecided\"><b>{} partition(s) not decided</b>: {} Their operations are not drawn.<details><summary>which</summary>{}</details></div>",
            undecided.len(),
            undecided_reason(failed, &result.partitions, &undecided),
            escape(&names.join(", "))
        );
    }
    for (n, &p) in order.iter().enumerate() {
        let partition = &result.partitions[p];
        let outcome = crate::report::outcome_name(&partition.outcome);
        let _ = writeln!(
            out,
            "<details class=\"partition {outcome}\"{}>\n<summary>partition {} &mdash; {outcome}, {} operation(s)</summary>",
            if n == 0 { " open" } else { "" },
            escape(&partition.name),
            partition.operations.len()
        );
        let placed = placement(model, history, &partition.outcome);
        if let Some(stuck) = placed.stuck.and_then(|i| history.operations.get(i)) {
            let ops: Vec<_> = partition
                .operations
                .iter()
                .filter_map(|&i| history.operations.get(i))
                .collect();
            if let Some(reason) = model.diagnose(stuck, &ops) {
                let _ = writeln!(
                    out,
                    "<p class=\"diagnosis\"><b>Diagnosis:</b> {}</p>",
                    escape(&reason)
                );
            }
        }
        render_timeline(&mut out, model, history, &partition.operations, &placed);
        render_order(&mut out, model, history, &placed);
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
    out
}

/// Partitions in the order of their names, numbers compared as numbers
/// (`key "2"` before `key "10"`).
fn partition_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(u8, u128, &str)> {
        let mut out = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits > 0 {
                let (d, tail) = rest.split_at(digits);
                out.push((0, d.parse().unwrap_or(u128::MAX), d));
                rest = tail;
            } else {
                let other = rest
                    .find(|c: char| c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let (t, tail) = rest.split_at(other);
                out.push((1, 0, t));
                rest = tail;
            }
        }
        out
    }
    parts(a).cmp(&parts(b))
}

/// Why partitions were not decided (escaped HTML).
fn undecided_reason<S>(
    failed: Option<&str>,
    partitions: &[crate::check::PartitionResult<S>],
    undecided: &[usize],
) -> String {
    let cancelled = undecided
        .iter()
        .any(|&p| matches!(partitions[p].outcome, PartitionOutcome::Cancelled));
    let timed_out = undecided
        .iter()
        .any(|&p| matches!(partitions[p].outcome, PartitionOutcome::TimedOut));
    let mut why = String::new();
    if cancelled {
        match failed {
            Some(name) => {
                let _ = write!(
                    why,
                    "the checker stops every other partition as soon as one is found not linearizable, and {} was;",
                    escape(name)
                );
            }
            None => why.push_str("the checker stopped them when it gave up;"),
        }
    }
    if timed_out {
        why.push_str(" the checker's timeout ran out before they were decided;");
    }
    why.push_str(" their verdict is unknown, not a failure.");
    why
}

/// A history time for people: seconds with microseconds (`2.601925 s`)
/// for nanosecond clocks, the raw value for small logical clocks.
fn human_time(t: u64) -> String {
    if t == OPEN {
        "open".into()
    } else if t >= 1_000_000 {
        format!("{:.6} s", t as f64 / 1e9)
    } else {
        DisplayTime(t).to_string()
    }
}

fn render_timeline<M: Model>(
    out: &mut String,
    model: &M,
    history: &History<M::Input, M::Output>,
    ops: &[usize],
    placed: &Placement,
) {
    let mut times: Vec<u64> = ops
        .iter()
        .flat_map(|&i| {
            [
                history.operations[i].call,
                history.operations[i].return_time,
            ]
        })
        .filter(|&t| t != OPEN)
        .collect();
    times.sort_unstable();
    times.dedup();
    let x = |t: u64| -> f64 {
        if t == OPEN {
            LEFT + times.len() as f64 * UNIT + OPEN_TAIL
        } else {
            LEFT + times.partition_point(|&u| u < t) as f64 * UNIT
        }
    };
    let mut clients: Vec<u64> = ops.iter().map(|&i| history.operations[i].client).collect();
    clients.sort_unstable();
    clients.dedup();
    let width = LEFT + times.len() as f64 * UNIT + OPEN_TAIL + UNIT;
    let height = clients.len() as f64 * ROW + 8.0;
    let _ = writeln!(
        out,
        "<div class=\"timeline\"><svg width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">"
    );
    for (row, c) in clients.iter().enumerate() {
        let y = row as f64 * ROW + 4.0;
        let _ = writeln!(
            out,
            "<text class=\"client\" x=\"4\" y=\"{:.1}\">p{c}</text><line class=\"lane\" x1=\"{LEFT}\" x2=\"{width:.0}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
            y + BAR * 0.75,
            y + BAR / 2.0,
            y + BAR / 2.0
        );
    }
    for &i in ops {
        let op = &history.operations[i];
        let row = clients.binary_search(&op.client).unwrap_or(0);
        let y = row as f64 * ROW + 4.0;
        let x0 = x(op.call);
        let x1 = x(op.return_time).max(x0 + UNIT / 2.0);
        let position = placed.positions.get(&i);
        let mut class = String::from("op");
        if placed.stuck == Some(i) {
            class.push_str(" stuck");
        } else if position.is_some() {
            class.push_str(" lin");
        } else {
            class.push_str(" none");
        }
        if op.status == Status::Indeterminate {
            class.push_str(" open");
        }
        let description = model.describe_operation(&op.input, &op.output);
        let mut tip = format!(
            "{description}\nprocess {} · call {} · return {}",
            op.client,
            human_time(op.call),
            human_time(op.return_time)
        );
        if op.return_time != OPEN && op.call >= 1_000_000 {
            let _ = write!(
                tip,
                " · took {}",
                format_ms(op.return_time.saturating_sub(op.call) as f64 / 1e6)
            );
        }
        if let Some(lines) = op.source {
            let _ = write!(tip, " · line {}", lines.invoke);
            if let Some(c) = lines.complete {
                let _ = write!(tip, "-{c}");
            }
        }
        match (position, placed.stuck == Some(i)) {
            (Some((k, state)), _) => {
                let _ = write!(tip, "\nlinearized #{k}; state after: {state}");
            }
            (None, true) => {
                let _ = write!(
                    tip,
                    "\nCOULD NOT BE LINEARIZED after #{}; state there: {}",
                    placed.positions.len(),
                    placed.state_at_stuck.as_deref().unwrap_or("?")
                );
                if !placed.rejected.is_empty() {
                    let _ = write!(tip, "\nrejected in states: {}", placed.rejected.join(", "));
                }
            }
            (None, false) => {}
        }
        let pos_attr = position.map_or(String::new(), |(k, _)| format!(" data-pos=\"{k}\""));
        let _ = write!(
            out,
            "<g class=\"{class}\"{pos_attr}><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR}\" rx=\"3\"/>",
            escape(&tip),
            x1 - x0
        );
        let label = match (position, placed.stuck == Some(i)) {
            (Some((k, _)), _) => k.to_string(),
            (None, true) => "✗".to_string(),
            _ => String::new(),
        };
        if !label.is_empty() && x1 - x0 >= 7.0 * label.chars().count() as f64 + 4.0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
                (x0 + x1) / 2.0,
                y + BAR * 0.75
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg></div>\n");
}

fn render_order<M: Model>(
    out: &mut String,
    model: &M,
    history: &History<M::Input, M::Output>,
    placed: &Placement,
) {
    let mut steps: Vec<(usize, usize, &str)> = placed
        .positions
        .iter()
        .map(|(&i, (k, s))| (*k, i, s.as_str()))
        .collect();
    steps.sort_unstable();
    if steps.is_empty() && placed.stuck.is_none() {
        return;
    }
    out.push_str("<table class=\"order\"><thead><tr><th>#</th><th>process</th><th>operation</th><th>state after</th></tr></thead><tbody>\n");
    for (k, i, state) in steps {
        let op = &history.operations[i];
        let _ = writeln!(
            out,
            "<tr><td>{k}</td><td>p{}</td><td>{}</td><td>{}</td></tr>",
            op.client,
            escape(&model.describe_operation(&op.input, &op.output)),
            escape(state)
        );
    }
    if let Some(i) = placed.stuck {
        let op = &history.operations[i];
        let rejected = if placed.rejected.is_empty() {
            String::new()
        } else {
            format!("; rejected in states {}", placed.rejected.join(", "))
        };
        let _ = writeln!(
            out,
            "<tr class=\"stuck\"><td>✗</td><td>p{}</td><td>{}</td><td>could not be linearized here (state {}){}</td></tr>",
            op.client,
            escape(&model.describe_operation(&op.input, &op.output)),
            escape(placed.state_at_stuck.as_deref().unwrap_or("?")),
            escape(&rejected)
        );
    }
    out.push_str("</tbody></table>\n");
}

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.meta { color: #666; margin: 0.2em 0 0.8em; }
.diagnosis { background: #ffebee; border: 1px solid #e57373; padding: 0.4em 0.7em; border-radius: 4px; }
.undecided { background: #fff8e1; border: 1px solid #ffe082; padding: 0.4em 0.7em; border-radius: 4px; }
.verdict { padding: 0.1em 0.5em; border-radius: 4px; color: #fff; }
.verdict.ok { background: #2e7d32; } .verdict.bad { background: #c62828; } .verdict.unknown { background: #ef6c00; }
details.partition { margin: 0.6em 0; border: 1px solid #ddd; border-radius: 6px; padding: 0.4em 0.8em; }
details.partition > summary { cursor: pointer; font-weight: 600; }
details.not-linearizable > summary { color: #c62828; }
.timeline { overflow: auto; max-height: 70vh; border: 1px solid #eee; margin: 0.6em 0; background: #fcfcfc; }
svg text { font: 11px monospace; text-anchor: middle; pointer-events: none; }
svg text.client { text-anchor: start; fill: #555; }
svg .lane { stroke: #eee; }
.op rect { stroke-width: 1.5; cursor: default; }
.op.lin rect { fill: #bbdefb; stroke: #1565c0; }
.op.none rect { fill: #eeeeee; stroke: #9e9e9e; }
.op.stuck rect { fill: #ffcdd2; stroke: #c62828; stroke-width: 3; }
.op.open rect { stroke-dasharray: 4 3; }
.op:hover rect { fill: #fff59d; }
.op.later { opacity: 0.25; }
table.order { border-collapse: collapse; margin: 0.6em 0; font: 12px monospace; }
table.order td, table.order th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
table.order tr.stuck td { background: #ffcdd2; font-weight: bold; }
"#;

const SCRIPT: &str = r#"
window.addEventListener('error', function (e) { document.body.dataset.jsError = String(e.message || e); });
document.querySelectorAll('svg').forEach(function (svg) {
  var ops = svg.querySelectorAll('g.op');
  ops.forEach(function (g) {
    g.addEventListener('mouseenter', function () {
      var k = Number(g.getAttribute('data-pos'));
      if (!k) return;
      ops.forEach(function (o) {
        var p = Number(o.getAttribute('data-pos'));
        if (p > k) o.classList.add('later');
      });
    });
    g.addEventListener('mouseleave', function () {
      ops.forEach(function (o) { o.classList.remove('later'); });
    });
  });
});
document.body.dataset.svgs = document.querySelectorAll('svg').length;
document.body.dataset.rendered = 'ok';
"#;

/// A complete page around `sections` (from [`render_section`]).
pub fn render_page(title: &str, sections: &[String]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"meta\">Bars are operations from call to return, one lane per process, on a compressed time axis (one column per distinct event time). Numbers give each operation's place in the linearization (for a history that is not linearizable, the longest partial one); the red bar marked ✗ could not be linearized. Dashed bars never returned. Hover for details.</p>\n",
        escape(title),
        escape(title)
    );
    for s in sections {
        out.push_str(s);
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_sort_numbers_as_numbers() {
        let mut names = vec![
            "key \"10\"",
            "key \"2\"",
            "key \"0\"",
            "key \"b\"",
            "key \"1\"",
        ];
        names.sort_by(|a, b| partition_order(a, b));
        assert_eq!(
            names,
            vec![
                "key \"0\"",
                "key \"1\"",
                "key \"2\"",
                "key \"10\"",
                "key \"b\""
            ]
        );
    }

    #[test]
    fn times_are_for_people() {
        assert_eq!(human_time(2_601_925_000), "2.601925 s");
        assert_eq!(human_time(OPEN), "open");
        // Small logical clocks stay as they are.
        assert_eq!(human_time(17), "17");
    }
}
