//! The Elle-style list-append checker: one hand-built history per anomaly
//! kind, valid histories, the JSON lines parser, and a cross-check against
//! the linearizability checker on single-micro-op histories.

use jepsen_lite::elle::{
    AnomalyKind, ConsistencyModel, ElleOptions, ElleReport, Mop, Txn, TxnStatus, append, check,
    parse_jsonl, read,
};

fn strict(txns: &[Txn]) -> ElleReport {
    check(txns, &ElleOptions::default()).expect("checkable")
}

fn serializable(txns: &[Txn]) -> ElleReport {
    let options = ElleOptions {
        model: ConsistencyModel::Serializable,
        ..ElleOptions::default()
    };
    check(txns, &options).expect("checkable")
}

/// Asserts that the report finds exactly the kinds `kinds`.
fn assert_kinds(report: &ElleReport, kinds: &[AnomalyKind]) {
    assert_eq!(report.kinds(), kinds, "{report:#?}");
    assert_eq!(report.valid, kinds.is_empty());
}

fn ok(index: usize, invoke: u64, complete: u64, mops: Vec<Mop>) -> Txn {
    Txn::ok(index, index as u64, invoke, complete, mops)
}

fn with_status(mut t: Txn, status: TxnStatus) -> Txn {
    t.status = status;
    if status == TxnStatus::Info {
        t.complete_ns = None;
    }
    t
}

#[test]
fn serial_history_is_valid() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1), read(1, &[])]),
        ok(1, 20, 30, vec![read(0, &[1]), append(1, 1), append(0, 2)]),
        ok(2, 40, 50, vec![read(0, &[1, 2]), read(1, &[1])]),
        ok(3, 60, 70, vec![append(1, 2), read(1, &[1, 2])]),
    ];
    assert_kinds(&strict(&h), &[]);
    assert_kinds(&serializable(&h), &[]);
}

#[test]
fn concurrent_serializable_history_is_valid() {
    // T1 and T2 overlap; T2 appends before T1 in the version order, and a
    // failed and an indeterminate transaction are around.
    let h = vec![
        ok(0, 0, 100, vec![append(0, 2), read(1, &[])]),
        ok(1, 10, 50, vec![append(0, 1)]),
        with_status(ok(2, 20, 60, vec![append(1, 9)]), TxnStatus::Fail),
        with_status(ok(3, 30, 0, vec![append(1, 7)]), TxnStatus::Info),
        ok(4, 120, 130, vec![read(0, &[1, 2]), read(1, &[7])]),
    ];
    assert_kinds(&strict(&h), &[]);
}

#[test]
fn g0() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1), append(1, 2)]),
        ok(1, 0, 10, vec![append(0, 3), append(1, 4)]),
        ok(2, 20, 30, vec![read(0, &[1, 3]), read(1, &[4, 2])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::G0]);
    let a = &report.anomalies[0];
    assert_eq!(a.txns, vec![0, 1]);
    assert_eq!(
        a.explanation,
        vec![
            "T1 appended 3 to key 0 after T0 appended 1 (ww)",
            "T0 appended 2 to key 1 after T1 appended 4 (ww)",
        ]
    );
}

#[test]
fn g1a() {
    let h = vec![
        with_status(ok(0, 0, 10, vec![append(0, 1)]), TxnStatus::Fail),
        ok(1, 20, 30, vec![read(0, &[1])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::G1a]);
    assert_eq!(report.anomalies[0].txns, vec![0, 1]);
}

#[test]
fn g1b() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1), append(0, 2)]),
        ok(1, 5, 30, vec![read(0, &[1])]),
    ];
    // The reader also precedes the writer (it missed 2) and follows it (it
    // saw 1): the intermediate read is a G-single cycle as well.
    assert_kinds(&strict(&h), &[AnomalyKind::G1b, AnomalyKind::GSingle]);
}

#[test]
fn g1c() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1), read(1, &[2])]),
        ok(1, 0, 10, vec![append(1, 2), read(0, &[1])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::G1c]);
    assert!(report.anomalies[0].explanation[0].ends_with("(wr)"));
}

