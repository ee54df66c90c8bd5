//! Conformance: every history of porcupine's test data gets the verdict
//! porcupine's own test suite asserts (`EXPECTED.tsv`), both with one thread
//! and with parallel partitions. Every "linearizable" verdict comes with a
//! linearization, which is verified independently, and every "not
//! linearizable" one with a failure whose partial linearization is verified
//! too.

mod common;

use common::{testdata, verify_linearization};
use jepsen_lite::format::{self, ParsedHistory};
use jepsen_lite::models::{Kv, Register};
use jepsen_lite::{CheckOptions, History, Model, PartitionOutcome, Verdict, check};

fn expected() -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(testdata().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("file\tlinearizable"));
    lines
        .map(|l| {
            let (file, verdict) = l.split_once('\t').expect("two columns");
            let verdict = match verdict {
                "true" => true,
                "false" => false,
                other => panic!("bad verdict {other:?}"),
            };
            (file.to_string(), verdict)
        })
        .collect()
}

/// Checks `history` and verifies the certificate of the verdict.
fn check_verified<M: Model>(
    model: &M,
    name: &str,
    history: &History<M::Input, M::Output>,
    threads: usize,
) -> Verdict {
    let options = CheckOptions {
        timeout: None,
        threads,
        explain: true,
    };
    let result = check(model, &history.operations, &options).expect("valid history");
    match result.verdict {
        Verdict::Linearizable => {
            for p in &result.partitions {
                let PartitionOutcome::Linearizable(order) = &p.outcome else {
                    panic!("{name}: partition {} not linearizable", p.name);
                };
                verify_linearization(model, &history.operations, &p.operations, order, true)
                    .unwrap_or_else(|e| {
                        panic!("{name}: partition {}: bad linearization: {e}", p.name)
                    });
            }
        }
        Verdict::NotLinearizable => {
            let p = &result.partitions[result.failed_partition.expect("a failed partition")];
            let PartitionOutcome::NotLinearizable(Some(f)) = &p.outcome else {
                panic!("{name}: the failed partition has no failure");
            };
            verify_linearization(model, &history.operations, &p.operations, &f.longest, false)
                .unwrap_or_else(|e| panic!("{name}: bad partial linearization: {e}"));
            assert_eq!(f.states.len(), f.longest.len());
            assert!(
                p.operations.contains(&f.stuck),
                "{name}: stuck outside the partition"
            );
            assert!(
                !f.longest.contains(&f.stuck),
                "{name}: stuck op already linearized"
            );
            let op = &history.operations[f.stuck];
            for s in &f.rejected_states {
                assert!(
                    model.step(s, &op.input, &op.output).is_none(),
                    "{name}: a rejected state accepts the stuck op"
                );
            }
        }
        Verdict::Unknown => panic!("{name}: unknown without a timeout"),
    }
    result.verdict
}

fn run_all(threads: usize) {
    let expected = expected();
    assert_eq!(expected.len(), 108, "EXPECTED.tsv lists 108 histories");
    let mut mismatches = Vec::new();
    for (file, linearizable) in &expected {
        let text = std::fs::read_to_string(testdata().join(file)).expect("readable");
        let verdict = match format::parse(file, &text, None, None).expect("parses") {
            ParsedHistory::Register(h) => check_verified(&Register, file, &h, threads),
            ParsedHistory::Kv(h) => check_verified(&Kv, file, &h, threads),
        };
        let want = if *linearizable {
            Verdict::Linearizable
        } else {
            Verdict::NotLinearizable
        };
        if verdict != want {
            mismatches.push(format!("{file}: expected {want:?}, got {verdict:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn all_108_histories_match_porcupine_single_threaded() {
    run_all(1);
}

#[test]
fn all_108_histories_match_porcupine_in_parallel() {
    run_all(4);
}

#[test]
fn the_empty_etcd_log_is_linearizable() {
    // etcd_095.log is empty (that cluster never started); not in EXPECTED.
    let text = std::fs::read_to_string(testdata().join("jepsen/etcd_095.log")).expect("readable");
    let ParsedHistory::Register(h) =
        format::parse("etcd_095.log", &text, None, None).expect("parses")
    else {
        panic!("expected a register history");
    };
    assert!(h.operations.is_empty());
    let result = check(&Register, &h.operations, &CheckOptions::default()).expect("valid");
    assert_eq!(result.verdict, Verdict::Linearizable);
}
