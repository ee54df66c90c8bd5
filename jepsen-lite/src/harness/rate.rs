//! Jepsen's two other performance plots, beside the raw `latency.svg`:
//!
//! - `rate.svg` ([`render_rate`]): completed operations per second over
//!   time, one line per outcome (`ok`; `fail` of a CAS that found another
//!   value, an expected answer; any other `fail`; `info`), the nemesis
//!   windows shaded.
//! - `latency-quantiles.svg` ([`render_quantiles`]): per time bucket, the
//!   p50, p95, p99 and maximum latency of the operations completed in it
//!   (every completed operation: an `info`'s latency is how long its
//!   client waited), log scale, windows shaded.
//!
//! Operations fall in the bucket of their *completion* time, as in Jepsen;
//! the buckets are a "nice" length giving about [`BUCKETS`] of them over
//! the run. Quantiles are nearest-rank. Standalone SVG, no scripts; the
//! colours are the timeline's.

use crate::harness::event::{self, Event};
use crate::harness::latency::{fault_colour, nice_step, seconds_label, text};
use crate::harness::results::{OpRecord, Outcome, operations};
use std::fmt::Write;

/// About how many buckets the run is cut into.
pub const BUCKETS: f64 = 60.0;

const WIDTH: f64 = 1200.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 86.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 50.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;

