//! Symmetry reduction: the canonical representative of a state's class
//! under permutations of the server ids, and renaming a server's [`Disk`]
//! without copying what the permutation leaves alone.
//!
//! **The canonical representative.** stateright's own representative sorts
//! the servers by an `Ord` on their states and renames the state by that
//! order. Two servers whose states say the same thing without naming
//! anyone (say, two followers with the same log) are then ordered by what
//! does name someone (whom each voted for), so two states equal up to
//! renaming can get two representatives, and the count of unique states
//! moves with the order the search meets them in. [`canonical`] orders the
//! servers by a colour that names no server (the server's id-free key,
//! whether it is down, its timers, what is in flight to and from it),
//! tries every order of the servers whose colours tie, and keeps the
//! renamed state with the least fingerprint: the same state for every
//! member of a class, since renaming a state renames its colours with it,
//! so every member yields the same candidates. [`crate::Server`] has no
//! `Ord`, so stateright's representative cannot be used by mistake.
//!
//! **Renaming disks.** Every state's representative renames each server
//! twice over: the server's own copy of its disk and the copy stateright
//! keeps as its storage, which are one shared `Arc`. Renaming each
//! independently would copy the disk (log, snapshot, history) twice per
//! server per state, and the copies would no longer be shared. So a disk
//! the permutation does not change is shared as it is, and a renamed disk
//! is remembered for a few renamings, so that the second rename of the
//! same disk under the same permutation returns the same `Arc`.

use crate::ledger::permutations;
use crate::{Disk, RaftState};
use checked_raft::NodeId;
use stateright::actor::Id;
use stateright::util::DenseNatMap;
use stateright::{Rewrite, RewritePlan};
use std::cell::RefCell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// A renaming of the servers, as stateright applies it to a state.
pub(crate) type Plan = RewritePlan<Id, DenseNatMap<Id, Id>>;

/// The hasher colours and candidates are compared by: fixed keys, so that
/// every thread of a search picks the same representative.
pub(crate) fn hasher() -> impl Hasher {
    ahash::RandomState::with_seeds(0x5eed, 0xc0, 0x10, 0x5).build_hasher()
}

/// `state` renamed by `plan`, as stateright's representative renames it.
pub(crate) fn rename_state(state: &RaftState, plan: &Plan) -> RaftState {
    RaftState {
        actor_states: plan.reindex(&state.actor_states),
        network: state.network.rewrite(plan),
        timers_set: plan.reindex(&state.timers_set),
        random_choices: plan.reindex(&state.random_choices),
        crashed: plan.reindex(&state.crashed),
        actor_storages: plan.reindex(&state.actor_storages),
        history: state.history.rewrite(plan),
    }
}

/// The renaming that sends the server at index `order[k]` to index `k`.
fn plan_for(order: &[usize]) -> Plan {
    let mut rank = vec![0; order.len()];
    for (k, &i) in order.iter().enumerate() {
        rank[i] = k;
    }
    RewritePlan::from_values_to_sort(&rank)
}

