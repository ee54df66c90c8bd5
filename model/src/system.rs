//! The model the checker explores: stateright's actor model of the servers,
//! with the properties, the bounds, and three reductions (a fourth, for
//! the duplicating network, is in `subsume.rs`: it needs the search's
//! memory of the states it met, not just the state at hand). Each merges
//! states that have the same futures, or drops states whose futures another
//! state already has, so none loses a behaviour; each can be switched off
//! (`check --keep-stale`, `--keep-crashed-state`, `--explicit-drops`) and
//! `model/tests/reductions.rs` and `stale_messages.rs` check that it
//! changes no verdict and no reachable server state.
//!
//! 1. **Stale messages.** After every step, messages the core itself calls
//!    stale ([`Node::is_stale`]: delivering them, now or later, changes
//!    nothing) are taken off the network. A state with such a message in
//!    flight and the same state without it have the same futures, up to
//!    deliveries that do nothing, so they are one state; without the
//!    reduction every late reply from an old term multiplies the states by
//!    the moments it could still be delivered. The claim rests on the core
//!    under test, so it is checked where it is used, in every search: each
//!    message is first delivered to a copy of its receiver, which must
//!    neither change nor emit anything; one that does stays in flight and
//!    fails the property "Stale messages are no-ops" ([`crate::audit`]).
//!    After the search, every discarded message is followed along the
//!    steps its receiver was seen to take from there, and must stay stale
//!    and inert ([`crate::ledger`]). With asynchronous writes a server
//!    with writes pending is not judged (a crash that loses them takes its
//!    term or log back, and the message could be fresh again), and the
//!    ledger tells a core apart by its pending writes and its disk too
//!    (the audit reported both when they were missing).
//! 2. **A crashed server forgets.** stateright keeps a crashed actor's last
//!    state until it recovers, and then restarts it from its storage alone.
//!    So when a server crashes, its volatile state (role, commit index,
//!    leader's progress, state machine) is replaced by what it will restart
//!    with: the core [`Node::restart`] builds from its disk. Two crashes that
//!    differ only in what was about to be lost become one state. Nothing
//!    reads a crashed server's volatile state (stateright neither delivers
//!    to it nor fires its timers; the properties read only its disk and
//!    ghost flags) except the stale-message judgement, which the audit
//!    above checks against this core; at recovery the core the server
//!    restarts as must be this one, or "Crashed servers restart as
//!    forgotten" fails.
//! 3. **Loss on a duplicating network is not explored step by step.** On
//!    that network a delivered message stays deliverable, so dropping one
//!    only takes away a choice: every run from the state without the
//!    message is a run from the state with it (deliver the same messages;
//!    the message's presence changes no step and no property). A lossy
//!    duplicating network therefore reaches exactly the server states of a
//!    duplicating one, and the drop steps, which multiply the network by
//!    every subset of what was sent, are left out. This rests on no claim
//!    about the core: only on the model, whose properties and bounds do not
//!    read a duplicating network. (On the other networks a
//!    drop is explored: a FIFO channel delivers what was behind the lost
//!    message sooner, and the unordered one bounds copies in flight.)
//!
//! The duplicating network also stops recording the last delivered message:
//! stateright keeps it only so that a delivery that changes nothing still
//! makes a new state, and the actors here consume every delivery.
//!
//! A step that leaves the state exactly as it was (servers, network,
//! timers, crashes, histories) is not offered as a step: `next_state`
//! returns `None`, as stateright's actor model already does for a step
//! that neither changes its actor nor sends anything. Such a step reaches
//! no state, the properties read states only, and no path through one is
//! shorter than the path without it, so nothing a search reports changes
//! but the number of steps it generated. This rests on no claim about the
//! core: the model compares the two states. On the duplicating network it
//! is most repeated deliveries (the receiver answers again what it
//! answered before, and that answer is in flight already): about half of
//! the steps there.

use crate::audit::{Breach, restart_breach, stale_delivery_breach};
use crate::equivariance::Equivariance;
use crate::ledger::{Ledger, LedgerSize};
use crate::properties::{properties, within_boundary};
use crate::run::Action;
use crate::subsume::Subsumption;
use crate::{Bounds, Msg, NetworkKind, RaftActor, RaftState};
use checked_raft::Node;
use stateright::actor::{ActorModel, ActorModelAction, Id, LossyNetwork, Network};
use stateright::{Model, Path, Property};
use std::fmt::Debug;
use std::sync::Arc;

