//! The stale-message claim checked over the runs the search explored, not
//! only at the moment a message is discarded.
//!
//! [`crate::audit`] delivers each message to a copy of its receiver when it
//! is discarded. Discarding is sound only if the message would have been a
//! no-op at every later moment too, whatever its receiver did next. So the
//! ledger records, while the search runs,
//!
//! - every distinct step of one server, from core `a` to core `b` (crashes,
//!   which forget a server to the core it restarts as, included), and
//! - every discard: the message, its sender, and the receiver's core then,
//!
//! and after the search follows each discarded message along the recorded
//! steps of its receiver, from the core it was discarded at: at every core
//! reached the core must still call it stale ([`Node::is_stale`]) and
//! delivering it there must change nothing ([`stale_delivery_breach`]).
//! Every run through a state the search explored moves each server along
//! recorded steps, so a message discarded on that run is checked at every
//! core its receiver could have met it in; the recorded steps also join
//! steps of different runs, so the check covers more than the runs do,
//! never less.
//!
//! Under symmetry reduction the search continues a run from a state it has
//! seen under another naming of the servers, so every step and discard is
//! recorded under every renaming of the servers as well (each distinct one
//! once; there are few: tens to thousands per search).
//!
//! Cores are keyed by 64-bit fingerprints, as stateright keys states: two
//! cores that collide would be checked as one.

use crate::Msg;
use crate::audit::{Breach, Claim, stale_delivery_breach};
use checked_raft::{Effect, Message, Node, NodeId, Stored};
use dashmap::{DashMap, DashSet};
use std::collections::HashSet;
use std::sync::Arc;

/// What the search saw of each server on its own.
#[derive(Debug)]
pub struct Ledger {
    /// Record every step and discard under every renaming of the servers.
    all_namings: bool,
    /// Every distinct core recorded, by fingerprint.
    cores: DashMap<u64, Arc<Node>>,
    /// Every distinct step of one server (fingerprints of its core before
    /// and after), under every naming.
    steps: DashMap<u64, HashSet<u64>>,
    /// The steps as the search took them (to record each only once).
    seen_steps: DashSet<(u64, u64)>,
    /// Every distinct discard (receiver's core, message, sender), under
    /// every naming.
    discards: DashSet<(u64, Message, NodeId)>,
    /// The discards as the search made them.
    seen_discards: DashSet<(u64, Message, NodeId)>,
}

/// Sizes of a [`Ledger`], for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerSize {
    /// Distinct cores.
    pub cores: usize,
    /// Distinct steps.
    pub steps: usize,
    /// Distinct discards.
    pub discards: usize,
}

/// A server's core with the writes it has pending and its disk (with
/// asynchronous writes): a crash loses what is pending and restarts from
/// the disk, so the same core with other pending writes or another disk
/// has other futures, and the ledger keeps them apart. With nothing
/// pending, the disk holds exactly the core's persistent state.
pub type Core<'a> = (&'a Arc<Node>, &'a [Effect], &'a Stored);

fn fingerprint(node: &Node, pending: &[Effect], stored: &Stored) -> u64 {
    // Fixed seeds: the same core has the same fingerprint in every thread.
    let hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
    match pending.is_empty() {
        true => hasher.hash_one(node),
        false => hasher.hash_one((node, pending, stored)),
    }
}

/// `stored` with its vote renamed.
fn renamed_disk(stored: &Stored, rename: &impl Fn(NodeId) -> NodeId) -> Stored {
    let mut stored = stored.clone();
    stored.hard_state.voted_for = stored.hard_state.voted_for.map(rename);
    stored
}

