//! The search for one partition: Wing & Gong's backtracking with Lowe's
//! memoization, as in porcupine's `checkSingle`.
//!
//! The call and return events of the partition's operations are sorted by
//! time (calls before returns at equal times: intervals are closed) into a
//! doubly linked list. The search walks the list from the front: at a call
//! whose operation the model accepts from the current state, it linearizes
//! the operation (pushes it with the previous state on a stack and lifts its
//! call and return out of the list) and starts again from the front; at a
//! return, the operation it belongs to should already have been linearized,
//! so the search backtracks: it pops the last linearized operation, puts it
//! back, and tries the next candidate after it. The list becomes empty when
//! every operation is linearized; backtracking with an empty stack means no
//! linearization exists.
//!
//! Lowe's cache stores every (set of linearized operations, state) pair
//! reached; reaching one again cannot lead anywhere new, so it is skipped.
//!
//! Symmetry reduction (not in porcupine): two operations with equal input and
//! output are interchangeable. If one of them, Y, is called no later and
//! returns no later than the other, X, then any linearization that places X
//! before Y stays a linearization when the two swap places (every operation
//! that had to precede or follow either still does, and the states are the
//! same). Repeating such swaps sorts them, so some linearization exists, if
//! any does, in which Y precedes X. The search therefore only linearizes X
//! once a chosen such Y (its `pred`) is linearized. The constraint depends
//! only on the set of linearized operations, so it is compatible with the
//! cache. This collapses the 2^k orders of k concurrent identical
//! operations, such as indeterminate writes of the same value, to k + 1.
//!
//! Read-only operations (also not in porcupine): if a candidate operation R
//! is legal and read-only ([`Model::is_read_only`]: it leaves the state
//! unchanged in every state that accepts it, like a read or a failed CAS),
//! then a configuration that can be completed can also be completed by
//! linearizing R first. (Take a completion and move R to its front: R is a
//! candidate, so no pending operation had to precede it; moving it earlier
//! breaks no other real-time constraint; R is legal now and leaves the state
//! as it is, and where it was removed it had left the state unchanged too,
//! so every other operation sees the same states; and its `pred`, if any, is
//! already linearized.) So when the configuration after R is dead, so is the
//! one before: the search backs up past R at once instead of trying R's
//! siblings. (It is not enough that R leaves the current state unchanged: a
//! write of the current value would change a later state.)
//! The list is a pair of index arrays (no pointers), the set is a [`Bitset`]
//! with an O(1) incremental hash, and cache entries keep their bitsets in one
//! arena, so the hot loop does not allocate except to grow the cache.

use crate::bitset::Bitset;
use crate::history::Operation;
use crate::model::Model;
use rustc_hash::{FxHashMap, FxHasher};
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// How many loop iterations pass between checks of cancellation and deadline.
const POLL_EVERY: u32 = 1024;
/// How many distinct rejecting states are kept per operation for the
/// explanation.
const MAX_REJECTED_STATES: usize = 8;
/// How far back among identical operations to look for a `pred`.
const PRED_LOOKBACK: usize = 16;

/// When to give up: another partition found a violation (`cancel`), or the
/// deadline passed.
pub(crate) struct Stop<'a> {
    pub cancel: &'a AtomicBool,
    pub deadline: Option<Instant>,
}

impl Stop<'_> {
    fn poll<S>(&self) -> Option<Outcome<S>> {
        if self.cancel.load(Ordering::Relaxed) {
            Some(Outcome::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Outcome::TimedOut)
        } else {
            None
        }
    }
}

/// Why a partition is not linearizable, in partition-local operation indices.
pub(crate) struct Diagnosis<S> {
    /// The longest sequence of operations the search linearized.
    pub longest: Vec<usize>,
    /// The operation that had to be linearized next (its return was the
    /// earliest remaining) but could not be.
    pub stuck: usize,
    /// The state after `longest`.
    pub state_at_stuck: S,
    /// Distinct states from which the model rejected `stuck` during the
    /// search (at most [`MAX_REJECTED_STATES`]).
    pub rejected: Vec<S>,
}

