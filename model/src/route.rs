//! The duplicating route: `check` on an unordered network searches the
//! duplicating network instead, and replays what it finds there on the
//! unordered one.
//!
//! **Why its verdicts are the unordered network's.** Every run on the
//! unordered network is a run on the duplicating one: deliver each message
//! at most once (the copies bound only cuts runs; a lost message is one
//! never delivered; a message is judged stale by the same server state on
//! both, and taken off both). So every server state the unordered network
//! reaches within the bounds, the duplicating one reaches too
//! (`model/tests/reductions.rs` checks it on small bounds, with crashes,
//! losses, snapshots and asynchronous writes), and reduction 4 keeps every
//! server state of the duplicating search, with at least its example
//! flags ([`crate::subsume`]). Every property reads only the servers
//! (cores, disks, histories), and the `Sometimes` ones ask for flags set.
//! Hence:
//!
//! - an `Always` property that holds in a complete search of the
//!   duplicating network holds on the unordered one;
//! - a `Sometimes` property not found there is not found here;
//! - a counterexample or an example found there counts only once it is
//!   replayed on the unordered network by the unordered model itself
//!   ([`replay`]): its steps are taken one by one, each only if that
//!   model offers it within the bounds (a message delivered a second time,
//!   or sent while a copy is still in flight, is skipped), and the
//!   property is judged on the states that model reaches. A discovery that
//!   does not replay (it needs a duplicate, or the replay's skipped steps
//!   lead elsewhere) sends `check` to the unordered network itself, with
//!   the time left: for examples, a search of it that stops once it has
//!   one of each; for a counterexample, or a breach the audit found after
//!   the search, which no path shows, its whole search, whose outcome is
//!   then `check`'s.
//!
//! So the route changes what is explored, never a verdict: it rests on the
//! model's own network semantics, not on a claim about the core. It is
//! taken only for the whole search the bounds ask for (not one cut at a
//! depth, nor a bug hunt, which stops at its first discovery) with the
//! reductions of states on (`check --keep-stale` and
//! `--keep-crashed-state` measure those on the unordered network itself),
//! and `check --exact-network` turns it off.

use crate::run::{Action, Options, Outcome, Strategy, Verdict, search, search_until};
use crate::{Bounds, NetworkKind, RaftModel, RaftState};
use stateright::{Expectation, Model, Path};
use std::time::{Duration, Instant};

/// What the duplicating search did, for the report.
#[derive(Clone, Debug)]
pub struct Route {
    /// States the duplicating search generated (those reduction 4 left out
    /// among them).
    pub states: usize,
    /// States it kept.
    pub unique: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether it was complete.
    pub complete: bool,
    /// Examples and counterexamples found there and replayed on the
    /// unordered network.
    pub replayed: usize,
    /// Properties whose discovery there did not replay here (or that a
    /// breach found after the search decided): when any, the unordered
    /// network was searched itself ([`Route::exact`]).
    pub not_replayed: Vec<&'static str>,
    /// The unordered network's own search, when it ran.
    pub exact: Option<Exact>,
}

/// Whether `check` takes the route for these bounds and options.
pub fn applies(bounds: &Bounds, options: &Options) -> bool {
    bounds.network == NetworkKind::Unordered
        && options.duplicating_route
        && options.subsume_networks
        && options.discard_stale
        && options.forget_crashed_state
        && options.max_depth.is_none()
        && options.stop_at.is_none()
}

