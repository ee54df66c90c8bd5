//! What a leader knows about each follower's log, and majority arithmetic.

use crate::consensus::types::LogIndex;
use alloc::{string::String, vec::Vec};
use serde::{Deserialize, Serialize};

/// Most AppendEntries a leader keeps in flight to one follower: the
/// capacity of [`Progress`]'s window ([`crate::Config::max_inflight`] is
/// at most this).
pub const MAX_INFLIGHT: usize = 8;

/// A leader's view of one follower (Figure 2, "Volatile state on leaders"),
/// with the flow control Figure 2 leaves open.
///
/// Two modes, as in etcd's raft. *Probing* (after the election, a
/// rejection or a heartbeat that finds entries unacknowledged): the leader
/// does not know where the follower's log matches, so it keeps at most one
/// AppendEntries in flight, from `next_index`. *Replicating* (after an
/// acknowledgement): it streams new entries past `sent_up_to` without
/// waiting for replies (pipelining), at most `max_inflight` messages in
/// flight; each acknowledgement frees the messages it covers.
///
/// Invariant: `match_index < next_index <= sent_up_to + 1`, `sent_up_to
/// <= last_index` of the leader's log, and the window holds increasing
/// indices in `(match_index, sent_up_to]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Progress {
    /// Index of the next log entry to send to that server (initialized to
    /// leader last log index + 1).
    pub(crate) next_index: LogIndex,
    /// Index of highest log entry known to be replicated on that server
    /// (initialized to 0, increases monotonically).
    pub(crate) match_index: LogIndex,
    /// The last index sent to that server since `next_index` last moved
    /// back (not in Figure 2: flow control). New entries are sent from
    /// here on, so that each entry leaves once, not once per proposal or
    /// acknowledgement; a lost message is resent by the next heartbeat or
    /// after the rejection it causes.
    pub(crate) sent_up_to: LogIndex,
    /// Whether the leader is probing for the point where the follower's
    /// log matches (one message in flight) rather than replicating.
    pub(crate) probing: bool,
    /// Last index of each AppendEntries with entries in flight, oldest
    /// first (the first `inflight_len` slots).
    inflight: [LogIndex; MAX_INFLIGHT],
    inflight_len: u8,
}

impl Progress {
    /// Index of the next log entry to send to that server.
    pub fn next_index(&self) -> LogIndex {
        self.next_index
    }

    /// Index of the highest log entry known to be replicated on that
    /// server.
    pub fn match_index(&self) -> LogIndex {
        self.match_index
    }

    /// The last index sent to that server since `next_index` last moved
    /// back.
    pub fn sent_up_to(&self) -> LogIndex {
        self.sent_up_to
    }

    /// Whether the leader is probing (one message in flight) rather than
    /// replicating.
    pub fn is_probing(&self) -> bool {
        self.probing
    }

    /// The invariant of the type's documentation, for a leader whose log
    /// ends at `leader_last_index`: the reason it fails, if it does.
    pub fn check_invariants(&self, leader_last_index: LogIndex) -> Result<(), String> {
        let window = self.in_flight();
        if self.match_index >= self.next_index {
            Err("match_index is not below next_index".into())
        } else if self.next_index > self.sent_up_to.next() {
            Err("next_index is past sent_up_to + 1".into())
        } else if self.sent_up_to > leader_last_index {
            Err("sent_up_to is past the leader's log".into())
        } else if window.windows(2).any(|w| w[0] >= w[1]) {
            Err("the window's indices do not increase".into())
        } else if window
            .iter()
            .any(|&i| i <= self.match_index || i > self.sent_up_to)
        {
            Err("the window holds an index outside (match_index, sent_up_to]".into())
        } else {
            Ok(())
        }
    }

    /// Progress of a follower right after the election (Figure 2), probing.
    pub fn new(leader_last_index: LogIndex) -> Progress {
        Progress {
            next_index: leader_last_index.next(),
            match_index: LogIndex(0),
            sent_up_to: leader_last_index,
            probing: true,
            inflight: [LogIndex(0); MAX_INFLIGHT],
            inflight_len: 0,
        }
    }