#[test]
fn g_single() {
    // Read skew: T1 sees T0's append to key 1 but not to key 0.
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1), append(1, 1)]),
        ok(1, 0, 10, vec![read(0, &[]), read(1, &[1])]),
        ok(2, 20, 30, vec![read(0, &[1])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::GSingle]);
    assert_eq!(report.anomalies[0].explanation.len(), 2);
    assert!(
        report.anomalies[0]
            .explanation
            .contains(&"T1 read key 0 = [] without 1, which T0 appended (rw)".to_string()),
        "{report:#?}"
    );
}

#[test]
fn g2() {
    // Write skew.
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1), read(1, &[])]),
        ok(1, 0, 10, vec![append(1, 2), read(0, &[])]),
        ok(2, 20, 30, vec![read(0, &[1]), read(1, &[2])]),
    ];
    assert_kinds(&strict(&h), &[AnomalyKind::G2]);
    assert_kinds(&serializable(&h), &[AnomalyKind::G2]);
}

#[test]
fn g0_realtime() {
    // T1 began after T0 completed, yet its append comes first.
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1)]),
        ok(1, 20, 30, vec![append(0, 2)]),
        ok(2, 40, 50, vec![read(0, &[2, 1])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::G0Realtime]);
    assert!(
        report.anomalies[0].explanation.contains(
            &"T0 completed (0.000 s) before T1 was invoked (0.000 s) (realtime)".to_string()
        ),
        "{report:#?}"
    );
    assert_kinds(&serializable(&h), &[]);
}

#[test]
fn g1c_realtime() {
    // T0 read what T1 appended, though T1 began after T0 completed.
    let h = vec![
        ok(0, 0, 10, vec![read(0, &[2])]),
        ok(1, 20, 30, vec![append(0, 2)]),
    ];
    assert_kinds(&strict(&h), &[AnomalyKind::G1cRealtime]);
    assert_kinds(&serializable(&h), &[]);
}

#[test]
fn g_single_realtime() {
    // A stale read: T1 began after T0's append completed but missed it.
    let h = vec![
        ok(0, 0, 1_204_000_000, vec![append(0, 1)]),
        ok(1, 1_310_000_000, 1_400_000_000, vec![read(0, &[])]),
        ok(2, 2_000_000_000, 2_100_000_000, vec![read(0, &[1])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::GSingleRealtime]);
    let mut lines = report.anomalies[0].explanation.clone();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "T0 completed (1.204 s) before T1 was invoked (1.310 s) (realtime)",
            "T1 read key 0 = [] without 1, which T0 appended (rw)",
        ]
    );
    assert_kinds(&serializable(&h), &[]);
}

#[test]
fn lost_append_is_g_single_realtime() {
    // No read ever sees T0's acknowledged append, though T1 began after it.
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1)]),
        ok(1, 20, 30, vec![read(0, &[])]),
    ];
    assert_kinds(&strict(&h), &[AnomalyKind::GSingleRealtime]);
    assert_kinds(&serializable(&h), &[]);
    // An append that no read sees, concurrent with every read, is fine.
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1)]),
        ok(1, 5, 30, vec![read(0, &[])]),
    ];
    assert_kinds(&strict(&h), &[]);
}

#[test]
fn g2_realtime() {
    // C → A in real time, A → B and B → C anti-dependencies.
    let h = vec![
        ok(0, 20, 35, vec![read(0, &[])]),
        ok(1, 10, 30, vec![append(0, 1), read(1, &[])]),
        ok(2, 0, 15, vec![append(1, 2)]),
        ok(3, 40, 50, vec![read(0, &[1]), read(1, &[2])]),
    ];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::G2Realtime]);
    assert_eq!(report.anomalies[0].txns.len(), 3);
    assert_kinds(&serializable(&h), &[]);
}

#[test]
fn incompatible_order() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1)]),
        ok(1, 0, 10, vec![append(0, 2)]),
        ok(2, 20, 30, vec![read(0, &[1, 2])]),
        ok(3, 20, 30, vec![read(0, &[2, 1])]),
    ];
    let report = strict(&h);
    assert_eq!(report.count(AnomalyKind::IncompatibleOrder), 1);
    assert!(
        report.anomalies[0].explanation[0].starts_with("key 0: T3 read [2, 1] and T2 read [1, 2]")
    );
}

#[test]
fn duplicate_elements() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1)]),
        ok(1, 20, 30, vec![read(0, &[1, 1])]),
    ];
    assert_kinds(&strict(&h), &[AnomalyKind::DuplicateElements]);
}

