//! `latency.svg`: every completed client operation as a point, at its
//! invocation time (x, seconds) and its latency (y, milliseconds, log
//! scale), coloured by outcome (`ok` green, `info` orange, `fail` pink)
//! and shaped by function (reads circles, writes squares, CAS diamonds,
//! appends triangles), over the nemesis windows drawn as shaded bands.
//!
//! The SVG is hand-written and standalone (an inline stylesheet, no
//! scripts); each point carries a `<title>` that viewers show on hover.
//!
//! - Operations that never completed have no latency and are not drawn
//!   (the subtitle counts them).
//! - The y axis spans whole decades around the latencies measured; a zero
//!   latency is drawn on its bottom edge.
//! - Large histories are thinned so the file stays small and the picture
//!   the same: points that would fall in the same
//!   [`CELL`]-pixel cell with the same outcome and shape are drawn once,
//!   and if more than [`MAX_POINTS`] remain, every k-th of them is kept
//!   (in order of invocation). The subtitle says when either happened.

use crate::harness::event::{self, Event, Process};
use crate::harness::results::{OpRecord, Outcome, operations};
use crate::html::escape;
use std::collections::HashSet;
use std::fmt::Write;

/// The most points drawn; beyond it, every k-th is kept.
pub const MAX_POINTS: usize = 20_000;

/// Points of one outcome and shape closer than this (in pixels, on both
/// axes) are drawn as one.
pub const CELL: f64 = 1.5;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 86.0;
const RIGHT: f64 = 24.0;
/// The top of the nemesis strips (the plot's top without them).
const HEADER: f64 = 90.0;
/// The height of one fault kind's strip, above the plot.
const STRIP: f64 = 18.0;
const BOTTOM: f64 = 56.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = 460.0;
/// Room inside the plot above the highest and below the lowest latency.
const PAD: f64 = 8.0;

/// The lowest and highest decades the y axis may show: 1 ns and ~28 h.
const MIN_DECADE: i32 = -6;
const MAX_DECADE: i32 = 8;