/// The model checked by `check`: the servers of [`crate::model`].
pub struct RaftModel {
    actors: ActorModel<RaftActor, crate::ModelCfg, crate::Audit>,
    bounds: Bounds,
    discard_stale: bool,
    /// Whether a step back to the state it left is left out.
    skip_self_loops: bool,
    forget_crashed: bool,
    audit: bool,
    /// What the search saw of each server, for the audit after it.
    ledger: Arc<Ledger>,
    /// Symmetry reduction's claim, checked by the servers on every
    /// distinct step ([`crate::equivariance`]).
    equivariance: Arc<Equivariance>,
    /// Reduction 4, when the search uses it ([`crate::subsume`]).
    subsumption: Option<Arc<Subsumption>>,
}

impl RaftModel {
    pub(crate) fn new(
        mut actors: ActorModel<RaftActor, crate::ModelCfg, crate::Audit>,
    ) -> RaftModel {
        let bounds = actors.cfg.bounds.clone();
        let equivariance = Arc::new(Equivariance::default());
        for actor in &mut actors.actors {
            actor.equivariance = Some(Arc::clone(&equivariance));
        }
        // Reduction 3: a duplicating network's drops are subsumed.
        let lossy = bounds.lossy && bounds.network != NetworkKind::Duplicating;
        RaftModel {
            actors: actors.lossy_network(if lossy {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            }),
            bounds,
            discard_stale: true,
            skip_self_loops: true,
            forget_crashed: true,
            audit: true,
            // Under every naming: right whether or not the checker uses
            // symmetry (`without_symmetry` narrows it).
            ledger: Arc::new(Ledger::new(true)),
            equivariance,
            subsumption: None,
        }
    }

    /// Stops checking each distinct step against renamings of the servers.
    fn without_equivariance_checks(&mut self) {
        for actor in &mut self.actors.actors {
            actor.equivariance = None;
        }
    }

    /// The same model with every drop of a lossy duplicating network
    /// explored as a step (reduction 3 off), for tests that compare the two
    /// and `check --explicit-drops`.
    pub fn with_explicit_drops(mut self) -> RaftModel {
        if self.bounds.lossy {
            self.actors = self.actors.lossy_network(LossyNetwork::Yes);
        }
        self
    }

    /// The same model in which a crashed server keeps its last state until
    /// it restarts (reduction 2 off), for tests that compare the two and
    /// `check --keep-crashed-state`.
    pub fn keeping_crashed_state(mut self) -> RaftModel {
        self.forget_crashed = false;
        self
    }

    /// The same model with the reductions' claims taken on trust rather
    /// than checked ([`crate::audit`]): only to measure what the checks
    /// cost (`check --unaudited`). A verdict of this model rests on claims
    /// about the core that nothing checked.
    pub fn unaudited(mut self) -> RaftModel {
        self.audit = false;
        self.without_equivariance_checks();
        self
    }

    /// What this model's reductions make of `state` after a step: crashed
    /// servers' volatile state forgotten (reduction 2) and stale messages
    /// taken off the network (reduction 1), each when it is on. For tests
    /// that map the states of a model without a reduction onto the states
    /// of the model with it.
    pub fn canonical(&self, state: &RaftState) -> RaftState {
        let mut state = state.clone();
        if self.forget_crashed {
            for i in 0..state.crashed.len() {
                if state.crashed[i] {
                    let down = self.actors.actors[i].down(Id::from(i), &state.actor_states[i]);
                    state.actor_states[i] = Arc::new(down);
                }
            }
        }
        if self.discard_stale {
            discard_stale(&mut state, self.forget_crashed, None);
        }
        state
    }

    /// The same model for a search without symmetry reduction: the audit's
    /// ledger then records steps under the servers' own names only.
    pub fn without_symmetry(mut self) -> RaftModel {
        self.ledger = Arc::new(Ledger::new(false));
        self.without_equivariance_checks();
        self
    }

    /// The audit after the search: every discarded message followed along
    /// the steps its receiver was seen to take ([`Ledger`]), and the first
    /// step that did not commute with renaming the servers
    /// ([`Equivariance`]). The breaches found.
    pub fn final_audit(&self) -> Vec<Breach> {
        let mut breaches = Vec::new();
        if self.audit && self.discard_stale {
            breaches.extend(self.ledger.breach());
        }
        if self.audit {
            breaches.extend(self.equivariance.breach());
        }
        breaches
    }