/// Every order of the servers by colour, ties in every order: the
/// candidates for the representative (one when no colours tie).
///
/// A server's colour is what it shows without naming any server: its
/// id-free key, whether it is down, its timers, and the messages in flight
/// to it and from it (a message names no server; the envelope's ends are
/// the servers whose colours it counts in). Renaming the state carries
/// each colour to the server's new index. The more the colours tell
/// servers apart, the fewer orders of tied servers [`canonical`] tries.
pub(crate) fn candidate_orders(state: &RaftState) -> Vec<Vec<usize>> {
    let servers = state.actor_states.len();
    let mut inbound = vec![0u64; servers];
    let mut outbound = vec![0u64; servers];
    for envelope in state.network.iter_deliverable() {
        let mut h = hasher();
        envelope.msg.hash(&mut h);
        let message = h.finish();
        // A sum: the same whatever order the network lists messages in.
        let to = usize::from(envelope.dst);
        let from = usize::from(envelope.src);
        inbound[to] = inbound[to].wrapping_add(message);
        outbound[from] = outbound[from].wrapping_add(message);
    }
    let colours: Vec<_> = (0..servers)
        .map(|i| {
            let mut h = hasher();
            state.timers_set[i].hash(&mut h);
            (
                state.actor_states[i].symmetric_key(),
                state.crashed[i],
                h.finish(),
                inbound[i],
                outbound[i],
            )
        })
        .collect();
    let mut order: Vec<usize> = (0..servers).collect();
    order.sort_by(|&a, &b| colours[a].cmp(&colours[b]));
    let mut orders = vec![order.clone()];
    let mut start = 0;
    while start < order.len() {
        let end = (start..order.len())
            .find(|&k| colours[order[k]] != colours[order[start]])
            .unwrap_or(order.len());
        if end - start > 1 {
            let ties = permutations(end - start);
            orders = orders
                .into_iter()
                .flat_map(|o| {
                    ties.iter().map(move |p| {
                        let mut tied = o.clone();
                        for (k, &from) in p.iter().enumerate() {
                            tied[start + k] = o[start + from];
                        }
                        tied
                    })
                })
                .collect();
        }
        start = end;
    }
    orders
}

/// The canonical representative of `state` (module documentation), with
/// the renaming that gives it.
pub(crate) fn canonical_with_plan(state: &RaftState) -> (RaftState, Plan) {
    let mut orders = candidate_orders(state).into_iter();
    let first = orders.next().expect("at least one order");
    let plan = plan_for(&first);
    let renamed = rename_state(state, &plan);
    let mut best = (renamed, plan, None);
    for order in orders {
        let plan = plan_for(&order);
        let renamed = rename_state(state, &plan);
        let print = fingerprint(&renamed);
        let best_print = *best.2.get_or_insert_with(|| fingerprint(&best.0));
        if print < best_print {
            best = (renamed, plan, Some(print));
        }
    }
    (best.0, best.1)
}

/// The canonical representative of `state`: the same state for every
/// renaming of `state`'s servers (module documentation).
pub fn canonical(state: &RaftState) -> RaftState {
    canonical_with_plan(state).0
}

fn fingerprint(state: &RaftState) -> u64 {
    let mut h = hasher();
    state.hash(&mut h);
    h.finish()
}

/// How many recent renamings each checker thread remembers: one state's
/// servers, with room to spare.
const REMEMBERED: usize = 8;

struct Renamed {
    /// The disk renamed, held so that its address cannot be reused while
    /// it is remembered.
    original: Arc<Disk>,
    /// The permutation on the ids the disk mentions.
    mapping: Vec<(NodeId, NodeId)>,
    renamed: Arc<Disk>,
}

thread_local! {
    static RECENT: RefCell<(usize, Vec<Renamed>)> = const { RefCell::new((0, Vec::new())) };
}

