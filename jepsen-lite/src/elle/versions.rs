//! Per-key inference (Elle §4.1-4.3): who appended each element, the
//! version order of each key (the longest read, of which every other read
//! must be a prefix), the anomalies visible without a cycle (G1a, G1b,
//! internal, garbage reads, duplicates, incompatible orders), and the data
//! dependency edges (ww, wr, rw) between transactions.

use super::anomaly::{AnomalyKind, Collector};
use super::graph::{EdgeList, RW, WR, WW};
use super::history::{Mop, Txn, TxnStatus};
use rustc_hash::{FxHashMap, FxHashSet};

/// Who appended an element to a key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Writer {
    /// The transaction (position in the history slice).
    pub txn: u32,
    /// Whether it is that transaction's last append to the key.
    pub is_final: bool,
}

/// What the inference learned, kept to explain the cycles.
#[derive(Debug, Default)]
pub(crate) struct Versions {
    /// (key, element) → its writer (the first, if appended twice).
    pub writers: FxHashMap<(u64, u64), Writer>,
    /// key → the version order: the longest read of the key (Elle §4.2).
    pub orders: FxHashMap<u64, Vec<u64>>,
    /// (key, element) → its position in the key's version order.
    pub positions: FxHashMap<(u64, u64), u32>,
}

impl Versions {
    /// The writer of `element` of `key`, if it may have happened (a node of
    /// the graph).
    pub(crate) fn node_writer(&self, txns: &[Txn], key: u64, element: u64) -> Option<Writer> {
        self.writers
            .get(&(key, element))
            .copied()
            .filter(|w| txns[w.txn as usize].may_have_happened())
    }
}

/// A read of an `ok` transaction: (transaction, micro-op position).
type ReadRef = (u32, u32);

fn read_value(txns: &[Txn], r: ReadRef) -> &[u64] {
    match &txns[r.0 as usize].mops[r.1 as usize] {
        Mop::Read { value: Some(v), .. } => v,
        _ => &[],
    }
}

/// `T12`: a transaction's name in explanations.
pub(crate) fn name(txns: &[Txn], t: u32) -> String {
    format!("T{}", txns[t as usize].index)
}

