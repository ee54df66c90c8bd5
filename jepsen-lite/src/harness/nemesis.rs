//! The nemesis's faults, decided from a seeded random generator: which
//! fault each window injects and, for partitions, which links it cuts.
//! Both backends draw their faults here and only carry them out.
//!
//! Servers are positions `0..n` in the code and ids `1..=n` in every
//! description (the library's convention: server position `k` has id
//! `k + 1`, in the simulators, the model checker and jepsen-lite).

use crate::harness::options::NemesisKind;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Which servers can talk to which: `connected[a][b]` for messages from
/// `a` to `b` (always symmetric here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grudge {
    /// A short description, e.g. `halves [1 2] [3 4 5]` (server ids).
    pub description: String,
    /// Link matrix, `nodes` × `nodes`; a server is always connected to
    /// itself.
    pub connected: Vec<Vec<bool>>,
}

impl Grudge {
    /// Every link up.
    pub fn healed(nodes: usize) -> Grudge {
        Grudge {
            description: "healed".into(),
            connected: vec![vec![true; nodes]; nodes],
        }
    }

    /// True if `a` can send to `b`.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        self.connected
            .get(a)
            .and_then(|row| row.get(b))
            .copied()
            .unwrap_or(false)
    }

    fn from_components(
        description: String,
        nodes: usize,
        sees: impl Fn(usize, usize) -> bool,
    ) -> Grudge {
        let connected = (0..nodes)
            .map(|a| (0..nodes).map(|b| a == b || sees(a, b)).collect())
            .collect();
        Grudge {
            description,
            connected,
        }
    }
}

/// A concrete fault for one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut links.
    Partition(Grudge),
    /// Crash these servers (restart them when the window ends).
    Kill(Vec<usize>),
    /// Freeze these servers (thaw them when the window ends).
    Pause(Vec<usize>),
    /// Drop and delay messages.
    Unreliable,
    /// Long random delays.
    Reorder,
}

impl Fault {
    /// The fault's name in nemesis events: `start-<name>`, `stop-<name>`.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition(_) => NemesisKind::Partition.name(),
            Fault::Kill(_) => NemesisKind::Kill.name(),
            Fault::Pause(_) => NemesisKind::Pause.name(),
            Fault::Unreliable => NemesisKind::Unreliable.name(),
            Fault::Reorder => NemesisKind::Reorder.name(),
        }
    }

    /// What the start event says, e.g. `ring [1 2 3] [2 3 4] …` (ids).
    pub fn description(&self) -> String {
        match self {
            Fault::Partition(grudge) => grudge.description.clone(),
            Fault::Kill(nodes) => format!("kill {}", list(nodes)),
            Fault::Pause(nodes) => format!("pause {}", list(nodes)),
            Fault::Unreliable => "drop and delay messages".into(),
            Fault::Reorder => "long random delays".into(),
        }
    }
}

/// Servers (positions) by their ids.
fn list(nodes: &[usize]) -> String {
    let inner: Vec<String> = nodes.iter().map(|n| (n + 1).to_string()).collect();
    format!("[{}]", inner.join(" "))
}

/// Draws the next window's fault: a kind from `kinds`, then its details.
/// `leader` is the server that leads now, if known (a partition may
/// isolate it).
pub fn draw(
    rng: &mut StdRng,
    kinds: &[NemesisKind],
    nodes: usize,
    leader: Option<usize>,
) -> Option<Fault> {
    let kind = *kinds.get(rng.random_range(0..kinds.len().max(1)))?;
    Some(match kind {
        NemesisKind::Partition => Fault::Partition(draw_partition(rng, nodes, leader)),
        NemesisKind::Kill => Fault::Kill(some_servers(rng, nodes)),
        NemesisKind::Pause => Fault::Pause(some_servers(rng, nodes)),
        NemesisKind::Unreliable => Fault::Unreliable,
        NemesisKind::Reorder => Fault::Reorder,
    })
}

/// One server up to a bare majority, at random: a killed (or paused)
/// majority stops the cluster, which the history must survive too.
fn some_servers(rng: &mut StdRng, nodes: usize) -> Vec<usize> {
    let count = rng.random_range(1..=nodes.div_ceil(2).max(1));
    let mut all: Vec<usize> = (0..nodes).collect();
    all.shuffle(rng);
    let mut chosen = all[..count.min(nodes)].to_vec();
    chosen.sort_unstable();
    chosen
}

/// One of Jepsen's partition shapes, at random.
pub fn draw_partition(rng: &mut StdRng, nodes: usize, leader: Option<usize>) -> Grudge {
    match rng.random_range(0..4) {
        0 => halves(rng, nodes),
        1 => isolate(
            nodes,
            leader.unwrap_or_else(|| rng.random_range(0..nodes.max(1))),
        ),
        2 => ring(rng, nodes),
        _ => bridge(rng, nodes),
    }
}

/// Two random halves, the smaller with `nodes / 2` servers.
pub fn halves(rng: &mut StdRng, nodes: usize) -> Grudge {
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(rng);
    let (a, b) = order.split_at(nodes / 2);
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let side: Vec<bool> = (0..nodes).map(|i| a.contains(&i)).collect();
    Grudge::from_components(
        format!("halves {} {}", list(&a), list(&b)),
        nodes,
        |x, y| side[x] == side[y],
    )
}

