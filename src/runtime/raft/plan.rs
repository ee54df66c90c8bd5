//! Sorting one handler call's effects by when they are carried out: timers
//! at once (under the node lock), a leader's AppendEntries as the lock is
//! released, and everything else through the journal's storage rounds.

use super::{Core, Shared};
use crate::consensus::{Effect, LogIndex, Message, NodeId, Persist, Term};
use crate::runtime::config::ApplyMsg;
use rand::Rng;

/// What one call's effects ask for, sorted by when the effect loop carries
/// them out (timers are re-armed while sorting, under the node lock).
pub(super) struct Plan {
    /// Written by the next storage round, before anything below leaves.
    pub(super) persists: Vec<Persist>,
    /// Sent, in order, once the round's write is durable.
    pub(super) outbox: Vec<(NodeId, Message)>,
    /// Sent at once, as the node lock is released: a leader's
    /// AppendEntries and InstallSnapshot, which may overtake its writes
    /// ([`Effect::may_overtake_persists`], thesis §10.2.1).
    pub(super) early: Vec<(NodeId, Message)>,
    /// The last [`Effect::Durable`] marker: reported to the core once the
    /// round that writes these persists is durable.
    pub(super) durable: Option<(LogIndex, Term)>,
    /// Handed to the application, in order, once the round's write is
    /// durable.
    pub(super) applied: Vec<ApplyMsg>,
    /// A timer was armed earlier than the ticker's wakeup.
    pub(super) wake_ticker: bool,
}

impl Shared {
    /// Sorts `effects` into a [`Plan`], re-arming the timers they arm.
    pub(super) fn plan(&self, core: &mut Core, effects: Vec<Effect>) -> Plan {
        let mut plan = Plan {
            persists: Vec::new(),
            outbox: Vec::new(),
            early: Vec::new(),
            durable: None,
            applied: Vec::new(),
            wake_ticker: false,
        };
        // The ticker sleeps until the earliest deadline: it needs waking
        // only when a timer is armed earlier than that (a deadline moved
        // later costs it one early wakeup, not one per message).
        let earliest_before = core.earliest_deadline();
        let mut timers_changed = false;
        for effect in effects {
            let early = effect.may_overtake_persists();
            match effect {
                Effect::Persist(op) => plan.persists.push(op),
                Effect::Durable { index, term } => plan.durable = Some((index, term)),
                Effect::Send { to, message } if early => plan.early.push((to, message)),
                Effect::Send { to, message } => {
                    if let Message::InstallSnapshot(install) = &message {
                        tracing::info!(
                            peer = self.id.0,
                            to = to.0,
                            through = install.snapshot.meta.last_included_index.0,
                            bytes = install.snapshot.data.len(),
                            "sending a snapshot"
                        );
                    }
                    plan.outbox.push((to, message));
                }
                Effect::ResetElectionTimer => {
                    let timeout = core.rng.random_range(self.config.election_timeout.clone());
                    core.election_deadline = Some(self.clock.now() + timeout);
                    timers_changed = true;
                }
                Effect::SetHeartbeatTimer => {
                    core.heartbeat_deadline =
                        Some(self.clock.now() + self.config.heartbeat_interval);
                    timers_changed = true;
                }
                Effect::ApplyEntries(entries) => {
                    plan.applied
                        .extend(entries.into_iter().map(|e| ApplyMsg::Command {
                            index: e.index,
                            term: e.term,
                            command: e.command,
                        }));
                }
                Effect::ApplySnapshot(s) => {
                    tracing::info!(
                        peer = self.id.0,
                        through = s.meta.last_included_index.0,
                        "installing a snapshot"
                    );
                    plan.applied.push(ApplyMsg::Snapshot {
                        index: s.meta.last_included_index,
                        term: s.meta.last_included_term,
                        data: s.data,
                    });
                }
            }
        }
        if timers_changed {
            plan.wake_ticker = match (earliest_before, core.earliest_deadline()) {
                (Some(before), Some(after)) => after < before,
                (None, after) => after.is_some(),
                (Some(_), None) => false,
            };
        }
        plan
    }
}
