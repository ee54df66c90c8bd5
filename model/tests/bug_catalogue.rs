//! Every bug of the catalogue (`checked_raft::bugs`) must be found by the
//! model checker, as a violation of the property the catalogue names.
//!
//! The switches exist only with the `bug-catalogue` feature:
//! `cargo test --release -p raft-model --features bug-catalogue --test bug_catalogue`.
#![cfg(feature = "bug-catalogue")]

mod common;

use checked_raft::bugs::Bug;
use common::run_check;
use raft_model::run::{Options, Strategy, Verdict, build_model, check, search};
use raft_model::shortest::{Budget, Reductions, always_property, prove_shortest, replay, shrink};
use raft_model::{bug_bounds, bug_property};
use std::time::Duration;

/// How many states each hunt may generate: a budget in states, not time,
/// so that the test's verdict does not depend on how loaded the machine is.
/// The slowest hunt, Figure 8 (four elections among three servers), finds
/// its counterexample after about 2.3 M (1 M breadth-first, then about
/// 1.3 M depth-first); docs/model-checking.md's bug catalogue lists each hunt's time.
const STATE_BUDGET: usize = 50_000_000;

/// One test, so that no other search competes for the two cores while a
/// hunt runs.
#[test]
fn the_model_checker_finds_every_bug_of_the_catalogue() {
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let expected = bug_property(bug);
        let bounds = bug_bounds(bug);
        let outcome = check(
            &bounds,
            &Options {
                stop_at: Some(expected),
                max_states: Some(STATE_BUDGET),
                // Only a backstop against a hang: the budget is in states.
                timeout: Some(Duration::from_secs(1800)),
                // The search for a shortest counterexample is tested on
                // its own below; here it only shrinks the deep ones.
                shortest: Budget {
                    timeout: Duration::from_secs(1800),
                    max_states: 2_000_000,
                },
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

/// The search for a shortest counterexample agrees with a breadth-first
/// search written here, level by level, on the model's own states (no
/// symmetry, one thread), which finds the least depth of a violation by
/// construction: from a depth-first counterexample (longer), shrinking and
/// the branch-and-bound search end at exactly that length, proven.
/// (stateright's breadth-first search is not this oracle: it keeps the
/// last violating state it visits before it stops, which can lie a level
/// deeper.)
#[test]
fn the_shortest_counterexample_search_agrees_with_breadth_first_search() {
    for bug in [
        Bug::VoteNotPersisted,
        Bug::TwoVotesPerTerm,
        Bug::NoElectionRestriction,
        Bug::CommitPastSentEntries,
        Bug::LeaderOverwritesOwnEntries,
    ] {
        let expected = bug_property(bug);
        let bounds = bug_bounds(bug);
        let options = Options {
            stop_at: Some(expected),
            timeout: Some(Duration::from_secs(600)),
            ..Options::default()
        };
        let depth_first = search(&bounds, &options, Strategy::DepthFirst)
            .property(expected)
            .and_then(|p| p.path.clone())
            .unwrap_or_else(|| panic!("{}: no counterexample", bug.name()))
            .into_vec();
        let model = build_model(&bounds, &options);
        let property = always_property(&model, expected).expect("an Always property");
        let least = least_depth_of_violation(&model, &property);
        let actions: Vec<_> = depth_first.iter().filter_map(|(_, a)| a.clone()).collect();
        let shrunk = shrink(&model, &property, &depth_first[0].0, &actions);
        // Each bug's model offers sleep sets: the search is checked with
        // and without them.
        assert!(model.commutation().is_some(), "{}", bug.name());
        for (threads, commutation) in [1, 2]
            .into_iter()
            .flat_map(|t| [(t, None), (t, model.commutation())])
        {
            let shortest = prove_shortest(
                &model,
                &property,
                shrunk.clone(),
                Reductions {
                    symmetry: true,
                    sleep_sets: commutation,
                },
                options.shortest,
                threads,
                None,
            );
            let sleep = if commutation.is_some() {
                "with"
            } else {
                "without"
            };
            println!(
                "{:<26} depth-first {} steps, shrunk {}, shortest on {threads} thread(s) {sleep} sleep sets {} (proven: {}; {} states), least depth {least}",
                bug.name(),
                actions.len(),
                shrunk.len(),
                shortest.actions.len(),
                shortest.proven,
                shortest.states,
            );
            assert!(shortest.proven, "{}", bug.name());
            assert_eq!(shortest.actions.len(), least, "{}", bug.name());
            // Every state remembered was generated (or is the one initial
            // state): the counts add up.
            assert!(
                shortest.unique <= shortest.states + 1,
                "{}: {} unique of {} states",
                bug.name(),
                shortest.unique,
                shortest.states
            );
            assert_eq!(
                replay(&model, &property, &depth_first[0].0, &shortest.actions),
                Some(least),
                "{}: the shortest counterexample replays to a violation",
                bug.name()
            );
        }
    }
}

/// The least number of steps after which a state of `model` breaks
/// `property`: every state, level by level.
fn least_depth_of_violation(
    model: &raft_model::RaftModel,
    property: &stateright::Property<raft_model::RaftModel>,
) -> usize {
    use stateright::Model;
    let mut level = model.init_states();
    let mut seen: std::collections::HashSet<_> = level.iter().cloned().collect();
    for depth in 0.. {
        if level.iter().any(|s| !(property.condition)(model, s)) {
            return depth;
        }
        let mut next_level = Vec::new();
        for state in &level {
            let mut actions = Vec::new();
            model.actions(state, &mut actions);
            for action in actions {
                if let Some(next) = model.next_state(state, action)
                    && model.within_boundary(&next)
                    && seen.insert(next.clone())
                {
                    next_level.push(next);
                }
            }
        }
        assert!(!next_level.is_empty(), "no violation reachable");
        level = next_level;
    }
    unreachable!()
}

/// The verdict `check`'s table gives the property `name`.
fn table_verdict<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(name)?;
        let mut words = rest.split_whitespace();
        let _expects = words.next()?;
        words.next()
    })
}