/// `[1, 4]`.
pub(crate) fn list(v: &[u64]) -> String {
    let items: Vec<String> = v.iter().map(u64::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// Runs the per-key inference: reports the non-cycle anomalies into `out`
/// and the ww/wr/rw edges into `edges`.
pub(crate) fn infer(txns: &[Txn], out: &mut Collector, edges: &mut EdgeList) -> Versions {
    let mut v = Versions::default();
    record_writers(txns, &mut v, out);
    check_internal(txns, out);
    let reads = check_reads(txns, &v, out);
    order_keys(txns, &mut v, &reads, out);
    data_edges(txns, &v, &reads, edges);
    v
}

/// Elle §4.1: every element names its writer; duplicates are reported.
fn record_writers(txns: &[Txn], v: &mut Versions, out: &mut Collector) {
    let mut last: FxHashMap<u64, u64> = FxHashMap::default();
    for (t, txn) in txns.iter().enumerate() {
        last.clear();
        for m in &txn.mops {
            if let Mop::Append { key, value } = m {
                last.insert(*key, *value);
            }
        }
        for m in &txn.mops {
            let Mop::Append { key, value } = *m else {
                continue;
            };
            let writer = Writer {
                txn: t as u32,
                is_final: last.get(&key) == Some(&value),
            };
            if let Some(first) = v.writers.get(&(key, value)) {
                let first = first.txn;
                out.add(AnomalyKind::DuplicateAppend, || {
                    (
                        vec![txns[first as usize].index, txn.index],
                        vec![format!(
                            "{} and {} both appended {value} to key {key}",
                            name(txns, first),
                            name(txns, t as u32)
                        )],
                    )
                });
            } else {
                v.writers.insert((key, value), writer);
            }
        }
    }
}

/// What a transaction knows of a key from its own operations so far.
enum Own {
    /// It read the whole list (then maybe appended): the list now.
    Known(Vec<u64>),
    /// It appended these without reading first: the list ends with them.
    Suffix(Vec<u64>),
}

/// Internal consistency (Elle §4.3, "internal"): a read must show the
/// transaction's own earlier reads and appends of the key.
fn check_internal(txns: &[Txn], out: &mut Collector) {
    let mut own: FxHashMap<u64, Own> = FxHashMap::default();
    for (t, txn) in txns.iter().enumerate() {
        if txn.status != TxnStatus::Ok || txn.mops.len() < 2 {
            continue;
        }
        own.clear();
        for m in &txn.mops {
            match m {
                Mop::Append { key, value } => match own.get_mut(key) {
                    Some(Own::Known(l) | Own::Suffix(l)) => l.push(*value),
                    None => {
                        own.insert(*key, Own::Suffix(vec![*value]));
                    }
                },
                Mop::Read {
                    key,
                    value: Some(r),
                } => {
                    let expected = match own.get(key) {
                        Some(Own::Known(l)) if l != r => Some(list(l)),
                        Some(Own::Suffix(s)) if !r.ends_with(s) => {
                            Some(format!("a list ending with {}", list(s)))
                        }
                        _ => None,
                    };
                    if let Some(expected) = expected {
                        out.add(AnomalyKind::Internal, || {
                            (
                                vec![txn.index],
                                vec![format!(
                                    "{} read key {key} = {}, but its own earlier operations imply {expected}",
                                    name(txns, t as u32),
                                    list(r)
                                )],
                            )
                        });
                    }
                    own.insert(*key, Own::Known(r.clone()));
                }
                Mop::Read { value: None, .. } => {}
            }
        }
    }
}

/// Reads with duplicates, garbage, aborted or intermediate elements
/// (Elle §4.3: G1a, G1b). Returns the reads usable for the version order,
/// per key (those without duplicate elements).
fn check_reads(txns: &[Txn], v: &Versions, out: &mut Collector) -> FxHashMap<u64, Vec<ReadRef>> {
    let mut reads: FxHashMap<u64, Vec<ReadRef>> = FxHashMap::default();
    let mut seen: FxHashSet<u64> = FxHashSet::default();
    for (t, txn) in txns.iter().enumerate() {
        if txn.status != TxnStatus::Ok {
            continue;
        }
        for (i, m) in txn.mops.iter().enumerate() {
            let Mop::Read {
                key,
                value: Some(r),
            } = m
            else {
                continue;
            };
            let key = *key;
            let who = || name(txns, t as u32);
            seen.clear();
            let mut duplicate = None;
            for &e in r {
                if !seen.insert(e) && duplicate.is_none() {
                    duplicate = Some(e);
                }
                match v.writers.get(&(key, e)) {
                    None => out.add(AnomalyKind::GarbageRead, || {
                        (
                            vec![txn.index],
                            vec![format!(
                                "{} read key {key} = {}, but value {e} was never appended to key {key}",
                                who(),
                                list(r)
                            )],
                        )
                    }),
                    Some(w) if txns[w.txn as usize].status == TxnStatus::Fail => {
                        out.add(AnomalyKind::G1a, || {
                            (
                                vec![txns[w.txn as usize].index, txn.index],
                                vec![format!(
                                    "{} read key {key} = {}, including {e}, appended by {}, which failed",
                                    who(),
                                    list(r),
                                    name(txns, w.txn)
                                )],
                            )
                        })
                    }
                    Some(_) => {}
                }
            }
            if let Some(e) = duplicate {
                out.add(AnomalyKind::DuplicateElements, || {
                    (
                        vec![txn.index],
                        vec![format!(
                            "{} read key {key} = {}, which holds {e} twice",
                            who(),
                            list(r)
                        )],
                    )
                });
                continue;
            }
            if let Some(&last) = r.last()
                && let Some(w) = v.writers.get(&(key, last))
                && w.txn != t as u32
                && !w.is_final
                && txns[w.txn as usize].status != TxnStatus::Fail
            {
                out.add(AnomalyKind::G1b, || {
                    (
                        vec![txns[w.txn as usize].index, txn.index],
                        vec![format!(
                            "{} read key {key} = {}, ending with {last}, which {} appended before appending more to key {key}",
                            who(),
                            list(r),
                            name(txns, w.txn)
                        )],
                    )
                });
            }
            reads.entry(key).or_default().push((t as u32, i as u32));
        }
    }
    reads
}

/// Elle §4.2: the version order of a key is its longest read; every read
/// must be a prefix of it (reported once per key otherwise).
fn order_keys(
    txns: &[Txn],
    v: &mut Versions,
    reads: &FxHashMap<u64, Vec<ReadRef>>,
    out: &mut Collector,
) {
    let mut keys: Vec<u64> = reads.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let rs = &reads[&key];
        let Some(&longest) = rs.iter().rev().max_by_key(|r| read_value(txns, **r).len()) else {
            continue;
        };
        let order = read_value(txns, longest);
        if let Some(&bad) = rs
            .iter()
            .find(|r| !order.starts_with(read_value(txns, **r)))
        {
            out.add(AnomalyKind::IncompatibleOrder, || {
                (
                    vec![txns[bad.0 as usize].index, txns[longest.0 as usize].index],
                    vec![format!(
                        "key {key}: {} read {} and {} read {}; neither is a prefix of the other",
                        name(txns, bad.0),
                        list(read_value(txns, bad)),
                        name(txns, longest.0),
                        list(order)
                    )],
                )
            });
        }
        for (p, &e) in order.iter().enumerate() {
            v.positions.insert((key, e), p as u32);
        }
        v.orders.insert(key, order.to_vec());
    }
}

/// Elle §4.3 / Adya §3.1: ww between consecutive versions, wr from the
/// writer of a read's last element to the reader, rw from a reader to the
/// writer of the version after the one it saw.
fn data_edges(
    txns: &[Txn],
    v: &Versions,
    reads: &FxHashMap<u64, Vec<ReadRef>>,
    edges: &mut EdgeList,
) {
    // key → the readers that saw its whole version order.
    let mut full: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    let mut keys: Vec<u64> = v.orders.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let order = &v.orders[&key];
        for pair in order.windows(2) {
            if let (Some(a), Some(b)) = (
                v.node_writer(txns, key, pair[0]),
                v.node_writer(txns, key, pair[1]),
            ) {
                edges.add(a.txn, b.txn, WW);
            }
        }
        let complete = full.entry(key).or_default();
        for &r in reads.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            let value = read_value(txns, r);
            if value.len() == order.len() && order.starts_with(value) {
                complete.push(r.0);
            }
            if let Some(&last) = value.last()
                && let Some(w) = v.node_writer(txns, key, last)
            {
                edges.add(w.txn, r.0, WR);
            }
            if value.len() < order.len()
                && order.starts_with(value)
                && let Some(w) = v.node_writer(txns, key, order[value.len()])
            {
                edges.add(r.0, w.txn, RW);
            }
        }
    }
    unobserved_appends(txns, v, &full, edges);
}

