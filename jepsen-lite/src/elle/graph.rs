//! The dependency graph (Adya's DSG, Elle §4.3 and §4.5): transactions as
//! nodes, edges labelled with a bit set of dependency kinds, stored as
//! compressed adjacency lists; and the real-time order as a transitive
//! reduction, so that it stays near-linear in the history.

use super::history::Txn;
use std::collections::BTreeSet;

/// Write dependency: T1 installed a version, T2 the next one.
pub(crate) const WW: u8 = 1;
/// Read dependency: T2 read the version T1 installed.
pub(crate) const WR: u8 = 2;
/// Anti-dependency: T1 read a version, T2 installed the next one.
pub(crate) const RW: u8 = 4;
/// Real-time order: T1 completed before T2 was invoked.
pub(crate) const RT: u8 = 8;
/// Every kind.
pub(crate) const ALL: u8 = WW | WR | RW | RT;

/// The label an edge is explained by, among the kinds `mask` allows: data
/// dependencies before real time, the strictest first.
pub(crate) fn label(mask: u8) -> u8 {
    [WW, WR, RW, RT]
        .into_iter()
        .find(|k| mask & k != 0)
        .unwrap_or(0)
}

/// Edges as they are found, before merging.
#[derive(Debug, Default)]
pub(crate) struct EdgeList {
    edges: Vec<(u32, u32, u8)>,
}

impl EdgeList {
    /// Adds `from → to` of kind `kind`; self-loops are dropped (a
    /// transaction reading its own append is no dependency).
    pub(crate) fn add(&mut self, from: u32, to: u32, kind: u8) {
        if from != to {
            self.edges.push((from, to, kind));
        }
    }
}

/// A directed graph over nodes `0..n` in compressed form: node `v`'s
/// successors are `targets[offsets[v]..offsets[v + 1]]`, sorted, each with
/// the bit set of its kinds in `masks`.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub offsets: Vec<usize>,
    pub targets: Vec<u32>,
    pub masks: Vec<u8>,
}