/// The outcome for `bounds` (an unordered network) by the route: the
/// duplicating network's search with its discoveries replayed on the
/// unordered network, or, when one does not replay, the unordered
/// network's own search.
pub(crate) fn check(bounds: &Bounds, options: &Options) -> Outcome {
    let started = Instant::now();
    let duplicating = Bounds {
        network: NetworkKind::Duplicating,
        ..bounds.clone()
    };
    let mut outcome = search(&duplicating, options, Strategy::DepthFirst);
    let model = crate::run::build_model(bounds, options);
    let conditions = model.properties();
    let mut replayed = 0;
    let mut not_replayed = Vec::new();
    for property in &mut outcome.properties {
        if !matches!(property.verdict, Verdict::Violated | Verdict::Found) {
            continue;
        }
        let condition = conditions.iter().find(|p| p.name == property.name);
        let here = match (condition, &property.path) {
            (Some(condition), Some(path)) => replay(
                &model,
                &property.expectation,
                condition.condition,
                &path.clone().into_actions(),
            ),
            _ => None,
        };
        match here {
            Some(path) => {
                property.path = Some(path);
                replayed += 1;
            }
            None => not_replayed.push(property.name),
        }
    }
    let mut route = Route {
        states: outcome.states,
        unique: outcome.unique,
        elapsed: outcome.elapsed,
        complete: outcome.complete,
        replayed,
        not_replayed,
        exact: None,
    };
    if route.not_replayed.is_empty() {
        outcome.bounds = bounds.clone();
        outcome.route = Some(route);
        return outcome;
    }
    let exact = Options {
        timeout: options.timeout.map(|t| t.saturating_sub(started.elapsed())),
        ..options.clone()
    };
    let examples_only = route.not_replayed.iter().all(|name| {
        outcome
            .property(name)
            .is_some_and(|p| p.verdict == Verdict::Found)
    });
    if !examples_only {
        // A counterexample that needs a duplicate, or a breach no path
        // shows: the unordered network's own search decides.
        let mut own = search(bounds, &exact, Strategy::DepthFirst);
        route.exact = Some(Exact::of(&own, true));
        own.route = Some(route);
        own.elapsed = started.elapsed();
        return own;
    }
    // Only examples: the unordered network is searched until it has one of
    // each; every other verdict stands.
    let own = search_until(bounds, &exact, Strategy::DepthFirst, &route.not_replayed);
    for property in &mut outcome.properties {
        let Some(here) = own.property(property.name) else {
            continue;
        };
        if route.not_replayed.contains(&property.name) || here.verdict == Verdict::Violated {
            *property = here.clone();
        }
    }
    let unsettled = route.not_replayed.iter().any(|name| {
        outcome
            .property(name)
            .is_some_and(|p| p.verdict == Verdict::Unknown)
    });
    outcome.complete &= !unsettled;
    route.exact = Some(Exact::of(&own, false));
    outcome.bounds = bounds.clone();
    outcome.route = Some(route);
    outcome.elapsed = started.elapsed();
    outcome
}

/// The unordered network's own search, when the route needed it.
#[derive(Clone, Copy, Debug)]
pub struct Exact {
    /// States it generated.
    pub states: usize,
    /// Distinct states.
    pub unique: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Whether it was the whole search (whose outcome is then `check`'s),
    /// rather than one for the examples that did not replay, stopped once
    /// it had them.
    pub whole: bool,
}

impl Exact {
    fn of(outcome: &Outcome, whole: bool) -> Exact {
        Exact {
            states: outcome.states,
            unique: outcome.unique,
            elapsed: outcome.elapsed,
            whole,
        }
    }
}

/// The path on `model` that takes `actions` in turn, skipping each the
/// model does not offer or that would leave its bounds, up to the first
/// state at which the property with `condition` is discovered (violated,
/// for an `Always` one; met, for a `Sometimes` one); `None` when no state
/// of it is.
pub fn replay(
    model: &RaftModel,
    expectation: &Expectation,
    condition: fn(&RaftModel, &RaftState) -> bool,
    actions: &[Action],
) -> Option<Path<RaftState, Action>> {
    let discovered = |state: &RaftState| match expectation {
        Expectation::Sometimes => condition(model, state),
        _ => !condition(model, state),
    };
    for init in model.init_states() {
        let mut state = init.clone();
        let mut taken: Vec<Action> = Vec::new();
        let mut found = discovered(&state);
        for action in actions {
            if found {
                break;
            }
            let step = model
                .next_steps(&state)
                .into_iter()
                .find(|(offered, next)| offered == action && model.within_boundary(next));
            if let Some((action, next)) = step {
                taken.push(action);
                state = next;
                found = discovered(&state);
            }
        }
        if found {
            return Path::from_actions(model, init, &taken);
        }
    }
    None
}
