//! Renaming a server's [`Disk`] under a permutation of server ids, for
//! symmetry reduction, without copying what the permutation leaves alone.
//!
//! Every state's representative renames each server twice over: the
//! server's own copy of its disk and the copy stateright keeps as its
//! storage, which are one shared `Arc`. Renaming each independently would
//! copy the disk (log, snapshot, history) twice per server per state, and
//! the copies would no longer be shared. So a disk the permutation does not
//! change is shared as it is, and a renamed disk is remembered for a few
//! renamings, so that the second rename of the same disk under the same
//! permutation returns the same `Arc`.

use crate::Disk;
use checked_raft::NodeId;
use std::cell::RefCell;
use std::sync::Arc;

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
    use checked_raft::{HardState, Stored, Term};

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