    /// A progress record from its parts (for tests and tools that build a
    /// leader's state by hand). The window keeps the indices of
    /// `in_flight` in `(match_index, sent_up_to]`, increasing, at most
    /// [`MAX_INFLIGHT`] of them; others are left out.
    pub fn from_parts(
        next_index: LogIndex,
        match_index: LogIndex,
        sent_up_to: LogIndex,
        probing: bool,
        in_flight: &[LogIndex],
    ) -> Progress {
        let mut progress = Progress {
            next_index,
            match_index,
            sent_up_to,
            probing,
            inflight: [LogIndex(0); MAX_INFLIGHT],
            inflight_len: 0,
        };
        for &index in in_flight {
            let after_last = progress.in_flight().last().is_none_or(|&l| index > l);
            if index > match_index
                && index <= sent_up_to
                && after_last
                && usize::from(progress.inflight_len) < MAX_INFLIGHT
            {
                progress.inflight[usize::from(progress.inflight_len)] = index;
                progress.inflight_len += 1;
            }
        }
        progress
    }

    /// Records that the follower's log matches through `index`. Returns
    /// whether `match_index` advanced; an older acknowledgement (a reordered
    /// or duplicated reply) changes nothing. An advance ends probing and
    /// frees the messages in flight that it covers.
    pub fn maybe_update(&mut self, index: LogIndex) -> bool {
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index.next());
        self.sent_up_to = self.sent_up_to.max(index);
        self.probing = false;
        let len = usize::from(self.inflight_len);
        let freed = self.in_flight().iter().take_while(|&&i| i <= index).count();
        self.inflight.copy_within(freed..len, 0);
        // Freed slots are zeroed, so that equal windows are equal values.
        self.inflight[len - freed..len].fill(LogIndex(0));
        self.inflight_len -= freed as u8;
        true
    }

    /// Moves `next_index` back to `to` after a rejection, never below
    /// `match_index + 1` and always at least one step back, so that every
    /// fresh rejection makes progress. Returns whether it moved; if it did,
    /// nothing past the new `next_index` counts as sent, and the leader
    /// probes from there.
    pub fn back_off(&mut self, to: LogIndex) -> bool {
        let floor = self.match_index.next();
        let ceiling = self.next_index.prev().max(floor);
        let to = to.clamp(floor, ceiling);
        let moved = to != self.next_index;
        self.next_index = to;
        if moved {
            self.probe();
        }
        moved
    }

    /// The follower rejected the AppendEntries whose `prev_log_index` was
    /// `rejected_prev`; `hint` is where its answer suggests to go on (§5.3's
    /// conflict hints). Returns whether to send again. While probing, only
    /// the answer to the probe (from `next_index`) counts, and moves
    /// `next_index` back ([`Progress::back_off`]). While replicating, the
    /// first rejection past the match point means an earlier message was
    /// lost or overtaken: probe again from the hint, at most from
    /// `rejected_prev` (the follower lacks that entry or has another there).
    /// A rejection at or below the match point is stale.
    pub fn reject(&mut self, rejected_prev: LogIndex, hint: LogIndex) -> bool {
        if rejected_prev <= self.match_index {
            return false;
        }
        if self.probing {
            return rejected_prev.next() == self.next_index && self.back_off(hint);
        }
        let floor = self.match_index.next();
        let ceiling = rejected_prev.min(self.sent_up_to.next()).max(floor);
        self.next_index = hint.clamp(floor, ceiling);
        self.probe();
        true
    }

    /// Forgets what is in flight past `next_index` and probes from there
    /// (a heartbeat finding entries unacknowledged: some message may have
    /// been lost).
    pub fn probe(&mut self) {
        self.sent_up_to = self.next_index.prev();
        self.probing = true;
        self.inflight = [LogIndex(0); MAX_INFLIGHT];
        self.inflight_len = 0;
    }

    /// Whether the leader may send this follower another AppendEntries
    /// with entries: one at a time while probing, up to `max_inflight`
    /// (at most [`MAX_INFLIGHT`]) while replicating.
    pub fn can_send(&self, max_inflight: usize) -> bool {
        let limit = if self.probing {
            1
        } else {
            max_inflight.clamp(1, MAX_INFLIGHT)
        };
        usize::from(self.inflight_len) < limit
    }

    /// Records that entries through `index` were sent in one message (an
    /// empty message, one ending at or before `sent_up_to`, occupies no
    /// slot of the window).
    pub fn sent(&mut self, index: LogIndex) {
        if index <= self.sent_up_to {
            return;
        }
        self.sent_up_to = index;
        if usize::from(self.inflight_len) == MAX_INFLIGHT {
            // Only a caller that ignored `can_send` gets here: forget the
            // oldest (a later acknowledgement covers it anyway).
            self.inflight.copy_within(1.., 0);
            self.inflight[MAX_INFLIGHT - 1] = LogIndex(0);
            self.inflight_len -= 1;
        }
        self.inflight[usize::from(self.inflight_len)] = index;
        self.inflight_len += 1;
    }

    /// Last index of each message with entries in flight, oldest first.
    pub fn in_flight(&self) -> &[LogIndex] {
        &self.inflight[..usize::from(self.inflight_len)]
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
    fn acknowledgements_free_the_window_and_end_probing() {
        let mut p = Progress::new(LogIndex(0));
        assert!(p.probing && p.can_send(4));
        p.sent(LogIndex(3));
        assert!(!p.can_send(4), "probing: one message at a time");
        assert!(p.maybe_update(LogIndex(3)));
        assert!(!p.probing && p.in_flight().is_empty());
        for last in [5, 8, 9, 12] {
            assert!(p.can_send(4));
            p.sent(LogIndex(last));
        }
        assert!(!p.can_send(4), "replicating: the window holds four");
        assert_eq!(
            p.in_flight(),
            &[LogIndex(5), LogIndex(8), LogIndex(9), LogIndex(12)]
        );
        assert!(p.maybe_update(LogIndex(8)), "one reply covers two messages");
        assert_eq!(p.in_flight(), &[LogIndex(9), LogIndex(12)]);
        p.sent(LogIndex(12));
        assert_eq!(
            p.in_flight().len(),
            2,
            "resending what was sent takes no slot"
        );
        p.probe();
        assert!(p.probing && p.in_flight().is_empty());
        assert_eq!((p.next_index, p.sent_up_to), (LogIndex(9), LogIndex(8)));
    }

    #[test]
    fn a_rejection_while_replicating_probes_from_the_hint() {
        let mut p = Progress::new(LogIndex(4));
        assert!(p.maybe_update(LogIndex(4)));
        p.sent(LogIndex(6));
        p.sent(LogIndex(7));
        // The message after 6 overtook the one ending at 6: rejected at 6,
        // the follower's log ends at 4.
        assert!(p.reject(LogIndex(6), LogIndex(5)));
        assert!(p.probing && p.in_flight().is_empty());
        assert_eq!((p.next_index, p.sent_up_to), (LogIndex(5), LogIndex(4)));
        // The other rejections of the pipeline are not the probe's answer.
        assert!(!p.reject(LogIndex(7), LogIndex(5)));
        assert!(
            !p.reject(LogIndex(3), LogIndex(1)),
            "stale: at or below match"
        );
        // The probe's own rejection backs off.
        assert!(!p.reject(LogIndex(4), LogIndex(2)), "never below match + 1");
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

    #[test]
    fn check_invariants_names_what_is_out_of_range() {
        let i = LogIndex;
        assert_eq!(Progress::new(i(5)).check_invariants(i(5)), Ok(()));
        let replicating = Progress::from_parts(i(4), i(2), i(5), false, &[i(4), i(5)]);
        assert_eq!(replicating.check_invariants(i(5)), Ok(()));
        let cases = [
            (
                Progress::from_parts(i(3), i(3), i(5), false, &[]),
                i(5),
                "match_index",
            ),
            (
                Progress::from_parts(i(7), i(0), i(5), false, &[]),
                i(5),
                "next_index",
            ),
            (
                Progress::from_parts(i(4), i(2), i(6), false, &[]),
                i(5),
                "sent_up_to",
            ),
        ];
        for (progress, last, named) in cases {
            let why = progress.check_invariants(last).expect_err("out of range");
            assert!(why.starts_with(named), "{why}");
        }
    }
}
