//! What a leader knows about each follower's log, and majority arithmetic.

use crate::consensus::types::LogIndex;
use serde::{Deserialize, Serialize};

/// A leader's view of one follower (Figure 2, "Volatile state on leaders").
///
/// Invariant: `match_index < next_index <= sent_up_to + 1`, and
/// `sent_up_to <= last_index` of the leader's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Progress {
    /// Index of the next log entry to send to that server (initialized to
    /// leader last log index + 1).
    pub next_index: LogIndex,
    /// Index of highest log entry known to be replicated on that server
    /// (initialized to 0, increases monotonically).
    pub match_index: LogIndex,
    /// The last index sent to that server since `next_index` last moved
    /// back (not in Figure 2: flow control). An acknowledgement triggers a
    /// new AppendEntries only for entries past it, so that a burst of
    /// proposals, each already sent at once, is not sent again as each is
    /// acknowledged; a lost message is resent by the next heartbeat.
    pub sent_up_to: LogIndex,
}

impl Progress {
    /// Progress of a follower right after the election (Figure 2).
    pub fn new(leader_last_index: LogIndex) -> Progress {
        Progress {
            next_index: leader_last_index.next(),
            match_index: LogIndex(0),
            sent_up_to: leader_last_index,
        }
    }

    /// Records that the follower's log matches through `index`. Returns
    /// whether `match_index` advanced; an older acknowledgement (a reordered
    /// or duplicated reply) changes nothing.
    pub fn maybe_update(&mut self, index: LogIndex) -> bool {
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index.next());
        self.sent_up_to = self.sent_up_to.max(index);
        true
    }

    /// Moves `next_index` back to `to` after a rejection, never below
    /// `match_index + 1` and always at least one step back, so that every
    /// fresh rejection makes progress. Returns whether it moved; if it did,
    /// nothing past the new `next_index` counts as sent.
    pub fn back_off(&mut self, to: LogIndex) -> bool {
        let floor = self.match_index.next();
        let ceiling = self.next_index.prev().max(floor);
        let to = to.clamp(floor, ceiling);
        let moved = to != self.next_index;
        self.next_index = to;
        if moved {
            self.sent_up_to = to.prev();
        }
        moved
    }

    /// Records that entries through `index` were sent.
    pub fn sent(&mut self, index: LogIndex) {
        self.sent_up_to = self.sent_up_to.max(index);
    }
}

/// How many servers form a majority of a cluster of `cluster_size`.
pub fn quorum(cluster_size: usize) -> usize {
    cluster_size / 2 + 1
}

/// The highest index stored on a majority, given every server's match index
/// (the leader's own last index included). §5.3, §5.4.2.
pub fn majority_index(mut match_indices: Vec<LogIndex>) -> LogIndex {
    let quorum = quorum(match_indices.len());
    match_indices.sort_unstable_by(|a, b| b.cmp(a));
    match_indices
        .get(quorum - 1)
        .copied()
        .unwrap_or(LogIndex(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_a_strict_majority() {
        let sizes: Vec<usize> = (1..=7).map(quorum).collect();
        assert_eq!(sizes, vec![1, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn majority_index_is_the_median_from_the_top() {
        let idx = |v: &[u64]| majority_index(v.iter().map(|&i| LogIndex(i)).collect());
        assert_eq!(idx(&[5]), LogIndex(5));
        assert_eq!(idx(&[5, 3, 1]), LogIndex(3));
        assert_eq!(idx(&[5, 0, 0]), LogIndex(0));
        assert_eq!(idx(&[9, 7, 7, 2, 1]), LogIndex(7));
        assert_eq!(idx(&[4, 4]), LogIndex(4));
        assert_eq!(idx(&[4, 3]), LogIndex(3));
    }

    #[test]
    fn stale_acknowledgements_do_not_move_progress_back() {
        let mut p = Progress::new(LogIndex(10));
        assert!(p.maybe_update(LogIndex(4)));
        assert!(!p.maybe_update(LogIndex(3)));
        assert_eq!(p.match_index, LogIndex(4));
        assert_eq!(p.next_index, LogIndex(11));
    }

    #[test]
    fn back_off_stays_above_match_and_always_moves_back() {
        let mut p = Progress::new(LogIndex(10));
        p.maybe_update(LogIndex(3));
        assert!(p.back_off(LogIndex(1)));
        assert_eq!(p.next_index, LogIndex(4), "clamped to match + 1");
        let mut q = Progress::new(LogIndex(10));
        assert!(q.back_off(LogIndex(50)));
        assert_eq!(q.next_index, LogIndex(10), "a hint ahead still steps back");
    }
}
