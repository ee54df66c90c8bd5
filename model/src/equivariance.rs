//! Symmetry reduction's claim about the core, checked on the steps the
//! search takes.
//!
//! With symmetry on, the checker explores one state of each class of states
//! equal up to a renaming of the servers. That is sound only if the core
//! treats server ids alike: a step of a renamed server, given the renamed
//! input, must end in the renamed core with the renamed effects. The model
//! asks the core to do everything through [`apply`], and the first time the
//! search meets a (core, input) pair, [`Equivariance::check`] takes the same
//! step under every other naming of the servers (5 for 3 servers, 23 for
//! 4, 119 for 5; the search meets few distinct pairs, hundreds to
//! thousands). A step that does not commute with a renaming is a breach of
//! "Servers are interchangeable", reported after the search with the core,
//! the input and the renaming. A start from storage (`Node::restart`, at
//! a server's first start, at each restart after a crash, and when the
//! model forgets a crashed server's volatile state) is checked the same
//! way by [`Equivariance::check_restart`]: the renamed server started from
//! the renamed storage must be the renamed core with the renamed effects.

use crate::audit::{Breach, Claim, describe_effect};
use crate::ledger::describe_core;
use crate::ledger::permutations;
use bytes::Bytes;
use checked_raft::{Config, Effect, LogIndex, Message, Node, NodeId, Persist, Stored, Term};
use dashmap::DashSet;
use std::sync::OnceLock;

/// What the model asks of a server's core.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// Deliver `message` from `from`.
    Deliver {
        /// The sender.
        from: NodeId,
        /// The message.
        message: Message,
    },
    /// The election timer fires.
    ElectionTimeout,
    /// The heartbeat timer fires.
    HeartbeatTimeout,
    /// A client proposes `command`.
    Propose(Bytes),
    /// The server's writes through a durability marker are durable.
    Persisted {
        /// The marker's index.
        index: LogIndex,
        /// The marker's term.
        term: Term,
    },
    /// The application snapshots through `index`.
    Compact {
        /// The last index the snapshot covers.
        index: LogIndex,
        /// The application's state.
        data: Bytes,
    },
}

impl Input {
    fn renamed(&self, rename: &impl Fn(NodeId) -> NodeId) -> Input {
        match self {
            // Messages carry no server ids: the sender travels beside them.
            Input::Deliver { from, message } => Input::Deliver {
                from: rename(*from),
                message: message.clone(),
            },
            other => other.clone(),
        }
    }
}

/// Carries out `input` on `node`: the effects, or why the core refused.
/// The one place the model calls the core's handlers.
pub fn apply(node: &mut Node, input: &Input) -> Result<Vec<Effect>, String> {
    match input {
        Input::Deliver { from, message } => {
            node.step(*from, message.clone()).map_err(|e| e.to_string())
        }
        Input::ElectionTimeout => Ok(node.handle_election_timeout()),
        Input::HeartbeatTimeout => Ok(node.handle_heartbeat_timeout()),
        Input::Propose(command) => node
            .propose([command.clone()])
            .map(|(_, effects)| effects)
            .map_err(|e| e.to_string()),
        Input::Compact { index, data } => node
            .compact(*index, data.clone())
            .map_err(|e| e.to_string()),
        Input::Persisted { index, term } => Ok(node.handle_persisted(*index, *term)),
    }
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::Deliver { from, message } => {
            format!("{} from {from}", checked_raft::sim::describe(message))
        }
        Input::ElectionTimeout => "an election timeout".into(),
        Input::HeartbeatTimeout => "a heartbeat timeout".into(),
        Input::Propose(_) => "a proposal".into(),
        Input::Compact { index, .. } => format!("a snapshot through {index}"),
        Input::Persisted { index, term } => {
            format!("its writes through {index} (term {term}) made durable")
        }
    }
}

pub(crate) fn rename_effect(effect: &Effect, rename: &impl Fn(NodeId) -> NodeId) -> Effect {
    match effect {
        Effect::Send { to, message } => Effect::Send {
            to: rename(*to),
            message: message.clone(),
        },
        Effect::Persist(Persist::HardState(hard_state)) => {
            let mut hard_state = *hard_state;
            hard_state.voted_for = hard_state.voted_for.map(rename);
            Effect::Persist(Persist::HardState(hard_state))
        }
        other => other.clone(),
    }
}

/// `effects` with their servers renamed, in the order the renamed core
/// would emit them.
pub(crate) fn renamed_effects(
    effects: &[Effect],
    rename: &impl Fn(NodeId) -> NodeId,
) -> Vec<Effect> {
    sends_by_recipient(effects.iter().map(|e| rename_effect(e, rename)).collect())
}

/// `effects` with each run of consecutive sends in recipient order (a
/// stable sort: sends to one recipient keep their order). The core sends to
/// its peers in id order, so a renamed step sends the same messages in
/// another order; no network tells the two apart, since only messages
/// between the same two servers are ever ordered, and no send moves past
/// any other effect.
pub(crate) fn sends_by_recipient(mut effects: Vec<Effect>) -> Vec<Effect> {
    let recipient = |effect: &Effect| match effect {
        Effect::Send { to, .. } => Some(*to),
        _ => None,
    };
    let mut start = 0;
    while start < effects.len() {
        let end = (start..effects.len())
            .find(|&i| recipient(&effects[i]).is_none())
            .unwrap_or(effects.len());
        effects[start..end].sort_by_key(recipient);
        start = end + 1;
    }
    effects
}