    /// What the ledger holds.
    pub fn ledger_size(&self) -> LedgerSize {
        self.ledger.size()
    }

    /// The ledger, when the audit is on.
    fn ledger(&self) -> Option<&Ledger> {
        (self.audit && self.discard_stale).then_some(&*self.ledger)
    }

    /// The same model without the stale-message reduction: stale messages
    /// stay in flight until delivered (or lost). For tests that compare the
    /// two, and `check --keep-stale`.
    pub fn keeping_stale(mut self) -> RaftModel {
        self.discard_stale = false;
        self
    }

    /// The same model offering steps back to the state they left as
    /// steps, as stateright's actor model does (module documentation): for
    /// the tests that show leaving them out loses no state.
    pub fn keeping_self_loops(mut self) -> RaftModel {
        self.skip_self_loops = false;
        self
    }

    /// Whether `msg` from `src` is stale at `dst` in `state`
    /// ([`Node::is_stale`]); a crashed `dst` is judged as it will restart,
    /// from its storage.
    pub fn is_stale(&self, state: &RaftState, src: Id, dst: Id, msg: &Msg) -> bool {
        let i = usize::from(dst);
        let from = crate::node_id(src.into());
        if !state.crashed[i] {
            // Writes still pending may be lost in a crash.
            let server = &state.actor_states[i];
            return server.pending.is_empty() && server.node.is_stale(from, &msg.0);
        }
        let stored = state.actor_storages[i]
            .as_ref()
            .map(|saved| saved.0.stored.clone())
            .unwrap_or_default();
        Node::restart(self.actors.actors[i].config(dst), &stored)
            .is_ok_and(|(node, _)| node.is_stale(from, &msg.0))
    }

    /// Which steps commute, when this model offers sleep sets to the
    /// search for a shortest counterexample ([`crate::sleep`]): without
    /// asynchronous writes, and with the stale-message reduction only when
    /// the audit that checks its claim is on (on the duplicating network
    /// only with the reduction, which also stops it recording the last
    /// message delivered).
    pub fn commutation(&self) -> Option<crate::sleep::Commutation> {
        let unsound = self.bounds.async_writes
            || (self.discard_stale && !self.audit)
            || (self.bounds.network == NetworkKind::Duplicating && !self.discard_stale);
        (!unsound).then_some(crate::sleep::Commutation)
    }

    /// The same model leaving out, on a duplicating network, each state
    /// whose messages in flight are a subset of those of a state met before
    /// with the same servers (reduction 4, [`crate::subsume`]); up to
    /// renaming when `symmetry` is on, so that the checker's own symmetry
    /// reduction is then not needed. Only for a search that explores every
    /// state it keeps (not one cut at a depth). On other networks the model
    /// is unchanged.
    pub fn subsuming_networks(mut self, symmetry: bool) -> RaftModel {
        if self.bounds.network == NetworkKind::Duplicating {
            self.subsumption = Some(Arc::new(Subsumption::new(symmetry)));
        }
        self
    }

    /// How many states reduction 4 left out, when it is on.
    pub fn networks_left_out(&self) -> Option<u64> {
        self.subsumption.as_ref().map(|s| s.left_out())
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
            for state in &mut states {
                if let Some(breach) = discard_stale(state, self.forget_crashed, self.ledger()) {
                    state.history.record(breach);
                }
            }
        }
        states
    }

    fn actions(&self, state: &RaftState, actions: &mut Vec<Action>) {
        self.actors.actions(state, actions);
        // A stable sort: stateright's own order within each kind is kept.
        actions.sort_by_key(exploration_rank);
    }

    fn next_state(&self, last: &RaftState, action: Action) -> Option<RaftState> {
        let stepped = match &action {
            ActorModelAction::Deliver { dst: id, .. }
            | ActorModelAction::Timeout(id, _)
            | ActorModelAction::Crash(id)
            | ActorModelAction::Recover(id) => Some(usize::from(*id)),
            ActorModelAction::Drop(_) | ActorModelAction::SelectRandom { .. } => None,
        };
        let (crashed, recovered) = match action {
            ActorModelAction::Crash(id) if self.forget_crashed => (Some(usize::from(id)), None),
            ActorModelAction::Recover(id) if self.forget_crashed => (None, Some(usize::from(id))),
            _ => (None, None),
        };
        let mut next = self.actors.next_state(last, action)?;
        if let Some(i) = crashed {
            let down = self.actors.actors[i].down(Id::from(i), &next.actor_states[i]);
            next.actor_states[i] = Arc::new(down);
        }
        if let Some(i) = recovered.filter(|_| self.audit) {
            let forgotten = &last.actor_states[i].node;
            if let Some(breach) = restart_breach(forgotten, &next.actor_states[i].node) {
                next.history.record(breach);
            }
        }
        if let (Some(i), Some(ledger)) = (stepped, self.ledger()) {
            let (a, b) = (&last.actor_states[i], &next.actor_states[i]);
            ledger.step(
                (&a.node, &a.pending, &a.disk.stored),
                (&b.node, &b.pending, &b.disk.stored),
            );
        }
        if self.discard_stale
            && let Some(breach) = discard_stale(&mut next, self.forget_crashed, self.ledger())
        {
            next.history.record(breach);
        }
        // A step back to the state it left is no step (module
        // documentation). The audits above have seen it all the same.
        if self.skip_self_loops && next == *last {
            return None;
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
        // Reduction 4 records a state only once it is known to be kept.
        within_boundary(&self.bounds, state)
            && self.subsumption.as_ref().is_none_or(|s| s.admit(state))
    }
}