/// One server cut off from all others (the leader, when known).
pub fn isolate(nodes: usize, node: usize) -> Grudge {
    Grudge::from_components(format!("isolate [{}]", node + 1), nodes, |x, y| {
        x != node && y != node
    })
}

/// Jepsen's majorities ring: the servers in a random ring, each connected
/// to its nearest neighbours so that it sees a bare majority (itself
/// included), and no two see the same majority.
pub fn ring(rng: &mut StdRng, nodes: usize) -> Grudge {
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(rng);
    let position: Vec<usize> = {
        let mut p = vec![0; nodes];
        for (i, &node) in order.iter().enumerate() {
            p[node] = i;
        }
        p
    };
    // With a majority m = n/2 + 1, each server sees the (m - 1) / 2
    // servers on either side, plus one more on one side when m - 1 is odd.
    let majority = nodes / 2 + 1;
    let left = (majority - 1) / 2;
    let right = majority - 1 - left;
    let sees = |x: usize, y: usize| {
        let d = (position[y] + nodes - position[x]) % nodes;
        d <= right || nodes - d <= left
    };
    // Make it symmetric: a link is up if either end sees the other.
    let description = format!("ring {}", list(&order));
    Grudge::from_components(description, nodes, |x, y| sees(x, y) || sees(y, x))
}

/// Two halves that do not see each other, and one bridge server that sees
/// both.
pub fn bridge(rng: &mut StdRng, nodes: usize) -> Grudge {
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(rng);
    let bridge = order[0];
    let rest = &order[1..];
    let (a, b) = rest.split_at(rest.len() / 2);
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let side: Vec<u8> = (0..nodes)
        .map(|i| {
            if i == bridge {
                2
            } else if a.contains(&i) {
                0
            } else {
                1
            }
        })
        .collect();
    Grudge::from_components(
        format!("bridge {} [{}] {}", list(&a), bridge + 1, list(&b)),
        nodes,
        |x, y| side[x] == 2 || side[y] == 2 || side[x] == side[y],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn degree(g: &Grudge, node: usize) -> usize {
        (0..g.connected.len())
            .filter(|&b| g.connected(node, b))
            .count()
    }

    fn symmetric(g: &Grudge) -> bool {
        let n = g.connected.len();
        (0..n).all(|a| (0..n).all(|b| g.connected(a, b) == g.connected(b, a)))
    }

    #[test]
    fn halves_split_into_a_minority_and_a_majority() {
        let mut rng = StdRng::seed_from_u64(1);
        let g = halves(&mut rng, 5);
        assert!(symmetric(&g));
        let mut degrees: Vec<usize> = (0..5).map(|i| degree(&g, i)).collect();
        degrees.sort_unstable();
        assert_eq!(degrees, vec![2, 2, 3, 3, 3]);
    }

    #[test]
    fn isolate_cuts_one_server_off() {
        let g = isolate(5, 3);
        assert_eq!(degree(&g, 3), 1);
        assert!((0..5).filter(|&i| i != 3).all(|i| degree(&g, i) == 4));
        assert_eq!(g.description, "isolate [4]");
    }

    #[test]
    fn every_server_in_a_ring_sees_a_majority_but_not_all() {
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            for nodes in [3, 5, 7] {
                let g = ring(&mut rng, nodes);
                assert!(symmetric(&g));
                for i in 0..nodes {
                    let d = degree(&g, i);
                    assert!(d > nodes / 2, "{g:?}: {i} sees {d}");
                    if nodes > 3 {
                        assert!(d < nodes, "{g:?}: {i} sees everyone");
                    }
                }
            }
        }
    }

    #[test]
    fn a_bridge_sees_both_halves_which_do_not_see_each_other() {
        let mut rng = StdRng::seed_from_u64(7);
        let g = bridge(&mut rng, 5);
        assert!(symmetric(&g));
        let mut degrees: Vec<usize> = (0..5).map(|i| degree(&g, i)).collect();
        degrees.sort_unstable();
        assert_eq!(degrees, vec![3, 3, 3, 3, 5]);
    }

    #[test]
    fn draws_are_reproducible_from_the_seed() {
        let kinds = NemesisKind::ALL;
        let a: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(42);
            (0..20)
                .map(|_| draw(&mut rng, &kinds, 5, Some(1)))
                .collect()
        };
        let b: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(42);
            (0..20)
                .map(|_| draw(&mut rng, &kinds, 5, Some(1)))
                .collect()
        };
        assert_eq!(a, b);
        assert!(draw(&mut StdRng::seed_from_u64(0), &[], 5, None).is_none());
    }

    #[test]
    fn kills_take_one_server_up_to_a_bare_majority() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            if let Some(Fault::Kill(nodes)) = draw(&mut rng, &[NemesisKind::Kill], 5, None) {
                assert!((1..=3).contains(&nodes.len()), "{nodes:?}");
                assert!(nodes.windows(2).all(|w| w[0] < w[1]));
            } else {
                panic!("expected a kill");
            }
        }
    }
}