/// The check of every distinct step the search takes (see the module
/// documentation). Shared by the servers of a model and its threads.
#[derive(Debug, Default)]
pub struct Equivariance {
    /// Fingerprints of the (core, input) pairs already checked.
    seen: DashSet<u64>,
    /// Fingerprints of the (server, storage) starts already checked.
    restarts_seen: DashSet<u64>,
    /// The first breach found.
    breach: OnceLock<Breach>,
}

impl Equivariance {
    /// Checks that `before` given `input` ending in `after` with `output`
    /// commutes with renaming the servers, the first time this (core,
    /// input) pair is met.
    pub fn check(
        &self,
        before: &Node,
        input: &Input,
        after: &Node,
        output: &Result<Vec<Effect>, String>,
    ) {
        if self.breach.get().is_some() {
            return;
        }
        let key = ahash::RandomState::with_seeds(5, 6, 7, 8).hash_one((before, input));
        if !self.seen.insert(key) {
            return;
        }
        let servers = before.peers().len() + 1;
        let identity: Vec<usize> = (0..servers).collect();
        for naming in permutations(servers).into_iter().filter(|p| *p != identity) {
            let rename = crate::actor::renaming(&naming);
            let mut renamed = before.rename_nodes(&rename);
            let got = apply(&mut renamed, &input.renamed(&rename))
                .map(sends_by_recipient)
                .map_err(|_| ());
            let expected = output
                .as_ref()
                .map(|effects| renamed_effects(effects, &rename))
                .map_err(|_| ());
            if renamed != after.rename_nodes(&rename) || got != expected {
                let outcome = |node: &Node, output: &Result<Vec<Effect>, ()>| {
                    let effects = match output {
                        Ok(effects) => effects.iter().map(describe_effect).collect::<Vec<_>>(),
                        Err(()) => vec!["refuses".to_string()],
                    };
                    format!("{} [{}]", describe_core(node), effects.join("; "))
                };
                let _ = self.breach.set(Breach {
                    claim: Claim::ServersInterchangeable,
                    detail: format!(
                        "{}, a {}, given {}, does not do what it does once the servers are \
                         renamed by {naming:?}: renamed, it ends {}; renaming its own step \
                         gives {}",
                        before.id(),
                        describe_core(before),
                        describe_input(input),
                        outcome(&renamed, &got),
                        outcome(&after.rename_nodes(&rename), &expected),
                    ),
                });
                return;
            }
        }
    }

    /// Checks that server `id` starting from `stored` (with the
    /// configuration `config_of` gives each server) ending in `output`
    /// commutes with renaming the servers, the first time this (server,
    /// storage) pair is met.
    pub fn check_restart<E>(
        &self,
        config_of: &impl Fn(NodeId) -> Config,
        id: NodeId,
        stored: &Stored,
        output: &Result<(Node, Vec<Effect>), E>,
    ) {
        if self.breach.get().is_some() {
            return;
        }
        let key = ahash::RandomState::with_seeds(9, 10, 11, 12).hash_one((id, stored));
        if !self.restarts_seen.insert(key) {
            return;
        }
        let servers = config_of(id).members.len();
        let identity: Vec<usize> = (0..servers).collect();
        for naming in permutations(servers).into_iter().filter(|p| *p != identity) {
            let rename = crate::actor::renaming(&naming);
            let got = Node::restart(config_of(rename(id)), &stored.rename_nodes(&rename))
                .map(|(node, effects)| (node, sends_by_recipient(effects)))
                .map_err(|_| ());
            let expected = output
                .as_ref()
                .map(|(node, effects)| {
                    (
                        node.rename_nodes(&rename),
                        renamed_effects(effects, &rename),
                    )
                })
                .map_err(|_| ());
            if got != expected {
                let outcome = |output: &Result<(Node, Vec<Effect>), ()>| match output {
                    Ok((node, effects)) => format!(
                        "{} [{}]",
                        describe_core(node),
                        effects
                            .iter()
                            .map(describe_effect)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    Err(()) => "refuses its storage".to_string(),
                };
                let _ = self.breach.set(Breach {
                    claim: Claim::ServersInterchangeable,
                    detail: format!(
                        "{id}, started from its storage (term {}, vote {}, {} log entries), \
                         does not do what it does once the servers are renamed by {naming:?}: \
                         renamed, it starts as {}; renaming its own start gives {}",
                        stored.hard_state.current_term.0,
                        stored
                            .hard_state
                            .voted_for
                            .map_or("none".to_string(), |v| v.to_string()),
                        stored.entries.len(),
                        outcome(&got),
                        outcome(&expected),
                    ),
                });
                return;
            }
        }
    }

    /// The first breach found, if any.
    pub fn breach(&self) -> Option<Breach> {
        self.breach.get().cloned()
    }
}
