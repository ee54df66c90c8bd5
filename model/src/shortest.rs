//! Shortest counterexamples, whatever their depth.
//!
//! A breadth-first search finds the shortest counterexample first, but it
//! keeps its whole frontier in memory, and Figure 8's counterexample (four
//! elections among three servers) lies deeper than a frontier this machine
//! can hold. A depth-first search reaches it, by a longer path. This module
//! turns that path into a shortest one in two steps:
//!
//! 1. [`shrink`]: replay the counterexample with steps left out, one at a
//!    time, and keep every omission after which the run is still a run of
//!    the model (each step enabled, each state within the bounds) and still
//!    breaks the property. Cheap (a few thousand steps replayed), and it
//!    gives a short counterexample, but not a proof that none is shorter.
//! 2. [`prove_shortest`]: a depth-first branch-and-bound search that visits
//!    every state reachable in fewer steps than the best counterexample
//!    known, and lowers that bound each time it finds a shorter one. When
//!    it finishes, the best counterexample is a shortest one. It remembers
//!    each state with the least depth it was reached at (a fingerprint and
//!    one byte), and explores a state again when it reaches it by a shorter
//!    path: a search that remembers only *whether* it saw a state (as
//!    stateright's depth-bounded search does) can cut off a state near the
//!    bound and then skip the shorter path to it, so its "none within N
//!    steps" would not be a proof.
//!
//! Both step the model through [`Model::actions`] and [`Model::next_state`],
//! the same steps, reductions and audits as every other search, and identify
//! states up to symmetry as the main search does when it is on.

use crate::RaftState;
use crate::run::Action;
use stateright::{Model, Property, Representative};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The limits of a [`prove_shortest`] search.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Give up after this long.
    pub timeout: Duration,
    /// Give up after generating this many states.
    pub max_states: usize,
}

/// What a [`prove_shortest`] search concluded.
#[derive(Clone, Debug)]
pub struct Shortest {
    /// The shortest counterexample found (the one given, when the search
    /// found none shorter).
    pub actions: Vec<Action>,
    /// Whether the search finished: then no counterexample is shorter.
    pub proven: bool,
    /// States generated.
    pub states: usize,
    /// Distinct states remembered (up to symmetry when it is on).
    pub unique: usize,
    /// How long it took.
    pub elapsed: Duration,
}

/// The `Always` property named `name` of `model`.
pub fn always_property<M: Model>(model: &M, name: &str) -> Option<Property<M>> {
    model
        .properties()
        .into_iter()
        .find(|p| p.name == name && p.expectation == stateright::Expectation::Always)
}

/// Replays `actions` from `init`; the number of steps after which the state
/// first breaks `property`, or `None` when a step is not enabled, a state
/// lies outside the bounds, or no state breaks it.
pub fn replay<M>(
    model: &M,
    property: &Property<M>,
    init: &RaftState,
    actions: &[Action],
) -> Option<usize>
where
    M: Model<State = RaftState, Action = Action>,
{
    let mut state = init.clone();
    if !(property.condition)(model, &state) {
        return Some(0);
    }
    let mut enabled = Vec::new();
    for (i, action) in actions.iter().enumerate() {
        enabled.clear();
        model.actions(&state, &mut enabled);
        let action = enabled.drain(..).find(|a| a == action)?;
        state = model.next_state(&state, action)?;
        if !model.within_boundary(&state) {
            return None;
        }
        if !(property.condition)(model, &state) {
            return Some(i + 1);
        }
    }
    None
}

