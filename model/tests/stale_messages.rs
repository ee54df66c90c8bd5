//! The stale-message reduction loses no behaviour. The checker takes every
//! message the core calls stale ([`checked_raft::Node::is_stale`]) off the
//! network after each step. That is sound if
//! 1. delivering a stale message changes nothing and sends nothing, and
//! 2. a stale message stays stale whatever happens next (crashes included),
//!
//! for then a state with a stale message in flight has the same futures as
//! the state without it. These tests check both claims on every transition
//! of a search that keeps stale messages, and that the reduced search gives
//! the verdicts of the unreduced one with fewer states.

mod common;

// `two_servers_crashing`: every way a message can outlive its moment.
// (Loss only takes messages away.)
use common::{assert_reduction_keeps_verdicts, two_servers_crashing};
use raft_model::run::Options;
use raft_model::{Bounds, Msg, NetworkKind, RaftModel, RaftState, model};
use stateright::Model;
use stateright::actor::{ActorModelAction, Id, Network};
use std::collections::{HashSet, VecDeque};

/// Two terms, so that replies outlive their term.
fn two_servers_two_terms() -> Bounds {
    Bounds {
        servers: 2,
        max_term: 2,
        max_log: 1,
        network: NetworkKind::Duplicating,
        snapshots: true,
        ..Bounds::default()
    }
}

/// Elections over two terms, with a crash.
fn two_servers_elections_crashing() -> Bounds {
    Bounds {
        servers: 2,
        max_term: 2,
        values: 0,
        max_log: 0,
        crashes: 1,
        network: NetworkKind::Duplicating,
        ..Bounds::default()
    }
}

/// Three servers, one election and one entry, FIFO channels.
fn three_servers_ordered() -> Bounds {
    Bounds {
        max_term: 1,
        max_log: 1,
        network: NetworkKind::Ordered,
        ..Bounds::default()
    }
}

fn all_bounds() -> [Bounds; 4] {
    [
        two_servers_crashing(),
        two_servers_two_terms(),
        two_servers_elections_crashing(),
        three_servers_ordered(),
    ]
}

#[test]
fn discarding_stale_messages_gives_the_verdicts_of_keeping_them() {
    for bounds in all_bounds() {
        let kept = Options {
            discard_stale: false,
            ..Options::default()
        };
        assert_reduction_keeps_verdicts(&bounds, kept);
    }
}

/// Every message in flight in `state`, each once. (stateright 0.31's
/// `Network::iter_all` never ends on an ordered network with a queue of
/// two or more, so the network is walked here.)
fn in_flight(state: &RaftState) -> Vec<(Id, Id, Msg)> {
    let mut all: Vec<(Id, Id, Msg)> = match &state.network {
        Network::UnorderedDuplicating(set, _) => {
            set.iter().map(|e| (e.src, e.dst, e.msg.clone())).collect()
        }
        Network::UnorderedNonDuplicating(multiset) => multiset
            .keys()
            .map(|e| (e.src, e.dst, e.msg.clone()))
            .collect(),
        Network::Ordered(flows) => flows
            .iter()
            .flat_map(|(&(src, dst), queue)| queue.iter().map(move |m| (src, dst, m.clone())))
            .collect(),
    };
    all.sort();
    all.dedup();
    all
}

/// The stale messages in flight in `state`.
fn stale_in_flight(model: &RaftModel, state: &RaftState) -> Vec<(Id, Id, Msg)> {
    in_flight(state)
        .into_iter()
        .filter(|(src, dst, msg)| model.is_stale(state, *src, *dst, msg))
        .collect()
}

/// Explores every reachable state of the model that keeps stale messages,
/// breadth first, and checks both claims on every transition. Returns the
/// number of states and of stale messages seen.
fn check_every_transition(bounds: &Bounds) -> (usize, usize) {
    let model = model(bounds.clone()).keeping_stale();
    let mut seen: HashSet<RaftState> = HashSet::new();
    let mut queue: VecDeque<RaftState> = model.init_states().into_iter().collect();
    let mut stale_seen = 0;
    let mut actions = Vec::new();
    while let Some(state) = queue.pop_front() {
        if !seen.insert(state.clone()) {
            continue;
        }
        let stale = stale_in_flight(&model, &state);
        stale_seen += stale.len();
        actions.clear();
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            let description = format!("{action:?}");
            let delivered_stale = match &action {
                ActorModelAction::Deliver { src, dst, msg } => {
                    model.is_stale(&state, *src, *dst, msg) && !state.crashed[usize::from(*dst)]
                }
                _ => false,
            };
            let dst = match &action {
                ActorModelAction::Deliver { dst, .. } => Some(usize::from(*dst)),
                _ => None,
            };
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            // Claim 1: delivering a stale message changes nothing there and
            // sends nothing.
            if let (true, Some(dst)) = (delivered_stale, dst) {
                assert_eq!(
                    next.actor_states[dst].node, state.actor_states[dst].node,
                    "{bounds}: {description} changed its receiver"
                );
                assert!(
                    next.network.len() <= state.network.len(),
                    "{bounds}: {description} sent something"
                );
            }
            // Claim 2: what was stale stays stale.
            for (src, dst, msg) in &stale {
                assert!(
                    model.is_stale(&next, *src, *dst, msg),
                    "{bounds}: {msg:?} from {src:?} to {dst:?} was stale, \
                     but not after {description}"
                );
            }
            if model.within_boundary(&next) && !seen.contains(&next) {
                queue.push_back(next);
            }
        }
    }
    (seen.len(), stale_seen)
}

#[test]
fn a_stale_message_stays_stale_and_delivering_it_changes_nothing() {
    for bounds in all_bounds() {
        let (states, stale) = check_every_transition(&bounds);
        // Not vacuous: the searches meet many stale messages.
        assert!(
            states > 1_000 && stale > 1_000,
            "{bounds}: {states} states, {stale} stale messages"
        );
        eprintln!("{bounds}: {states} states, {stale} stale messages in flight");
    }
}
