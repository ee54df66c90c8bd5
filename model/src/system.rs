//! The model the checker explores: stateright's actor model of the servers,
//! with the properties, the bounds, and one reduction.
//!
//! The reduction: after every step, messages the core itself calls stale
//! ([`Node::is_stale`]: delivering them, now or later, changes nothing) are
//! taken off the network. A state with such a message in flight and the same
//! state without it have the same futures, up to deliveries that do nothing,
//! so they are one state; without the reduction every late reply from an
//! old term multiplies the states by the moments it could still be
//! delivered. In debug builds (the model's tests) each discarded message is
//! first delivered to a copy of its receiver, which must neither change nor
//! send anything.
//!
//! The duplicating network also stops recording the last delivered message:
//! stateright keeps it only so that a delivery that changes nothing still
//! makes a new state, and the actors here consume every delivery.

use crate::run::Action;
use crate::{Bounds, Msg, RaftActor, RaftState, properties, within_boundary};
use checked_raft::Node;
use stateright::actor::{ActorModel, Id, Network};
use stateright::{Model, Path, Property};
use std::fmt::Debug;

/// The model checked by `check`: the servers of [`crate::model`].
pub struct RaftModel {
    actors: ActorModel<RaftActor, crate::ModelCfg, ()>,
    bounds: Bounds,
    discard_stale: bool,
}

impl RaftModel {
    pub(crate) fn new(actors: ActorModel<RaftActor, crate::ModelCfg, ()>) -> RaftModel {
        let bounds = actors.cfg.bounds.clone();
        RaftModel {
            actors,
            bounds,
            discard_stale: true,
        }
    }

    /// The same model without the stale-message reduction: stale messages
    /// stay in flight until delivered (or lost). For tests that compare the
    /// two, and `check --keep-stale`.
    pub fn keeping_stale(mut self) -> RaftModel {
        self.discard_stale = false;
        self
    }

    /// Whether `msg` from `src` is stale at `dst` in `state`
    /// ([`Node::is_stale`]); a crashed `dst` is judged as it will restart,
    /// from its storage.
    pub fn is_stale(&self, state: &RaftState, src: Id, dst: Id, msg: &Msg) -> bool {
        let i = usize::from(dst);
        let from = crate::node_id(src.into());
        if !state.crashed[i] {
            return state.actor_states[i].node.is_stale(from, &msg.0);
        }
        let stored = state.actor_storages[i]
            .as_deref()
            .map(|disk| disk.stored.clone())
            .unwrap_or_default();
        Node::restart(self.actors.actors[i].config(dst), &stored)
            .is_ok_and(|(node, _)| node.is_stale(from, &msg.0))
    }

    /// The bounds this model explores within.
    pub fn bounds(&self) -> &Bounds {
        &self.bounds
    }
}

impl Model for RaftModel {
    type State = RaftState;
    type Action = Action;

    fn init_states(&self) -> Vec<RaftState> {
        let mut states = self.actors.init_states();
        if self.discard_stale {
            states.iter_mut().for_each(discard_stale);
        }
        states
    }

    fn actions(&self, state: &RaftState, actions: &mut Vec<Action>) {
        self.actors.actions(state, actions);
    }

    fn next_state(&self, last: &RaftState, action: Action) -> Option<RaftState> {
        let mut next = self.actors.next_state(last, action)?;
        if self.discard_stale {
            discard_stale(&mut next);
        }
        Some(next)
    }

    fn format_action(&self, action: &Action) -> String {
        self.actors.format_action(action)
    }

    fn format_step(&self, last: &RaftState, action: Action) -> Option<String>
    where
        RaftState: Debug,
    {
        self.actors.format_step(last, action)
    }

    fn as_svg(&self, path: Path<RaftState, Action>) -> Option<String> {
        // The actor model draws the sequence diagram.
        self.actors.as_svg(path)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties()
    }

    fn within_boundary(&self, state: &RaftState) -> bool {
        within_boundary(&self.bounds, state)
    }
}

/// Takes stale messages off the network (see the module documentation).
fn discard_stale(state: &mut RaftState) {
    let servers = &state.actor_states;
    let crashed = &state.crashed;
    // A crashed server's term is on its disk, and it restarts with it.
    let stale = |src: Id, dst: Id, msg: &Msg| {
        let i = usize::from(dst);
        let node = &servers[i].node;
        let from = crate::node_id(src.into());
        let stale = !crashed[i] && node.is_stale(from, &msg.0);
        #[cfg(debug_assertions)]
        if stale {
            check_no_op(node, from, msg);
        }
        stale
    };
    match &mut state.network {
        Network::UnorderedNonDuplicating(multiset) => {
            if multiset.keys().any(|e| stale(e.src, e.dst, &e.msg)) {
                multiset.retain(|e, _| !stale(e.src, e.dst, &e.msg));
            }
        }
        Network::UnorderedDuplicating(set, last) => {
            *last = None;
            if set.iter().any(|e| stale(e.src, e.dst, &e.msg)) {
                set.retain(|e| !stale(e.src, e.dst, &e.msg));
            }
        }
        Network::Ordered(flows) => {
            let any = flows
                .iter()
                .any(|(&(src, dst), queue)| queue.iter().any(|m| stale(src, dst, m)));
            if any {
                for (&(src, dst), queue) in flows.iter_mut() {
                    queue.retain(|m| !stale(src, dst, m));
                }
                // stateright keeps no empty flows.
                flows.retain(|_, queue| !queue.is_empty());
            }
        }
    }
}

/// Delivers a message the core calls stale to a copy of its receiver:
/// nothing may change and nothing may be sent.
#[cfg(debug_assertions)]
fn check_no_op(node: &Node, from: checked_raft::NodeId, msg: &Msg) {
    let mut copy = node.clone();
    let effects = copy.step(from, msg.0.clone());
    assert!(
        matches!(&effects, Ok(e) if e.is_empty()) && copy == *node,
        "{} called {:?} from {from} stale, but delivering it gave {effects:?}",
        node.id(),
        msg.0
    );
}
