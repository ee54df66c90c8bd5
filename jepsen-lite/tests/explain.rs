//! Explanations (text and JSON report), the HTML page, timeouts, and the
//! checker's handling of malformed inputs given through the library.

mod common;

use common::testdata;
use jepsen_lite::explain::{explain, verdict_line};
use jepsen_lite::format::porcupine_kv;
use jepsen_lite::history::Status;
use jepsen_lite::models::{Kv, Register, RegisterInput, RegisterOp, RegisterOutput};
use jepsen_lite::{
    CheckError, CheckOptions, History, Model, OPEN, Operation, Partition, PartitionOutcome, Report,
    Verdict, check, html,
};
use std::time::Duration;

fn op(
    client: u64,
    op: RegisterOp,
    output: RegisterOutput,
    call: u64,
    ret: u64,
) -> Operation<RegisterInput, RegisterOutput> {
    Operation::new(client, RegisterInput { key: None, op }, output, call, ret)
}

/// porcupine's second 6.824 quiz example, with an initial write of 0.
fn quiz() -> History<RegisterInput, RegisterOutput> {
    History {
        operations: vec![
            op(0, RegisterOp::Write(Some(0)), RegisterOutput::Written, 0, 1),
            op(
                0,
                RegisterOp::Write(Some(200)),
                RegisterOutput::Written,
                2,
                100,
            ),
            op(1, RegisterOp::Read, RegisterOutput::Read(Some(200)), 10, 30),
            op(2, RegisterOp::Read, RegisterOutput::Read(Some(0)), 40, 90),
        ],
        dropped: 0,
        skipped: 0,
    }
}

#[test]
fn explains_a_violation() {
    let history = quiz();
    let result = check(&Register, &history.operations, &CheckOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let report = Report::new(&Register, &history, &result);
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!(failure.partition, "register");
    assert_eq!(failure.stuck.description, "read() -> 0");
    assert_eq!(failure.stuck.index, 3);
    assert_eq!(failure.state_at_stuck, "200");
    assert_eq!(failure.rejected_states, vec!["200".to_string()]);
    let steps: Vec<(&str, &str)> = failure
        .longest
        .iter()
        .map(|s| (s.operation.description.as_str(), s.state_after.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("write(0)", "0"),
            ("write(200)", "200"),
            ("read() -> 200", "200")
        ]
    );

    let line = verdict_line("quiz", &report);
    assert!(
        line.starts_with("quiz: NOT linearizable (4 ops, 1 partition, "),
        "{line}"
    );
    let text = explain(&report);
    let expected = "  partition register (4 operations) is not linearizable
  longest partial linearization: 3 of 4 operations
    #  process  where     operation      state after
    1        0  t 0..1    write(0)       0
    2        0  t 2..100  write(200)     200
    3        1  t 10..30  read() -> 200  200
  first operation that could not be linearized:
    process 2, t 40..90: read() -> 0
    state after the partial linearization: 200
    rejected by the model in states: 200
";
    assert_eq!(text, expected);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "not-linearizable");
    assert_eq!(json["failure"]["stuck"]["return"], 90);
}

#[test]
fn explanations_are_optional() {
    let history = quiz();
    let options = CheckOptions {
        explain: false,
        ..CheckOptions::default()
    };
    let result = check(&Register, &history.operations, &options).unwrap();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    assert!(matches!(
        result.partitions[0].outcome,
        PartitionOutcome::NotLinearizable(None)
    ));
    let report = Report::new(&Register, &history, &result);
    assert!(report.failure.is_none());
    assert!(explain(&report).contains("run with explanations"));
}

#[test]
fn html_shows_the_failing_operation_and_fetches_nothing() {
    let mut history = quiz();
    // An indeterminate write, and a description that needs escaping.
    let mut open = op(
        3,
        RegisterOp::Write(Some(7)),
        RegisterOutput::Unknown,
        5,
        OPEN,
    );
    open.status = Status::Indeterminate;
    history.operations.push(open);
    let result = check(&Register, &history.operations, &CheckOptions::default()).unwrap();
    let section = html::render_section(&Register, "quiz <1>", &history, &result);
    let page = html::render_page("title & more", &[section]);
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(page.contains("quiz &lt;1&gt;") && page.contains("title &amp; more"));
    assert!(
        page.contains("read() -&gt; 0"),
        "the stuck operation is described"
    );
    assert!(page.contains("COULD NOT BE LINEARIZED"));
    assert!(page.contains("class=\"op stuck\""));
    assert!(page.contains("class=\"op lin open\"") || page.contains("class=\"op none open\""));
    assert!(page.contains("<tr class=\"stuck\">"));
    assert_eq!(page.matches("<svg ").count(), 1);
}

#[test]
fn html_for_a_linearizable_history_shows_the_order() {
    let text = std::fs::read_to_string(testdata().join("kv/c01-ok.txt")).unwrap();
    let history = porcupine_kv::parse("c01-ok", &text).unwrap();
    let result = check(&Kv, &history.operations, &CheckOptions::default()).unwrap();
    let page = html::render_page(
        "c01",
        &[html::render_section(&Kv, "c01-ok", &history, &result)],
    );
    assert_eq!(page.matches("<details").count(), result.partitions.len());
    assert_eq!(
        page.matches("class=\"op lin\"").count(),
        history.operations.len()
    );
    assert!(!page.contains("class=\"op stuck"));
}

