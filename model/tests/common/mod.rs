//! Helpers the model's test files share. (Each file compiles this module
//! on its own and uses what it needs.)
#![allow(dead_code)]

use raft_model::run::{Options, Outcome, Strategy, Verdict, search};
use raft_model::{Bounds, NetworkKind};

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

/// Two servers, one crash, a duplicating network and snapshots: every way a
/// message or a server's state can outlive its moment, in a space small
/// enough to explore state by state.
pub fn two_servers_crashing() -> Bounds {
    Bounds {
        servers: 2,
        max_term: 1,
        max_log: 1,
        crashes: 1,
        network: NetworkKind::Duplicating,
        snapshots: true,
        ..Bounds::default()
    }
}

/// Unordered networks with one more source of variety each (two election
/// terms, a crash, a lossy network with snapshots, asynchronous writes):
/// where the duplicating route (`raft_model::route`) is tested.
pub fn unordered_variety() -> [Bounds; 5] {
    [
        Bounds::default(),
        Bounds {
            max_term: 2,
            values: 0,
            max_log: 0,
            ..Bounds::default()
        },
        Bounds {
            values: 0,
            max_log: 0,
            crashes: 1,
            ..Bounds::default()
        },
        Bounds {
            servers: 2,
            max_term: 2,
            crashes: 1,
            lossy: true,
            snapshots: true,
            ..Bounds::default()
        },
        Bounds {
            servers: 2,
            crashes: 1,
            async_writes: true,
            ..Bounds::default()
        },
    ]
}

/// Runs the `check` binary with `args`: its exit status and stdout.
pub fn run_check(args: &[&str]) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_check"))
        .args(args)
        .output()
        .expect("run check");
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("check prints UTF-8"),
    )
}
