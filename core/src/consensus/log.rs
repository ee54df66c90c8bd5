//! The in-memory replicated log, indexed through the snapshot offset (§7).
//!
//! Invariants (checked by [`Log::check_invariants`]):
//! 1. `entries[k].index == snapshot.last_included_index + 1 + k`: entries are
//!    contiguous and start right after the snapshot.
//! 2. Entry terms never decrease along the log, and none is below
//!    `snapshot.last_included_term`.

use crate::consensus::types::{Entry, LogIndex, SnapshotMeta, Term};
use alloc::{format, string::String, vec::Vec};

/// The log of one server: a snapshot prefix plus the entries after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Log {
    /// Where the compacted prefix ends (index 0, term 0 before any snapshot).
    snapshot: SnapshotMeta,
    /// Entries after the snapshot, in index order.
    entries: Vec<Entry>,
}

impl Log {
    /// A log made of a snapshot prefix and the entries that follow it.
    /// Fails, naming the problem, unless they satisfy the invariants above.
    pub fn from_parts(snapshot: SnapshotMeta, entries: Vec<Entry>) -> Result<Log, String> {
        let log = Log { snapshot, entries };
        log.check_invariants()?;
        Ok(log)
    }

    /// Where the compacted prefix ends.
    pub fn snapshot_meta(&self) -> SnapshotMeta {
        self.snapshot
    }

