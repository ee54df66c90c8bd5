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

/// Bugs whose shortest counterexample is deeper than the checker reaches in
/// a minute on two cores: Figure 8 needs four elections with three servers,
/// past what the breadth-first frontier holds; the depth-first part of the
/// hunt finds it in about three minutes.
const BEYOND_A_MINUTE: [Bug; 1] = [Bug::CommitPreviousTermByCounting];

/// One test, so that no other search competes for the two cores while a
/// bug's minute runs.
#[test]
fn the_model_checker_finds_every_bug_of_the_catalogue() {
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let budget = if BEYOND_A_MINUTE.contains(&bug) {
            Duration::from_secs(600)
        } else {
            Duration::from_secs(60)
        };
        let expected = property_name(bug.breaks());
        let bounds = bug_bounds(bug);
        let outcome = check(
            &bounds,
            &Options {
                stop_at: Some(expected),
                timeout: Some(budget),
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
