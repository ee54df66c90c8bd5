//! The simulator must catch the catalogue's bugs too: for each, the first
//! failing seed within a budget of seeds (3 servers, every fault on), with
//! AppendEntries batches of 8 and of 1 (lagging followers then catch up in
//! steps: the bug of a follower committing past what it was sent shows
//! there, Figure 8 shows with larger batches). The
//! switches exist only with the `bug-catalogue` feature:
//! `cargo test --release --features bug-catalogue --test bug_catalogue_sim`.
#![cfg(feature = "bug-catalogue")]

use checked_raft::bugs::Bug;
use checked_raft::sim::{SimConfig, Simulation};

/// Seeds tried per bug (each with both batch sizes) before it counts as
/// missed.
const SEEDS: u64 = 5_000;

#[test]
fn the_simulator_finds_the_bugs_of_the_catalogue() {
    let mut missed = Vec::new();
    // A bug that breaks only a reduction's claim is the model checker's to
    // find: the simulator has no reductions.
    for bug in Bug::ALL.into_iter().filter(|bug| bug.breaks().is_some()) {
        // One that shows only when writes complete after their step runs
        // with writes taking 20-120 ms, a slow disk: the wider the window
        // between a write and its report, the sooner a truncation falls in
        // it (at 10-60 ms, 5,000 seeds missed durable-by-index-only; the
        // correct core passes 3,000 seeds x 2 batch sizes at 10-60 ms and
        // at 20-120 ms).
        let write_ms = bug.needs_asynchronous_writes().then_some((20, 120));
        let failure = (0..SEEDS).find_map(|seed| {
            [8, 1].into_iter().find_map(|batch| {
                let config = SimConfig {
                    bug: Some(bug),
                    write_ms,
                    max_entries_per_message: batch,
                    ..SimConfig::new(seed, 3)
                };
                let failure = Simulation::new(config.clone()).and_then(Simulation::run);
                failure.err().map(|f| (f, config))
            })
        });
        // The narrowed per-step check must judge the failing run as the
        // full check does: the same run, audited, fails the same way.
        if let Some((f, config)) = &failure {
            let audited = SimConfig {
                audit_checks: true,
                ..config.clone()
            };
            let again = Simulation::new(audited).and_then(Simulation::run).err();
            assert_eq!(
                again.as_ref().map(|a| a.to_string()),
                Some(f.to_string()),
                "{}: the audited run differs",
                bug.name()
            );
        }
        match failure {
            Some((f, _)) => println!(
                "{:<26} seed {:>5}: {}",
                bug.name(),
                f.seed,
                first_line(&f.to_string())
            ),
            None => {
                println!("{:<26} not found in {SEEDS} seeds", bug.name());
                missed.push(bug.name());
            }
        }
    }
    assert!(missed.is_empty(), "bugs the simulator missed: {missed:?}");
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