/// A counterexample no step of which can be left out: `actions` (which must
/// break `property` from `init`) with steps omitted, latest first, for as
/// long as an omission leaves a run that still breaks it, and cut at the
/// first state that breaks it.
pub fn shrink<M>(
    model: &M,
    property: &Property<M>,
    init: &RaftState,
    actions: &[Action],
) -> Vec<Action>
where
    M: Model<State = RaftState, Action = Action>,
{
    let mut best: Vec<Action> = match replay(model, property, init, actions) {
        Some(end) => actions[..end].to_vec(),
        None => return actions.to_vec(),
    };
    loop {
        let before = best.len();
        let mut i = best.len();
        while i > 0 {
            i -= 1;
            let mut candidate = best.clone();
            candidate.remove(i);
            if let Some(end) = replay(model, property, init, &candidate) {
                candidate.truncate(end);
                best = candidate;
                i = i.min(best.len());
            }
        }
        if best.len() == before {
            return best;
        }
    }
}

/// One state on the branch-and-bound search's stack.
struct Frame {
    state: RaftState,
    /// The action that led here (none for an initial state).
    action: Option<Action>,
    /// Actions still to try from here.
    actions: Vec<Action>,
}

/// A shortest counterexample to `property` of `model`: a branch-and-bound
/// depth-first search for one shorter than `known` (a counterexample from
/// the model's initial state, as [`shrink`] returns) over every state
/// reachable in fewer steps, within `budget`. With `symmetry`, states equal
/// up to a renaming of the servers are one (the properties and the model
/// treat servers alike, which every search checks: [`crate::equivariance`]).
pub fn prove_shortest<M>(
    model: &M,
    property: &Property<M>,
    known: Vec<Action>,
    symmetry: bool,
    budget: Budget,
) -> Shortest
where
    M: Model<State = RaftState, Action = Action>,
{
    let started = Instant::now();
    let hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let fingerprint = |state: &RaftState| -> u64 {
        if symmetry {
            hasher.hash_one(state.representative())
        } else {
            hasher.hash_one(state)
        }
    };
    let mut best = known;
    let mut states = 0usize;
    // Each state's least depth reached so far.
    let mut seen: HashMap<u64, u8, ahash::RandomState> =
        HashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8));
    let mut stack: Vec<Frame> = Vec::new();
    let mut out_of_budget = false;
    'roots: for init in model.init_states() {
        if !(property.condition)(model, &init) {
            best.clear();
            break;
        }
        seen.insert(fingerprint(&init), 0);
        let mut actions = Vec::new();
        model.actions(&init, &mut actions);
        stack.push(Frame {
            state: init,
            action: None,
            actions,
        });
        while !stack.is_empty() {
            // Explore only what could lead to a shorter counterexample: a
            // state at depth d (d = stack.len() - 1) can extend to one of
            // d + 1 steps, which must be shorter than the best.
            let depth = stack.len() - 1;
            let frame = stack.last_mut().expect("not empty");
            if depth + 1 >= best.len() {
                stack.pop();
                continue;
            }
            let Some(action) = frame.actions.pop() else {
                stack.pop();
                continue;
            };
            let Some(next) = model.next_state(&frame.state, action.clone()) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            states += 1;
            if states.is_multiple_of(4096)
                && (states >= budget.max_states || started.elapsed() >= budget.timeout)
            {
                out_of_budget = true;
                break 'roots;
            }
            let next_depth = depth + 1;
            if !(property.condition)(model, &next) {
                // Shorter than the best (the bound above): the new best.
                best = stack
                    .iter()
                    .filter_map(|f| f.action.clone())
                    .chain(std::iter::once(action))
                    .collect();
                continue;
            }
            let key = fingerprint(&next);
            let depth_byte = u8::try_from(next_depth).unwrap_or(u8::MAX);
            match seen.get(&key) {
                Some(&d) if d <= depth_byte => continue,
                _ => {
                    seen.insert(key, depth_byte);
                }
            }
            let mut actions = Vec::new();
            model.actions(&next, &mut actions);
            stack.push(Frame {
                state: next,
                action: Some(action),
                actions,
            });
        }
    }
    Shortest {
        actions: best,
        proven: !out_of_budget,
        states,
        unique: seen.len(),
        elapsed: started.elapsed(),
    }
}
