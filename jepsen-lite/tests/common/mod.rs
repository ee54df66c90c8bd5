//! Helpers shared by the integration tests.
#![allow(dead_code)]

use jepsen_lite::{Model, Operation};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::PathBuf;

/// `shared/testdata/porcupine/`, beside the workspace.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/porcupine")
}

/// Checks that `order` is a linearization of the operations `ops` (history
/// indices): a permutation of them, legal step by step from the initial
/// state, and consistent with real time (no operation placed before one
/// that returned before it was called). With `complete` false, `order` may
/// be a prefix: a subset of `ops`, and any operation of `ops` that returned
/// before the call of a placed operation must itself be placed earlier.
pub fn verify_linearization<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    ops: &[usize],
    order: &[usize],
    complete: bool,
) -> Result<(), String> {
    let mut sorted_ops = ops.to_vec();
    sorted_ops.sort_unstable();
    let mut sorted_order = order.to_vec();
    sorted_order.sort_unstable();
    sorted_order.dedup();
    if sorted_order.len() != order.len() {
        return Err("an operation appears twice".into());
    }
    if complete && sorted_order != sorted_ops {
        return Err("not a permutation of the partition".into());
    }
    if sorted_order
        .iter()
        .any(|i| sorted_ops.binary_search(i).is_err())
    {
        return Err("an operation outside the partition".into());
    }
    let mut state = model.init();
    for (k, &i) in order.iter().enumerate() {
        let op = &history[i];
        state = model
            .step(&state, &op.input, &op.output)
            .ok_or_else(|| format!("step {k} (operation {i}) is illegal"))?;
        // Every operation that returned before this one was called must
        // already be placed.
        for &j in ops {
            if history[j].return_time < op.call && !order[..k].contains(&j) {
                return Err(format!(
                    "operation {j} returned before {i} was called but is not placed before it"
                ));
            }
        }
    }
    Ok(())
}

/// A proptest runner with a fixed seed and no failure persistence, so the
/// randomized tests are deterministic and independent of
/// `PROPTEST_RNG_SEED`.
pub fn seeded_runner(cases: u32, seed: u8) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    )
}
