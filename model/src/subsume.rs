//! Reduction 4: on a duplicating network, a state whose messages in flight
//! are a subset of those of a state already met with the same servers is
//! not explored.
//!
//! **Why this loses no behaviour.** On the duplicating network a message in
//! flight stays deliverable until it is taken off as stale, and nothing but
//! delivery reads it: no property, no bound and no step other than its own
//! delivery looks at which messages the network holds (the argument of
//! reduction 3, [`crate::RaftModel`]). Take two states with the same
//! servers (cores, disks, timers, up or down, histories) and networks `N1`
//! ⊆ `N2`. Every step from the first is a step from the second: a timer,
//! a crash or a recovery reads no message; delivering `m` ∈ `N1` finds `m`
//! in `N2` too. The same step gives the same servers and the same sends in
//! both, and the stale messages taken off afterwards are judged by the
//! servers alone, so the networks after it are again `N1'` ⊆ `N2'`. By
//! induction, every run from the first state is matched step for step by a
//! run from the second through states with the same servers, so the second
//! reaches every server state the first does, and every property here is a
//! property of the servers. A search that has met the second state, and
//! will explore it, need not explore the first.
//!
//! **The example flags.** Three flags of each server are read only by the
//! `Sometimes` properties: whether it has restarted, whether it applied
//! something since, whether it installed a snapshot from a leader. No
//! step of the core reads them, and each step sets or clears them the same
//! way in both of two states with the same servers otherwise: a restart
//! sets "restarted"; an apply sets "applied since" if "restarted" is set; a
//! crash clears the first two; an installation sets the third. So if every
//! flag set in the first state is set in the second, the same holds after
//! the same step, and every `Sometimes` property, which asks for a flag
//! set, is met in the second state's run wherever it is met in the first.
//! So a state is also left out when a state met before has the same
//! servers but for these flags, at least its flags set, and at least its
//! messages: the servers reached then include, for every server state the
//! first reaches, one equal to it but for these flags, with at least its
//! flags, and every `Always` property reads the servers without them.
//!
//! This rests on no claim about the core: only on the duplicating network's
//! semantics, which are the model's. (A breach of a reduction's claim is
//! recorded in the servers' history, where the two states can record
//! different first breaches; both then fail the property.) It does not
//! hold on the other networks: on the unordered one a delivery takes its
//! message away and the copies bound reads the network, and on the ordered
//! one a message in flight holds back those behind it.
//!
//! **How the search uses it.** Each state the search generates is looked up
//! under its servers without their example flags, up to renaming (the canonical representative of
//! `model/src/symmetry.rs`, whose choice of naming can also depend on the
//! network: two states then miss each other, which costs only the saving).
//! A state whose network and flags are covered by those of one already
//! recorded there is left out; otherwise they are recorded, in place of
//! any recorded there that they cover. A state is recorded when it is generated, and the search
//! (depth-first, or breadth-first in a bug hunt) explores every state it
//! keeps, so whatever was left out is
//! covered by a state explored. This needs a search that explores every
//! state it keeps: not one cut at a depth, where the covering state may
//! lie past the cut. Networks are compared by the hashes of their
//! envelopes and servers by a fingerprint, with the same 64-bit odds of a
//! collision as the checker's own fingerprints of states.
//!
//! Which of two states is met first decides which is kept, so with more
//! than one thread the count of distinct states explored varies a little
//! between runs (and so, among server states equal but for their example
//! flags, which of them are reached); the verdicts do not.
//! `model/tests/reductions.rs` checks that the reduction reaches every
//! server state of the search without it, with at least its flags.

use crate::RaftState;
use dashmap::DashMap;
use stateright::actor::Network;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The networks recorded under each server state.
#[derive(Default)]
pub(crate) struct Subsumption {
    /// Whether states equal up to renaming are one.
    symmetry: bool,
    /// The servers' fingerprint, and the networks recorded with them: none
    /// a subset of another (an antichain).
    recorded: DashMap<u64, Vec<Recorded>>,
    /// How many states were left out.
    left_out: AtomicU64,
}

impl Subsumption {
    /// A table for a search with or without symmetry reduction.
    pub(crate) fn new(symmetry: bool) -> Subsumption {
        Subsumption {
            symmetry,
            ..Subsumption::default()
        }
    }