/// The stale-message reduction's claim is checked by `check` itself: a core
/// whose candidates count votes of an earlier term (the core still calls
/// those replies stale) is reported, with the counterexample, as breaking
/// "Stale messages are no-ops", and the search goes on with the message in
/// flight to the Election Safety violation it causes. Taking the claim on
/// trust (`--unaudited`) hides the bug: every property holds, in a complete
/// search. These are the bounds on which an unaudited `check` said "holds".
#[test]
fn check_reports_a_stale_message_that_is_no_no_op() {
    let bounds = ["--max-term", "2", "--values", "0", "--max-log", "0"];
    let bug = ["--bug", "count-stale-votes"];
    let (status, stdout) = run_check(&[&bounds[..], &bug[..]].concat());
    assert_eq!(status, Some(1), "{stdout}");
    assert_eq!(
        table_verdict(&stdout, raft_model::STALE_MESSAGES_ARE_NO_OPS),
        Some("VIOLATED"),
        "{stdout}"
    );
    assert_eq!(
        table_verdict(&stdout, raft_model::ELECTION_SAFETY),
        Some("VIOLATED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Stale messages are no-ops: ")
            && stdout.contains("stale, but delivering it"),
        "the counterexample names the message and what it did:\n{stdout}"
    );

    let (status, stdout) = run_check(&[&bounds[..], &bug[..], &["--unaudited"][..]].concat());
    assert_eq!(status, Some(3), "the bug is not found unaudited:\n{stdout}");
    assert!(stdout.contains("complete"), "{stdout}");
    assert_eq!(
        table_verdict(&stdout, raft_model::ELECTION_SAFETY),
        Some("holds"),
        "{stdout}"
    );
}

