//! The reductions' claims about the core, checked where they are used.
//!
//! Two of [`crate::RaftModel`]'s reductions lean on what the core says of
//! itself, and a checker must not trust the code it checks. So during every
//! search (release builds included) the model audits each use:
//!
//! - **Stale messages are no-ops.** Before a message the core calls stale
//!   ([`Node::is_stale`]) is taken off the network, it is delivered to a
//!   copy of its receiver, which must neither change nor emit a single
//!   effect. A message that fails is left in flight (so the search goes on
//!   with it, soundly) and the breach is recorded in the state. That the
//!   message would have stayed a no-op whatever its receiver did next is
//!   checked after the search by [`crate::ledger`].
//! - **Crashed servers restart as forgotten.** A crashed server's volatile
//!   state is replaced at once by the core [`Node::restart`] builds from its
//!   disk, and messages to it are judged stale by that core. When it
//!   recovers, the core it actually restarts as must be that one.
//!
//! A recorded breach fails the `Always` property named after the claim, so
//! `check` prints it with its counterexample and exits 1. The record lives
//! in the state's model-level history ([`Audit`]), beside the servers, never
//! read by the core. The third reduction (a duplicating network's drops are
//! not explored) makes no claim about the core: no property, bound or step
//! reads which messages a duplicating network holds beyond offering them.

use crate::Msg;
use checked_raft::{Effect, Node, NodeId};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::sync::Arc;

/// Name of the property that every discarded stale message is a no-op.
pub const STALE_MESSAGES_ARE_NO_OPS: &str = "Stale messages are no-ops";
/// Name of the property that the core treats server ids alike (the claim
/// symmetry reduction rests on, [`crate::equivariance`]).
pub const SERVERS_ARE_INTERCHANGEABLE: &str = "Servers are interchangeable";
/// Name of the property that a crashed server restarts as the core the
/// model forgot it to.
pub const RESTARTS_AS_FORGOTTEN: &str = "Crashed servers restart as forgotten";

/// A reduction's claim about the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Claim {
    /// Delivering a message the core calls stale changes nothing.
    StaleIsNoOp,
    /// A recovering server restarts as the core the model replaced its
    /// crashed state with.
    RestartsAsForgotten,
    /// A server's step commutes with renaming the servers.
    ServersInterchangeable,
}

impl Claim {
    /// The name of the property that fails when this claim is broken.
    pub fn property(self) -> &'static str {
        match self {
            Claim::StaleIsNoOp => STALE_MESSAGES_ARE_NO_OPS,
            Claim::RestartsAsForgotten => RESTARTS_AS_FORGOTTEN,
            Claim::ServersInterchangeable => SERVERS_ARE_INTERCHANGEABLE,
        }
    }
}

/// A claim found false, with what showed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Breach {
    /// The claim.
    pub claim: Claim,
    /// What happened, in words.
    pub detail: String,
}

/// The model-level history of a state: the first breach of a reduction's
/// claim on the way to it, if any. (Ghost state: the core never sees it.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Audit {
    /// The first breach, if any.
    pub breach: Option<Arc<Breach>>,
}

impl Audit {
    /// Whether `claim` has held on the way to this state.
    pub fn holds(&self, claim: Claim) -> bool {
        self.breach.as_ref().is_none_or(|b| b.claim != claim)
    }

    /// Records `breach` unless an earlier one is recorded already.
    pub fn record(&mut self, breach: Breach) {
        if self.breach.is_none() {
            self.breach = Some(Arc::new(breach));
        }
    }
}

impl Rewrite<Id> for Audit {
    /// A breach names servers only in its text, which is for people.
    fn rewrite<S>(&self, _: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

/// Delivers `msg`, which the core calls stale, to a copy of `node`: nothing
/// may change and nothing may be emitted. The breach, when it does.
pub fn stale_delivery_breach(node: &Node, from: NodeId, msg: &Msg) -> Option<Breach> {
    let mut copy = node.clone();
    let effects = copy.step(from, (*msg.0).clone());
    let inert = matches!(&effects, Ok(e) if e.is_empty()) && copy == *node;
    (!inert).then(|| Breach {
        claim: Claim::StaleIsNoOp,
        detail: format!(
            "{} calls {} from {from} stale, but delivering it {}",
            node.id(),
            checked_raft::sim::describe(&msg.0),
            match &effects {
                Err(e) => format!("is refused: {e}"),
                Ok(e) if e.is_empty() => "changes the server".to_string(),
                Ok(e) => format!(
                    "gives {}",
                    e.iter().map(describe_effect).collect::<Vec<_>>().join(", ")
                ),
            }
        ),
    })
}

/// One effect in a few words.
pub(crate) fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Persist(op) => format!("persist {op:?}"),
        Effect::Send { to, message } => {
            format!("send {} to {to}", checked_raft::sim::describe(message))
        }
        Effect::ResetElectionTimer => "reset the election timer".into(),
        Effect::SetHeartbeatTimer => "set the heartbeat timer".into(),
        Effect::ApplyEntries(entries) => format!("apply {} entries", entries.len()),
        Effect::ApplySnapshot(snapshot) => {
            format!(
                "apply a snapshot through {}",
                snapshot.meta.last_included_index
            )
        }
        Effect::Durable { index, term } => {
            format!("report writes through {index} (term {term}) durable")
        }
    }
}

/// Compares the core a recovering server restarted as with the one the
/// model forgot its crashed state to. The breach, when they differ.
pub fn restart_breach(forgotten: &Node, restarted: &Node) -> Option<Breach> {
    (forgotten != restarted).then(|| Breach {
        claim: Claim::RestartsAsForgotten,
        detail: format!(
            "{} was forgotten as term {} with {} entries, but restarted as term {} with {}",
            restarted.id(),
            forgotten.current_term().0,
            forgotten.log().last_index().0,
            restarted.current_term().0,
            restarted.log().last_index().0,
        ),
    })
}
