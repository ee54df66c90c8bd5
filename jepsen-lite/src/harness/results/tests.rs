//! Tests of the run's results: counts, latency, availability, the JSON.

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
