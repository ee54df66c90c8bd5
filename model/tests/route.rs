//! The duplicating route (`raft_model::route`) changes what `check`
//! explores on an unordered network, never a verdict: it gives the
//! verdicts of the unordered network's own search, and every example and
//! counterexample it reports is a path of the unordered model that shows
//! it, including when what the duplicating network found does not replay
//! and the unordered network has to be searched for it.

mod common;

use common::{unordered_variety, verdicts};
use raft_model::run::{Options, Outcome, Verdict, build_model, check};
use raft_model::{Bounds, NetworkKind};
use stateright::{Expectation, Model, Path};

/// The unordered network searched itself.
fn exact() -> Options {
    Options {
        duplicating_route: false,
        ..Options::default()
    }
}

/// Every path `outcome` reports is one the unordered model itself takes,
/// step by step within the bounds, and its last state shows the property.
fn assert_paths_are_the_unordered_networks(bounds: &Bounds, outcome: &Outcome) {
    let model = build_model(bounds, &exact());
    let properties = model.properties();
    let mut paths = 0;
    for reported in &outcome.properties {
        let Some(path) = &reported.path else {
            continue;
        };
        paths += 1;
        let steps = path.clone().into_vec();
        let actions: Vec<_> = steps.iter().filter_map(|(_, a)| a.clone()).collect();
        let taken = Path::from_actions(&model, steps[0].0.clone(), &actions)
            .unwrap_or_else(|| {
                panic!(
                    "{bounds}: {}: not a path of the unordered model",
                    reported.name
                )
            })
            .into_vec();
        assert!(
            taken.iter().all(|(state, _)| model.within_boundary(state)),
            "{bounds}: {}: leaves the bounds",
            reported.name
        );
        let property = properties
            .iter()
            .find(|p| p.name == reported.name)
            .expect("a property");
        let last = &taken.last().expect("a state").0;
        let shown = (property.condition)(&model, last);
        match reported.expectation {
            Expectation::Sometimes => assert!(shown, "{bounds}: {}: not met", reported.name),
            _ => assert!(!shown, "{bounds}: {}: not violated", reported.name),
        }
    }
    assert!(paths > 0, "{bounds}: no path to check");
}

#[test]
fn the_route_gives_the_verdicts_of_the_unordered_networks_own_search() {
    for bounds in unordered_variety() {
        assert_eq!(bounds.network, NetworkKind::Unordered);
        let routed = check(&bounds, &Options::default());
        let own = check(&bounds, &exact());
        assert!(routed.route.is_some(), "{bounds}: the route is taken");
        assert!(own.route.is_none(), "{bounds}: --exact-network");
        assert!(routed.complete && own.complete, "{bounds}");
        assert_eq!(verdicts(&routed), verdicts(&own), "{bounds}");
        assert_paths_are_the_unordered_networks(&bounds, &routed);
        eprintln!(
            "{bounds}: {} states kept on the route, {} unique searched itself",
            routed.unique, own.unique
        );
    }
}

/// A crash, a lossy network and snapshots with three servers: the example
/// of InstallSnapshot the duplicating network's search finds first (on one
/// thread, so that which it finds is fixed) does not replay, since the
/// unordered network does not offer its steps; the unordered network is
/// searched until it has its own, and the verdicts are complete.
#[test]
fn an_example_that_does_not_replay_is_searched_for_on_the_unordered_network() {
    let bounds = Bounds {
        crashes: 1,
        lossy: true,
        snapshots: true,
        ..Bounds::default()
    };
    let one_thread = Options {
        threads: 1,
        ..Options::default()
    };
    let outcome = check(&bounds, &one_thread);
    let route = outcome.route.as_ref().expect("the route is taken");
    assert!(!route.not_replayed.is_empty(), "{route:?}");
    let searched = route.exact.expect("the unordered network searched");
    assert!(!searched.whole, "only for the examples: {route:?}");
    assert!(outcome.complete);
    for property in &outcome.properties {
        let expected = match property.expectation {
            Expectation::Always => Verdict::Holds,
            _ if property.name == "a leader is elected in term >= 2" => Verdict::NotFound,
            _ => Verdict::Found,
        };
        assert_eq!(property.verdict, expected, "{}", property.name);
    }
    assert_paths_are_the_unordered_networks(&bounds, &outcome);
}