impl Graph {
    /// The graph of `edges` over `n` nodes, parallel edges merged.
    pub(crate) fn build(n: usize, mut edges: EdgeList) -> Graph {
        let e = &mut edges.edges;
        e.sort_unstable();
        let mut offsets = vec![0usize; n + 1];
        let mut targets = Vec::with_capacity(e.len());
        let mut masks: Vec<u8> = Vec::with_capacity(e.len());
        let mut previous: Option<(u32, u32)> = None;
        for &(from, to, kind) in e.iter() {
            if previous == Some((from, to)) {
                if let Some(m) = masks.last_mut() {
                    *m |= kind;
                }
                continue;
            }
            previous = Some((from, to));
            offsets[from as usize + 1] += 1;
            targets.push(to);
            masks.push(kind);
        }
        for v in 0..n {
            offsets[v + 1] += offsets[v];
        }
        Graph {
            offsets,
            targets,
            masks,
        }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of (merged) edges.
    pub(crate) fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The edge positions leaving `v`.
    pub(crate) fn out(&self, v: usize) -> std::ops::Range<usize> {
        self.offsets[v]..self.offsets[v + 1]
    }

    /// The kinds of the edge `from → to` (0 if none).
    pub(crate) fn mask(&self, from: usize, to: u32) -> u8 {
        let range = self.out(from);
        let start = range.start;
        match self.targets[range].binary_search(&to) {
            Ok(i) => self.masks[start + i],
            Err(_) => 0,
        }
    }

    /// The subgraph induced by `nodes` (sorted), renumbered `0..len`.
    pub(crate) fn induced(&self, nodes: &[u32]) -> Graph {
        let mut edges = EdgeList::default();
        for (local, &v) in nodes.iter().enumerate() {
            for i in self.out(v as usize) {
                if let Ok(w) = nodes.binary_search(&self.targets[i]) {
                    edges.add(local as u32, w as u32, self.masks[i]);
                }
            }
        }
        Graph::build(nodes.len(), edges)
    }
}

/// Real-time edges (Elle §4.5, and its `realtime-graph`): a transitive
/// reduction of "T1 completed before T2 was invoked". Events are replayed
/// in time order (at equal times invocations first: closed intervals that
/// touch are concurrent); the frontier holds the completed transactions not
/// yet implied by a later completed one. An invocation links the frontier
/// to the new transaction; its completion replaces, in the frontier, the
/// transactions linked to it by itself. Every real-time precedence is a
/// path of these edges, and there are O(n · concurrency) of them.
pub(crate) fn realtime_edges(txns: &[Txn], edges: &mut EdgeList) {
    // (time, 0 = invoke / 1 = complete, txn)
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * txns.len());
    for (t, txn) in txns.iter().enumerate() {
        if !txn.may_have_happened() {
            continue;
        }
        events.push((txn.invoke_ns, 0, t as u32));
        if let Some(c) = txn.complete_ns {
            events.push((c, 1, t as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: BTreeSet<u32> = BTreeSet::new();
    // Per transaction in flight: the frontier it was linked from.
    let mut preds: Vec<Vec<u32>> = vec![Vec::new(); txns.len()];
    for (_, kind, t) in events {
        if kind == 0 {
            for &f in &frontier {
                edges.add(f, t, RT);
            }
            if txns[t as usize].complete_ns.is_some() {
                preds[t as usize] = frontier.iter().copied().collect();
            }
        } else {
            for p in std::mem::take(&mut preds[t as usize]) {
                frontier.remove(&p);
            }
            frontier.insert(t);
        }
    }
}

/// Strongly connected components with at least two nodes, over the edges
/// whose kinds meet `allowed`: Tarjan's algorithm (1972), iterative (an
/// explicit stack instead of recursion, for graphs of millions of nodes).
/// Each component's nodes are sorted; components are sorted by first node.
pub(crate) fn tarjan(g: &Graph, allowed: u8) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = g.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    // (node, next edge position to look at)
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let mut next = 0u32;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        calls.push((root as u32, g.offsets[root]));
        while let Some(&(v, mut e)) = calls.last() {
            let v = v as usize;
            let end = g.offsets[v + 1];
            let mut child = None;
            while e < end {
                let i = e;
                e += 1;
                if g.masks[i] & allowed == 0 {
                    continue;
                }
                let w = g.targets[i] as usize;
                if index[w] == UNSEEN {
                    child = Some(w);
                    break;
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            }
            if let Some(top) = calls.last_mut() {
                top.1 = e;
            }
            if let Some(w) = child {
                index[w] = next;
                low[w] = next;
                next += 1;
                stack.push(w as u32);
                on_stack[w] = true;
                calls.push((w as u32, g.offsets[w]));
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let parent = parent as usize;
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w as usize == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    out.push(component);
                }
            }
        }
    }
    out.sort_unstable_by_key(|c| c[0]);
    out
}

/// A shortest path `from → … → to` over edges whose kinds meet `allowed`
/// (breadth-first), as the list of its nodes; `None` if there is none.
pub(crate) fn shortest_path(g: &Graph, from: u32, to: u32, allowed: u8) -> Option<Vec<u32>> {
    const NONE: u32 = u32::MAX;
    let mut parent = vec![NONE; g.len()];
    let mut queue = std::collections::VecDeque::new();
    parent[from as usize] = from;
    queue.push_back(from);
    while let Some(v) = queue.pop_front() {
        if v == to {
            let mut path = vec![to];
            let mut at = to;
            while at != from {
                at = parent[at as usize];
                path.push(at);
            }
            path.reverse();
            return Some(path);
        }
        for i in g.out(v as usize) {
            let w = g.targets[i];
            if g.masks[i] & allowed != 0 && parent[w as usize] == NONE {
                parent[w as usize] = v;
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::history::Txn;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn tarjan_is_iterative_and_finds_components() {
        // A cycle of a million nodes: recursion would overflow the stack.
        let n = 1_000_000u32;
        let mut edges = EdgeList::default();
        for v in 0..n {
            edges.add(v, (v + 1) % n, WW);
        }
        let g = Graph::build(n as usize, edges);
        let sccs = tarjan(&g, ALL);
        assert_eq!(sccs.len(), 1);
        assert_eq!(sccs[0].len(), n as usize);
        // Filtered out by kind, the cycle is gone.
        assert!(tarjan(&g, RW).is_empty());
        // Two components and a bridge between them.
        let mut edges = EdgeList::default();
        for (a, b) in [(0, 1), (1, 0), (1, 2), (2, 3), (3, 2), (4, 4)] {
            edges.add(a, b, WR);
        }
        let g = Graph::build(5, edges);
        assert_eq!(tarjan(&g, ALL), vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(shortest_path(&g, 0, 3, ALL), Some(vec![0, 1, 2, 3]));
        assert_eq!(shortest_path(&g, 3, 0, ALL), None);
    }

    #[test]
    fn parallel_edges_merge() {
        let mut edges = EdgeList::default();
        edges.add(0, 1, WW);
        edges.add(0, 1, RT);
        edges.add(1, 0, RW);
        let g = Graph::build(2, edges);
        assert_eq!(g.edge_count(), 2);
        assert_eq!(g.mask(0, 1), WW | RT);
        assert_eq!(label(g.mask(0, 1)), WW);
        assert_eq!(g.mask(1, 1), 0);
    }

    /// The real-time edges are a reduction: T1 reaches T2 through them
    /// exactly when T1 completed before T2 was invoked.
    #[test]
    fn realtime_edges_preserve_precedence() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let n = rng.random_range(1..40);
            let txns: Vec<Txn> = (0..n)
                .map(|i| {
                    let invoke = rng.random_range(0..100);
                    let mut t = Txn::ok(
                        i,
                        i as u64,
                        invoke,
                        invoke + rng.random_range(0..30),
                        vec![],
                    );
                    if rng.random_bool(0.1) {
                        t.status = crate::elle::TxnStatus::Info;
                        t.complete_ns = None;
                    }
                    t
                })
                .collect();
            let mut edges = EdgeList::default();
            realtime_edges(&txns, &mut edges);
            let count = edges.edges.len();
            let g = Graph::build(n, edges);
            for a in 0..n {
                for b in 0..n {
                    let before = txns[a].complete_ns.is_some_and(|c| c < txns[b].invoke_ns);
                    let reaches = a != b && shortest_path(&g, a as u32, b as u32, RT).is_some();
                    assert_eq!(before, reaches, "{a} → {b} in {txns:?}");
                }
            }
            assert!(count <= n * n);
        }
    }
}
