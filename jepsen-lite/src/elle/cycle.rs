//! Cycles (Elle §4.4-4.5): in each non-trivial strongly connected component
//! of the dependency graph, a short cycle of the strictest Adya class the
//! component holds, explained edge by edge.

use super::anomaly::{AnomalyKind, Collector};
use super::graph::{ALL, Graph, RT, RW, WR, WW, label, shortest_path, tarjan};
use super::history::{Mop, Txn};
use super::versions::{Versions, list, name};

/// A cycle search: cycles whose first edge has a kind in `first` and whose
/// other edges have kinds in `rest`.
struct Search {
    first: u8,
    rest: u8,
}

/// The searches, strictest class first (Adya §4.4: G0 ⊂ G1c; G-single is
/// G2 with one anti-dependency; Elle §4.5 for the real-time variants).
const SEARCHES: [Search; 9] = [
    // G0: ww only.
    Search {
        first: WW,
        rest: WW,
    },
    // G1c: ww and wr, one wr at least.
    Search {
        first: WR,
        rest: WW | WR,
    },
    // G-single: exactly one rw.
    Search {
        first: RW,
        rest: WW | WR,
    },
    // G2: rw and anything else but real time.
    Search {
        first: RW,
        rest: WW | WR | RW,
    },
    // The same with real time.
    Search {
        first: RT,
        rest: WW | RT,
    },
    Search {
        first: RT,
        rest: WW | WR | RT,
    },
    Search {
        first: RW,
        rest: WW | WR | RT,
    },
    Search {
        first: RT,
        rest: ALL,
    },
    // Any cycle at all (the component is strongly connected, so this one
    // always succeeds).
    Search {
        first: ALL,
        rest: ALL,
    },
];

/// How many first edges a search tries in one component before moving on
/// to a weaker class: bounds the work on huge components (each try is a
/// breadth-first search). A search whose first edge lies in its own
/// sub-component always succeeds at once, except the G-single ones.
const MAX_TRIES: usize = 32;

/// A cycle: its nodes (local to the component) and the label of each
/// edge, the edge from `nodes[i]` to `nodes[i + 1]` (cyclically).
struct Cycle {
    nodes: Vec<u32>,
    labels: Vec<u8>,
}

fn find(g: &Graph, search: &Search) -> Option<Cycle> {
    let components = tarjan(g, search.first | search.rest);
    let mut component = vec![u32::MAX; g.len()];
    for (c, nodes) in components.iter().enumerate() {
        for &v in nodes {
            component[v as usize] = c as u32;
        }
    }
    let mut tries = 0;
    for u in 0..g.len() {
        if component[u] == u32::MAX {
            continue;
        }
        for i in g.out(u) {
            let v = g.targets[i];
            if g.masks[i] & search.first == 0 || component[v as usize] != component[u] {
                continue;
            }
            if let Some(path) = shortest_path(g, v, u as u32, search.rest) {
                let mut nodes = vec![u as u32];
                nodes.extend_from_slice(&path[..path.len() - 1]);
                let mut labels = vec![label(g.masks[i] & search.first)];
                for w in path.windows(2) {
                    labels.push(label(g.mask(w[0] as usize, w[1]) & search.rest));
                }
                return Some(Cycle { nodes, labels });
            }
            tries += 1;
            if tries >= MAX_TRIES {
                return None;
            }
        }
    }
    None
}

/// Adya's class of a cycle, from its edge labels.
fn classify(labels: &[u8]) -> AnomalyKind {
    let rw = labels.iter().filter(|&&l| l == RW).count();
    let wr = labels.contains(&WR);
    let realtime = labels.contains(&RT);
    match (rw, wr, realtime) {
        (0, false, false) => AnomalyKind::G0,
        (0, true, false) => AnomalyKind::G1c,
        (1, _, false) => AnomalyKind::GSingle,
        (_, _, false) => AnomalyKind::G2,
        (0, false, true) => AnomalyKind::G0Realtime,
        (0, true, true) => AnomalyKind::G1cRealtime,
        (1, _, true) => AnomalyKind::GSingleRealtime,
        (_, _, true) => AnomalyKind::G2Realtime,
    }
}