/// Committed appends that no read saw. Elle leaves them out of the version
/// order; they can only come after every observed version (a read that saw
/// a later element would show them too) and after every read of the key
/// (which shows the whole list, and not them). So: ww from the writer of
/// the last observed version, rw from each reader of the whole order (the
/// other readers precede them through rw and the ww chain). This is what
/// makes a lost append (acknowledged, then missing from a read that began
/// after it) a G-single-realtime cycle.
fn unobserved_appends(
    txns: &[Txn],
    v: &Versions,
    full: &FxHashMap<u64, Vec<u32>>,
    edges: &mut EdgeList,
) {
    for (t, txn) in txns.iter().enumerate() {
        if txn.status != TxnStatus::Ok {
            continue;
        }
        for m in &txn.mops {
            let Mop::Append { key, value } = *m else {
                continue;
            };
            let Some(order) = v.orders.get(&key) else {
                continue;
            };
            if v.positions.contains_key(&(key, value))
                || v.writers
                    .get(&(key, value))
                    .is_some_and(|w| w.txn != t as u32)
            {
                continue;
            }
            if let Some(&last) = order.last()
                && let Some(w) = v.node_writer(txns, key, last)
            {
                edges.add(w.txn, t as u32, WW);
            }
            for &r in full.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
                edges.add(r, t as u32, RW);
            }
        }
    }
}