/// A core in a line: role, term, log (as terms), commit index, and a
/// leader's match indexes.
pub(crate) fn describe_core(node: &Node) -> String {
    use checked_raft::Role;
    let role = match node.role() {
        Role::Follower => "follower".to_string(),
        Role::Candidate { votes_granted } => {
            format!("candidate with {} vote(s)", votes_granted.len())
        }
        Role::Leader { progress } => {
            let matched: Vec<String> = progress
                .iter()
                .map(|(peer, p)| format!("{peer} {}", p.match_index().0))
                .collect();
            format!("leader (match {})", matched.join(", "))
        }
    };
    format!(
        "{role} term {} log [{}] commit {}",
        node.current_term().0,
        crate::log_terms(node),
        node.commit_index().0
    )
}

/// Every permutation of `0..n`.
pub(crate) fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for at in 0..=rest.len() {
            let mut p = rest.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}

impl Ledger {
    /// A ledger that records under every naming of the servers when
    /// `all_namings` (the search uses symmetry reduction).
    pub fn new(all_namings: bool) -> Ledger {
        Ledger {
            all_namings,
            cores: DashMap::new(),
            steps: DashMap::new(),
            seen_steps: DashSet::new(),
            discards: DashSet::new(),
            seen_discards: DashSet::new(),
        }
    }

    /// The renamings to record under: every permutation of the servers, or
    /// only the identity.
    fn namings(&self, node: &Node) -> Vec<Vec<usize>> {
        let servers = node.peers().len() + 1;
        if self.all_namings {
            permutations(servers)
        } else {
            vec![(0..servers).collect()]
        }
    }

    fn intern(&self, node: Node, pending: &[Effect], stored: &Stored) -> u64 {
        let fp = fingerprint(&node, pending, stored);
        self.cores.entry(fp).or_insert_with(|| Arc::new(node));
        fp
    }

    /// Records a step of one server from core `before` to core `after`.
    pub fn step(&self, before: Core<'_>, after: Core<'_>) {
        if Arc::ptr_eq(before.0, after.0) && before.1 == after.1 && before.2 == after.2 {
            return;
        }
        let taken = (
            fingerprint(before.0, before.1, before.2),
            fingerprint(after.0, after.1, after.2),
        );
        if taken.0 == taken.1 || !self.seen_steps.insert(taken) {
            return;
        }
        for naming in self.namings(before.0) {
            let rename = crate::actor::renaming(&naming);
            let a = self.intern(
                before.0.rename_nodes(&rename),
                &crate::equivariance::renamed_effects(before.1, &rename),
                &renamed_disk(before.2, &rename),
            );
            let b = self.intern(
                after.0.rename_nodes(&rename),
                &crate::equivariance::renamed_effects(after.1, &rename),
                &renamed_disk(after.2, &rename),
            );
            self.steps.entry(a).or_default().insert(b);
        }
    }

    /// Records that `msg` from `from` was discarded while its receiver was
    /// at core `receiver`.
    pub fn discarded(&self, receiver: &Node, from: NodeId, msg: &Msg) {
        // Only a server with no writes pending has its messages judged.
        let none = Stored::default();
        let taken = (fingerprint(receiver, &[], &none), (*msg.0).clone(), from);
        if self.seen_discards.contains(&taken) || !self.seen_discards.insert(taken) {
            return;
        }
        for naming in self.namings(receiver) {
            let rename = crate::actor::renaming(&naming);
            let core = self.intern(receiver.rename_nodes(&rename), &[], &none);
            self.discards.insert((core, (*msg.0).clone(), rename(from)));
        }
    }

    /// How much was recorded.
    pub fn size(&self) -> LedgerSize {
        LedgerSize {
            cores: self.cores.len(),
            steps: self.steps.iter().map(|s| s.len()).sum(),
            discards: self.discards.len(),
        }
    }

