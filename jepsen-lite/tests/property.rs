//! Property tests.
//!
//! 1. Histories generated from a sequential execution, with real-time
//!    intervals that contain each operation's linearization point and
//!    overlap at random, are linearizable; the same histories with one
//!    read's value corrupted to a value never written are not.
//! 2. On small histories (at most 7 operations) the checker agrees with a
//!    brute-force reference that tries every order consistent with real time,
//!    both on the histories of (1) and on arbitrary random ones (random
//!    intervals, random outputs, indeterminate operations, many identical
//!    operations), which exercises the search's reductions.
//!
//! Determinism: every test runs a `TestRunner` built with
//! `TestRunner::new_with_rng` from a fixed seed (`seeded_runner`), so the
//! cases are the same on every run and `PROPTEST_RNG_SEED` has no effect;
//! failure persistence is off, so no regression files are written.

mod common;

use common::{seeded_runner, verify_linearization};
use jepsen_lite::history::Status;
use jepsen_lite::models::{
    Kv, KvInput, KvOp, KvOutput, Register, RegisterInput, RegisterOp, RegisterOutput,
};
use jepsen_lite::{CheckOptions, Model, OPEN, Operation, PartitionOutcome, Verdict, check};
use proptest::prelude::*;

fn checked<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> Verdict {
    let options = CheckOptions {
        timeout: None,
        threads: 1,
        explain: true,
    };
    let result = check(model, history, &options).expect("valid history");
    // A linearizable verdict must come with a valid linearization.
    if result.verdict == Verdict::Linearizable {
        for p in &result.partitions {
            let PartitionOutcome::Linearizable(order) = &p.outcome else {
                panic!("partition {} is not linearizable", p.name)
            };
            verify_linearization(model, history, &p.operations, order, true)
                .expect("a valid linearization");
        }
    }
    result.verdict
}

/// The reference: tries every order of each partition that respects real
/// time (an operation may come next only if every unplaced operation
/// returned at or after its call) and the model.
fn brute_force<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> Verdict {
    fn extend<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        left: &mut Vec<usize>,
        state: &M::State,
    ) -> bool {
        if left.is_empty() {
            return true;
        }
        for k in 0..left.len() {
            let i = left[k];
            let call = history[i].call;
            if left.iter().any(|&j| history[j].return_time < call) {
                continue;
            }
            if let Some(next) = model.step(state, &history[i].input, &history[i].output) {
                left.swap_remove(k);
                let ok = extend(model, history, left, &next);
                left.push(i);
                let last = left.len() - 1;
                left.swap(k, last);
                if ok {
                    return true;
                }
            }
        }
        false
    }
    let all = model
        .partition(history)
        .into_iter()
        .all(|p| extend(model, history, &mut p.operations.clone(), &model.init()));
    if all {
        Verdict::Linearizable
    } else {
        Verdict::NotLinearizable
    }
}

// ---- Register histories -------------------------------------------------

fn value() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (0i64..3).prop_map(Some)]
}

fn register_op() -> impl Strategy<Value = RegisterOp> {
    prop_oneof![
        2 => Just(RegisterOp::Read),
        2 => value().prop_map(RegisterOp::Write),
        1 => (value(), value()).prop_map(|(from, to)| RegisterOp::Cas { from, to }),
    ]
}

/// Per operation: (op, widen call by, widen return by, indeterminate,
/// process).
type Plan<O> = Vec<(O, u64, u64, bool, u64)>;

fn plan<O: std::fmt::Debug>(
    op: impl Strategy<Value = O>,
    max: usize,
) -> impl Strategy<Value = Plan<O>> {
    prop::collection::vec(
        (op, 0u64..40, 0u64..40, prop::bool::weighted(0.15), 0u64..4),
        1..=max,
    )
}

/// Runs the plan sequentially: operation k takes effect at 10k + 5, inside
/// an interval widened at random on both sides (so intervals overlap); an
/// indeterminate one never returns and its output is unknown.
fn register_history(plan: &Plan<RegisterOp>) -> Vec<Operation<RegisterInput, RegisterOutput>> {
    let mut state = None;
    plan.iter()
        .enumerate()
        .map(|(k, &(op, before, after, open, process))| {
            let output = match op {
                RegisterOp::Read => RegisterOutput::Read(state),
                RegisterOp::Write(v) => {
                    state = v;
                    RegisterOutput::Written
                }
                RegisterOp::Cas { from, to } => {
                    let swapped = state == from;
                    if swapped {
                        state = to;
                    }
                    RegisterOutput::Cas(swapped)
                }
            };
            let point = 10 * k as u64 + 5;
            let mut o = Operation::new(
                process,
                RegisterInput { key: None, op },
                output,
                point.saturating_sub(before),
                point + after,
            );
            if open {
                o.output = RegisterOutput::Unknown;
                o.return_time = OPEN;
                o.status = Status::Indeterminate;
            }
            o
        })
        .collect()
}

