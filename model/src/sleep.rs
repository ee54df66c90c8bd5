//! Sleep sets for the search for a shortest counterexample (Godefroid,
//! *Partial-Order Methods for the Verification of Concurrent Systems*,
//! 1996, ch. 5): a step is not taken again after a sibling step at another
//! server when taking the two in the other order reaches the same state.
//!
//! Say the search is at state `s` and has tried step `t` (at server `j`)
//! before step `u` (at server `i != j`). Every run from `s·u` that takes
//! `t` next, before any step at `j` or any step that is not at one server,
//! reaches the state the run from `s·t` that takes `u` first reaches (the
//! diamond below), by a run of the same length, so `t` sleeps in `s·u` and
//! its descendants until such a step wakes it. Sleep sets change only which
//! steps are taken, never which states are reached or at what least depth,
//! so every state within the bound is still reached at its least depth and
//! the search stays a proof.
//!
//! ```text
//!        s
//!   t  /   \  u
//!    s·t   s·u
//!   u  \   /  t      s·t·u = s·u·t
//!       s'
//! ```
//!
//! Why the diamond closes, here: a delivery or a timer at server `j`
//! reads and writes only `j`'s state (its core, pending writes, disk,
//! timers) and the network: it takes its own message out and adds what
//! `j` sends. The core's step is a function of the core and the input
//! (the sans-IO contract every state-caching search rests on), so `t`
//! steps `j` alike before and after `u`, which leaves `j` alone. On the
//! unordered networks adding and taking out messages commute; on the
//! ordered one too: `t` appends to the back of `j`'s outgoing channels and
//! takes the front of one of `j`'s incoming ones, and `u` likewise at `i`,
//! so where they share a channel (`j` to `i`), one appends to its back and
//! the other takes its front, which `u` being enabled shows is another
//! message. The rest, item by item:
//!
//! - The bounds: every state on the run that is taken instead must lie
//!   within them. Term and log bounds are per server, so `s·u·t` is within
//!   them when `s·u` and `s·t` are. So is the copies bound
//!   ([`crate::Bounds::max_copies`]): only `j`'s own steps add copies of
//!   a message from `j`, and `u` can only take one out.
//! - The model's ghost history ([`crate::Audit`]) keeps only the first
//!   breach it records, so two steps that each record one do not commute:
//!   a step that records one neither sleeps nor lets its successors sleep.
//! - The stale-message reduction judges each message at its receiver after
//!   every step, so a message sent by `u` to `j` is judged at `j` before `t`
//!   in one order and after it in the other. Both orders discard the same
//!   messages when a message stale at a server stays stale after the
//!   server's steps: the claim the reduction itself rests on, which the
//!   audit's ledger checks after the search ([`crate::ledger`]). So the
//!   model offers sleep sets with that reduction only when the audit is on,
//!   and never with asynchronous writes (a message is not judged while
//!   writes are pending, so its fate can change with a step's order).
//! - A crash, a recovery or a loss is not a step at one server here: it
//!   changes what other steps are enabled (the crash budget, the message
//!   lost), so it never sleeps and wakes every step.
//! - The duplicating network records the last message delivered unless
//!   the stale-message reduction clears it, so without that reduction it
//!   offers no sleep sets.
//! - A step that changes nothing is not offered at all
//!   ([`crate::RaftModel`]), so it neither sleeps nor is taken: it reaches
//!   no state, and no shortest run passes through one.

use crate::RaftState;
use crate::run::Action;
use stateright::actor::ActorModelAction;
use std::sync::Arc;

/// Which steps commute in a model, when it offers sleep sets at all
/// ([`crate::RaftModel::commutation`]): deliveries and timers at different
/// servers.
#[derive(Clone, Copy, Debug)]
pub struct Commutation;

/// A step asleep in a state: not taken there.
#[derive(Debug)]
pub(crate) struct Asleep {
    /// The step.
    pub action: Action,
    /// The server it steps.
    server: usize,
}

/// The server a step steps alone, if it is a delivery or a timer.
fn server(action: &Action) -> Option<usize> {
    match action {
        ActorModelAction::Deliver { dst, .. } | ActorModelAction::Timeout(dst, _) => {
            Some(usize::from(*dst))
        }
        ActorModelAction::Crash(_)
        | ActorModelAction::Recover(_)
        | ActorModelAction::Drop(_)
        | ActorModelAction::SelectRandom { .. } => None,
    }
}

impl Commutation {
    /// `action`, taken from `before` to `after`, as a step that may sleep
    /// in the states after its later siblings; `None` when it may not (not
    /// at one server, or it recorded a breach).
    pub(crate) fn asleep(
        &self,
        action: &Action,
        before: &RaftState,
        after: &RaftState,
    ) -> Option<Arc<Asleep>> {
        let server = server(action)?;
        (after.history == before.history).then(|| {
            Arc::new(Asleep {
                action: action.clone(),
                server,
            })
        })
    }

    /// The steps asleep in `after`, reached from `before` by `action`: the
    /// steps in `asleep` (asleep in `before`, or tried there before
    /// `action`) at other servers than `action`'s. None when `action` is
    /// not at one server or recorded a breach.
    pub(crate) fn carry(
        &self,
        asleep: impl Iterator<Item = Arc<Asleep>>,
        action: &Action,
        before: &RaftState,
        after: &RaftState,
    ) -> Vec<Arc<Asleep>> {
        let Some(stepped) = server(action) else {
            return Vec::new();
        };
        if after.history != before.history {
            return Vec::new();
        }
        asleep.filter(|t| t.server != stepped).collect()
    }
}
