//! Reductions 2, 3 and 4 of [`raft_model::RaftModel`] lose no behaviour:
//!
//! - forgetting a crashed server's volatile state maps the reachable states
//!   of the model that keeps it exactly onto the reachable states of the
//!   model that forgets it;
//! - leaving out the drops of a lossy duplicating network reaches exactly
//!   the server states that exploring every drop reaches;
//! - leaving out, on a duplicating network, a state covered by one kept
//!   (the same servers, at least its messages in flight) leaves out only
//!   such states, each step from one is matched from its cover, and the
//!   same server states are reached;
//!
//! and none changes a verdict. (Reduction 1, stale messages, has its own
//! file: `stale_messages.rs`.) Also here: leaving out steps that change
//! nothing leaves out only those, and the duplicating network reaches every
//! server state the unordered one does (what the duplicating route of
//! `model/src/route.rs` rests on).

mod common;

use common::{assert_reduction_keeps_verdicts, two_servers_crashing, unordered_variety};
use raft_model::run::Options;
use raft_model::{Bounds, Msg, NetworkKind, RaftModel, RaftState, Server, model};
use stateright::Model;
use stateright::actor::{Id, Network};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Every reachable state within the bounds, breadth first, without
/// symmetry reduction.
fn reachable(model: &RaftModel) -> HashSet<RaftState> {
    let mut seen = HashSet::new();
    let mut queue: VecDeque<RaftState> = model.init_states().into_iter().collect();
    let mut actions = Vec::new();
    while let Some(state) = queue.pop_front() {
        if !model.within_boundary(&state) || !seen.insert(state.clone()) {
            continue;
        }
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            if let Some(next) = model.next_state(&state, action)
                && !seen.contains(&next)
            {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// Crashes with every other source of variety: snapshots, a duplicating
/// network, and two terms.
fn crashing() -> [Bounds; 3] {
    [
        two_servers_crashing(),
        Bounds {
            servers: 2,
            max_term: 2,
            max_log: 1,
            crashes: 1,
            network: NetworkKind::Unordered,
            ..Bounds::default()
        },
        Bounds {
            servers: 3,
            max_term: 1,
            values: 0,
            max_log: 0,
            crashes: 1,
            network: NetworkKind::Unordered,
            ..Bounds::default()
        },
    ]
}

#[test]
fn forgetting_a_crashed_servers_state_maps_the_state_space_onto_the_reduced_one() {
    for bounds in crashing() {
        let reduced = model(bounds.clone());
        let full = model(bounds.clone()).keeping_crashed_state();
        let full_states = reachable(&full);
        let reduced_states = reachable(&reduced);
        let mapped: HashSet<RaftState> = full_states.iter().map(|s| reduced.canonical(s)).collect();
        assert!(
            mapped == reduced_states,
            "{bounds}: {} mapped states, {} reduced states, {} only mapped, {} only reduced",
            mapped.len(),
            reduced_states.len(),
            mapped.difference(&reduced_states).count(),
            reduced_states.difference(&mapped).count(),
        );
        assert!(
            reduced_states.len() < full_states.len(),
            "{bounds}: forgetting should merge states ({} vs {})",
            reduced_states.len(),
            full_states.len()
        );
        // Every property says the same of a state and of what the
        // reduction makes of it, so the reduced search judges each state of
        // the full one.
        let properties = reduced.properties();
        for state in &full_states {
            let canonical = reduced.canonical(state);
            for p in &properties {
                assert_eq!(
                    (p.condition)(&reduced, state),
                    (p.condition)(&reduced, &canonical),
                    "{bounds}: {} differs after forgetting",
                    p.name
                );
            }
        }
        // And some crashed server's state really was forgotten.
        assert!(full_states.iter().any(|s| reduced.canonical(s) != *s));
    }
}

#[test]
fn forgetting_a_crashed_servers_state_gives_the_verdicts_of_keeping_it() {
    for bounds in crashing() {
        let kept = Options {
            forget_crashed_state: false,
            ..Options::default()
        };
        assert_reduction_keeps_verdicts(&bounds, kept);
    }
}

/// Lossy duplicating networks, with crashes and snapshots.
fn lossy_duplicating() -> [Bounds; 2] {
    [
        Bounds {
            lossy: true,
            ..two_servers_crashing()
        },
        Bounds {
            servers: 3,
            max_term: 1,
            max_log: 1,
            network: NetworkKind::Duplicating,
            lossy: true,
            ..Bounds::default()
        },
    ]
}

/// The servers of a state and which are down: everything a property reads.
fn servers(state: &RaftState) -> (Vec<Arc<Server>>, Vec<bool>) {
    (state.actor_states.clone(), state.crashed.clone())
}

#[test]
fn drops_on_a_duplicating_network_reach_no_new_server_state() {
    for bounds in lossy_duplicating() {
        let explicit = reachable(&model(bounds.clone()).with_explicit_drops());
        let subsumed = reachable(&model(bounds.clone()));
        assert!(
            subsumed.len() < explicit.len(),
            "{bounds}: leaving drops out should shrink the space ({} vs {})",
            subsumed.len(),
            explicit.len()
        );
        let with_drops: HashSet<_> = explicit.iter().map(servers).collect();
        let without: HashSet<_> = subsumed.iter().map(servers).collect();
        assert!(
            with_drops == without,
            "{bounds}: {} server states with drops, {} without",
            with_drops.len(),
            without.len()
        );
    }
}

#[test]
fn leaving_drops_out_gives_the_verdicts_of_exploring_them() {
    for bounds in lossy_duplicating() {
        let explicit = Options {
            subsume_drops: false,
            ..Options::default()
        };
        assert_reduction_keeps_verdicts(&bounds, explicit);
    }
}

/// Reduction 2's one assumption, that a recovering server restarts as the
/// core the model forgot it to (the core messages to it were judged stale
/// by), is checked at every recovery: a forgotten core that is not the one
/// recovery builds is reported as a breach of "Crashed servers restart as
/// forgotten". (A pure `Node::restart` cannot break it, so the test breaks
/// the forgotten state instead.)
#[test]
fn a_restart_other_than_the_forgotten_core_is_reported() {
    use checked_raft::{Config, Node};
    use stateright::actor::{ActorModelAction, Id};
    let model = model(Bounds {
        servers: 2,
        crashes: 1,
        ..Bounds::default()
    });
    let step = |state: &RaftState, wanted: ActorModelAction<_, _, _>| {
        let mut actions = Vec::new();
        model.actions(state, &mut actions);
        let action = actions
            .into_iter()
            .find(|a| *a == wanted)
            .expect("the action is enabled");
        model
            .next_state(state, action)
            .expect("the action is a step")
    };
    let init = model.init_states().remove(0);
    let candidate = step(
        &init,
        ActorModelAction::Timeout(Id::from(0), raft_model::Timer::Election),
    );
    let crashed = step(&candidate, ActorModelAction::Crash(Id::from(0)));
    let property = |state: &RaftState| {
        model
            .properties()
            .into_iter()
            .find(|p| p.name == raft_model::RESTARTS_AS_FORGOTTEN)
            .is_some_and(|p| (p.condition)(&model, state))
    };

    let recovered = step(&crashed, ActorModelAction::Recover(Id::from(0)));
    assert!(property(&recovered), "an honest restart is no breach");

    let mut tampered = crashed.clone();
    let server = Arc::make_mut(&mut tampered.actor_states[0]);
    let members = vec![raft_model::node_id(0), raft_model::node_id(1)];
    let (fresh, _) = Node::new(Config::new(raft_model::node_id(0), members)).expect("valid");
    server.node = Arc::new(fresh);
    let recovered = step(&tampered, ActorModelAction::Recover(Id::from(0)));
    assert!(!property(&recovered), "the breach is reported");
}

/// Every step a model offers from every state it reaches: what it reaches
/// in one step, in its order.
fn steps(model: &RaftModel, states: &HashSet<RaftState>) -> Vec<(RaftState, Option<RaftState>)> {
    let mut steps = Vec::new();
    let mut actions = Vec::new();
    for state in states {
        model.actions(state, &mut actions);
        for action in actions.drain(..) {
            steps.push((state.clone(), model.next_state(state, action)));
        }
    }
    steps
}

/// A step back to the state it left is not offered as a step
/// ([`RaftModel`]'s module documentation): every other step is offered
/// as before, so the same states are reached, and on a duplicating network
/// a large share of the steps goes.
#[test]
fn steps_that_change_nothing_are_left_out_and_nothing_else_is() {
    for bounds in lossy_duplicating() {
        let kept = model(bounds.clone()).keeping_self_loops();
        let left_out = model(bounds.clone());
        let states = reachable(&kept);
        assert!(states == reachable(&left_out), "{bounds}: the same states");
        let before = steps(&kept, &states);
        let after = steps(&left_out, &states);
        let mut loops = 0;
        for ((state, was), (_, is)) in before.iter().zip(&after) {
            if was.as_ref() == Some(state) {
                loops += 1;
                assert_eq!(
                    *is, None,
                    "{bounds}: a step that changes nothing is offered"
                );
            } else {
                assert_eq!(was, is, "{bounds}: a step that changes something is lost");
            }
        }
        let offered = before.iter().filter(|(_, n)| n.is_some()).count();
        assert!(
            loops * 4 > offered,
            "{bounds}: more than a quarter of the steps change nothing on this network \
             ({loops} of {offered})"
        );
    }
}

/// What the duplicating route (`model/src/route.rs`) rests on to prove the
/// unordered network's `Always` properties by checking the duplicating
/// one: every run on the unordered network is a run on the duplicating one
/// (deliver each message at most once; a lost message is one never
/// delivered), so every server state the first reaches, the second reaches
/// too, and a property of server states that holds on the second holds on
/// the first. With two election terms, a crash, losses, snapshots and
/// asynchronous writes.
#[test]
fn the_duplicating_network_reaches_every_server_state_the_unordered_one_does() {
    for bounds in unordered_variety() {
        let duplicating = Bounds {
            network: NetworkKind::Duplicating,
            ..bounds.clone()
        };
        let unordered: HashSet<_> = reachable(&model(bounds.clone()))
            .iter()
            .map(servers)
            .collect();
        let superset: HashSet<_> = reachable(&model(duplicating)).iter().map(servers).collect();
        let missing = unordered.difference(&superset).count();
        assert_eq!(
            missing,
            0,
            "{bounds}: {missing} of {} server states missing on the duplicating network",
            unordered.len()
        );
        eprintln!(
            "{bounds}: {} server states unordered, {} duplicating",
            unordered.len(),
            superset.len()
        );
    }
}

/// Duplicating networks for reduction 4: two servers with a crash,
/// snapshots and losses over two and three election terms; three servers
/// with two entries.
fn covered_networks() -> [Bounds; 3] {
    let crashing = Bounds {
        max_term: 2,
        lossy: true,
        ..two_servers_crashing()
    };
    [
        crashing.clone(),
        Bounds {
            max_term: 3,
            ..crashing
        },
        Bounds {
            max_log: 2,
            network: NetworkKind::Duplicating,
            ..Bounds::default()
        },
    ]
}

/// The messages in flight on a duplicating network.
fn network(state: &RaftState) -> HashSet<(Id, Id, Msg)> {
    match &state.network {
        Network::UnorderedDuplicating(set, _) => {
            set.iter().map(|e| (e.src, e.dst, e.msg.clone())).collect()
        }
        _ => panic!("reduction 4 is for the duplicating network"),
    }
}

/// A server without the flags only the `Sometimes` properties read.
fn without_flags(server: &Server) -> Server {
    Server {
        restarted: false,
        applied_after_restart: false,
        installed_snapshot: false,
        ..server.clone()
    }
}

/// Each server's example flags.
fn flags(servers: &[Arc<Server>]) -> Vec<[bool; 3]> {
    servers
        .iter()
        .map(|s| [s.restarted, s.applied_after_restart, s.installed_snapshot])
        .collect()
}

/// Whether every flag set in `small` is set in `big`.
fn flags_within(small: &[Arc<Server>], big: &[Arc<Server>]) -> bool {
    flags(small)
        .iter()
        .zip(flags(big))
        .all(|(s, b)| s.iter().zip(b).all(|(s, b)| !s || b))
}

/// `state` without its network and its servers' example flags: what
/// reduction 4 requires two states to share (servers, timers, storage,
/// histories, up or down).
fn all_but_network(state: &RaftState) -> RaftState {
    RaftState {
        network: Network::new_unordered_duplicating([]),
        actor_states: state
            .actor_states
            .iter()
            .map(|s| Arc::new(without_flags(s)))
            .collect(),
        ..state.clone()
    }
}

/// Whether `big` is `small` with at least its messages and its example
/// flags.
fn covers(big: &RaftState, small: &RaftState) -> bool {
    all_but_network(big) == all_but_network(small)
        && network(small).is_subset(&network(big))
        && flags_within(&small.actor_states, &big.actor_states)
}

/// Reduction 4 ([`raft_model::RaftModel::subsuming_networks`]), checked on
/// what the search did: every state it left out is covered by a state it
/// kept (the same servers but for their example flags, at least its flags
/// and its messages); every step from a state left out is a step from its
/// cover, to a state the cover's step covers (the argument of
/// `model/src/subsume.rs`, one step at a time); and the states kept reach
/// every server state of the full search, with at least its flags, over
/// fewer states.
#[test]
fn states_covered_by_a_kept_state_reach_no_new_server_state() {
    for bounds in covered_networks() {
        let full = reachable(&model(bounds.clone()));
        let plain = model(bounds.clone());
        let covering = model(bounds.clone()).subsuming_networks(false);
        let mut kept: HashSet<RaftState> = HashSet::new();
        let mut left_out: HashSet<RaftState> = HashSet::new();
        let mut queue: VecDeque<RaftState> = covering
            .init_states()
            .into_iter()
            .filter(|s| covering.within_boundary(s))
            .collect();
        let mut actions = Vec::new();
        while let Some(state) = queue.pop_front() {
            if !kept.insert(state.clone()) {
                continue;
            }
            covering.actions(&state, &mut actions);
            for action in actions.drain(..) {
                let Some(next) = covering.next_state(&state, action) else {
                    continue;
                };
                // The bounds alone, without reduction 4's lookup.
                if !plain.within_boundary(&next) {
                    continue;
                }
                if covering.within_boundary(&next) {
                    queue.push_back(next);
                } else {
                    left_out.insert(next);
                }
            }
        }
        // Met again: its own cover.
        left_out.retain(|state| !kept.contains(state));
        assert!(
            !left_out.is_empty() && kept.len() < full.len(),
            "{bounds}: leaving covered states out should shrink the space ({} vs {})",
            kept.len(),
            full.len()
        );
        let mut by_servers: HashMap<_, Vec<&RaftState>> = HashMap::new();
        for state in &kept {
            by_servers
                .entry(all_but_network(state))
                .or_default()
                .push(state);
        }
        for small in &left_out {
            let cover = by_servers
                .get(&all_but_network(small))
                .and_then(|candidates| candidates.iter().find(|big| covers(big, small)))
                .unwrap_or_else(|| panic!("{bounds}: a state left out that no kept state covers"));
            let mut steps = Vec::new();
            plain.actions(small, &mut steps);
            let mut offered = Vec::new();
            plain.actions(cover, &mut offered);
            for step in steps {
                assert!(
                    offered.contains(&step),
                    "{bounds}: {step:?} not offered by the cover"
                );
                let after_small = plain
                    .next_state(small, step.clone())
                    .unwrap_or(small.clone());
                let after_big = plain
                    .next_state(cover, step.clone())
                    .unwrap_or((*cover).clone());
                assert!(
                    covers(&after_big, &after_small),
                    "{bounds}: after {step:?} the cover's state no longer covers"
                );
            }
        }
        let every: HashSet<_> = full.iter().map(servers).collect();
        let reached: HashSet<_> = kept.iter().map(servers).collect();
        assert!(
            reached.is_subset(&every),
            "{bounds}: kept states are reachable"
        );
        // Every server state of the full search is reached, but for the
        // example flags, with at least its flags set.
        let mut reached_without_flags: HashMap<_, Vec<&Vec<Arc<Server>>>> = HashMap::new();
        for (reached_servers, down) in &reached {
            let bare: Vec<Server> = reached_servers.iter().map(|s| without_flags(s)).collect();
            reached_without_flags
                .entry((bare, down.clone()))
                .or_default()
                .push(reached_servers);
        }
        let missing = every
            .iter()
            .filter(|(every_servers, down)| {
                let bare: Vec<Server> = every_servers.iter().map(|s| without_flags(s)).collect();
                !reached_without_flags
                    .get(&(bare, down.clone()))
                    .is_some_and(|candidates| {
                        candidates.iter().any(|r| flags_within(every_servers, r))
                    })
            })
            .count();
        assert_eq!(
            missing,
            0,
            "{bounds}: {missing} of {} server states of the full search not reached with at \
             least their flags ({} reached)",
            every.len(),
            reached.len()
        );
        eprintln!(
            "{bounds}: {} states, {} kept, {} left out (distinct), {} server states",
            full.len(),
            kept.len(),
            left_out.len(),
            every.len()
        );
    }
}

#[test]
fn leaving_covered_states_out_gives_the_verdicts_of_exploring_them() {
    for bounds in covered_networks() {
        let every_state = Options {
            subsume_networks: false,
            ..Options::default()
        };
        assert_reduction_keeps_verdicts(&bounds, every_state);
    }
}