    /// Index of the last entry covered by the snapshot (0 if none).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot.last_included_index
    }

    /// Index of the last entry, or of the snapshot's last entry when the log
    /// holds none after it.
    pub fn last_index(&self) -> LogIndex {
        self.snapshot_index().plus(self.entries.len())
    }

    /// Term of the last entry (§5.4.1 compares it in elections).
    pub fn last_term(&self) -> Term {
        self.entries
            .last()
            .map_or(self.snapshot.last_included_term, |e| e.term)
    }

    /// Term of the entry at `index`, if this log knows it: the entry is
    /// stored, or it is the snapshot's last entry. Index 0 has term 0.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index() {
            return Some(self.snapshot.last_included_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The stored entry at `index` (none for compacted or future indices).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        let offset = self.offset(index)?;
        self.entries.get(offset)
    }

    /// Stored entries with indices in `from ..= to`, clipped to what is
    /// stored. At most `max` entries.
    pub fn slice(&self, from: LogIndex, to: LogIndex, max: usize) -> &[Entry] {
        let first = self.snapshot_index().next().max(from);
        let last = self.last_index().min(to);
        if first > last {
            return &[];
        }
        let start = self.offset(first).unwrap_or(0);
        let end = self.offset(last).map_or(start, |o| o + 1);
        let end = end.min(start.saturating_add(max));
        &self.entries[start..end]
    }

    /// All stored entries after the snapshot.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// First index holding an entry of `term`, looking back from `from` while
    /// the term stays the same (§5.3 accelerated backtracking). Never below
    /// the first stored entry.
    pub fn first_index_of_term_ending_at(&self, from: LogIndex) -> LogIndex {
        let Some(term) = self.term_at(from) else {
            return from;
        };
        let mut index = from;
        while index > self.snapshot_index().next() && self.term_at(index.prev()) == Some(term) {
            index = index.prev();
        }
        index
    }

    /// The last index holding an entry of `term`, if this log stores one.
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        self.entries
            .iter()
            .rev()
            .skip_while(|e| e.term > term)
            .find(|e| e.term == term)
            .map(|e| e.index)
    }

    /// Appends one entry after the last. Returns `false` (and changes
    /// nothing) unless its index is `last_index + 1` and its term is not
    /// below `last_term`.
    pub fn push(&mut self, entry: Entry) -> bool {
        if entry.index != self.last_index().next() || entry.term < self.last_term() {
            return false;
        }
        self.entries.push(entry);
        true
    }

    /// Deletes every entry with an index greater than `after`. Entries inside
    /// the snapshot cannot be deleted this way.
    pub fn truncate_after(&mut self, after: LogIndex) {
        if let Some(offset) = self.offset(after.next()) {
            self.entries.truncate(offset);
        } else if after < self.snapshot_index() {
            self.entries.clear();
        }
    }

    /// Compacts the log: `meta` becomes the snapshot prefix. Entries after it
    /// are kept when the log holds `meta`'s last entry with the same term
    /// (Figure 13, step 6); otherwise the whole log is discarded (step 7).
    pub fn compact(&mut self, meta: SnapshotMeta) {
        let keep_suffix = self.term_at(meta.last_included_index) == Some(meta.last_included_term);
        if keep_suffix {
            let drop = self.offset(meta.last_included_index).map_or(0, |o| o + 1);
            self.entries.drain(..drop);
        } else {
            self.entries.clear();
        }
        self.snapshot = meta;
    }

    /// Checks the invariants listed in the module documentation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut prev_term = self.snapshot.last_included_term;
        for (k, entry) in self.entries.iter().enumerate() {
            let expected = self.snapshot_index().plus(k + 1);
            if entry.index != expected {
                return Err(format!(
                    "log entry at offset {k} has index {} instead of {}",
                    entry.index, expected
                ));
            }
            if entry.term < prev_term {
                return Err(format!(
                    "log term decreases at {}: {} after {}",
                    entry.index, entry.term, prev_term
                ));
            }
            prev_term = entry.term;
        }
        Ok(())
    }

    /// Position in `entries` of `index`, if it lies after the snapshot.
    fn offset(&self, index: LogIndex) -> Option<usize> {
        let first = self.snapshot_index().next();
        if index < first {
            return None;
        }
        usize::try_from(index.0 - first.0).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(term),
            command: Bytes::new(),
        }
    }

    fn log_with_terms(snapshot: (u64, u64), terms: &[u64]) -> Log {
        let meta = SnapshotMeta {
            last_included_index: LogIndex(snapshot.0),
            last_included_term: Term(snapshot.1),
        };
        let entries = terms
            .iter()
            .enumerate()
            .map(|(k, &t)| entry(snapshot.0 + 1 + k as u64, t))
            .collect();
        Log::from_parts(meta, entries).expect("valid test log")
    }

    #[test]
    fn s7_indices_go_through_the_snapshot_offset() {
        let log = log_with_terms((5, 2), &[2, 3, 3]);
        assert_eq!(log.last_index(), LogIndex(8));
        assert_eq!(log.last_term(), Term(3));
        assert_eq!(
            log.term_at(LogIndex(5)),
            Some(Term(2)),
            "snapshot's last entry"
        );
        assert_eq!(log.term_at(LogIndex(4)), None, "compacted");
        assert_eq!(log.term_at(LogIndex(7)), Some(Term(3)));
        assert_eq!(log.term_at(LogIndex(9)), None, "past the end");
        assert_eq!(log.entry(LogIndex(6)).map(|e| e.term), Some(Term(2)));
        let slice: Vec<u64> = log
            .slice(LogIndex(1), LogIndex(7), 10)
            .iter()
            .map(|e| e.index.0)
            .collect();
        assert_eq!(slice, vec![6, 7]);
        assert_eq!(log.slice(LogIndex(6), LogIndex(8), 2).len(), 2);
        assert!(log.slice(LogIndex(9), LogIndex(20), 10).is_empty());
    }

    #[test]
    fn from_parts_rejects_gaps_and_decreasing_terms() {
        let meta = SnapshotMeta::default();
        assert!(Log::from_parts(meta, vec![entry(2, 1)]).is_err());
        assert!(Log::from_parts(meta, vec![entry(1, 2), entry(2, 1)]).is_err());
        assert!(Log::from_parts(meta, vec![entry(1, 1), entry(2, 1)]).is_ok());
    }

    #[test]
    fn push_only_appends_at_the_end() {
        let mut log = log_with_terms((0, 0), &[1]);
        assert!(!log.push(entry(3, 1)), "gap");
        assert!(!log.push(entry(1, 1)), "overwrite");
        assert!(log.push(entry(2, 1)));
        assert_eq!(log.last_index(), LogIndex(2));
    }

    #[test]
    fn truncate_after_keeps_the_prefix() {
        let mut log = log_with_terms((2, 1), &[1, 2, 2]);
        log.truncate_after(LogIndex(4));
        assert_eq!(log.last_index(), LogIndex(4));
        log.truncate_after(LogIndex(9));
        assert_eq!(log.last_index(), LogIndex(4), "nothing past the end");
        log.truncate_after(LogIndex(2));
        assert_eq!(log.last_index(), LogIndex(2));
        assert_eq!(log.last_term(), Term(1));
    }

    #[test]
    fn figure13_compact_keeps_a_matching_suffix_and_drops_a_conflicting_log() {
        let mut log = log_with_terms((0, 0), &[1, 1, 2, 2]);
        log.compact(SnapshotMeta {
            last_included_index: LogIndex(2),
            last_included_term: Term(1),
        });
        assert_eq!(log.snapshot_index(), LogIndex(2));
        assert_eq!(log.last_index(), LogIndex(4), "step 6: suffix retained");

        log.compact(SnapshotMeta {
            last_included_index: LogIndex(3),
            last_included_term: Term(3),
        });
        assert_eq!(log.last_index(), LogIndex(3), "step 7: log discarded");
        assert_eq!(log.last_term(), Term(3));
        assert!(log.entries().is_empty());
    }

    #[test]
    fn s5_3_backtracking_finds_term_boundaries() {
        let log = log_with_terms((1, 1), &[1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term_ending_at(LogIndex(5)), LogIndex(3));
        assert_eq!(log.first_index_of_term_ending_at(LogIndex(2)), LogIndex(2));
        assert_eq!(log.last_index_of_term(Term(2)), Some(LogIndex(5)));
        assert_eq!(log.last_index_of_term(Term(3)), None);
        assert_eq!(log.last_index_of_term(Term(4)), Some(LogIndex(6)));
    }
}