#[test]
fn html_diagnoses_a_read_of_a_value_never_written() {
    let mut history = quiz();
    history.operations[2] = op(1, RegisterOp::Read, RegisterOutput::Read(Some(99)), 10, 30);
    let result = check(&Register, &history.operations, &CheckOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let page = html::render_page(
        "t",
        &[html::render_section(&Register, "h", &history, &result)],
    );
    assert!(
        page.contains("<b>Diagnosis:</b> value 99 was never written"),
        "{page}"
    );
    // The quiz's failure (a read of 0 after 200 was read) is no such case.
    let history = quiz();
    let result = check(&Register, &history.operations, &CheckOptions::default()).unwrap();
    let page = html::render_page(
        "t",
        &[html::render_section(&Register, "h", &history, &result)],
    );
    assert!(!page.contains("Diagnosis:"));
}

#[test]
fn html_says_why_partitions_were_not_decided() {
    let text = std::fs::read_to_string(testdata().join("kv/c50-ok.txt")).unwrap();
    let history = porcupine_kv::parse("c50-ok", &text).unwrap();
    let options = CheckOptions {
        timeout: Some(Duration::from_micros(1)),
        threads: 1,
        explain: true,
    };
    let result = check(&Kv, &history.operations, &options).unwrap();
    let page = html::render_page(
        "c50",
        &[html::render_section(&Kv, "c50-ok", &history, &result)],
    );
    assert!(page.contains("not decided</b>"), "{page}");
    assert!(page.contains("timeout ran out"));
    assert!(page.contains("not a failure"));
}

#[test]
fn a_tiny_timeout_yields_unknown() {
    let text = std::fs::read_to_string(testdata().join("kv/c50-ok.txt")).unwrap();
    let history = porcupine_kv::parse("c50-ok", &text).unwrap();
    for threads in [1, 2] {
        let options = CheckOptions {
            timeout: Some(Duration::from_micros(1)),
            threads,
            explain: true,
        };
        let result = check(&Kv, &history.operations, &options).unwrap();
        assert_eq!(result.verdict, Verdict::Unknown);
        assert!(result.failed_partition.is_none());
        assert!(
            result
                .partitions
                .iter()
                .any(|p| p.outcome == PartitionOutcome::TimedOut)
        );
        let report = Report::new(&Kv, &history, &result);
        assert!(verdict_line("c50", &report).contains("UNKNOWN (timed out; "));
        assert!(explain(&report).contains("undecided"));
    }
}

#[test]
fn a_hard_partition_does_not_hide_an_easy_violation() {
    // c50-bad has a partition that takes the search very long; the others
    // show the violation quickly, and partitions take turns even with one
    // thread, so the check ends fast and reports one of those.
    let text = std::fs::read_to_string(testdata().join("kv/c50-bad.txt")).unwrap();
    let history = porcupine_kv::parse("c50-bad", &text).unwrap();
    let options = CheckOptions {
        timeout: Some(Duration::from_secs(60)),
        threads: 1,
        explain: true,
    };
    let result = check(&Kv, &history.operations, &options).unwrap();
    assert_eq!(result.verdict, Verdict::NotLinearizable);
    let failed = result.failed_partition.unwrap();
    assert!(
        result
            .partitions
            .iter()
            .any(|p| p.outcome == PartitionOutcome::Cancelled)
    );
    assert!(matches!(
        result.partitions[failed].outcome,
        PartitionOutcome::NotLinearizable(Some(_))
    ));
}

/// A model whose partitions are wrong.
struct BadPartitions(Vec<Vec<usize>>);

impl Model for BadPartitions {
    type Input = ();
    type Output = ();
    type State = ();
    fn name(&self) -> &'static str {
        "bad"
    }
    fn init(&self) {}
    fn step(&self, _: &(), _: &(), _: &()) -> Option<()> {
        Some(())
    }
    fn partition(&self, _: &[Operation<(), ()>]) -> Vec<Partition> {
        self.0
            .iter()
            .map(|ops| Partition {
                name: "p".into(),
                operations: ops.clone(),
            })
            .collect()
    }
    fn describe_operation(&self, _: &(), _: &()) -> String {
        "op".into()
    }
    fn describe_state(&self, _: &()) -> String {
        "state".into()
    }
}

#[test]
fn malformed_operations_and_partitions_are_errors() {
    let ops = vec![
        Operation::new(0, (), (), 0, 1),
        Operation::new(1, (), (), 5, 6),
    ];
    for partitions in [
        vec![vec![0]],
        vec![vec![0, 1, 2]],
        vec![vec![0, 1], vec![1]],
    ] {
        let result = check(&BadPartitions(partitions), &ops, &CheckOptions::default());
        assert!(
            matches!(result, Err(CheckError::BadPartition(_))),
            "{result:?}"
        );
    }
    let ok = check(
        &BadPartitions(vec![vec![1], vec![0]]),
        &ops,
        &CheckOptions::default(),
    )
    .unwrap();
    assert_eq!(ok.verdict, Verdict::Linearizable);
    let backwards = vec![Operation::new(0, (), (), 5, 4)];
    let result = check(
        &BadPartitions(vec![vec![0]]),
        &backwards,
        &CheckOptions::default(),
    );
    assert!(matches!(
        result,
        Err(CheckError::ReturnBeforeCall { index: 0, .. })
    ));
}