/// `disk` with every server id passed through `rename`: the same `Arc` when
/// no id it mentions changes.
pub(crate) fn rename_disk(disk: &Arc<Disk>, rename: &impl Fn(NodeId) -> NodeId) -> Arc<Disk> {
    let mut mapping: Vec<(NodeId, NodeId)> = disk
        .stored
        .hard_state
        .voted_for
        .into_iter()
        .chain(disk.history.node_ids())
        .map(|n| (n, rename(n)))
        .collect();
    if mapping.iter().all(|(from, to)| from == to) {
        return Arc::clone(disk);
    }
    mapping.sort_unstable();
    mapping.dedup();
    RECENT.with(|recent| {
        let (next, remembered) = &mut *recent.borrow_mut();
        if let Some(hit) = remembered
            .iter()
            .find(|r| Arc::ptr_eq(&r.original, disk) && r.mapping == mapping)
        {
            return Arc::clone(&hit.renamed);
        }
        let renamed = Arc::new(Disk {
            stored: disk.stored.rename_nodes(rename),
            history: disk.history.rename_nodes(rename),
        });
        let entry = Renamed {
            original: Arc::clone(disk),
            mapping,
            renamed: Arc::clone(&renamed),
        };
        if remembered.len() < REMEMBERED {
            remembered.push(entry);
        } else {
            remembered[*next] = entry;
        }
        *next = (*next + 1) % REMEMBERED;
        renamed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Bounds;
    use crate::run::{Options, build_model};
    use checked_raft::{HardState, Stored, Term};
    use stateright::{Checker, Model, StateRecorder};

    /// Every state a search without symmetry reaches within `bounds`.
    fn reachable(bounds: Bounds) -> Vec<RaftState> {
        let options = Options {
            symmetry: false,
            ..Options::default()
        };
        let (recorder, states) = StateRecorder::new_with_accessor();
        build_model(&bounds, &options)
            .checker()
            .visitor(recorder)
            .spawn_bfs()
            .join();
        states()
    }

    /// The reachable states of a small configuration with an entry to
    /// replicate.
    fn sample() -> Vec<RaftState> {
        reachable(Bounds::default())
    }

    #[test]
    fn every_renaming_of_a_state_has_the_same_representative() {
        let states = sample();
        assert!(states.len() > 30_000, "{} states", states.len());
        let namings = permutations(3);
        for state in &states {
            let representative = canonical(state);
            assert!(
                namings
                    .iter()
                    .any(|naming| rename_state(state, &plan_for(naming)) == representative),
                "the representative is a renaming of the state"
            );
            for naming in &namings {
                let renamed = rename_state(state, &plan_for(naming));
                assert!(
                    canonical(&renamed) == representative,
                    "renaming by {naming:?} changes the representative of {state:?}"
                );
            }
        }
    }

    /// What the test above guards against: ordering the servers by colour
    /// alone, ties left in the order the servers happen to have, gives
    /// some state two representatives.
    #[test]
    fn without_trying_every_order_of_tied_servers_a_class_has_two_representatives() {
        let first = |state: &RaftState| {
            let order = candidate_orders(state).swap_remove(0);
            rename_state(state, &plan_for(&order))
        };
        let namings = permutations(3);
        let split = sample().iter().any(|state| {
            namings
                .iter()
                .any(|naming| first(&rename_state(state, &plan_for(naming))) != first(state))
        });
        assert!(split, "every class had one representative without the ties");
    }

    /// A disk that voted for the server at actor index `n`.
    fn disk_voting_for(n: usize) -> Arc<Disk> {
        Arc::new(Disk {
            stored: Stored {
                hard_state: HardState {
                    current_term: Term(1),
                    voted_for: Some(crate::node_id(n)),
                },
                ..Stored::default()
            },
            ..Disk::default()
        })
    }

    #[test]
    fn a_disk_the_permutation_leaves_alone_is_shared() {
        let disk = disk_voting_for(2);
        let swap01 = crate::actor::renaming(&[1, 0, 2]);
        assert!(Arc::ptr_eq(&rename_disk(&disk, &swap01), &disk));
    }

    #[test]
    fn renaming_the_same_disk_twice_shares_the_result() {
        let disk = disk_voting_for(0);
        let swap01 = crate::actor::renaming(&[1, 0, 2]);
        let first = rename_disk(&disk, &swap01);
        assert_eq!(first.stored.hard_state.voted_for, Some(crate::node_id(1)));
        assert!(Arc::ptr_eq(&first, &rename_disk(&disk, &swap01)));
        // Another permutation is not served from the remembered one.
        let swap02 = crate::actor::renaming(&[2, 1, 0]);
        assert_eq!(
            rename_disk(&disk, &swap02).stored.hard_state.voted_for,
            Some(crate::node_id(2))
        );
        // Nor is another disk with equal contents at another address.
        let twin = disk_voting_for(0);
        assert!(!Arc::ptr_eq(&rename_disk(&twin, &swap01), &first));
    }
}