/// Makes the first completed read return 999, which is never written.
fn corrupt_register(history: &mut [Operation<RegisterInput, RegisterOutput>]) -> bool {
    match history
        .iter_mut()
        .find(|o| matches!(o.output, RegisterOutput::Read(_)))
    {
        Some(o) => {
            o.output = RegisterOutput::Read(Some(999));
            true
        }
        None => false,
    }
}

#[test]
fn sequential_register_histories_are_linearizable_and_corrupted_ones_are_not() {
    let mut runner = seeded_runner(400, 1);
    runner
        .run(&plan(register_op(), 40), |plan| {
            let mut history = register_history(&plan);
            prop_assert_eq!(checked(&Register, &history), Verdict::Linearizable);
            if history.len() <= 7 {
                prop_assert_eq!(brute_force(&Register, &history), Verdict::Linearizable);
            }
            if corrupt_register(&mut history) {
                prop_assert_eq!(checked(&Register, &history), Verdict::NotLinearizable);
                if history.len() <= 7 {
                    prop_assert_eq!(brute_force(&Register, &history), Verdict::NotLinearizable);
                }
            }
            Ok(())
        })
        .unwrap();
}

fn register_output() -> impl Strategy<Value = RegisterOutput> {
    prop_oneof![
        value().prop_map(RegisterOutput::Read),
        Just(RegisterOutput::Written),
        any::<bool>().prop_map(RegisterOutput::Cas),
        Just(RegisterOutput::Unknown),
    ]
}

/// Arbitrary small register histories: random ops, intervals and outputs
/// (the output matches the op's kind most of the time), some keyed.
fn arbitrary_register() -> impl Strategy<Value = Vec<Operation<RegisterInput, RegisterOutput>>> {
    let op = (
        register_op(),
        register_output(),
        prop::bool::weighted(0.8),
        0u64..12,
        0u64..8,
        prop::bool::weighted(0.15),
        prop::option::weighted(0.2, 0u8..2),
    );
    prop::collection::vec(op, 1..=7).prop_map(|ops| {
        ops.into_iter()
            .enumerate()
            .map(|(i, (op, output, matching, call, len, open, key))| {
                let output = if matching {
                    match (op, output) {
                        (RegisterOp::Read, RegisterOutput::Read(v)) => RegisterOutput::Read(v),
                        (RegisterOp::Read, _) => RegisterOutput::Read(None),
                        (RegisterOp::Write(_), RegisterOutput::Unknown) => RegisterOutput::Unknown,
                        (RegisterOp::Write(_), _) => RegisterOutput::Written,
                        (RegisterOp::Cas { .. }, RegisterOutput::Cas(b)) => RegisterOutput::Cas(b),
                        (RegisterOp::Cas { .. }, _) => RegisterOutput::Unknown,
                    }
                } else {
                    output
                };
                let input = RegisterInput {
                    key: key.map(|k| format!("k{k}")),
                    op,
                };
                let ret = if open { OPEN } else { call + len };
                let mut o = Operation::new(i as u64, input, output, call, ret);
                if open {
                    o.status = Status::Indeterminate;
                }
                o
            })
            .collect()
    })
}

#[test]
fn register_checker_agrees_with_brute_force() {
    let mut runner = seeded_runner(3000, 2);
    runner
        .run(&arbitrary_register(), |history| {
            prop_assert_eq!(
                checked(&Register, &history),
                brute_force(&Register, &history)
            );
            Ok(())
        })
        .unwrap();
}

// ---- Key/value histories ------------------------------------------------

fn kv_op() -> impl Strategy<Value = KvOp> {
    let text = prop_oneof![Just("a"), Just("b"), Just("ab")];
    prop_oneof![
        3 => Just(KvOp::Get),
        1 => text.clone().prop_map(|s| KvOp::Put(s.into())),
        3 => text.prop_map(|s| KvOp::Append(s.into())),
    ]
}