/// `check --bug <bug>` exits 1 with `property` VIOLATED, found by the
/// audit after the search, whose words include `says`.
fn assert_audit_reports(bug: &str, property: &str, says: &str) {
    let (status, stdout) = run_check(&["--bug", bug]);
    assert_eq!(status, Some(1), "{stdout}");
    assert_eq!(
        table_verdict(&stdout, property),
        Some("VIOLATED"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{property} (found by the audit after the search)"))
            && stdout.contains(says),
        "the audit says what broke:\n{stdout}"
    );
}

/// The other half of the stale-message claim, that a discarded message
/// stays stale whatever its receiver does next, is checked by the audit
/// after the search (the ledger), through `check` itself: a leader that
/// forgets a follower's match index when it probes it again makes a reply
/// it discarded fresh again. Every message is a no-op when it is
/// discarded, so only the ledger can see it; no property of the paper
/// breaks.
#[test]
fn check_reports_a_discarded_message_that_stops_being_stale() {
    assert_audit_reports(
        "match-index-regresses",
        raft_model::STALE_MESSAGES_ARE_NO_OPS,
        "it is not stale any more",
    );
}

/// Symmetry reduction's claim, that the core treats server ids alike, is
/// checked on every distinct step the search takes, through `check` itself:
/// a core whose servers vote only for candidates with a higher id is
/// reported as breaking "Servers are interchangeable", with the step.
#[test]
fn check_reports_a_core_that_tells_servers_apart() {
    assert_audit_reports(
        "votes-by-server-id",
        raft_model::SERVERS_ARE_INTERCHANGEABLE,
        "once the servers are renamed",
    );
}

/// The same claim covers a server's start from its storage (its first
/// start, and every restart): a core whose lowest-id server campaigns as
/// soon as it starts with empty storage is reported as breaking "Servers
/// are interchangeable", with the storage and both starts; taken on trust
/// (`--unaudited`), the same search says every property holds.
#[test]
fn check_reports_a_start_that_tells_servers_apart() {
    assert_audit_reports(
        "bootstrap-by-lowest-id",
        raft_model::SERVERS_ARE_INTERCHANGEABLE,
        "started from its storage (term 0, vote none, 0 log entries)",
    );
    let (status, stdout) = run_check(&["--bug", "bootstrap-by-lowest-id", "--unaudited"]);
    assert_eq!(status, Some(3), "{stdout}");
    assert_eq!(
        table_verdict(&stdout, raft_model::SERVERS_ARE_INTERCHANGEABLE),
        Some("holds"),
        "{stdout}"
    );
}

/// The search for a shortest counterexample rests on the reductions'
/// claims as every search does (its sleep sets on the stale-message one),
/// so the audit runs after it too, through `check` itself: with a core
/// that does not persist its term, a reply discarded as stale is fresh
/// again after a restart. The hunt stops at the Election Safety violation
/// before it sees that; the audit after the proof reports it, and the
/// counterexample is not called proven.
#[test]
fn the_audit_after_the_shortest_search_reports_a_broken_claim() {
    let (status, stdout) = run_check(&["--bug", "term-not-persisted"]);
    assert_eq!(status, Some(1), "{stdout}");
    assert_eq!(
        table_verdict(&stdout, raft_model::STALE_MESSAGES_ARE_NO_OPS),
        Some("VIOLATED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("NOT proven (the audit after the search found a breach)")
            && stdout.contains("as stale, and after a step it is not stale any more"),
        "{stdout}"
    );
}

/// A scenario of the default run fails when the core is broken:
/// `--scenario elections --bug count-stale-votes` reports the Election
/// Safety violation and exits 1 as a bug hunt does.
#[test]
fn a_scenario_with_a_bug_in_reports_the_violation() {
    let (status, stdout) = run_check(&["--scenario", "elections", "--bug", "count-stale-votes"]);
    assert_eq!(status, Some(1), "{stdout}");
    assert!(stdout.contains("== scenario elections"), "{stdout}");
    assert_eq!(table_verdict(&stdout, "Election Safety"), Some("VIOLATED"));
    assert!(
        stdout.contains("bug count-stale-votes: Election Safety violated, as expected"),
        "{stdout}"
    );
}

/// The duplicating route (`raft_model::route`) finds a catalogue bug on an
/// unordered network in a plain check (no hunt), and the counterexample
/// `check` reports is the unordered network's own: a path the unordered
/// model takes step by step, made a proven shortest one on that model.
/// These are the bounds on which an unaudited `check` once said "holds".
#[test]
fn the_duplicating_route_reports_the_unordered_networks_own_counterexample() {
    let bounds = raft_model::Bounds {
        bug: Some(Bug::StaleVoteCounted),
        max_term: 2,
        values: 0,
        max_log: 0,
        ..raft_model::Bounds::default()
    };
    let outcome = check(&bounds, &Options::default());
    let route = outcome.route.as_ref().expect("the route is taken");
    assert!(route.replayed > 0, "{route:?}");
    let property = outcome
        .property(raft_model::ELECTION_SAFETY)
        .expect("Election Safety");
    assert_eq!(property.verdict, Verdict::Violated);
    let model = build_model(&bounds, &Options::default());
    let steps = property.path.clone().expect("a counterexample").into_vec();
    let actions: Vec<_> = steps.iter().filter_map(|(_, a)| a.clone()).collect();
    let taken = stateright::Path::from_actions(&model, steps[0].0.clone(), &actions)
        .expect("a path of the unordered model");
    let last = taken.last_state();
    let condition = always_property(&model, raft_model::ELECTION_SAFETY)
        .expect("a property")
        .condition;
    assert!(!condition(&model, last), "the path ends in the violation");
    let shortest = outcome.shortest_search.expect("made a shortest one");
    assert_eq!(shortest.steps, actions.len());
}
