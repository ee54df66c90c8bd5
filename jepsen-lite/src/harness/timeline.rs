//! `timeline.html`: the history as a self-contained page, in the spirit of
//! Jepsen's timeline. Time flows left to right; each lane holds client
//! processes, each operation a bar from its invocation to its completion,
//! coloured by outcome (`ok` green, `info` orange, `fail` pink, never
//! completed grey to the end of the chart), with the details on hover.
//! Nemesis windows are shaded across all lanes and named in rows of their
//! own above them. A legend and the counts per function and outcome head
//! the page.
//!
//! - Lanes: as in Jepsen, a process whose operation ended indeterminately
//!   retires and its client continues as a new process. So that the page
//!   has about one lane per client rather than one per process, a process
//!   takes the first lane free when it starts (the lane's label names
//!   every process it held). A toggle regroups the operations by key, or by
//!   the server that answered (the `node` of the completion), packing each
//!   group into as many rows as its overlapping operations need.
//! - Every operation is reachable: they are embedded as one compact JSON
//!   array (`#ops-data`, described at [`ops_json`]) and a script draws only
//!   those in the visible time window and rows on a canvas the size of the
//!   view, so a long run's page stays small and quick at any zoom (up to
//!   16,384×). Zoomed in, a bar wide enough shows its function, key and
//!   value.
//! - Colours: `ok` green; a CAS that found another value (an expected
//!   answer) a calm grey-blue; any other `fail` amber; `info`
//!   (indeterminate) alarm red; never completed grey stripes to the end.
//! - The failing operation (the first one the checker could not
//!   linearize, when the run was invalid) is outlined, a red line marks
//!   its invocation, and the page opens zoomed and centred on it.
//! - Everything is inline: CSS, the data and the script
//!   ([`timeline.js`](timeline.js)); when it has drawn, it sets
//!   `data-rendered="ok"` on `<body>` (and `data-js-error` on an error),
//!   which the headless-browser check reads. All user data is escaped.

use crate::harness::LeaderSeen;
use crate::harness::event::{self, Event, Process};
use crate::harness::latency::{fault_colour, nice_step, seconds_label, text};
use crate::harness::results::{OpCounts, OpRecord, operations};
use crate::harness::timeline_data::ops_json;
use crate::html::escape;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The script that draws the lanes.
const SCRIPT: &str = include_str!("timeline.js");