    /// Whether the search should keep `state`: `false` when a state with
    /// the same servers and at least its messages was met before. A state
    /// kept is recorded.
    pub(crate) fn admit(&self, state: &RaftState) -> bool {
        let renamed;
        let state = if self.symmetry {
            renamed = crate::symmetry::canonical(state);
            &renamed
        } else {
            state
        };
        let Network::UnorderedDuplicating(set, _) = &state.network else {
            return true;
        };
        let mut network: Vec<u64> = set
            .iter()
            .map(|envelope| {
                let mut h = crate::symmetry::hasher();
                envelope.hash(&mut h);
                h.finish()
            })
            .collect();
        network.sort_unstable();
        network.dedup();
        let network = Recorded::new(network, example_flags(state));
        let mut recorded = self.recorded.entry(servers_fingerprint(state)).or_default();
        if recorded.iter().any(|r| network.is_subset(r)) {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        recorded.retain(|r| !r.is_subset(&network));
        recorded.push(network);
        true
    }

    /// How many states were left out.
    pub(crate) fn left_out(&self) -> u64 {
        self.left_out.load(Ordering::Relaxed)
    }
}

/// A network as recorded: its envelopes' hashes, sorted, and a signature
/// of them (a bit for each hash's residue), which rules out most pairs
/// that are not subsets without reading the lists.
struct Recorded {
    /// The servers' example flags ([`example_flags`]).
    flags: u64,
    signature: u128,
    hashes: Box<[u64]>,
}

impl Recorded {
    fn new(hashes: Vec<u64>, flags: u64) -> Recorded {
        let signature = hashes.iter().fold(0, |sig, h| sig | 1u128 << (h % 128));
        Recorded {
            flags,
            signature,
            hashes: hashes.into_boxed_slice(),
        }
    }

    /// Whether every envelope of `self` is in `other`, and every example
    /// flag set in `self` is set in `other`.
    fn is_subset(&self, other: &Recorded) -> bool {
        self.flags & !other.flags == 0
            && self.signature & !other.signature == 0
            && is_subset(&self.hashes, &other.hashes)
    }
}

/// The flags only the `Sometimes` properties read, three bits a server
/// (whether it has restarted, applied something since, installed a
/// snapshot from a leader): see the module documentation.
pub(crate) fn example_flags(state: &RaftState) -> u64 {
    state
        .actor_states
        .iter()
        .enumerate()
        .fold(0, |bits, (i, server)| {
            let flags = u64::from(server.restarted)
                | u64::from(server.applied_after_restart) << 1
                | u64::from(server.installed_snapshot) << 2;
            bits | flags << (3 * i)
        })
}

/// A fingerprint of everything in `state` but its network and the
/// servers' example flags.
fn servers_fingerprint(state: &RaftState) -> u64 {
    let mut h = crate::symmetry::hasher();
    for server in &state.actor_states {
        let crate::Server {
            node,
            app,
            disk,
            restarted: _,
            applied_after_restart: _,
            installed_snapshot: _,
            pending,
        } = &**server;
        (node, app, disk, pending).hash(&mut h);
    }
    state.timers_set.hash(&mut h);
    state.random_choices.hash(&mut h);
    state.crashed.hash(&mut h);
    state.actor_storages.hash(&mut h);
    state.history.hash(&mut h);
    h.finish()
}

/// Whether sorted `small` is a subset of sorted `large`.
fn is_subset(small: &[u64], large: &[u64]) -> bool {
    if small.len() > large.len() {
        return false;
    }
    let mut rest = large.iter();
    small
        .iter()
        .all(|x| rest.find(|y| *y >= x).is_some_and(|y| y == x))
}

#[cfg(test)]
mod tests {
    use super::is_subset;

    #[test]
    fn subsets_of_sorted_lists() {
        assert!(is_subset(&[], &[]));
        assert!(is_subset(&[], &[1]));
        assert!(is_subset(&[1, 3], &[1, 2, 3]));
        assert!(is_subset(&[2], &[1, 2, 3]));
        assert!(!is_subset(&[1], &[]));
        assert!(!is_subset(&[1, 4], &[1, 2, 3]));
        assert!(!is_subset(&[0, 1], &[1, 2, 3]));
        assert!(!is_subset(&[1, 2, 3], &[1, 3]));
    }
}