#[test]
fn garbage_read() {
    let h = vec![ok(0, 0, 10, vec![read(3, &[99])])];
    let report = strict(&h);
    assert_kinds(&report, &[AnomalyKind::GarbageRead]);
    assert!(
        report.anomalies[0].explanation[0].ends_with("value 99 was never appended to key 3"),
        "{report:#?}"
    );
}

#[test]
fn internal() {
    let h = vec![ok(0, 0, 10, vec![append(0, 1), read(0, &[])])];
    assert_kinds(&strict(&h), &[AnomalyKind::Internal]);
    let h = vec![ok(
        0,
        0,
        10,
        vec![read(0, &[]), append(0, 1), read(0, &[1])],
    )];
    assert_kinds(&strict(&h), &[]);
}

#[test]
fn duplicate_append() {
    let h = vec![
        ok(0, 0, 10, vec![append(0, 1)]),
        ok(1, 0, 10, vec![append(0, 1)]),
    ];
    assert_kinds(&strict(&h), &[AnomalyKind::DuplicateAppend]);
}

#[test]
fn names_and_serialization() {
    let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        vec![
            "G0",
            "G1a",
            "G1b",
            "G1c",
            "G-single",
            "G2",
            "G0-realtime",
            "G1c-realtime",
            "G-single-realtime",
            "G2-realtime",
            "incompatible-order",
            "duplicate-elements",
            "internal",
            "garbage-read",
            "duplicate-append",
        ]
    );
    let h = vec![ok(0, 0, 10, vec![read(3, &[99])])];
    let json = serde_json::to_value(strict(&h)).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["counts"]["garbage-read"], 1);
    assert_eq!(json["anomalies"][0]["kind"], "garbage-read");
}

