//! What the checker reports: anomaly kinds with Elle's names, anomalies
//! with their explanation, and the report as a whole.

use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// The kinds of anomaly the checker finds (Elle §4-5; the cycle kinds are
/// Adya's, "Weak Consistency", PhD thesis, MIT 1999, §4.4-4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Adya G0, write cycle: a dependency cycle of ww edges only.
    G0,
    /// Adya G1a, aborted read: a read saw an element appended by a
    /// transaction that failed.
    G1a,
    /// Adya G1b, intermediate read: a read stopped between two appends of
    /// one transaction to the key.
    G1b,
    /// Adya G1c, circular information flow: a cycle of ww and wr edges, at
    /// least one wr.
    G1c,
    /// Adya G-single, read skew: a cycle with exactly one rw
    /// (anti-dependency) edge.
    GSingle,
    /// Adya G2(-item), anti-dependency cycle: a cycle with two or more rw
    /// edges.
    G2,
    /// G0 that needs a real-time edge (strict serializability only).
    G0Realtime,
    /// G1c that needs a real-time edge.
    G1cRealtime,
    /// G-single that needs a real-time edge.
    GSingleRealtime,
    /// G2 that needs a real-time edge.
    G2Realtime,
    /// Two reads of a key that are not prefixes of one order (Elle §4.1):
    /// no version order explains both.
    IncompatibleOrder,
    /// A read that holds one element twice.
    DuplicateElements,
    /// A transaction's read that disagrees with its own earlier appends or
    /// reads of the key.
    Internal,
    /// A read of an element nobody appended.
    GarbageRead,
    /// One element appended twice to a key (the history breaks the
    /// uniqueness Elle's inference needs).
    DuplicateAppend,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 15] = [
        AnomalyKind::G0,
        AnomalyKind::G1a,
        AnomalyKind::G1b,
        AnomalyKind::G1c,
        AnomalyKind::GSingle,
        AnomalyKind::G2,
        AnomalyKind::G0Realtime,
        AnomalyKind::G1cRealtime,
        AnomalyKind::GSingleRealtime,
        AnomalyKind::G2Realtime,
        AnomalyKind::IncompatibleOrder,
        AnomalyKind::DuplicateElements,
        AnomalyKind::Internal,
        AnomalyKind::GarbageRead,
        AnomalyKind::DuplicateAppend,
    ];

    /// Elle's name for the kind.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::G0 => "G0",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::G1b => "G1b",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::GSingle => "G-single",
            AnomalyKind::G2 => "G2",
            AnomalyKind::G0Realtime => "G0-realtime",
            AnomalyKind::G1cRealtime => "G1c-realtime",
            AnomalyKind::GSingleRealtime => "G-single-realtime",
            AnomalyKind::G2Realtime => "G2-realtime",
            AnomalyKind::IncompatibleOrder => "incompatible-order",
            AnomalyKind::DuplicateElements => "duplicate-elements",
            AnomalyKind::Internal => "internal",
            AnomalyKind::GarbageRead => "garbage-read",
            AnomalyKind::DuplicateAppend => "duplicate-append",
        }
    }

    /// Whether the kind is a dependency cycle.
    pub fn is_cycle(self) -> bool {
        matches!(
            self,
            AnomalyKind::G0
                | AnomalyKind::G1c
                | AnomalyKind::GSingle
                | AnomalyKind::G2
                | AnomalyKind::G0Realtime
                | AnomalyKind::G1cRealtime
                | AnomalyKind::GSingleRealtime
                | AnomalyKind::G2Realtime
        )
    }
}

impl Serialize for AnomalyKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One anomaly: its kind, the transactions involved (by [`Txn::index`]),
/// and an explanation, one line per step (for a cycle, one per edge).
///
/// [`Txn::index`]: super::Txn::index
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// What kind of anomaly.
    pub kind: AnomalyKind,
    /// The transactions involved; for a cycle, in cycle order.
    pub txns: Vec<usize>,
    /// Why, in words.
    pub explanation: Vec<String>,
}

/// The result of checking a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ElleReport {
    /// No anomaly found.
    pub valid: bool,
    /// The consistency model checked.
    pub model: &'static str,
    /// Transactions in the history.
    pub txns: usize,
    /// Of which `ok`.
    pub ok: usize,
    /// Of which `info` (indeterminate).
    pub info: usize,
    /// Of which `fail`.
    pub fail: usize,
    /// Edges of the dependency graph (after merging parallel edges).
    pub edges: usize,
    /// Non-trivial strongly connected components of the graph.
    pub sccs: usize,
    /// How many anomalies of each kind (by [`AnomalyKind::name`]); all of
    /// them, even those beyond the kept examples.
    pub counts: BTreeMap<&'static str, usize>,
    /// Examples: at most `max_examples` of each kind, in kind order.
    pub anomalies: Vec<Anomaly>,
}

impl ElleReport {
    /// How many anomalies of `kind` were found.
    pub fn count(&self, kind: AnomalyKind) -> usize {
        self.counts.get(kind.name()).copied().unwrap_or(0)
    }

    /// The kinds found, in kind order.
    pub fn kinds(&self) -> Vec<AnomalyKind> {
        AnomalyKind::ALL
            .into_iter()
            .filter(|k| self.count(*k) > 0)
            .collect()
    }
}

/// Collects anomalies: counts them all, keeps the first few of each kind.
#[derive(Debug)]
pub(crate) struct Collector {
    max_examples: usize,
    counts: BTreeMap<AnomalyKind, usize>,
    examples: BTreeMap<AnomalyKind, Vec<Anomaly>>,
}

impl Collector {
    pub(crate) fn new(max_examples: usize) -> Self {
        Collector {
            max_examples,
            counts: BTreeMap::new(),
            examples: BTreeMap::new(),
        }
    }

    /// Whether another anomaly of `kind` would be kept (so that its
    /// explanation is worth building).
    pub(crate) fn wants(&self, kind: AnomalyKind) -> bool {
        self.counts.get(&kind).copied().unwrap_or(0) < self.max_examples
    }

    /// Records one anomaly; `build` makes it only if it is kept.
    pub(crate) fn add(
        &mut self,
        kind: AnomalyKind,
        build: impl FnOnce() -> (Vec<usize>, Vec<String>),
    ) {
        if self.wants(kind) {
            let (txns, explanation) = build();
            self.examples.entry(kind).or_default().push(Anomaly {
                kind,
                txns,
                explanation,
            });
        }
        *self.counts.entry(kind).or_default() += 1;
    }

    /// The counts by name and the examples in kind order.
    pub(crate) fn finish(self) -> (BTreeMap<&'static str, usize>, Vec<Anomaly>) {
        let counts = self.counts.iter().map(|(k, n)| (k.name(), *n)).collect();
        let anomalies = self.examples.into_values().flatten().collect();
        (counts, anomalies)
    }
}
