//! Helpers the model's test files share. (Each file compiles this module
//! on its own and uses what it needs.)
#![allow(dead_code)]

use raft_model::Bounds;
use raft_model::run::{Options, Outcome, Strategy, Verdict, search};

/// Each property's name and verdict, in `PROPERTIES` order.
pub fn verdicts(outcome: &Outcome) -> Vec<(&'static str, Verdict)> {
    outcome
        .properties
        .iter()
        .map(|p| (p.name, p.verdict.clone()))
        .collect()
}

/// A depth-first search of `bounds` with `options`, which must complete.
pub fn explore(bounds: &Bounds, options: Options) -> Outcome {
    let outcome = search(bounds, &options, Strategy::DepthFirst);
    assert!(outcome.complete, "{bounds}: search incomplete");
    outcome
}

/// A reduction changes no verdict and merges states: the search with
/// every reduction on gives the verdicts of the search with `off` (one
/// reduction switched off), over fewer unique states.
pub fn assert_reduction_keeps_verdicts(bounds: &Bounds, off: Options) {
    let unreduced = explore(bounds, off);
    let reduced = explore(bounds, Options::default());
    assert_eq!(verdicts(&unreduced), verdicts(&reduced), "{bounds}");
    assert!(
        reduced.unique < unreduced.unique,
        "{bounds}: the reduction should merge states, got {} vs {}",
        reduced.unique,
        unreduced.unique
    );
}