fn kv_history(plan: &Plan<(KvOp, bool)>) -> Vec<Operation<KvInput, KvOutput>> {
    let mut state = [String::new(), String::new()];
    plan.iter()
        .enumerate()
        .map(|(k, ((op, second_key), before, after, open, process))| {
            let s = &mut state[usize::from(*second_key)];
            let output = match op {
                KvOp::Get => KvOutput::Value(s.as_str().into()),
                KvOp::Put(v) => {
                    *s = v.to_string();
                    KvOutput::Ack
                }
                KvOp::Append(v) => {
                    s.push_str(v);
                    KvOutput::Ack
                }
            };
            let point = 10 * k as u64 + 5;
            let input = KvInput {
                key: if *second_key { "y" } else { "x" }.to_string(),
                op: op.clone(),
            };
            let mut o = Operation::new(
                *process,
                input,
                output,
                point.saturating_sub(*before),
                point + after,
            );
            if *open {
                o.output = KvOutput::Unknown;
                o.return_time = OPEN;
                o.status = Status::Indeterminate;
            }
            o
        })
        .collect()
}

#[test]
fn sequential_kv_histories_are_linearizable_and_corrupted_ones_are_not() {
    let mut runner = seeded_runner(300, 3);
    runner
        .run(&plan((kv_op(), any::<bool>()), 40), |plan| {
            let mut history = kv_history(&plan);
            prop_assert_eq!(checked(&Kv, &history), Verdict::Linearizable);
            if history.len() <= 7 {
                prop_assert_eq!(brute_force(&Kv, &history), Verdict::Linearizable);
            }
            // "Z" is never put or appended.
            if let Some(o) = history
                .iter_mut()
                .find(|o| matches!(o.output, KvOutput::Value(_)))
            {
                o.output = KvOutput::Value("Z".into());
                prop_assert_eq!(checked(&Kv, &history), Verdict::NotLinearizable);
                if history.len() <= 7 {
                    prop_assert_eq!(brute_force(&Kv, &history), Verdict::NotLinearizable);
                }
            }
            Ok(())
        })
        .unwrap();
}

fn arbitrary_kv() -> impl Strategy<Value = Vec<Operation<KvInput, KvOutput>>> {
    let read = prop_oneof![Just(""), Just("a"), Just("b"), Just("ab"), Just("ba")];
    let op = (
        kv_op(),
        read,
        0u64..12,
        0u64..8,
        prop::bool::weighted(0.15),
        any::<bool>(),
    );
    prop::collection::vec(op, 1..=7).prop_map(|ops| {
        ops.into_iter()
            .enumerate()
            .map(|(i, (op, read, call, len, open, second_key))| {
                let output = match (&op, open) {
                    (_, true) => KvOutput::Unknown,
                    (KvOp::Get, false) => KvOutput::Value(read.to_string().into()),
                    _ => KvOutput::Ack,
                };
                let input = KvInput {
                    key: if second_key { "y" } else { "x" }.to_string(),
                    op,
                };
                let mut o = Operation::new(
                    i as u64,
                    input,
                    output,
                    call,
                    if open { OPEN } else { call + len },
                );
                if open {
                    o.status = Status::Indeterminate;
                }
                o
            })
            .collect()
    })
}

#[test]
fn kv_checker_agrees_with_brute_force() {
    let mut runner = seeded_runner(3000, 4);
    runner
        .run(&arbitrary_kv(), |history| {
            prop_assert_eq!(checked(&Kv, &history), brute_force(&Kv, &history));
            Ok(())
        })
        .unwrap();
}

#[test]
fn brute_force_reference_sanity() {
    // The reference itself, on porcupine's register examples.
    let w = |v, call, ret| {
        Operation::new(
            0,
            RegisterInput {
                key: None,
                op: RegisterOp::Write(Some(v)),
            },
            RegisterOutput::Written,
            call,
            ret,
        )
    };
    let r = |v, call, ret| {
        Operation::new(
            1,
            RegisterInput {
                key: None,
                op: RegisterOp::Read,
            },
            RegisterOutput::Read(Some(v)),
            call,
            ret,
        )
    };
    let ok = [w(0, 0, 1), w(100, 0, 100), r(100, 25, 75), r(0, 30, 60)];
    assert_eq!(brute_force(&Register, &ok), Verdict::Linearizable);
    let bad = [w(0, 0, 1), w(200, 2, 100), r(200, 10, 30), r(0, 40, 90)];
    assert_eq!(brute_force(&Register, &bad), Verdict::NotLinearizable);
    assert_eq!(checked(&Register, &bad), Verdict::NotLinearizable);
}