/// The result of searching one partition.
pub(crate) enum Outcome<S> {
    /// A linearization, as partition-local operation indices in order.
    Linearizable(Vec<usize>),
    /// No linearization exists; the diagnosis if one was asked for.
    Illegal(Option<Box<Diagnosis<S>>>),
    /// The deadline passed first.
    TimedOut,
    /// Another partition was found illegal first.
    Cancelled,
}

/// The event list: entry 0 is the head sentinel, entries `1..=2n` are the
/// calls and returns in time order.
struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// The partition-local operation of each entry.
    op: Vec<u32>,
    /// For a call entry, the index of its return entry; `NIL` for returns.
    ret: Vec<u32>,
}

impl Entries {
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Self {
        // (time, 0 = call / 1 = return, op): calls sort before returns at
        // equal times, so those operations are concurrent.
        let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            events.push((op.call, 0, i as u32));
            events.push((op.return_time, 1, i as u32));
        }
        events.sort_unstable();
        let len = events.len() + 1;
        let mut entries = Entries {
            next: (1..=len as u32).collect(),
            prev: (0..len as u32).map(|i| i.wrapping_sub(1)).collect(),
            op: vec![NIL; len],
            ret: vec![NIL; len],
        };
        entries.next[len - 1] = NIL;
        entries.prev[0] = NIL;
        let mut return_entry = vec![NIL; ops.len()];
        for (pos, &(_, kind, op)) in events.iter().enumerate().rev() {
            let e = pos + 1;
            entries.op[e] = op;
            if kind == 1 {
                return_entry[op as usize] = e as u32;
            } else {
                entries.ret[e] = return_entry[op as usize];
            }
        }
        entries
    }

    /// Removes call entry `e` and its return from the list.
    #[inline]
    fn lift(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
        let r = self.ret[e as usize];
        let (p, n) = (self.prev[r as usize], self.next[r as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Puts back call entry `e` and its return (undoes [`Entries::lift`]).
    #[inline]
    fn unlift(&mut self, e: u32) {
        let r = self.ret[e as usize];
        let (p, n) = (self.prev[r as usize], self.next[r as usize]);
        self.next[p as usize] = r;
        if n != NIL {
            self.prev[n as usize] = r;
        }
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        self.prev[n as usize] = e;
    }
}

/// A hasher for keys that are already well-mixed 64-bit hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Lowe's memoization: the set of (linearized set, state) pairs reached.
/// Entries with equal 64-bit keys are chained; equality is exact.
struct Cache<S> {
    heads: std::collections::HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    words: usize,
    bits: Vec<u64>,
    states: Vec<S>,
    chain: Vec<u32>,
}

/// The MurmurHash3 64-bit finalizer.
#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl<S: Clone + Eq + Hash> Cache<S> {
    fn new(n: usize) -> Self {
        // Every search stores at least one entry per operation; start there.
        let words = n.div_ceil(64);
        Cache {
            heads: std::collections::HashMap::with_capacity_and_hasher(n, Default::default()),
            words,
            bits: Vec::with_capacity(n * words),
            states: Vec::with_capacity(n),
            chain: Vec::with_capacity(n),
        }
    }

    /// Adds (`set`, `state`); returns false if it was already there.
    #[inline]
    fn insert(&mut self, set: &Bitset, state: &S) -> bool {
        let mut h = FxHasher::default();
        state.hash(&mut h);
        let key = set.hash() ^ mix(h.finish());
        let new = self.states.len() as u32;
        match self.heads.entry(key) {
            Entry::Vacant(v) => {
                v.insert(new);
                self.chain.push(NIL);
            }
            Entry::Occupied(mut o) => {
                let mut i = *o.get();
                while i != NIL {
                    let at = i as usize * self.words;
                    if self.states[i as usize] == *state
                        && self.bits[at..at + self.words]
                            .iter()
                            .zip(set.words())
                            .all(|(a, b)| a == b)
                    {
                        return false;
                    }
                    i = self.chain[i as usize];
                }
                self.chain.push(*o.get());
                *o.get_mut() = new;
            }
        }
        self.bits.extend_from_slice(set.words());
        self.states.push(state.clone());
        true
    }
}

/// For each operation X, an identical operation Y (equal input and output)
/// with `(Y.call, Y.return, Y) < (X.call, X.return, X)` and
/// `Y.return <= X.return`, or `NIL`: the latest such Y within
/// [`PRED_LOOKBACK`] of X in that order.
fn symmetry_predecessors<I: Eq + Hash, O: Eq + Hash>(ops: &[&Operation<I, O>]) -> Vec<u32> {
    let mut classes: FxHashMap<(&I, &O), Vec<u32>> = FxHashMap::default();
    for (i, op) in ops.iter().enumerate() {
        classes
            .entry((&op.input, &op.output))
            .or_default()
            .push(i as u32);
    }
    let mut pred = vec![NIL; ops.len()];
    for class in classes.values_mut() {
        if class.len() < 2 {
            continue;
        }
        class.sort_unstable_by_key(|&i| (ops[i as usize].call, ops[i as usize].return_time, i));
        for (j, &x) in class.iter().enumerate() {
            let x_ret = ops[x as usize].return_time;
            pred[x as usize] = class[j.saturating_sub(PRED_LOOKBACK)..j]
                .iter()
                .rev()
                .copied()
                .find(|&y| ops[y as usize].return_time <= x_ret)
                .unwrap_or(NIL);
        }
    }
    pred
}

/// A partition's search in progress, resumable in slices so that one
/// thread can take turns among partitions.
pub(crate) enum PartitionSearch<'a, M: Model> {
    /// Verdict only.
    Plain(Search<'a, M, false>),
    /// Also records the diagnosis.
    Explained(Search<'a, M, true>),
}

impl<'a, M: Model> PartitionSearch<'a, M> {
    /// Prepares the search of `ops` (one partition).
    pub fn new(model: &'a M, ops: &[&'a Operation<M::Input, M::Output>], explain: bool) -> Self {
        if explain {
            PartitionSearch::Explained(Search::new(model, ops))
        } else {
            PartitionSearch::Plain(Search::new(model, ops))
        }
    }

    /// Searches on for about `budget` more steps (rounded up to a multiple
    /// of [`POLL_EVERY`]); `None` if it has not finished by then.
    pub fn resume(&mut self, stop: &Stop<'_>, budget: u64) -> Option<Outcome<M::State>> {
        match self {
            PartitionSearch::Plain(s) => s.resume(stop, budget),
            PartitionSearch::Explained(s) => s.resume(stop, budget),
        }
    }
}

/// Searches `ops` (one partition) to the end.
#[cfg(test)]
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M::Input, M::Output>],
    stop: &Stop<'_>,
    explain: bool,
) -> Outcome<M::State> {
    let mut search = PartitionSearch::new(model, ops, explain);
    loop {
        if let Some(outcome) = search.resume(stop, u64::MAX) {
            return outcome;
        }
    }
}