#[test]
fn examples_are_capped_but_all_counted() {
    let mut h = Vec::new();
    for i in 0..20 {
        h.push(ok(i, 0, 10, vec![read(i as u64, &[99])]));
    }
    let report = check(
        &h,
        &ElleOptions {
            max_examples: 3,
            ..ElleOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.count(AnomalyKind::GarbageRead), 20);
    assert_eq!(report.anomalies.len(), 3);
}

#[test]
fn bad_transactions_are_errors() {
    let mut t = ok(0, 10, 5, vec![]);
    assert!(check(std::slice::from_ref(&t), &ElleOptions::default()).is_err());
    t.complete_ns = None;
    let err = check(&[t], &ElleOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "transaction T0 is Ok but has no completion time"
    );
}

#[test]
fn parses_jsonl() {
    let text = r#"{"index":0,"process":3,"type":"invoke","f":"txn","value":[["append",1,5],["r",2,null]],"time":123}
{"index":1,"process":4,"type":"invoke","f":"txn","value":[["r",1,null]],"time":130}
{"process":"nemesis","type":"info","f":"start","value":null,"time":135}
{"index":2,"process":3,"type":"ok","f":"txn","value":[["append",1,5],["r",2,[1,4]]],"time":456}
{"index":3,"process":5,"type":"invoke","f":"txn","value":[["append",2,7]],"time":460}
{"index":4,"process":5,"type":"fail","f":"txn","value":[["append",2,7]],"time":470}
"#;
    let txns = parse_jsonl(text).unwrap();
    assert_eq!(txns.len(), 3);
    assert_eq!(txns[0].status, TxnStatus::Ok);
    assert_eq!((txns[0].invoke_ns, txns[0].complete_ns), (123, Some(456)));
    assert_eq!(txns[0].mops, vec![append(1, 5), read(2, &[1, 4])]);
    assert_eq!(txns[1].status, TxnStatus::Info);
    assert_eq!(txns[1].complete_ns, None);
    assert_eq!(txns[2].status, TxnStatus::Fail);
    assert_eq!(txns[2].index, 3);
    // T0 read [1, 4] from key 2, which nobody appended.
    let report = strict(&txns);
    assert_kinds(&report, &[AnomalyKind::GarbageRead]);
    assert_eq!(report.count(AnomalyKind::GarbageRead), 2);
    assert_eq!((report.ok, report.info, report.fail), (1, 1, 1));
}

#[test]
fn parse_errors_name_line_and_field() {
    let err = |text: &str| parse_jsonl(text).unwrap_err().to_string();
    assert_eq!(
        err(r#"{"process":1,"type":"invoke","f":"txn","value":[]}"#),
        "line 1: missing field `time`"
    );
    assert_eq!(
        err(
            "\n{\"process\":1,\"type\":\"invoke\",\"value\":[[\"r\",1,null],[\"append\",1]],\"time\":1}"
        ),
        "line 2: micro-op 1 is not [f, key, value]"
    );
    assert!(
        err(r#"{"process":1,"type":"invoke","value":[["w",1,2]],"time":1}"#)
            .contains("unknown function \"w\"")
    );
    assert_eq!(
        err(r#"{"process":1,"type":"ok","value":[],"time":1}"#),
        "line 1: process 1 completed without an invocation"
    );
    assert!(err("nonsense").starts_with("line 1: not JSON"));
}

mod cross_check {
    //! Single-micro-op histories from a simulated concurrent execution
    //! (each operation takes effect at an instant inside its interval),
    //! some with one read corrupted: Elle (strict serializable) must call a
    //! history valid exactly when the linearizability checker, with the
    //! key/value model, calls it linearizable. For single-object operations
    //! strict serializability is linearizability (Herlihy & Wing's
    //! locality), so the two must agree.

    use super::*;
    use jepsen_lite::history::Status;
    use jepsen_lite::models::{Kv, KvInput, KvOp, KvOutput};
    use jepsen_lite::{CheckOptions, OPEN, Operation, Verdict};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A concurrent execution of `n` single-micro-op transactions over
    /// `keys` keys: transaction `i` takes effect at `100 i`, inside an
    /// interval of random width around it; 10% are indeterminate (their
    /// append takes effect or not, their read is unknown) and 5% of the
    /// appends fail.
    fn simulate(rng: &mut StdRng, n: usize, keys: u64) -> Vec<Txn> {
        let mut state: Vec<Vec<u64>> = vec![Vec::new(); keys as usize];
        let mut next = 1u64;
        (0..n)
            .map(|i| {
                let at = 100 * i as u64 + 300;
                let invoke = at - rng.random_range(0..300);
                let complete = at + rng.random_range(0..300);
                let key = rng.random_range(0..keys);
                let roll = rng.random_range(0..100);
                let status = match roll {
                    0..10 => TxnStatus::Info,
                    10..15 => TxnStatus::Fail,
                    _ => TxnStatus::Ok,
                };
                let mop = if rng.random_bool(0.5) {
                    let value = next;
                    next += 1;
                    let happens = match status {
                        TxnStatus::Ok => true,
                        TxnStatus::Fail => false,
                        TxnStatus::Info => rng.random_bool(0.5),
                    };
                    if happens {
                        state[key as usize].push(value);
                    }
                    append(key, value)
                } else {
                    Mop::Read {
                        key,
                        value: (status == TxnStatus::Ok).then(|| state[key as usize].clone()),
                    }
                };
                Txn {
                    index: i,
                    process: i as u64,
                    // A read that fails is as good as indeterminate.
                    status: if status == TxnStatus::Fail && matches!(mop, Mop::Read { .. }) {
                        TxnStatus::Info
                    } else {
                        status
                    },
                    invoke_ns: invoke,
                    complete_ns: (status != TxnStatus::Info).then_some(complete),
                    mops: vec![mop],
                }
            })
            .map(|mut t| {
                if t.status == TxnStatus::Info {
                    t.complete_ns = None;
                    if let Some(Mop::Read { value, .. }) = t.mops.first_mut() {
                        *value = None;
                    }
                }
                t
            })
            .collect()
    }

    /// Corrupts one `ok` read (drops, swaps or adds an element); false if
    /// the history has no read to corrupt.
    fn mutate(rng: &mut StdRng, txns: &mut [Txn], max_value: u64) -> bool {
        let reads: Vec<usize> = (0..txns.len())
            .filter(|&i| {
                txns[i].status == TxnStatus::Ok && matches!(txns[i].mops[0], Mop::Read { .. })
            })
            .collect();
        if reads.is_empty() {
            return false;
        }
        let i = reads[rng.random_range(0..reads.len())];
        let Mop::Read { value: Some(v), .. } = &mut txns[i].mops[0] else {
            return false;
        };
        match rng.random_range(0..3) {
            0 if !v.is_empty() => {
                v.remove(rng.random_range(0..v.len()));
            }
            1 if v.len() >= 2 => {
                let a = rng.random_range(0..v.len());
                let b = rng.random_range(0..v.len());
                v.swap(a, b);
            }
            _ => {
                let extra = rng.random_range(1..=max_value.max(1));
                if !v.contains(&extra) {
                    v.push(extra);
                }
            }
        }
        true
    }

    /// A get's value, whatever the model's value type is built from a
    /// `String` (a `String` itself, or a shared value).
    fn kv_value<T: From<String>>(s: String) -> T {
        T::from(s)
    }

    fn to_kv(txns: &[Txn]) -> Vec<Operation<KvInput, KvOutput>> {
        txns.iter()
            .filter(|t| t.status != TxnStatus::Fail)
            .map(|t| {
                let (key, op, output) = match &t.mops[0] {
                    Mop::Append { key, value } => (
                        *key,
                        KvOp::Append(format!("{value},").into()),
                        KvOutput::Ack,
                    ),
                    Mop::Read { key, value } => (
                        *key,
                        KvOp::Get,
                        match value {
                            Some(v) => KvOutput::Value(kv_value(
                                v.iter().map(|e| format!("{e},")).collect(),
                            )),
                            None => KvOutput::Unknown,
                        },
                    ),
                };
                let input = KvInput {
                    key: key.to_string(),
                    op,
                };
                match t.complete_ns {
                    Some(c) => Operation::new(t.process, input, output, t.invoke_ns, c),
                    None => {
                        let mut op =
                            Operation::new(t.process, input, KvOutput::Unknown, t.invoke_ns, OPEN);
                        op.status = Status::Indeterminate;
                        op
                    }
                }
            })
            .collect()
    }

    #[test]
    fn elle_agrees_with_linearizability_on_single_op_histories() {
        let mut rng = StdRng::seed_from_u64(23);
        let options = CheckOptions {
            timeout: None,
            threads: 1,
            explain: false,
        };
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..3000 {
            let n = rng.random_range(2..40);
            let keys = rng.random_range(1..4);
            let mut txns = simulate(&mut rng, n, keys);
            if case % 2 == 1 && !mutate(&mut rng, &mut txns, n as u64) {
                continue;
            }
            let report = strict(&txns);
            let lin = jepsen_lite::check(&Kv, &to_kv(&txns), &options).expect("checkable");
            assert_eq!(
                report.valid,
                lin.verdict == Verdict::Linearizable,
                "case {case}: elle {report:#?}\nhistory {txns:#?}"
            );
            if report.valid {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        eprintln!("cross-check: {valid} valid, {invalid} invalid");
        // Both verdicts are well represented.
        assert!(
            valid > 500 && invalid > 300,
            "{valid} valid, {invalid} invalid"
        );
    }
}

#[test]
fn generated_histories_are_valid() {
    use jepsen_lite::elle::generate::{Workload, generate};
    let w = Workload {
        txns: 5_000,
        ..Workload::default()
    };
    let txns = generate(&w);
    let report = strict(&txns);
    assert_kinds(&report, &[]);
    assert!(report.edges > txns.len());
    // Corrupting a read of a longer list to drop its last element makes it
    // stale (or an incompatible order).
    let mut bad = txns.clone();
    let (i, j) = (0..bad.len())
        .flat_map(|i| (0..bad[i].mops.len()).map(move |j| (i, j)))
        .find(|&(i, j)| matches!(&txns[i].mops[j], Mop::Read { value: Some(v), .. } if v.len() > 3))
        .expect("a read");
    if let Mop::Read { value: Some(v), .. } = &mut bad[i].mops[j] {
        v.pop();
    }
    assert!(!strict(&bad).valid);
}

/// `cargo test --release -p jepsen-lite --test elle -- --ignored --nocapture`
#[test]
#[ignore = "performance; run in release"]
fn large_history_performance() {
    use jepsen_lite::elle::generate::{Workload, generate};
    use std::time::Instant;
    let start = Instant::now();
    let txns = generate(&Workload::default());
    let generated = start.elapsed();
    let mops: usize = txns.iter().map(|t| t.mops.len()).sum();
    let start = Instant::now();
    let report = strict(&txns);
    let checked = start.elapsed();
    eprintln!(
        "elle: {} txns, {mops} micro-ops: generated in {generated:.2?}, checked (strict serializable) in {checked:.2?}; {} edges, valid {}",
        txns.len(),
        report.edges,
        report.valid
    );
    assert!(report.valid);
    let start = Instant::now();
    let report = serializable(&txns);
    eprintln!(
        "elle: serializable in {:.2?}; {} edges",
        start.elapsed(),
        report.edges
    );
    assert!(report.valid);
}

/// The same history with every 10th non-empty read made stale (its last
/// element dropped): many cycles, so the cycle search and classification
/// are timed too.
#[test]
#[ignore = "performance; run in release"]
fn large_invalid_history_performance() {
    use jepsen_lite::elle::generate::{Workload, generate};
    use std::time::Instant;
    let mut txns = generate(&Workload::default());
    let mut n = 0;
    for t in &mut txns {
        for m in &mut t.mops {
            if let Mop::Read { value: Some(v), .. } = m
                && !v.is_empty()
            {
                n += 1;
                if n % 10 == 0 {
                    v.pop();
                }
            }
        }
    }
    let start = Instant::now();
    let report = strict(&txns);
    eprintln!(
        "elle: {} txns with {} stale reads checked in {:.2?}: {} SCCs, counts {:?}",
        txns.len(),
        n / 10,
        start.elapsed(),
        report.sccs,
        report.counts
    );
    assert!(!report.valid);
}

/// Arbitrary transactions (random statuses, times, keys, elements, reads
/// with duplicates and garbage) and arbitrary JSON lines never make the
/// checker or the parser panic, and the checker is deterministic.
#[test]
fn arbitrary_input_never_panics() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(99);
    for _ in 0..2000 {
        let n = rng.random_range(0..12);
        let txns: Vec<Txn> = (0..n)
            .map(|i| {
                let mops = (0..rng.random_range(0..5))
                    .map(|_| {
                        let key = rng.random_range(0..3);
                        if rng.random_bool(0.5) {
                            append(key, rng.random_range(0..6))
                        } else {
                            Mop::Read {
                                key,
                                value: rng.random_bool(0.9).then(|| {
                                    (0..rng.random_range(0..5))
                                        .map(|_| rng.random_range(0..6))
                                        .collect()
                                }),
                            }
                        }
                    })
                    .collect();
                let status =
                    [TxnStatus::Ok, TxnStatus::Fail, TxnStatus::Info][rng.random_range(0..3)];
                let invoke_ns = rng.random_range(0..50);
                Txn {
                    index: i,
                    process: rng.random_range(0..4),
                    status,
                    invoke_ns,
                    complete_ns: rng
                        .random_bool(0.9)
                        .then(|| invoke_ns + rng.random_range(0..30))
                        .filter(|_| status != TxnStatus::Info),
                    mops,
                }
            })
            .collect();
        for model in [
            ConsistencyModel::StrictSerializable,
            ConsistencyModel::Serializable,
        ] {
            let options = ElleOptions {
                model,
                ..ElleOptions::default()
            };
            let a = check(&txns, &options);
            assert_eq!(a, check(&txns, &options));
            if let Ok(report) = a {
                assert_eq!(report.valid, report.counts.is_empty());
                for anomaly in &report.anomalies {
                    assert!(!anomaly.explanation.is_empty());
                    if anomaly.kind.is_cycle() {
                        assert_eq!(anomaly.explanation.len(), anomaly.txns.len());
                        assert!(
                            anomaly.explanation.iter().all(|l| l.ends_with(')')),
                            "{anomaly:?} {txns:?}"
                        );
                    }
                }
            }
        }
    }
    let pieces = [
        "{",
        "}",
        "\"process\":",
        "1",
        "-1",
        "\"nemesis\"",
        ",",
        "\"type\":",
        "\"invoke\"",
        "\"ok\"",
        "\"info\"",
        "\"fail\"",
        "\"value\":",
        "[",
        "]",
        "[\"r\",1,null]",
        "[\"append\",1,2]",
        "[\"r\",1,[2,2]]",
        "\"time\":",
        "5",
        "null",
        "\n",
        "\"index\":",
    ];
    for _ in 0..5000 {
        let text: String = (0..rng.random_range(0..40))
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        if let Ok(txns) = parse_jsonl(&text) {
            let _ = check(&txns, &ElleOptions::default());
        }
    }
}