const STYLE: &str = "
text { font: 12px system-ui, sans-serif; fill: #333; }
.title { font-size: 17px; font-weight: 600; }
.sub { fill: #666; }
.axis { stroke: #444; stroke-width: 1; fill: none; }
.grid { stroke: #e6e6e6; stroke-width: 1; }
.tick { font-size: 11px; fill: #555; }
.line { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
.empty { font-size: 15px; fill: #999; text-anchor: middle; }
";

/// The rate plot's series: outcome code (as [`series_of`]), name, colour.
const RATE_SERIES: [(usize, &str, &str); 4] = [
    (0, "ok", "#43a047"),
    (1, "fail: CAS mismatch", "#78909c"),
    (2, "fail: other", "#ff8f00"),
    (3, "info", "#e53935"),
];

/// The quantile plot's series: quantile (1.0 = max), name, colour.
const QUANTILES: [(f64, &str, &str); 4] = [
    (0.5, "p50", "#1e88e5"),
    (0.95, "p95", "#43a047"),
    (0.99, "p99", "#fb8c00"),
    (1.0, "max", "#e53935"),
];

/// Which rate series an operation counts in, if any (it completed).
fn series_of(op: &OpRecord<'_>) -> Option<usize> {
    match op.outcome() {
        Outcome::Ok => Some(0),
        Outcome::Fail if op.cas_mismatch() => Some(1),
        Outcome::Fail => Some(2),
        Outcome::Info => Some(3),
        Outcome::Incomplete => None,
    }
}

/// The buckets of a history: their length in seconds and how many.
fn buckets(end_ns: u64) -> (f64, usize) {
    let span = (end_ns as f64 / 1e9).max(1e-3);
    let width = nice_step(span, BUCKETS);
    (width, ((span / width).ceil() as usize).max(1))
}

/// The completed operations of each bucket (by completion time).
fn bucketed<'a>(ops: &'a [OpRecord<'a>], width: f64, n: usize) -> Vec<Vec<&'a OpRecord<'a>>> {
    let mut out = vec![Vec::new(); n];
    for op in ops {
        if let Some(c) = op.completion {
            let i = ((c.time as f64 / 1e9 / width) as usize).min(n - 1);
            out[i].push(op);
        }
    }
    out
}

/// The plot's frame: title, windows, time axis; `y_ticks` are (pixel,
/// label) pairs.
fn frame(
    out: &mut String,
    title: &str,
    subtitle: &str,
    events: &[Event],
    y_ticks: &[(f64, String)],
    y_name: &str,
) {
    let end = events.iter().map(|e| e.time).max().unwrap_or(0).max(1);
    let span = end as f64 / 1e9;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\">\n<style>{STYLE}</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n<text class=\"title\" x=\"{LEFT}\" y=\"28\">{}</text>\n<text class=\"sub\" x=\"{LEFT}\" y=\"48\">{}</text>\n",
        text(title, 200),
        text(subtitle, 300)
    );
    let windows = event::windows(events);
    let mut faults: Vec<&str> = Vec::new();
    for w in &windows {
        if !faults.contains(&w.fault.as_str()) {
            faults.push(&w.fault);
        }
    }
    for (k, fault) in faults.iter().enumerate() {
        let y = TOP + 110.0 + 20.0 * k as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"22\" height=\"12\" fill=\"{}\" fill-opacity=\"0.25\"/><text x=\"{}\" y=\"{}\">{} window</text>",
            LEFT + PLOT_W + 12.0,
            y - 6.0,
            fault_colour(fault),
            LEFT + PLOT_W + 40.0,
            y + 4.0,
            text(fault, 20)
        );
    }
    for w in &windows {
        let a = LEFT + PLOT_W * (w.start as f64 / 1e9 / span).min(1.0);
        let b = LEFT + PLOT_W * (w.end.unwrap_or(end) as f64 / 1e9 / span).min(1.0);
        let _ = writeln!(
            out,
            "<rect x=\"{a:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{PLOT_H}\" fill=\"{}\" fill-opacity=\"0.13\"><title>{}: {}</title></rect>",
            (b - a).max(0.5),
            fault_colour(&w.fault),
            text(&w.fault, 40),
            text(&w.description, 200)
        );
    }
    for (y, label) in y_ticks {
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            LEFT + PLOT_W,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let step = nice_step(span, 10.0);
    let mut t = 0.0;
    while t <= span * (1.0 + 1e-9) {
        let x = LEFT + PLOT_W * t / span;
        let _ = writeln!(
            out,
            "<text class=\"tick\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            TOP + PLOT_H + 16.0,
            seconds_label(t, step)
        );
        t += step;
    }
    let _ = writeln!(
        out,
        "<rect class=\"axis\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">time (s)</text>\n<text x=\"18\" y=\"{}\" transform=\"rotate(-90 18 {})\" text-anchor=\"middle\">{y_name}</text>",
        LEFT + PLOT_W / 2.0,
        HEIGHT - 12.0,
        TOP + PLOT_H / 2.0,
        TOP + PLOT_H / 2.0
    );
}

/// A series as a polyline with its legend entry (`index` places it).
fn series(out: &mut String, points: &[(f64, f64)], name: &str, colour: &str, index: usize) {
    if !points.is_empty() {
        let coords: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            out,
            "<polyline class=\"line\" stroke=\"{colour}\" points=\"{}\"><title>{name}</title></polyline>",
            coords.join(" ")
        );
    }
    let y = TOP + 10.0 + 20.0 * index as f64;
    let _ = writeln!(
        out,
        "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{colour}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{name}</text>",
        LEFT + PLOT_W + 12.0,
        LEFT + PLOT_W + 34.0,
        LEFT + PLOT_W + 40.0,
        y + 4.0
    );
}

/// The x of a bucket's middle.
fn bucket_x(i: usize, width: f64, span: f64) -> f64 {
    LEFT + PLOT_W * (((i as f64 + 0.5) * width) / span).min(1.0)
}

/// `rate.svg`: completed operations per second, per outcome, over time.
pub fn render_rate(events: &[Event]) -> String {
    let ops = operations(events);
    let end = events.iter().map(|e| e.time).max().unwrap_or(0).max(1);
    let span = end as f64 / 1e9;
    let (width, n) = buckets(end);
    let buckets = bucketed(&ops, width, n);
    let mut rates = vec![vec![0.0; n]; RATE_SERIES.len()];
    for (i, bucket) in buckets.iter().enumerate() {
        for op in bucket {
            if let Some(s) = series_of(op) {
                rates[s][i] += 1.0 / width;
            }
        }
    }
    let top = rates
        .iter()
        .flatten()
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1.0);
    let step = nice_step(top, 5.0);
    let max = (top / step).ceil() * step;
    let y = |v: f64| TOP + PLOT_H * (1.0 - v / max);
    let ticks: Vec<(f64, String)> = (0..=((max / step).round() as u64))
        .map(|k| (y(k as f64 * step), format!("{}", k as f64 * step)))
        .collect();
    let mut out = String::new();
    frame(
        &mut out,
        "Throughput by outcome",
        &format!(
            "operations completed per second, in {} s buckets by completion time; nemesis windows shaded",
            seconds_label(width, width)
        ),
        events,
        &ticks,
        "ops/s",
    );
    for (s, name, colour) in RATE_SERIES {
        let points: Vec<(f64, f64)> = if ops.is_empty() {
            Vec::new()
        } else {
            (0..n)
                .map(|i| (bucket_x(i, width, span), y(rates[s][i])))
                .collect()
        };
        series(&mut out, &points, name, colour, s);
    }
    finish(out, ops.is_empty())
}

/// `latency-quantiles.svg`: p50, p95, p99 and max latency per time bucket.
pub fn render_quantiles(events: &[Event]) -> String {
    let ops = operations(events);
    let end = events.iter().map(|e| e.time).max().unwrap_or(0).max(1);
    let span = end as f64 / 1e9;
    let (width, n) = buckets(end);
    let buckets = bucketed(&ops, width, n);
    // Per bucket, each quantile's latency in ms (None: nothing completed).
    let values: Vec<Vec<Option<f64>>> = buckets
        .iter()
        .map(|bucket| {
            let mut ms: Vec<f64> = bucket
                .iter()
                .filter_map(|op| op.latency())
                .map(|ns| (ns as f64 / 1e6).max(1e-3))
                .collect();
            ms.sort_by(f64::total_cmp);
            QUANTILES
                .iter()
                .map(|&(q, _, _)| {
                    let rank = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len().max(1));
                    ms.get(rank - 1).copied()
                })
                .collect()
        })
        .collect();
    let all = values.iter().flatten().flatten();
    let lo = all.clone().fold(f64::INFINITY, |a, &b| a.min(b));
    let hi = all.fold(0.0f64, |a, &b| a.max(b));
    let (d0, d1) = if hi > 0.0 {
        let d0 = lo.log10().floor().clamp(-3.0, 6.0) as i32;
        (d0, (hi.log10().ceil() as i32).clamp(d0 + 1, 7))
    } else {
        (0, 3)
    };
    let y = |ms: f64| {
        let f = (ms.log10() - f64::from(d0)) / f64::from(d1 - d0);
        TOP + PLOT_H * (1.0 - f.clamp(0.0, 1.0))
    };
    let ticks: Vec<(f64, String)> = (d0..=d1).map(|d| (y(10f64.powi(d)), decade(d))).collect();
    let mut out = String::new();
    frame(
        &mut out,
        "Latency quantiles",
        &format!(
            "p50, p95, p99 and max latency of the operations completed in each {} s bucket (log scale); nemesis windows shaded",
            seconds_label(width, width)
        ),
        events,
        &ticks,
        "latency",
    );
    for (k, &(_, name, colour)) in QUANTILES.iter().enumerate() {
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v[k].map(|ms| (bucket_x(i, width, span), y(ms))))
            .collect();
        series(&mut out, &points, name, colour, k);
    }
    finish(out, ops.is_empty())
}

/// A decade's label: `1 ms`, `100 ms`, `10 s`.
fn decade(d: i32) -> String {
    match d {
        d if d < 0 => format!("{} µs", 10u64.pow((d + 3).unsigned_abs())),
        d if d < 3 => format!("{} ms", 10u64.pow(d.unsigned_abs())),
        d => format!("{} s", 10u64.pow((d - 3).unsigned_abs())),
    }
}

fn finish(mut out: String, empty: bool) -> String {
    if empty {
        let _ = writeln!(
            out,
            "<text class=\"empty\" x=\"{}\" y=\"{}\">No operations.</text>",
            LEFT + PLOT_W / 2.0,
            TOP + PLOT_H / 2.0
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::event::{Kind, Process};
    use crate::harness::latency::tests::well_formed;
    use serde_json::json;

    const MS: u64 = 1_000_000;

    fn event(process: Process, kind: Kind, f: &str, ms: u64, error: Option<&str>) -> Event {
        Event {
            index: 0,
            process,
            kind,
            f: f.into(),
            key: Some("k".into()),
            value: json!(1),
            time: ms * MS,
            error: error.map(Into::into),
            node: None,
        }
    }

    /// 60 s: each second an ok read (latency 10 ms), a CAS mismatch (20 ms);
    /// a write that times out (info, 1 s) every 10 s; a partition 20-30 s.
    fn history() -> Vec<Event> {
        let mut events = Vec::new();
        for s in 0..60u64 {
            let t = s * 1000;
            events.push(event(Process::Client(0), Kind::Invoke, "read", t, None));
            events.push(event(Process::Client(0), Kind::Ok, "read", t + 10, None));
            events.push(event(
                Process::Client(1),
                Kind::Invoke,
                "cas",
                t + 100,
                None,
            ));
            events.push(event(
                Process::Client(1),
                Kind::Fail,
                "cas",
                t + 120,
                Some("found 2"),
            ));
            if s % 10 == 0 {
                events.push(event(
                    Process::Client(2 + s),
                    Kind::Invoke,
                    "write",
                    t + 200,
                    None,
                ));
                events.push(event(
                    Process::Client(2 + s),
                    Kind::Info,
                    "write",
                    t + 900,
                    Some("timeout"),
                ));
            }
        }
        events.push(event(
            Process::Nemesis,
            Kind::Info,
            "start-partition",
            20_000,
            None,
        ));
        events.push(event(
            Process::Nemesis,
            Kind::Info,
            "stop-partition",
            30_000,
            None,
        ));
        events.sort_by_key(|e| e.time);
        events
    }

    #[test]
    fn rates_per_outcome_per_bucket() {
        let events = history();
        let ops = operations(&events);
        let (width, n) = buckets(events.iter().map(|e| e.time).max().unwrap());
        assert_eq!((width, n), (1.0, 60));
        let b = bucketed(&ops, width, n);
        assert_eq!(b[0].len(), 3);
        assert_eq!(b[1].len(), 2);
        let svg = render_rate(&events);
        well_formed(&svg).unwrap();
        for name in ["ok", "fail: CAS mismatch", "fail: other", "info", "ops/s"] {
            assert!(svg.contains(&format!(">{name}<")), "{name}");
        }
        assert_eq!(svg.matches("<polyline").count(), 4);
        // The partition is shaded, 20 to 30 of 59.9 s.
        assert!(svg.contains("<title>partition: "));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn quantiles_per_bucket() {
        let events = history();
        let svg = render_quantiles(&events);
        well_formed(&svg).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 4);
        for name in ["p50", "p95", "p99", "max", "10 ms", "1 s"] {
            assert!(svg.contains(&format!(">{name}<")), "{name}");
        }
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn empty_histories_say_so() {
        for svg in [render_rate(&[]), render_quantiles(&[])] {
            well_formed(&svg).unwrap();
            assert!(svg.contains("No operations."));
            assert!(!svg.contains("NaN"));
        }
    }
}
