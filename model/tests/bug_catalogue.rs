//! Every bug of the catalogue (`checked_raft::bugs`) must be found by the
//! model checker, as a violation of the property the catalogue names.
//!
//! The switches exist only with the `bug-catalogue` feature:
//! `cargo test --release -p raft-model --features bug-catalogue --test bug_catalogue`.
#![cfg(feature = "bug-catalogue")]

use checked_raft::bugs::Bug;
use raft_model::run::{Options, Verdict, check};
use raft_model::{bug_bounds, property_name};
use std::time::Duration;

/// How many states each hunt may generate: a budget in states, not time,
/// so that the test's verdict does not depend on how loaded the machine is.
/// The slowest hunt, Figure 8 (four elections among three servers), finds
/// its counterexample after about 5.3 M (4 M breadth-first, then about
/// 1.3 M depth-first); README's bug catalogue lists each hunt's time.
const STATE_BUDGET: usize = 50_000_000;

/// One test, so that no other search competes for the two cores while a
/// hunt runs.
#[test]
fn the_model_checker_finds_every_bug_of_the_catalogue() {
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let expected = property_name(bug.breaks());
        let bounds = bug_bounds(bug);
        let outcome = check(
            &bounds,
            &Options {
                stop_at: Some(expected),
                max_states: Some(STATE_BUDGET),
                // Only a backstop against a hang: the budget is in states.
                timeout: Some(Duration::from_secs(1800)),
                ..Options::default()
            },
        );
        let verdict = outcome.property(expected).map(|p| p.verdict.clone());
        println!(
            "{:<26} {:<22} {:?} after {} states in {:.1?}",
            bug.name(),
            expected,
            verdict,
            outcome.unique,
            outcome.elapsed
        );
        if verdict != Some(Verdict::Violated) {
            missed.push(bug.name());
        }
    }
    assert!(missed.is_empty(), "bugs not found: {missed:?}");
}