const STYLE: &str = "
text { font: 12px system-ui, sans-serif; fill: #333; }
.title { font-size: 17px; font-weight: 600; }
.sub { fill: #666; }
.axis { stroke: #444; stroke-width: 1; fill: none; }
.grid { stroke: #e6e6e6; stroke-width: 1; }
.minor { stroke: #f3f3f3; stroke-width: 1; }
.tick { font-size: 11px; fill: #555; }
.strip { font-size: 11px; }
.fault { font-size: 11px; fill: #555; text-anchor: end; }
.pt, .mark { fill-opacity: 0.6; stroke-width: 0.6; }
.ok { fill: #2e7d32; stroke: #1b5e20; }
.info { fill: #ef6c00; stroke: #b53d00; }
.fail { fill: #d81b60; stroke: #880e4f; }
.shape { fill: #888; stroke: #555; }
.empty { font-size: 15px; fill: #999; text-anchor: middle; }
";

/// A function's marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
}

impl Shape {
    fn of(f: &str) -> Shape {
        match f {
            "write" | "put" => Shape::Square,
            "cas" => Shape::Diamond,
            "append" => Shape::Triangle,
            _ => Shape::Circle,
        }
    }

    /// The marker centred on (x, y), with its class and an optional
    /// `<title>`.
    fn draw(self, out: &mut String, x: f64, y: f64, class: &str, title: &str) {
        let close = if title.is_empty() {
            "/>".to_string()
        } else {
            format!("><title>{title}</title>")
        };
        let _ = match self {
            Shape::Circle => write!(
                out,
                "<circle class=\"{class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.6\"{close}"
            ),
            Shape::Square => write!(
                out,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"4.6\" height=\"4.6\"{close}",
                x - 2.3,
                y - 2.3
            ),
            Shape::Diamond => write!(
                out,
                "<path class=\"{class}\" d=\"M{x:.1} {:.1}l3.2 3.2-3.2 3.2-3.2-3.2z\"{close}",
                y - 3.2
            ),
            Shape::Triangle => write!(
                out,
                "<path class=\"{class}\" d=\"M{x:.1} {:.1}l3.2 5.4h-6.4z\"{close}",
                y - 3.4
            ),
        };
        if !title.is_empty() {
            let _ = match self {
                Shape::Circle => write!(out, "</circle>"),
                Shape::Square => write!(out, "</rect>"),
                Shape::Diamond | Shape::Triangle => write!(out, "</path>"),
            };
        }
    }
}

/// A fault's band colour.
pub(crate) fn fault_colour(fault: &str) -> &'static str {
    match fault {
        "partition" => "#1e88e5",
        "kill" => "#8e24aa",
        "unreliable" => "#6d4c41",
        "reorder" => "#00897b",
        _ => "#757575",
    }
}

/// Escapes user data for XML or HTML, replacing the control characters
/// XML 1.0 does not allow, and shortens it to `max` characters.
pub(crate) fn text(s: &str, max: usize) -> String {
    let mut clean: String = s
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .take(max)
        .collect();
    if s.chars().count() > max {
        clean.push('…');
    }
    escape(&clean)
}

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `target`
/// ticks over `span`.
pub(crate) fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    if step.is_finite() && step > 0.0 {
        step
    } else {
        1.0
    }
}

/// A time-axis label for `t` seconds with ticks `step` apart.
pub(crate) fn seconds_label(t: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().clamp(0.0, 9.0) as usize
    };
    format!("{t:.decimals$}")
}

/// A latency-axis label for 10^`decade` milliseconds.
fn decade_label(decade: i32) -> String {
    match decade {
        d if d < -3 => format!("{} ns", 10u64.pow((d + 6).unsigned_abs())),
        d if d < 0 => format!("{} µs", 10u64.pow((d + 3).unsigned_abs())),
        d if d < 3 => format!("{} ms", 10u64.pow(d.unsigned_abs())),
        d => format!("{} s", 10u64.pow((d - 3).unsigned_abs())),
    }
}

fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

/// The y axis: whole decades of milliseconds, drawn from `top` down.
struct YAxis {
    lo: i32,
    hi: i32,
    top: f64,
}

impl YAxis {
    fn around(latencies_ms: impl Iterator<Item = f64>, top: f64) -> YAxis {
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for ms in latencies_ms.filter(|ms| *ms > 0.0 && ms.is_finite()) {
            min = min.min(ms);
            max = max.max(ms);
        }
        if !min.is_finite() {
            return YAxis { lo: -1, hi: 3, top };
        }
        let lo = (min.log10().floor() as i32).clamp(MIN_DECADE, MAX_DECADE - 1);
        let hi = (max.log10().ceil() as i32).clamp(lo + 1, MAX_DECADE);
        YAxis { lo, hi, top }
    }

    /// The y coordinate of a latency; clamped to the axis (so a zero
    /// latency is at the bottom).
    fn y(&self, ms: f64) -> f64 {
        let decades = f64::from(self.hi - self.lo);
        let log = if ms > 0.0 && ms.is_finite() {
            ms.log10().clamp(f64::from(self.lo), f64::from(self.hi))
        } else {
            f64::from(self.lo)
        };
        self.top + PAD + (PLOT_H - 2.0 * PAD) * (f64::from(self.hi) - log) / decades
    }
}

struct Point<'a> {
    op: OpRecord<'a>,
    outcome: Outcome,
    shape: Shape,
    x: f64,
    y: f64,
}

/// The latency plot of a history, as a standalone SVG document.
pub fn render(events: &[Event]) -> String {
    let ops = operations(events);
    let end_ns = events.iter().map(|e| e.time).max().unwrap_or(0);
    let end_s = if end_ns == 0 {
        1.0
    } else {
        end_ns as f64 / 1e9
    };
    let x_of = |ns: u64| LEFT + PLOT_W * ((ns as f64 / 1e9) / end_s).clamp(0.0, 1.0);
    let completed: Vec<(OpRecord<'_>, u64)> = ops
        .iter()
        .filter_map(|op| op.latency().map(|l| (*op, l)))
        .collect();
    let incomplete = ops.len() - completed.len();
    let windows = event::windows(events);
    let mut faults: Vec<&str> = Vec::new();
    for w in &windows {
        if !faults.contains(&w.fault.as_str()) {
            faults.push(&w.fault);
        }
    }
    let top = HEADER + STRIP * faults.len() as f64 + if faults.is_empty() { 0.0 } else { 6.0 };
    let height = top + PLOT_H + BOTTOM;
    let y_axis = YAxis::around(completed.iter().map(|(_, l)| *l as f64 / 1e6), top);

    // Thin the points: one per pixel cell, outcome and shape; then every
    // k-th if still too many.
    let mut seen = HashSet::new();
    let mut points: Vec<Point<'_>> = completed
        .iter()
        .map(|&(op, latency)| Point {
            op,
            outcome: op.outcome(),
            shape: Shape::of(op.f()),
            x: x_of(op.start()),
            y: y_axis.y(latency as f64 / 1e6),
        })
        .filter(|p| seen.insert(((p.x / CELL) as i64, (p.y / CELL) as i64, p.outcome, p.shape)))
        .collect();
    let merged = completed.len() - points.len();
    let stride = points.len().div_ceil(MAX_POINTS).max(1);
    if stride > 1 {
        points = points.into_iter().step_by(stride).collect();
    }
    // The rarer outcomes on top.
    points.sort_by_key(|p| match p.outcome {
        Outcome::Ok => 0,
        Outcome::Info => 1,
        _ => 2,
    });

    let mut out = String::with_capacity(4096 + points.len() * 160);
    let _ = writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">\n<style>{STYLE}</style>\n<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#fff\"/>"
    );

    // Title, subtitle, legend.
    let count = |o: Outcome| completed.iter().filter(|(op, _)| op.outcome() == o).count();
    let _ = writeln!(
        out,
        "<text class=\"title\" x=\"{LEFT}\" y=\"26\">Latency by invocation time</text>"
    );
    let mut sub = format!(
        "{} completed operations: {} ok, {} info, {} fail",
        completed.len(),
        count(Outcome::Ok),
        count(Outcome::Info),
        count(Outcome::Fail)
    );
    if incomplete > 0 {
        let _ = write!(sub, "; {incomplete} never completed (not drawn)");
    }
    if merged > 0 || stride > 1 {
        let _ = write!(sub, ". {} points drawn", points.len());
        if merged > 0 {
            let _ = write!(sub, " ({merged} overlapping merged");
            if stride > 1 {
                let _ = write!(sub, ", then 1 in {stride} kept");
            }
            sub.push(')');
        } else {
            let _ = write!(sub, " (1 in {stride} kept)");
        }
    }
    let _ = writeln!(
        out,
        "<text class=\"sub\" x=\"{LEFT}\" y=\"46\">{}</text>",
        escape(&sub)
    );
    legend(&mut out, &ops);

    // Nemesis windows: a strip per fault kind above the plot, naming
    // them, and a band through the plot.
    for (row, fault) in faults.iter().enumerate() {
        let y = HEADER + STRIP * row as f64;
        let _ = writeln!(
            out,
            "<text class=\"fault\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT - 7.0,
            y + 12.0,
            text(fault, 20)
        );
    }
    for window in &windows {
        let row = faults.iter().position(|f| *f == window.fault).unwrap_or(0);
        let x0 = x_of(window.start);
        let x1 = x_of(window.end.unwrap_or(end_ns)).max(x0 + 1.0);
        let colour = fault_colour(&window.fault);
        let _ = writeln!(
            out,
            "<svg x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {} ({:.3} s – {})</title><rect width=\"100%\" height=\"100%\" fill=\"{colour}\" fill-opacity=\"0.22\"/><rect width=\"2\" height=\"100%\" fill=\"{colour}\"/><text class=\"strip\" x=\"5\" y=\"12\">{}</text></svg>\n<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{PLOT_H}\" fill=\"{colour}\" fill-opacity=\"0.12\"/>",
            HEADER + STRIP * row as f64 + 1.0,
            x1 - x0,
            STRIP - 2.0,
            text(&window.fault, 40),
            text(&window.description, 200),
            window.start as f64 / 1e9,
            window
                .end
                .map_or_else(|| "end".into(), |e| format!("{:.3} s", e as f64 / 1e9)),
            text(&window.description, 200),
            x1 - x0,
        );
    }

    // Grid and axes.
    for decade in y_axis.lo..=y_axis.hi {
        let y = y_axis.y(10f64.powi(decade));
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + PLOT_W,
            LEFT - 7.0,
            y + 4.0,
            decade_label(decade)
        );
        if decade < y_axis.hi {
            for m in 2..10 {
                let y = y_axis.y(f64::from(m) * 10f64.powi(decade));
                let _ = writeln!(
                    out,
                    "<line class=\"minor\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
                    LEFT + PLOT_W
                );
            }
        }
    }
    let bottom = top + PLOT_H;
    let step = nice_step(end_s, 12.0);
    let ticks = (end_s / step).floor().clamp(0.0, 1000.0) as u64;
    for k in 0..=ticks {
        let t = k as f64 * step;
        let x = LEFT + PLOT_W * (t / end_s);
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{bottom:.1}\" y2=\"{:.1}\"/><text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 5.0,
            bottom + 19.0,
            seconds_label(t, step)
        );
    }
    let middle = top + PLOT_H / 2.0;
    let _ = writeln!(
        out,
        "<rect class=\"axis\" x=\"{LEFT}\" y=\"{top}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">invocation time (s)</text>\n<text x=\"18\" y=\"{middle:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {middle:.1})\">latency (log scale)</text>",
        LEFT + PLOT_W / 2.0,
        height - 14.0,
    );

    // The points.
    if points.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{middle:.1}\">no completed operations</text>",
            LEFT + PLOT_W / 2.0,
        );
    }
    out.push_str("<g class=\"points\">\n");
    for p in &points {
        let op = &p.op;
        let process = match op.process() {
            Process::Client(p) => format!("p{p}"),
            Process::Nemesis => "nemesis".into(),
        };
        let mut title = format!("{process} {}", text(op.f(), 40));
        if let Some(key) = &op.invoke.key {
            let _ = write!(title, " key {}", text(key, 40));
        }
        let _ = write!(
            title,
            ": {} at {:.3} s, {}",
            p.outcome.name(),
            op.start() as f64 / 1e9,
            format_ms(op.latency().unwrap_or(0) as f64 / 1e6)
        );
        if let Some(error) = op.completion.and_then(|c| c.error.as_deref()) {
            let _ = write!(title, " ({})", text(error, 80));
        }
        p.shape.draw(
            &mut out,
            p.x,
            p.y,
            &format!("pt {}", p.outcome.name()),
            &title,
        );
        out.push('\n');
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// The legend: outcome colours, and the shapes of the functions present.
fn legend(out: &mut String, ops: &[OpRecord<'_>]) {
    let y = 72.0;
    let mut x = LEFT;
    for outcome in [Outcome::Ok, Outcome::Info, Outcome::Fail] {
        Shape::Circle.draw(
            out,
            x + 4.0,
            y - 4.0,
            &format!("mark {}", outcome.name()),
            "",
        );
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            x + 12.0,
            outcome.name()
        );
        x += 60.0;
    }
    let mut functions: Vec<(Shape, &str)> =
        ops.iter().map(|op| (Shape::of(op.f()), op.f())).collect();
    functions.sort_unstable();
    functions.dedup();
    x += 30.0;
    let mut shapes: Vec<Shape> = functions.iter().map(|(s, _)| *s).collect();
    shapes.dedup();
    for shape in shapes {
        let names: Vec<String> = functions
            .iter()
            .filter(|(s, _)| *s == shape)
            .map(|(_, f)| text(f, 20))
            .take(4)
            .collect();
        let names = names.join(", ");
        shape.draw(out, x + 4.0, y - 4.0, "shape", "");
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{y:.1}\">{names}</text>",
            x + 12.0
        );
        x += 24.0 + 7.0 * names.chars().count() as f64;
        if x > WIDTH - 200.0 {
            break;
        }
    }
    out.push('\n');
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::harness::event::Kind;
    use serde_json::{Value as Json, json};

    /// A crude XML well-formedness check: balanced, properly nested tags,
    /// quoted attributes, known entities, one root.
    pub(crate) fn well_formed(xml: &str) -> Result<(), String> {
        let mut stack: Vec<&str> = Vec::new();
        let mut roots = 0;
        let mut rest = xml;
        while let Some(i) = rest.find(['<', '&']) {
            let after = &rest[i..];
            if after.starts_with('&') {
                let semi = after.find(';').filter(|&s| s <= 10).ok_or("bare &")?;
                let name = &after[1..semi];
                let known = ["amp", "lt", "gt", "quot", "apos"].contains(&name)
                    || (name.starts_with('#') && name.len() > 1);
                if !known {
                    return Err(format!("unknown entity &{name};"));
                }
                rest = &after[semi + 1..];
                continue;
            }
            let (skip, close) = if after.starts_with("<?") {
                (true, "?>")
            } else if after.starts_with("<!--") {
                (true, "-->")
            } else {
                (false, ">")
            };
            if skip {
                let end = after.find(close).ok_or("unclosed declaration")?;
                rest = &after[end + close.len()..];
                continue;
            }
            // Find the tag's end, skipping quoted attribute values.
            let mut quote = None;
            let mut end = None;
            for (j, c) in after.char_indices().skip(1) {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), '<') => return Err("< in an attribute".into()),
                    (None, '>') => {
                        end = Some(j);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("unclosed tag")?;
            let tag = &after[1..end];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else {
                let name = tag
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or("");
                if name.is_empty() {
                    return Err("empty tag name".into());
                }
                if stack.is_empty() {
                    roots += 1;
                }
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &after[end + 1..];
        }
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} roots"));
        }
        Ok(())
    }

    fn op(events: &mut Vec<Event>, process: u64, f: &str, start_ms: f64, end: Option<(Kind, f64)>) {
        let index = events.len() as u64;
        events.push(Event {
            index,
            process: Process::Client(process),
            kind: Kind::Invoke,
            f: f.into(),
            key: Some("<k&\"'>".into()),
            value: Json::Null,
            time: (start_ms * 1e6) as u64,
            error: None,
            node: None,
        });
        if let Some((kind, end_ms)) = end {
            events.push(Event {
                index: index + 1,
                process: Process::Client(process),
                kind,
                f: f.into(),
                key: Some("<k&\"'>".into()),
                value: json!(1),
                time: (end_ms * 1e6) as u64,
                error: (kind != Kind::Ok).then(|| "time\u{1}out <x>".into()),
                node: None,
            });
        }
    }

    fn nemesis(events: &mut Vec<Event>, f: &str, ms: f64) {
        events.push(Event {
            index: events.len() as u64,
            process: Process::Nemesis,
            kind: Kind::Info,
            f: f.into(),
            key: None,
            value: json!("isolate [2] & <more>"),
            time: (ms * 1e6) as u64,
            error: None,
            node: None,
        });
    }

    /// No NaN or infinity was printed.
    fn finite(svg: &str) -> bool {
        !svg.contains("NaN") && !svg.contains("\"inf") && !svg.contains("-inf")
    }

    fn points(svg: &str) -> usize {
        svg.matches("class=\"pt ").count()
    }

    #[test]
    fn one_point_per_completed_operation() {
        let mut events = Vec::new();
        op(&mut events, 0, "read", 0.0, Some((Kind::Ok, 2.0)));
        op(&mut events, 1, "write", 1.0, Some((Kind::Info, 1000.0)));
        op(&mut events, 0, "read", 300.0, Some((Kind::Fail, 310.0)));
        op(&mut events, 0, "cas", 600.0, Some((Kind::Ok, 600.0))); // zero latency
        op(&mut events, 2, "append", 700.0, None); // never completes
        op(&mut events, 3, "get", 900.0, Some((Kind::Ok, 905.5)));
        let svg = render(&events);
        well_formed(&svg).unwrap();
        assert_eq!(points(&svg), 5);
        assert_eq!(svg.matches("class=\"pt ok\"").count(), 3);
        assert_eq!(svg.matches("class=\"pt info\"").count(), 1);
        assert_eq!(svg.matches("class=\"pt fail\"").count(), 1);
        assert!(svg.contains("1 never completed"));
        assert!(finite(&svg));
        // The zero latency (the CAS, a diamond) sits on the bottom edge.
        assert!(svg.contains(&format!(" {:.1}l3.2 3.2", HEADER + PLOT_H - PAD - 3.2)));
        // User data is escaped, control characters replaced.
        assert!(svg.contains("key &lt;k&amp;&quot;&#39;&gt;"));
        assert!(svg.contains("time\u{fffd}out &lt;x&gt;"));
    }

    #[test]
    fn windows_are_shaded_and_labelled() {
        let mut events = Vec::new();
        op(&mut events, 0, "read", 0.0, Some((Kind::Ok, 2.0)));
        nemesis(&mut events, "start-partition", 2000.0);
        op(&mut events, 0, "read", 2100.0, Some((Kind::Ok, 2150.0)));
        nemesis(&mut events, "stop-partition", 6000.0);
        nemesis(&mut events, "start-kill", 8000.0);
        op(&mut events, 0, "read", 9000.0, Some((Kind::Ok, 9001.0)));
        let svg = render(&events);
        well_formed(&svg).unwrap();
        // A strip per fault kind, named, and a band per window.
        assert!(svg.contains("<text class=\"fault\" x=\"79.0\" y=\"102.0\">partition</text>"));
        assert!(svg.contains("<text class=\"fault\" x=\"79.0\" y=\"120.0\">kill</text>"));
        assert_eq!(svg.matches("<text class=\"strip\"").count(), 2);
        assert_eq!(svg.matches("fill-opacity=\"0.12\"").count(), 2);
        assert!(svg.contains("fill=\"#1e88e5\" fill-opacity=\"0.12\""));
        assert!(svg.contains(">isolate [2] &amp; &lt;more&gt;</text>"));
        assert!(
            svg.contains("<title>kill: isolate [2] &amp; &lt;more&gt; (8.000 s – end)</title>")
        );
        assert!(finite(&svg));
    }

    #[test]
    fn empty_and_degenerate_histories_render() {
        for events in [
            Vec::new(),
            {
                let mut e = Vec::new();
                op(&mut e, 0, "read", 0.0, Some((Kind::Ok, 0.0)));
                e
            },
            {
                let mut e = Vec::new();
                op(&mut e, 0, "read", 0.0, None);
                nemesis(&mut e, "start-kill", 0.0);
                e
            },
        ] {
            let svg = render(&events);
            well_formed(&svg).unwrap();
            assert!(finite(&svg), "{svg}");
        }
        assert!(render(&[]).contains("no completed operations"));
    }

    #[test]
    fn big_histories_are_thinned() {
        let mut events = Vec::new();
        // 60,000 ok reads with distinct latencies spread over 60 s.
        for i in 0..60_000u64 {
            let start = i as f64;
            op(
                &mut events,
                i % 10,
                "read",
                start,
                Some((Kind::Ok, start + 1.0 + (i % 997) as f64)),
            );
        }
        let svg = render(&events);
        well_formed(&svg).unwrap();
        let drawn = points(&svg);
        assert!(drawn <= MAX_POINTS && drawn > 1000, "{drawn}");
        assert!(svg.contains("points drawn"));
    }

    #[test]
    fn axes_have_decade_ticks() {
        assert_eq!(decade_label(-1), "100 µs");
        assert_eq!(decade_label(0), "1 ms");
        assert_eq!(decade_label(2), "100 ms");
        assert_eq!(decade_label(4), "10 s");
        assert_eq!(decade_label(-6), "1 ns");
        assert_eq!(nice_step(30.0, 12.0), 5.0);
        assert_eq!(nice_step(1.0, 12.0), 0.1);
        assert_eq!(seconds_label(0.2, 0.1), "0.2");
        let axis = YAxis::around([0.5, 120.0].into_iter(), HEADER);
        assert_eq!((axis.lo, axis.hi), (-1, 3));
        let axis = YAxis::around([1.0].into_iter(), HEADER);
        assert_eq!((axis.lo, axis.hi), (0, 1));
        let mut events = Vec::new();
        op(&mut events, 0, "read", 0.0, Some((Kind::Ok, 0.5)));
        op(&mut events, 0, "read", 10.0, Some((Kind::Ok, 130.0)));
        let svg = render(&events);
        for label in ["100 µs", "1 ms", "10 ms", "100 ms", "1 s"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
    }
}
