//! A model-independent, serializable account of a check: the verdict, the
//! partitions and, for a history that is not linearizable, the failure with
//! every operation and state described in words. The CLI prints it as JSON
//! (`--json`) and [`crate::explain`] turns it into text.

use crate::check::{CheckResult, PartitionOutcome, Verdict};
use crate::history::{History, OPEN, Operation, SourceLines, Status};
use crate::model::Model;
use serde::Serialize;
use std::time::Duration;

/// The account of one checked history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The model's name.
    pub model: String,
    /// The verdict.
    pub verdict: Verdict,
    /// How many operations were checked.
    pub operations: usize,
    /// Of which completed (`ok`, or a `fail` that is itself a result):
    /// with none, there is nothing to check.
    pub completed: usize,
    /// Of which never returned: an invocation without a completion (a
    /// history cut short, or a run that ended with them open).
    pub unfinished: usize,
    /// How many `fail` operations were dropped (they did not happen).
    pub dropped: usize,
    /// How many nemesis events were skipped.
    pub skipped: usize,
    /// Check time in milliseconds.
    pub elapsed_ms: f64,
    /// Per partition.
    pub partitions: Vec<PartitionSummary>,
    /// Why the history is not linearizable, if it is not and the check
    /// recorded an explanation.
    pub failure: Option<FailureReport>,
}

impl Report {
    /// True when the history has no completed operation: an empty file,
    /// blank lines only, or invocations that never returned. Such a
    /// history says nothing about the system, whatever the search found.
    pub fn nothing_to_check(&self) -> bool {
        self.completed == 0
    }
}

/// One partition's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionSummary {
    /// Its name, e.g. `key "3"`.
    pub name: String,
    /// How many operations it has.
    pub operations: usize,
    /// `linearizable`, `not-linearizable`, `timed-out` or `cancelled`.
    pub outcome: &'static str,
    /// Search time in milliseconds.
    pub elapsed_ms: f64,
}

/// An operation, described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperationReport {
    /// Its index in the history.
    pub index: usize,
    /// The process that ran it.
    pub process: u64,
    /// The model's description, e.g. `read() -> 3`.
    pub description: String,
    /// Invocation time.
    pub call: u64,
    /// Return time; `None` if it never returned.
    #[serde(rename = "return")]
    pub return_time: Option<u64>,
    /// How it completed.
    pub status: Status,
    /// Its lines in the source file.
    pub lines: Option<SourceLines>,
}

/// One step of a (partial) linearization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// The operation.
    pub operation: OperationReport,
    /// The model state after it.
    pub state_after: String,
}

/// Why a partition is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureReport {
    /// The partition's name.
    pub partition: String,
    /// How many operations the partition has.
    pub partition_operations: usize,
    /// The longest partial linearization found, in order.
    pub longest: Vec<StepReport>,
    /// The first operation that could not be linearized after it.
    pub stuck: OperationReport,
    /// The state after `longest` (the initial state if it is empty).
    pub state_at_stuck: String,
    /// States from which the model rejected `stuck` during the search.
    pub rejected_states: Vec<String>,
    /// Why `stuck` can never be linearized, when the model can tell
    /// ([`Model::diagnose`]): e.g. it read a value no operation wrote.
    /// Left out of the JSON when the model cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
}

/// Milliseconds, rounded to the microsecond.
fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Describes operation `index` of `operations`.
pub fn describe_operation<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    index: usize,
) -> OperationReport {
    let op = &operations[index];
    OperationReport {
        index,
        process: op.client,
        description: model.describe_operation(&op.input, &op.output),
        call: op.call,
        return_time: (op.return_time != OPEN).then_some(op.return_time),
        status: op.status,
        lines: op.source,
    }
}

/// The outcome's name.
pub fn outcome_name<S>(outcome: &PartitionOutcome<S>) -> &'static str {
    match outcome {
        PartitionOutcome::Linearizable(_) => "linearizable",
        PartitionOutcome::NotLinearizable(_) => "not-linearizable",
        PartitionOutcome::TimedOut => "timed-out",
        PartitionOutcome::Cancelled => "cancelled",
    }
}

impl Report {
    /// The account of `result`, the check of `history` against `model`.
    pub fn new<M: Model>(
        model: &M,
        history: &History<M::Input, M::Output>,
        result: &CheckResult<M::State>,
    ) -> Report {
        let ops = &history.operations;
        let failure = result.failed_partition.and_then(|p| {
            let partition = &result.partitions[p];
            let PartitionOutcome::NotLinearizable(Some(f)) = &partition.outcome else {
                return None;
            };
            let partition_ops: Vec<_> = partition
                .operations
                .iter()
                .filter_map(|&i| ops.get(i))
                .collect();
            let diagnosis = ops
                .get(f.stuck)
                .and_then(|stuck| model.diagnose(stuck, &partition_ops));
            Some(FailureReport {
                partition: partition.name.clone(),
                partition_operations: partition.operations.len(),
                longest: f
                    .longest
                    .iter()
                    .zip(&f.states)
                    .map(|(&i, s)| StepReport {
                        operation: describe_operation(model, ops, i),
                        state_after: model.describe_state(s),
                    })
                    .collect(),
                stuck: describe_operation(model, ops, f.stuck),
                state_at_stuck: model.describe_state(&f.state_at_stuck),
                rejected_states: f
                    .rejected_states
                    .iter()
                    .map(|s| model.describe_state(s))
                    .collect(),
                diagnosis,
            })
        });
        Report {
            model: model.name().to_string(),
            verdict: result.verdict,
            operations: ops.len(),
            completed: ops
                .iter()
                .filter(|o| matches!(o.status, Status::Ok | Status::Failed))
                .count(),
            unfinished: ops
                .iter()
                .filter(|o| o.source.is_some_and(|s| s.complete.is_none()))
                .count(),
            dropped: history.dropped,
            skipped: history.skipped,
            elapsed_ms: ms(result.elapsed),
            partitions: result
                .partitions
                .iter()
                .map(|p| PartitionSummary {
                    name: p.name.clone(),
                    operations: p.operations.len(),
                    outcome: outcome_name(&p.outcome),
                    elapsed_ms: ms(p.elapsed),
                })
                .collect(),
            failure,
        }
    }
}