/// Reports one cycle per non-trivial component of `g` (whose edges are the
/// kinds `allowed`); returns the number of components.
pub(crate) fn report_cycles(
    txns: &[Txn],
    v: &Versions,
    g: &Graph,
    allowed: u8,
    out: &mut Collector,
) -> usize {
    let components = tarjan(g, allowed);
    for nodes in &components {
        let local = g.induced(nodes);
        let Some(cycle) = SEARCHES.iter().find_map(|s| find(&local, s)) else {
            continue;
        };
        let kind = classify(&cycle.labels);
        let global: Vec<u32> = cycle.nodes.iter().map(|&l| nodes[l as usize]).collect();
        out.add(kind, || {
            let explanation = (0..global.len())
                .map(|i| {
                    let a = global[i];
                    let b = global[(i + 1) % global.len()];
                    explain(txns, v, a, b, cycle.labels[i])
                })
                .collect();
            let ids = global.iter().map(|&t| txns[t as usize].index).collect();
            (ids, explanation)
        });
    }
    components.len()
}

/// `1.204 s`.
fn seconds(ns: u64) -> String {
    format!(
        "{}.{:03} s",
        ns / 1_000_000_000,
        ns % 1_000_000_000 / 1_000_000
    )
}

/// The edge `a → b` of kind `kind`, in words.
fn explain(txns: &[Txn], v: &Versions, a: u32, b: u32, kind: u8) -> String {
    let (ta, tb) = (&txns[a as usize], &txns[b as usize]);
    let (na, nb) = (name(txns, a), name(txns, b));
    let found = match kind {
        WW => ta
            .mops
            .iter()
            .find_map(|m| {
                let Mop::Append { key, value } = *m else {
                    return None;
                };
                let p = *v.positions.get(&(key, value))? as usize;
                let next = *v.orders.get(&key)?.get(p + 1)?;
                (v.writers.get(&(key, next))?.txn == b).then(|| {
                    format!("{nb} appended {next} to key {key} after {na} appended {value} (ww)")
                })
            })
            .or_else(|| {
                // An append no read saw, after the last version read.
                appends(tb).find_map(|(key, next)| {
                    if v.positions.contains_key(&(key, next)) {
                        return None;
                    }
                    let last = *v.orders.get(&key)?.last()?;
                    (v.writers.get(&(key, last))?.txn == a).then(|| {
                        format!(
                            "{nb} appended {next} to key {key}, which no read saw, after {na} appended {last} (ww)"
                        )
                    })
                })
            }),
        WR => tb.mops.iter().find_map(|m| {
            let Mop::Read {
                key,
                value: Some(r),
            } = m
            else {
                return None;
            };
            let last = *r.last()?;
            (v.writers.get(&(*key, last))?.txn == a).then(|| {
                format!(
                    "{na} appended {last} to key {key}, which {nb} read in {} (wr)",
                    list(r)
                )
            })
        }),
        RW => ta.mops.iter().find_map(|m| {
            let Mop::Read {
                key,
                value: Some(r),
            } = m
            else {
                return None;
            };
            let (_, next) = appends(tb).find(|(k, e)| k == key && !r.contains(e))?;
            Some(format!(
                "{na} read key {key} = {} without {next}, which {nb} appended (rw)",
                list(r)
            ))
        }),
        _ => ta.complete_ns.map(|c| {
            format!(
                "{na} completed ({}) before {nb} was invoked ({}) (realtime)",
                seconds(c),
                seconds(tb.invoke_ns)
            )
        }),
    };
    found.unwrap_or_else(|| format!("{na} precedes {nb}"))
}

/// A transaction's appends, as (key, element).
fn appends(t: &Txn) -> impl Iterator<Item = (u64, u64)> + '_ {
    t.mops.iter().filter_map(|m| match *m {
        Mop::Append { key, value } => Some((key, value)),
        Mop::Read { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_edge_labels() {
        assert_eq!(classify(&[WW, WW]), AnomalyKind::G0);
        assert_eq!(classify(&[WW, WR]), AnomalyKind::G1c);
        assert_eq!(classify(&[RW, WR, WW]), AnomalyKind::GSingle);
        assert_eq!(classify(&[RW, RW]), AnomalyKind::G2);
        assert_eq!(classify(&[WW, RT]), AnomalyKind::G0Realtime);
        assert_eq!(classify(&[WR, RT]), AnomalyKind::G1cRealtime);
        assert_eq!(classify(&[RW, RT]), AnomalyKind::GSingleRealtime);
        assert_eq!(classify(&[RW, RW, RT]), AnomalyKind::G2Realtime);
    }

    #[test]
    fn formats_seconds() {
        assert_eq!(seconds(1_204_000_000), "1.204 s");
        assert_eq!(seconds(5_000_000), "0.005 s");
    }
}