/// The state of one partition's search.
pub(crate) struct Search<'a, M: Model, const EXPLAIN: bool> {
    model: &'a M,
    inputs: Vec<&'a M::Input>,
    outputs: Vec<&'a M::Output>,
    entries: Entries,
    /// For each operation, an identical one that must be linearized first
    /// (symmetry reduction), or `NIL`.
    pred: Vec<u32>,
    /// For each operation, whether the model says it is read-only.
    read_only: Vec<bool>,
    /// The current state.
    state: M::State,
    /// The set of linearized operations.
    linearized: Bitset,
    cache: Cache<M::State>,
    /// The linearized calls, with the state before each and whether the
    /// operation is read-only.
    calls: Vec<(u32, M::State, bool)>,
    /// The next entry to look at.
    entry: u32,
    /// Explanation: the longest prefix (ops, stuck op, state there).
    best: Option<(Vec<usize>, usize, M::State)>,
    /// Explanation: the states each operation was rejected from.
    rejected: Vec<Vec<M::State>>,
}

impl<'a, M: Model, const EXPLAIN: bool> Search<'a, M, EXPLAIN> {
    fn new(model: &'a M, ops: &[&'a Operation<M::Input, M::Output>]) -> Self {
        let n = ops.len();
        let entries = Entries::new(ops);
        let entry = entries.next[HEAD as usize];
        Search {
            model,
            inputs: ops.iter().map(|o| &o.input).collect(),
            outputs: ops.iter().map(|o| &o.output).collect(),
            entries,
            pred: symmetry_predecessors(ops),
            read_only: ops
                .iter()
                .map(|o| model.is_read_only(&o.input, &o.output))
                .collect(),
            state: model.init(),
            linearized: Bitset::new(n),
            cache: Cache::new(n),
            calls: Vec::with_capacity(n),
            entry,
            best: None,
            rejected: if EXPLAIN {
                vec![Vec::new(); n]
            } else {
                Vec::new()
            },
        }
    }

    fn resume(&mut self, stop: &Stop<'_>, budget: u64) -> Option<Outcome<M::State>> {
        if let Some(interrupted) = stop.poll() {
            return Some(interrupted);
        }
        let mut polls_left = budget.div_ceil(u64::from(POLL_EVERY)).max(1);
        let mut until_poll = POLL_EVERY;
        while self.entries.next[HEAD as usize] != NIL {
            until_poll -= 1;
            if until_poll == 0 {
                until_poll = POLL_EVERY;
                if let Some(interrupted) = stop.poll() {
                    return Some(interrupted);
                }
                polls_left -= 1;
                if polls_left == 0 {
                    return None;
                }
            }
            let e = self.entry as usize;
            let op = self.entries.op[e] as usize;
            if self.entries.ret[e] != NIL {
                // A call: try to linearize its operation now, unless an
                // identical operation must go first.
                let pred = self.pred[op];
                if pred != NIL && !self.linearized.contains(pred as usize) {
                    self.entry = self.entries.next[e];
                    continue;
                }
                match self
                    .model
                    .step(&self.state, self.inputs[op], self.outputs[op])
                {
                    Some(next_state) => {
                        let preserving = self.read_only[op];
                        self.linearized.insert(op);
                        if self.cache.insert(&self.linearized, &next_state) {
                            let previous = std::mem::replace(&mut self.state, next_state);
                            self.calls.push((self.entry, previous, preserving));
                            self.entries.lift(self.entry);
                            self.entry = self.entries.next[HEAD as usize];
                        } else {
                            self.linearized.remove(op);
                            if preserving {
                                // Linearizing it here leads to a configuration
                                // already found dead, so this one is dead too.
                                if !self.backtrack() {
                                    return Some(self.illegal());
                                }
                            } else {
                                self.entry = self.entries.next[e];
                            }
                        }
                    }
                    None => {
                        if EXPLAIN {
                            let seen = &mut self.rejected[op];
                            if seen.len() < MAX_REJECTED_STATES && !seen.contains(&self.state) {
                                seen.push(self.state.clone());
                            }
                        }
                        self.entry = self.entries.next[e];
                    }
                }
            } else {
                // A return whose operation is not linearized: a dead end.
                if EXPLAIN
                    && self
                        .best
                        .as_ref()
                        .is_none_or(|b| self.calls.len() > b.0.len())
                {
                    let prefix = self
                        .calls
                        .iter()
                        .map(|&(c, _, _)| self.entries.op[c as usize] as usize)
                        .collect();
                    self.best = Some((prefix, op, self.state.clone()));
                }
                if !self.backtrack() {
                    return Some(self.illegal());
                }
            }
        }
        Some(Outcome::Linearizable(
            self.calls
                .iter()
                .map(|&(c, _, _)| self.entries.op[c as usize] as usize)
                .collect(),
        ))
    }

    /// Undoes the last linearization whose configuration still has
    /// untried candidates, and continues after its call. Linearizations of
    /// read-only operations are undone without trying alternatives (see the
    /// module documentation). `false` if there is
    /// nothing left to undo: the partition is not linearizable.
    fn backtrack(&mut self) -> bool {
        while let Some((call, previous, preserving)) = self.calls.pop() {
            self.state = previous;
            self.linearized
                .remove(self.entries.op[call as usize] as usize);
            self.entries.unlift(call);
            if !preserving {
                self.entry = self.entries.next[call as usize];
                return true;
            }
        }
        false
    }

    /// The outcome of a search that ran out of alternatives.
    fn illegal(&mut self) -> Outcome<M::State> {
        let diagnosis = self.best.take().map(|(longest, stuck, state_at_stuck)| {
            Box::new(Diagnosis {
                longest,
                stuck,
                state_at_stuck,
                rejected: std::mem::take(&mut self.rejected[stuck]),
            })
        });
        Outcome::Illegal(diagnosis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::register::{Register, RegisterInput, RegisterOp, RegisterOutput};

    fn run(ops: &[Operation<RegisterInput, RegisterOutput>]) -> Outcome<Option<i64>> {
        let cancel = AtomicBool::new(false);
        let refs: Vec<_> = ops.iter().collect();
        search(
            &Register,
            &refs,
            &Stop {
                cancel: &cancel,
                deadline: None,
            },
            true,
        )
    }

    fn w(v: i64, call: u64, ret: u64) -> Operation<RegisterInput, RegisterOutput> {
        let input = RegisterInput {
            key: None,
            op: RegisterOp::Write(Some(v)),
        };
        Operation::new(0, input, RegisterOutput::Written, call, ret)
    }

    fn r(v: Option<i64>, call: u64, ret: u64) -> Operation<RegisterInput, RegisterOutput> {
        let input = RegisterInput {
            key: None,
            op: RegisterOp::Read,
        };
        Operation::new(1, input, RegisterOutput::Read(v), call, ret)
    }

    #[test]
    fn porcupine_register_examples() {
        // porcupine's TestRegisterModel (6.824 quiz examples).
        let ok = run(&[
            w(100, 0, 100),
            r(Some(100), 25, 75),
            r(Some(0), 30, 60),
            w(0, 0, 1),
        ]);
        assert!(matches!(ok, Outcome::Linearizable(_)));
        let bad = run(&[
            w(0, 0, 1),
            w(200, 2, 100),
            r(Some(200), 10, 30),
            r(Some(0), 40, 90),
        ]);
        let Outcome::Illegal(Some(d)) = bad else {
            panic!("expected illegal")
        };
        assert_eq!(d.stuck, 3);
        assert_eq!(d.longest, vec![0, 1, 2]);
        assert_eq!(d.state_at_stuck, Some(200));
        assert_eq!(d.rejected, vec![Some(200)]);
    }

    #[test]
    fn equal_times_are_concurrent() {
        // The read at 5 may see the write returning at 5.
        assert!(matches!(
            run(&[w(1, 0, 5), r(None, 5, 6)]),
            Outcome::Linearizable(_)
        ));
        // But not one that returned strictly before.
        assert!(matches!(
            run(&[w(1, 0, 4), r(None, 5, 6)]),
            Outcome::Illegal(_)
        ));
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert!(matches!(run(&[]), Outcome::Linearizable(v) if v.is_empty()));
    }

    #[test]
    fn cancel_and_deadline_interrupt() {
        let cancel = AtomicBool::new(true);
        let ops = [w(1, 0, 1)];
        let refs: Vec<_> = ops.iter().collect();
        let stop = Stop {
            cancel: &cancel,
            deadline: None,
        };
        assert!(matches!(
            search(&Register, &refs, &stop, false),
            Outcome::Cancelled
        ));
        let cancel = AtomicBool::new(false);
        let stop = Stop {
            cancel: &cancel,
            deadline: Some(Instant::now()),
        };
        assert!(matches!(
            search(&Register, &refs, &stop, false),
            Outcome::TimedOut
        ));
    }
}