    /// Follows every discarded message along its receiver's recorded steps
    /// (see the module documentation). The first breach found, if any.
    pub fn breach(&self) -> Option<Breach> {
        let mut seen: HashSet<(u64, Message, NodeId)> = HashSet::new();
        let mut todo: Vec<(u64, Message, NodeId)> =
            self.discards.iter().map(|d| d.key().clone()).collect();
        while let Some((core, message, from)) = todo.pop() {
            if !seen.insert((core, message.clone(), from)) {
                continue;
            }
            let Some(node) = self.cores.get(&core).map(|n| Arc::clone(n.value())) else {
                continue;
            };
            let msg = Msg::new(message);
            if let Some(breach) = stale_delivery_breach(&node, from, &msg) {
                return Some(breach);
            }
            let Some(next) = self.steps.get(&core).map(|s| s.value().clone()) else {
                continue;
            };
            for after in next {
                let Some(later) = self.cores.get(&after).map(|n| Arc::clone(n.value())) else {
                    continue;
                };
                if !later.is_stale(from, &msg.0) {
                    return Some(Breach {
                        claim: Claim::StaleIsNoOp,
                        detail: format!(
                            "{} discarded {} from {from} as stale, and after a step it is not \
                             stale any more: before, {}; after, {}",
                            node.id(),
                            checked_raft::sim::describe(&msg.0),
                            describe_core(&node),
                            describe_core(&later),
                        ),
                    });
                }
                todo.push((after, (*msg.0).clone(), from));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checked_raft::{
        AppendEntriesReply, AppendResult, Config, LogIndex, RequestVoteReply, Term,
    };

    /// Server `n` (0-based) by its id.
    fn id(n: u64) -> NodeId {
        NodeId(n + 1)
    }

    /// n0 elected leader of term 1 by n1's vote, with one entry proposed.
    fn leader() -> Node {
        let config = Config::new(id(0), vec![id(0), id(1), id(2)]);
        let (mut node, _) = Node::new(config).expect("valid config");
        node.handle_election_timeout();
        let vote = RequestVoteReply {
            term: Term(1),
            vote_granted: true,
        };
        node.step(id(1), Message::RequestVoteReply(vote))
            .expect("a vote");
        node.propose([bytes::Bytes::from_static(b"v")])
            .expect("a leader proposes");
        node
    }

    fn success(match_index: u64) -> Msg {
        Msg::new(Message::AppendEntriesReply(AppendEntriesReply {
            term: Term(1),
            prev_log_index: LogIndex(0),
            result: AppendResult::Success {
                match_index: LogIndex(match_index),
            },
        }))
    }

    /// A core that stays consistent with what it discarded passes; a step
    /// after which a discarded reply is no longer stale (a leader whose
    /// match index goes backwards) is a breach, on either naming policy.
    #[test]
    fn a_discarded_message_that_stops_being_stale_is_a_breach() {
        let fresh = Arc::new(leader());
        let mut acked = leader();
        acked.step(id(1), (*success(1).0).clone()).expect("an ack");
        let acked = Arc::new(acked);
        assert!(acked.is_stale(id(1), &success(1).0));
        assert!(!fresh.is_stale(id(1), &success(1).0));

        for all_namings in [false, true] {
            let honest = Ledger::new(all_namings);
            let none = Stored::default();
            honest.step((&fresh, &[], &none), (&acked, &[], &none));
            honest.discarded(&acked, id(1), &success(1));
            assert_eq!(honest.breach(), None);

            let regressing = Ledger::new(all_namings);
            regressing.step((&fresh, &[], &none), (&acked, &[], &none));
            regressing.discarded(&acked, id(1), &success(1));
            regressing.step((&acked, &[], &none), (&fresh, &[], &none));
            let breach = regressing.breach().expect("the regression is found");
            assert_eq!(breach.claim, Claim::StaleIsNoOp);
            assert!(
                breach.detail.contains("not stale any more"),
                "{}",
                breach.detail
            );
        }
    }

    #[test]
    fn permutations_are_all_there_once() {
        let all = permutations(3);
        assert_eq!(all.len(), 6);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 6);
        assert_eq!(permutations(1), vec![vec![0]]);
    }
}