const STYLE: &str = r#"
:root { --label: 112px; --zoom: 1; --track: calc(max(600px, 100vw - 3em - 24px - var(--label)) * var(--zoom)); }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.meta { color: #666; margin: 0.2em 0 0.6em; }
.note { background: #fff8e1; border: 1px solid #ffe082; padding: 0.3em 0.6em; border-radius: 4px; display: inline-block; }
.legend { margin: 0.5em 0; display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: center; }
.swatch { display: inline-block; width: 1.6em; height: 0.9em; border-radius: 2px; vertical-align: -0.1em; margin-right: 0.35em; }
table.counts { border-collapse: collapse; margin: 0.5em 0 0.8em; font: 12px monospace; }
table.counts td, table.counts th { border: 1px solid #ddd; padding: 2px 10px; text-align: right; }
table.counts th:first-child, table.counts td:first-child { text-align: left; }
table.counts tr.total td { font-weight: bold; }
.zoom { margin: 0.4em 0; }
.zoom button { font: inherit; min-width: 2.2em; }
.scroll { overflow: auto; max-height: 82vh; border: 1px solid #ddd; background: #fff; }
.chart { position: relative; width: calc(var(--label) + var(--track)); }
.row { display: flex; height: 18px; }
.label { position: sticky; left: 0; z-index: 5; flex: none; width: var(--label); box-sizing: border-box; padding: 0 6px; background: #fff; border-right: 1px solid #ddd; font: 11px/18px monospace; color: #555; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.track { position: relative; flex: none; width: var(--track); }
.head { position: sticky; top: 0; z-index: 6; background: #fff; border-bottom: 1px solid #ccc; }
.head .row { height: 20px; }
.win { position: absolute; top: 2px; height: 16px; box-sizing: border-box; border-left: 2px solid; padding: 0 4px; font: 11px/16px system-ui, sans-serif; color: #222; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tick { position: absolute; top: 3px; font: 10px monospace; color: #555; padding-left: 3px; border-left: 1px solid #999; height: 15px; }
.lanes { position: relative; }
.overlay { position: absolute; top: 0; bottom: 0; left: var(--label); width: var(--track); pointer-events: none; }
.band { position: absolute; top: 0; bottom: 0; }
.gridline { position: absolute; top: 0; bottom: 0; border-left: 1px solid rgba(0, 0, 0, 0.07); }
#lane-labels { position: sticky; left: 0; z-index: 5; width: var(--label); height: 100%; background: #fff; border-right: 1px solid #ddd; box-sizing: border-box; }
.lane-label { position: absolute; left: 0; right: 0; height: 18px; padding: 0 6px; font: 11px/18px monospace; color: #555; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#ops-canvas { position: absolute; z-index: 3; }
#tip { position: fixed; display: none; z-index: 10; max-width: 40em; background: #fff; border: 1px solid #999; box-shadow: 0 2px 6px rgba(0, 0, 0, 0.2); padding: 4px 8px; font: 12px/1.4 monospace; white-space: pre-wrap; pointer-events: none; }
.failing { background: #ffebee; border: 1px solid #e57373; padding: 0.4em 0.7em; border-radius: 4px; margin: 0.5em 0; white-space: pre-wrap; font: 12px/1.4 monospace; }
.ok { background: #66bb6a; }
.mismatch { background: #90a4ae; }
.fail { background: #ff8f00; }
.info { background: #e53935; }
.none { background: repeating-linear-gradient(90deg, #bdbdbd 0 6px, #e0e0e0 6px 12px); }
.empty { color: #999; padding: 1em; }
"#;

/// The name of a process: `p3`, `nemesis`.
fn process_name(process: Process) -> String {
    match process {
        Process::Client(p) => format!("p{p}"),
        Process::Nemesis => "nemesis".into(),
    }
}

/// A time in seconds, for titles.
fn at(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// Lanes for the processes: each takes the first lane free (its previous
/// process done) when it starts. Returns each process's lane and the
/// processes of each lane.
fn lanes(ops: &[OpRecord<'_>], end: u64) -> (BTreeMap<Process, usize>, Vec<Vec<Process>>) {
    // Each process's lifetime: first invocation to last completion (the
    // end of the chart if its last operation never completed).
    let mut life: BTreeMap<Process, (u64, u64)> = BTreeMap::new();
    for op in ops {
        let until = op.completion.map_or(end, |c| c.time.max(op.start()));
        life.entry(op.process())
            .and_modify(|(from, to)| {
                *from = (*from).min(op.start());
                *to = (*to).max(until);
            })
            .or_insert((op.start(), until));
    }
    let mut order: Vec<(Process, u64, u64)> =
        life.into_iter().map(|(p, (a, b))| (p, a, b)).collect();
    order.sort_by_key(|&(p, from, _)| (from, p));
    let mut free_at: Vec<u64> = Vec::new();
    let mut members: Vec<Vec<Process>> = Vec::new();
    let mut lane_of = BTreeMap::new();
    for (process, from, to) in order {
        let lane = match free_at.iter().position(|&free| free < from) {
            Some(lane) => lane,
            None => {
                free_at.push(0);
                members.push(Vec::new());
                free_at.len() - 1
            }
        };
        free_at[lane] = to;
        members[lane].push(process);
        lane_of.insert(process, lane);
    }
    (lane_of, members)
}

/// The operation the checker found at fault, to mark on the page: the one
/// it could not linearize, or the first transaction of an anomaly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failing {
    /// What the checker found, as the box's headline (for example "The
    /// checker could not linearize this operation").
    pub headline: String,
    /// Its client process.
    pub process: u64,
    /// Its invocation time, in nanoseconds (the history's clock).
    pub time: u64,
    /// What to say about it: the operation and the states it was tried
    /// against.
    pub text: String,
}

/// What the page shows besides the history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// The failing operation, for an invalid run.
    pub failing: Option<Failing>,
    /// Other files of the report to link to: (file name, what it shows).
    pub links: Vec<(String, String)>,
}

/// The timeline page of a history.
pub fn render(title_text: &str, events: &[Event], leaders: &[LeaderSeen]) -> String {
    render_with(title_text, events, leaders, &Extras::default())
}

/// The timeline page of a history, with the failing operation marked and
/// links to the report's other files.
pub fn render_with(
    title_text: &str,
    events: &[Event],
    leaders: &[LeaderSeen],
    extras: &Extras,
) -> String {
    let all = operations(events);
    let end = events.iter().map(|e| e.time).max().unwrap_or(0);
    let span = end.max(1);
    let pct = |ns: u64| 100.0 * ns.min(span) as f64 / span as f64;

    let mut out = String::with_capacity(16384 + all.len() * 40);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = text(title_text, 200)
    );

    // Counts, over the whole history.
    let mut total = OpCounts::default();
    let mut by_function: BTreeMap<&str, OpCounts> = BTreeMap::new();
    let mut processes: Vec<Process> = Vec::new();
    for op in &all {
        total.record(op);
        by_function.entry(op.f()).or_default().record(op);
        processes.push(op.process());
    }
    processes.sort_unstable();
    processes.dedup();
    let windows = event::windows(events);
    let (lane_of, lane_members) = lanes(&all, end);
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} operations by {} client processes in {} lanes over {}; {} nemesis windows. Each bar runs from an operation's invocation to its completion; hover for details, zoom in to read the bars. A process that retired (after an indeterminate operation) is followed by a new one, which may continue in the same lane.</p>",
        total.invoked,
        processes.len(),
        lane_members.len(),
        at(end),
        windows.len()
    );
    if !extras.links.is_empty() {
        out.push_str("<p class=\"meta\">Also in this report:");
        for (i, (file, what)) in extras.links.iter().enumerate() {
            let _ = write!(
                out,
                "{} <a href=\"{}\">{}</a> ({})",
                if i == 0 { "" } else { "," },
                escape(file),
                escape(file),
                text(what, 80)
            );
        }
        out.push_str("</p>\n");
    }
    let failing = extras.failing.as_ref().and_then(|f| {
        all.iter()
            .position(|op| op.process() == Process::Client(f.process) && op.start() == f.time)
            .map(|i| (i, f))
    });
    if let Some((_, f)) = failing {
        let _ = writeln!(
            out,
            "<div class=\"failing\"><b>{}</b> (outlined, with a red line at its invocation; the view opens on it) <button id=\"go-failing\">go to it</button>\n{}</div>",
            text(&f.headline, 200),
            text(&f.text, 4000)
        );
    }

    // Legend.
    out.push_str("<div class=\"legend\">");
    for (class, name) in [
        ("ok", "ok"),
        ("mismatch", "fail: CAS found another value (expected)"),
        ("fail", "fail (other, e.g. a read timed out)"),
        ("info", "info (indeterminate)"),
        ("none", "never completed"),
    ] {
        let _ = write!(
            out,
            "<span><span class=\"swatch {class}\"></span>{name}</span>"
        );
    }
    let mut faults: Vec<&str> = Vec::new();
    for w in &windows {
        if !faults.contains(&w.fault.as_str()) {
            faults.push(&w.fault);
        }
    }
    for fault in &faults {
        let colour = fault_colour(fault);
        let _ = write!(
            out,
            "<span><span class=\"swatch\" style=\"background:{colour}33;border-left:2px solid {colour}\"></span>{} window</span>",
            text(fault, 40)
        );
    }
    out.push_str("</div>\n");

    // Counts table.
    out.push_str("<table class=\"counts\"><thead><tr><th>function</th><th>invoked</th><th>ok</th><th>fail</th><th>of which CAS mismatch</th><th>info</th><th>never completed</th></tr></thead><tbody>\n");
    let row = |out: &mut String, class: &str, name: &str, c: &OpCounts| {
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(name, 40),
            c.invoked,
            c.ok,
            c.fail,
            c.cas_mismatch,
            c.info,
            c.incomplete
        );
    };
    for (f, c) in &by_function {
        row(&mut out, "", f, c);
    }
    row(&mut out, " class=\"total\"", "total", &total);
    out.push_str("</tbody></table>\n");

    if all.is_empty() && windows.is_empty() {
        out.push_str("<p class=\"empty\">No operations.</p>\n<script>document.body.dataset.rendered = 'ok';</script>\n</body>\n</html>\n");
        return out;
    }

    out.push_str("<div class=\"zoom\">zoom <button data-zoom=\"0.5\" title=\"zoom out\">−</button> <button data-zoom=\"2\" title=\"zoom in\">+</button> <button data-zoom=\"8\" title=\"zoom in 8×\">+8×</button> <button data-zoom=\"0\" title=\"fit to the window\">fit</button> <span id=\"zoom-level\">1×</span> · lanes: <label><input type=\"radio\" name=\"lanes\" value=\"process\" checked /> by process</label> <label><input type=\"radio\" name=\"lanes\" value=\"key\" /> by key</label> <label><input type=\"radio\" name=\"lanes\" value=\"server\" /> by server that answered</label></div>\n<noscript><p class=\"note\">The operations are drawn by the page's script: enable JavaScript.</p></noscript>\n");
    out.push_str("<div class=\"scroll\"><div class=\"chart\">\n<div class=\"head\">\n");
    // One row per fault kind, naming its windows.
    for fault in &faults {
        let colour = fault_colour(fault);
        let _ = write!(
            out,
            "<div class=\"row\"><div class=\"label\">{}</div><div class=\"track\">",
            text(fault, 40)
        );
        for w in windows
            .iter()
            .filter(|w| w.fault == *fault && w.start <= end)
        {
            let stop = w.end.unwrap_or(end);
            let left = pct(w.start);
            let description = text(&w.description, 200);
            let _ = write!(
                out,
                "<div class=\"win\" style=\"left:{left:.5}%;width:{:.5}%;background:{colour}33;border-color:{colour}\" title=\"{}: {description}&#10;{} – {}\">{description}</div>",
                (pct(stop) - left).max(0.0),
                text(fault, 40),
                at(w.start),
                w.end.map_or_else(|| "the end".into(), at),
            );
        }
        out.push_str("</div></div>\n");
    }

    // Who led: a segment per leader seen, to the next one.
    if !leaders.is_empty() {
        out.push_str("<div class=\"row\"><div class=\"label\">leader</div><div class=\"track\">");
        for (i, seen) in leaders.iter().enumerate().filter(|(_, s)| s.time <= end) {
            let stop = leaders.get(i + 1).map_or(end, |next| next.time.min(end));
            let left = pct(seen.time);
            let colour = if seen.term % 2 == 0 {
                "#5c6bc0"
            } else {
                "#26a69a"
            };
            let _ = write!(
                out,
                "<div class=\"win\" style=\"left:{left:.5}%;width:{:.5}%;background:{colour}33;border-color:{colour}\" title=\"server {} leads in term {} (seen from {})\">n{} t{}</div>",
                (pct(stop) - left).max(0.0),
                seen.leader,
                seen.term,
                at(seen.time),
                seen.leader,
                seen.term,
            );
        }
        out.push_str("</div></div>\n");
    }

    // The time axis (the script redraws it for the zoom).
    let span_s = span as f64 / 1e9;
    let step = nice_step(span_s, 10.0);
    let mut axis = String::new();
    let mut grid = String::new();
    let ticks = (span_s / step).floor().clamp(0.0, 1000.0) as u64;
    for k in 0..=ticks {
        let t = k as f64 * step;
        let left = 100.0 * t / span_s;
        let _ = write!(
            axis,
            "<span class=\"tick\" style=\"left:{left:.5}%\">{}</span>",
            seconds_label(t, step)
        );
        let _ = write!(
            grid,
            "<div class=\"gridline\" style=\"left:{left:.5}%\"></div>"
        );
    }
    let _ = writeln!(
        out,
        "<div class=\"row\"><div class=\"label\">time (s)</div><div class=\"track\" id=\"axis\" data-span=\"{span_s}\">{axis}</div></div>\n</div>"
    );

    // The lanes, under the bands and grid lines: the script lays out the
    // rows and draws the visible operations.
    out.push_str("<div class=\"lanes\" id=\"lanes\">\n<div class=\"overlay\">");
    for w in &windows {
        let left = pct(w.start);
        let _ = write!(
            out,
            "<div class=\"band\" style=\"left:{left:.5}%;width:{:.5}%;background:{}30\"></div>",
            (pct(w.end.unwrap_or(end)) - left).max(0.0),
            fault_colour(&w.fault)
        );
    }
    let _ = writeln!(
        out,
        "<div id=\"grid\">{grid}</div></div>\n<div id=\"lane-labels\"></div><canvas id=\"ops-canvas\" width=\"1\" height=\"1\"></canvas>\n</div>\n</div></div>\n<div id=\"tip\"></div>"
    );
    let labels: Vec<String> = lane_members
        .iter()
        .map(|members| {
            let names: Vec<String> = members.iter().map(|&p| process_name(p)).collect();
            match names.len() {
                0 | 1 => names.concat(),
                n => format!("{} +{}", names[0], n - 1),
            }
        })
        .collect();
    let data = ops_json(
        &all,
        end,
        &lane_of,
        &labels,
        failing.map(|(i, f)| (i, f.text.as_str())),
    );
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"ops-data\">{data}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::event::Kind;
    use crate::harness::latency::tests::well_formed;
    use serde_json::{Value as Json, json};

    struct Builder(Vec<Event>);

    impl Builder {
        fn push(
            &mut self,
            process: Process,
            kind: Kind,
            f: &str,
            key: Option<&str>,
            value: Json,
            ms: u64,
        ) {
            let index = self.0.len() as u64;
            self.0.push(Event {
                index,
                process,
                kind,
                f: f.into(),
                key: key.map(Into::into),
                value,
                time: ms * 1_000_000,
                error: (kind == Kind::Info && process != Process::Nemesis)
                    .then(|| "timeout".into()),
                node: None,
            });
        }

        fn op(&mut self, p: u64, f: &str, key: &str, start: u64, end: Option<(Kind, u64)>) {
            self.push(
                Process::Client(p),
                Kind::Invoke,
                f,
                Some(key),
                json!(1),
                start,
            );
            if let Some((kind, ms)) = end {
                self.push(Process::Client(p), kind, f, Some(key), json!(1), ms);
            }
        }
    }

    fn sample() -> Vec<Event> {
        let mut b = Builder(Vec::new());
        b.op(0, "read", "a", 0, Some((Kind::Ok, 5)));
        b.op(
            1,
            "write",
            "<script>alert(\"x\")</script>",
            1,
            Some((Kind::Info, 900)),
        );
        b.push(
            Process::Nemesis,
            Kind::Info,
            "start-partition",
            None,
            json!("halves [0] [1 2] <&>"),
            100,
        );
        b.op(0, "read", "a", 200, Some((Kind::Fail, 300)));
        b.push(
            Process::Nemesis,
            Kind::Info,
            "stop-partition",
            None,
            Json::Null,
            400,
        );
        b.op(2, "cas", "a", 950, Some((Kind::Ok, 990)));
        b.op(0, "write", "a", 970, None);
        b.0
    }

    /// The page's embedded data, parsed.
    fn data(page: &str) -> Json {
        let from = page.find("id=\"ops-data\">").unwrap() + 14;
        let to = from + page[from..].find("</script>").unwrap();
        serde_json::from_str(&page[from..to]).unwrap()
    }

    #[test]
    fn user_data_is_escaped() {
        let page = render("a <title> & more", &sample(), &[]);
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("<title>a &lt;title&gt; &amp; more</title>"));
        assert!(page.contains("halves [0] [1 2] &lt;&amp;&gt;"));
        // Only the page's own scripts: the data's `<` are escaped...
        assert_eq!(page.matches("<script").count(), 2);
        assert!(page.contains("\\u003cscript>alert"));
        // ... and mean the same once parsed.
        assert_eq!(data(&page)["keys"][1], "<script>alert(\"x\")</script>");
    }

    #[test]
    fn bars_are_coloured_by_outcome() {
        let mut events = sample();
        // A CAS that found another value: an expected answer.
        events.push(Event {
            index: 99,
            process: Process::Client(3),
            kind: Kind::Invoke,
            f: "cas".into(),
            key: Some("a".into()),
            value: json!([1, 2]),
            time: 975 * 1_000_000,
            error: None,
            node: None,
        });
        events.push(Event {
            kind: Kind::Fail,
            time: 980 * 1_000_000,
            error: Some("found 3".into()),
            node: Some(4),
            ..events[events.len() - 1].clone()
        });
        let page = render("t", &events, &[]);
        let d = data(&page);
        let ops = d["ops"].as_array().unwrap();
        let outcomes: Vec<u64> = ops.iter().map(|o| o[2].as_u64().unwrap()).collect();
        // ok, info, fail (a read: not a mismatch), ok, never, cas mismatch.
        assert_eq!(outcomes, vec![0, 3, 2, 0, 4, 1]);
        assert!(STYLE.contains(".ok { background: #66bb6a; }"));
        assert!(STYLE.contains(".mismatch { background: #90a4ae; }"));
        assert!(STYLE.contains(".fail { background: #ff8f00; }"));
        assert!(STYLE.contains(".info { background: #e53935; }"));
        assert!(SCRIPT.contains("['#66bb6a', '#90a4ae', '#ff8f00', '#e53935', '#bdbdbd']"));
        // Starts are deltas in µs; the never-completed write has no
        // duration; the info write waited 899 ms.
        assert_eq!(ops[1][0], 1_000);
        assert_eq!(ops[1][1], 899_000);
        assert_eq!(ops[4][1], -1);
        assert_eq!(d["span"], 990_000);
        // The mismatch keeps its error, with the server that answered; a
        // timeout's error is the outcome.
        assert_eq!(ops[5][5], 4);
        assert_eq!(ops[5][9], "found 3");
        assert_eq!(ops[1].as_array().unwrap().len(), 9);
        assert_eq!(d["functions"], json!(["read", "write", "cas"]));
        assert!(page.contains(
            "<td>total</td><td>6</td><td>2</td><td>2</td><td>1</td><td>1</td><td>1</td>"
        ));
    }

    #[test]
    fn the_failing_operation_is_marked_and_links_listed() {
        let extras = Extras {
            failing: Some(Failing {
                headline: "The checker could not linearize this operation".into(),
                process: 0,
                time: 200 * 1_000_000,
                text: "read a → 1 <tried 3 states>".into(),
            }),
            links: vec![("rate.svg".into(), "ops/s".into())],
        };
        let page = render_with("t", &sample(), &[], &extras);
        let d = data(&page);
        assert_eq!(d["failing"], 2);
        assert_eq!(d["failingText"], "read a → 1 <tried 3 states>");
        assert!(page.contains("could not linearize"));
        assert!(page.contains("read a → 1 &lt;tried 3 states&gt;"));
        assert!(page.contains("<a href=\"rate.svg\">rate.svg</a> (ops/s)"));
        assert_eq!(data(&render("t", &sample(), &[]))["failing"], -1);
    }

    #[test]
    fn the_leader_lane_names_each_leader_and_term() {
        let leaders = [
            LeaderSeen {
                time: 0,
                leader: 2,
                term: 1,
            },
            LeaderSeen {
                time: 20 * 1_000_000,
                leader: 3,
                term: 4,
            },
        ];
        let page = render("t", &sample(), &leaders);
        assert!(page.contains(">n2 t1</div>"));
        assert!(page.contains("server 3 leads in term 4"));
        assert!(!render("t", &sample(), &[]).contains(">leader</div>"));
    }

    #[test]
    fn nemesis_windows_are_bands_across_the_lanes() {
        let page = render("t", &sample(), &[]);
        // 100..400 ms of 990 ms.
        assert!(page.contains(
            "<div class=\"band\" style=\"left:10.10101%;width:30.30303%;background:#1e88e530\">"
        ));
        assert!(page.contains("<div class=\"label\">partition</div>"));
        assert_eq!(page.matches("class=\"win\"").count(), 1);
        assert!(page.contains("partition window"));
    }

    #[test]
    fn retired_processes_share_lanes() {
        // p0 and p1 overlap; p1 retires (info) and p5 starts after: it
        // takes p1's lane.
        let mut b = Builder(Vec::new());
        b.op(0, "read", "a", 0, Some((Kind::Ok, 10)));
        b.op(1, "write", "a", 1, Some((Kind::Info, 20)));
        b.op(0, "read", "a", 15, Some((Kind::Ok, 40)));
        b.op(5, "write", "a", 30, Some((Kind::Ok, 35)));
        let ops = operations(&b.0);
        let (lane_of, members) = lanes(&ops, 40);
        assert_eq!(
            members,
            vec![
                vec![Process::Client(0)],
                vec![Process::Client(1), Process::Client(5)]
            ]
        );
        assert_eq!(lane_of[&Process::Client(5)], 1);
        let page = render("t", &b.0, &[]);
        assert_eq!(data(&page)["lanes"], json!(["p0", "p1 +1"]));
    }

    #[test]
    fn every_operation_of_a_big_history_is_in_the_page() {
        let mut b = Builder(Vec::new());
        let n = 120_000u64;
        for i in 0..n {
            b.op(i % 7, "read", "k", i, Some((Kind::Ok, i + 1)));
        }
        let page = render("t", &b.0, &[]);
        assert_eq!(data(&page)["ops"].as_array().unwrap().len(), n as usize);
        assert!(page.contains("<td>total</td><td>120000</td>"));
        // Compact: well under 40 bytes an operation.
        assert!(page.len() < 40 * n as usize, "{} bytes", page.len());
    }

    #[test]
    fn the_page_is_well_formed_even_when_empty() {
        for events in [sample(), Vec::new()] {
            let page = render("t", &events, &[]);
            let body = page.trim_start_matches("<!DOCTYPE html>\n");
            // The script holds `<` in comparisons: check the rest.
            let mut without_script = body.to_string();
            while let (Some(a), Some(b)) = (
                without_script.find("<script"),
                without_script.find("</script>"),
            ) {
                without_script = format!("{}{}", &without_script[..a], &without_script[b + 9..]);
            }
            well_formed(&without_script.replace("<meta charset=\"utf-8\">", "")).unwrap();
            assert!(!page.contains("NaN"));
        }
        assert!(render("t", &[], &[]).contains("No operations."));
    }

    /// Writes `timeline.html`, `latency.svg` and the summary of a synthetic
    /// 30-second history (about 2,000 operations by 10 clients, three
    /// nemesis windows) into `/tmp/harness-sample/`, to look at:
    /// `cargo test -p jepsen-lite --lib write_sample -- --ignored`.
    #[test]
    #[ignore]
    fn write_sample() {
        use crate::harness::options::RunOptions;
        use crate::harness::results::{CheckerSummary, Validity, results, summary_lines};
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};

        const MS: u64 = 1_000_000;
        let mut rng = StdRng::seed_from_u64(7);
        let faults = [
            ("partition", "halves [0 1] [2 3 4]", 4_000 * MS, 9_000 * MS),
            ("kill", "kill [1 3]", 13_000 * MS, 18_000 * MS),
            ("partition", "isolate [2]", 22_000 * MS, 26_000 * MS),
        ];
        let mut events: Vec<Event> = Vec::new();
        for (fault, description, start, stop) in faults {
            for (time, f) in [
                (start, format!("start-{fault}")),
                (stop, format!("stop-{fault}")),
            ] {
                events.push(Event {
                    index: 0,
                    process: Process::Nemesis,
                    kind: Kind::Info,
                    f,
                    key: None,
                    value: json!(description),
                    time,
                    error: None,
                    node: None,
                });
            }
        }
        let mut next_process = 10;
        for client in 0..10u64 {
            let mut process = client;
            let mut t = rng.random_range(0..50) * MS;
            while t < 30_000 * MS {
                let fault = faults
                    .iter()
                    .find(|(_, _, a, b)| (*a..*b).contains(&t))
                    .map(|f| f.0);
                let f = ["read", "write", "cas"][rng.random_range(0..3)];
                let key = rng.random_range(0..4u32).to_string();
                let base = (2.0 * 10f64.powf(rng.random_range(0.0..1.0))) as u64 * MS / 2
                    + rng.random_range(0..MS);
                let (kind, latency, error) = match fault {
                    Some("partition") if rng.random_bool(0.45) => {
                        let kind = if f == "read" { Kind::Fail } else { Kind::Info };
                        (kind, 1_000 * MS, Some("timeout".to_string()))
                    }
                    Some("kill") if rng.random_bool(0.3) => {
                        (Kind::Ok, base + rng.random_range(100..400) * MS, None)
                    }
                    _ if f == "cas" && rng.random_bool(0.3) => {
                        (Kind::Fail, base, Some("found 3".into()))
                    }
                    _ => (Kind::Ok, base, None),
                };
                let value = if f == "cas" {
                    json!([1, 2])
                } else {
                    json!(rng.random_range(0..5))
                };
                let invoke = Event {
                    index: 0,
                    process: Process::Client(process),
                    kind: Kind::Invoke,
                    f: f.into(),
                    key: Some(key),
                    value,
                    time: t,
                    error: None,
                    node: None,
                };
                if t < 29_700 * MS || rng.random_bool(0.5) {
                    events.push(Event {
                        kind,
                        time: t + latency,
                        error,
                        ..invoke.clone()
                    });
                }
                events.push(invoke);
                if kind == Kind::Info {
                    process = next_process;
                    next_process += 1;
                }
                t += latency + rng.random_range(20..180) * MS;
            }
        }
        events.sort_by_key(|e| (e.time, e.kind != Kind::Invoke));
        for (i, e) in events.iter_mut().enumerate() {
            e.index = i as u64;
        }
        let dir = std::path::Path::new("/tmp/harness-sample");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("timeline.html"),
            render("register-partition-kill (sample)", &events, &[]),
        )
        .unwrap();
        std::fs::write(
            dir.join("latency.svg"),
            crate::harness::latency::render(&events),
        )
        .unwrap();
        let checker = CheckerSummary {
            validity: Validity::Valid,
            seconds: 0.42,
            explanation: None,
            report_html: None,
        };
        let r = results(&RunOptions::default(), &events, checker);
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&r).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("summary.txt"), summary_lines(&r).join("\n") + "\n").unwrap();
    }
}