/// Where an action goes in the list [`RaftModel::actions`] returns. A
/// depth-first search explores the last action first, so this order makes
/// it deliver messages before timers fire, and crash servers or lose
/// messages last, as real networks mostly do: it reaches deep protocol
/// states (Figure 8's four elections, each won and used) long before it has
/// exhausted the runs in which servers only keep timing out. The order
/// changes neither what an exhaustive search visits nor the length of a
/// breadth-first counterexample.
fn exploration_rank(action: &Action) -> u8 {
    use stateright::actor::ActorModelAction as A;
    match action {
        A::Drop(_) => 0,
        A::Recover(_) => 1,
        A::Crash(_) => 2,
        A::SelectRandom { .. } => 3,
        A::Timeout(..) => 4,
        A::Deliver { .. } => 5,
    }
}

/// Takes stale messages off the network (see the module documentation).
/// A crashed server is judged as it will restart when its state was
/// forgotten (it then is that restarted core), and not at all otherwise.
/// With a `ledger` (the audit on), each message is first delivered to a
/// copy of its receiver ([`stale_delivery_breach`]); one that does
/// something stays in flight and its breach is returned, and one discarded
/// is recorded in the ledger.
fn discard_stale(
    state: &mut RaftState,
    crashed_forgotten: bool,
    ledger: Option<&Ledger>,
) -> Option<Breach> {
    let servers = &state.actor_states;
    let crashed = &state.crashed;
    // A server with writes pending is not judged: a crash may yet lose
    // them (its term, its log) and make the message fresh again.
    let called_stale = |src: Id, dst: Id, msg: &Msg| {
        let i = usize::from(dst);
        let judged = (!crashed[i] || crashed_forgotten) && servers[i].pending.is_empty();
        judged && servers[i].node.is_stale(crate::node_id(src.into()), &msg.0)
    };
    let mut breach = None;
    let mut discard = |src: Id, dst: Id, msg: &Msg| {
        if !called_stale(src, dst, msg) {
            return false;
        }
        let Some(ledger) = ledger else {
            return true;
        };
        let node = &servers[usize::from(dst)].node;
        match stale_delivery_breach(node, crate::node_id(src.into()), msg) {
            None => {
                ledger.discarded(node, crate::node_id(src.into()), msg);
                true
            }
            Some(found) => {
                breach.get_or_insert(found);
                false
            }
        }
    };
    match &mut state.network {
        Network::UnorderedNonDuplicating(multiset) => {
            if multiset.keys().any(|e| called_stale(e.src, e.dst, &e.msg)) {
                multiset.retain(|e, _| !discard(e.src, e.dst, &e.msg));
            }
        }
        Network::UnorderedDuplicating(set, last) => {
            *last = None;
            if set.iter().any(|e| called_stale(e.src, e.dst, &e.msg)) {
                set.retain(|e| !discard(e.src, e.dst, &e.msg));
            }
        }
        Network::Ordered(flows) => {
            let any = flows
                .iter()
                .any(|(&(src, dst), queue)| queue.iter().any(|m| called_stale(src, dst, m)));
            if any {
                for (&(src, dst), queue) in flows.iter_mut() {
                    queue.retain(|m| !discard(src, dst, m));
                }
                // stateright keeps no empty flows.
                flows.retain(|_, queue| !queue.is_empty());
            }
        }
    }
    breach
}
