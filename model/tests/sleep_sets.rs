//! Sleep sets ([`raft_model::sleep`]) lose no state. Given a bound that no
//! counterexample lowers (a property that always holds, and a "known"
//! counterexample of the bound's length), the search for a shortest
//! counterexample remembers every distinct state within the bound at its
//! least depth: exactly the same states with sleep sets as without them,
//! on one thread and on two, with and without symmetry, on every network,
//! with crashes, loss and snapshots. And with them it takes fewer steps.
//! (`bug_catalogue.rs` checks, with and without them and with symmetry,
//! that the search ends at the least depth of a violation a breadth-first
//! search finds.)

use raft_model::run::Action;
use raft_model::shortest::{Budget, Reductions, Shortest, prove_shortest};
use raft_model::{Bounds, NetworkKind, RaftModel, Timer, model};
use stateright::Property;
use stateright::actor::{ActorModelAction, Id};
use std::time::Duration;

/// The search to `steps` steps, for a property that always holds.
fn search(
    model: &RaftModel,
    steps: usize,
    threads: usize,
    sleep_sets: bool,
    symmetry: bool,
) -> Shortest {
    let holds: Property<RaftModel> = Property::always("always holds", |_, _| true);
    // Never replayed: it only sets the bound (states within `steps - 2`
    // steps are remembered and explored).
    let known: Vec<Action> = vec![ActorModelAction::Timeout(Id::from(0), Timer::Election); steps];
    let budget = Budget {
        timeout: Duration::from_secs(600),
        max_states: usize::MAX,
    };
    let commutation = if sleep_sets {
        Some(model.commutation().expect("the model offers sleep sets"))
    } else {
        None
    };
    // With symmetry, states are counted by their canonical representative
    // (`raft_model::symmetry`), so counts do not move with the order
    // states are met in.
    let reductions = Reductions {
        symmetry,
        sleep_sets: commutation,
    };
    prove_shortest(model, &holds, known, reductions, budget, threads, None)
}

/// Every configuration: the same distinct states with and without sleep
/// sets, on one and two threads; fewer steps with them.
#[test]
fn sleep_sets_reach_every_state_at_its_least_depth() {
    let cases = [
        ("unordered", Bounds::default(), 13),
        (
            "ordered, two terms",
            Bounds {
                max_term: 2,
                network: NetworkKind::Ordered,
                ..Bounds::default()
            },
            11,
        ),
        (
            "duplicating, lossy",
            Bounds {
                network: NetworkKind::Duplicating,
                lossy: true,
                ..Bounds::default()
            },
            12,
        ),
        (
            "unordered, lossy, a crash",
            Bounds {
                crashes: 1,
                lossy: true,
                ..Bounds::default()
            },
            10,
        ),
        (
            "unordered, two copies, snapshots",
            Bounds {
                max_copies: 2,
                snapshots: true,
                ..Bounds::default()
            },
            12,
        ),
    ];
    for (name, bounds, steps) in cases {
        let model = model(bounds);
        for symmetry in [false, true] {
            let plain = search(&model, steps, 1, false, symmetry);
            assert!(plain.proven, "{name}");
            for threads in [1, 2] {
                let sleeping = search(&model, steps, threads, true, symmetry);
                println!(
                    "{name}, symmetry {symmetry}: {} distinct states; {} steps without sleep sets, {} with them on {threads} thread(s)",
                    plain.unique, plain.states, sleeping.states
                );
                assert!(sleeping.proven, "{name}");
                assert_eq!(
                    sleeping.unique, plain.unique,
                    "{name}, symmetry {symmetry}: distinct states"
                );
                assert!(sleeping.states < plain.states, "{name}: steps taken");
            }
        }
    }
}

/// Where a step's order can change which messages stay in flight, the
/// model offers no sleep sets: asynchronous writes (a message is not judged
/// while writes are pending), and the stale-message reduction without the
/// audit that checks its claim.
#[test]
fn the_model_offers_no_sleep_sets_where_steps_need_not_commute() {
    let asynchronous = model(Bounds {
        async_writes: true,
        ..Bounds::default()
    });
    assert!(asynchronous.commutation().is_none());
    let unaudited = raft_model::run::build_model(
        &Bounds::default(),
        &raft_model::run::Options {
            audit: false,
            ..raft_model::run::Options::default()
        },
    );
    assert!(unaudited.commutation().is_none());
    assert!(model(Bounds::default()).commutation().is_some());
}
