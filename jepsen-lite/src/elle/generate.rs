//! A generator of large valid list-append histories, for benchmarks and
//! tests: the shape of Jepsen's list-append workload (transactions of 1-4
//! micro-operations over a few active keys, each key retired after
//! `max_writes_per_key` appends, as with Jepsen's `:max-writes-per-key`),
//! run by concurrent clients against a strictly serializable store.

use super::history::{Mop, Txn, TxnStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The shape of a generated history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Transactions.
    pub txns: usize,
    /// Concurrent clients (processes).
    pub clients: usize,
    /// Keys written at any one time.
    pub active_keys: usize,
    /// Appends after which a key is retired for a fresh one.
    pub max_writes_per_key: u64,
    /// Seed of the random choices.
    pub seed: u64,
}

impl Default for Workload {
    /// 300,000 transactions, 10 clients, 10 active keys, 32 writes per key.
    fn default() -> Self {
        Workload {
            txns: 300_000,
            clients: 10,
            active_keys: 10,
            max_writes_per_key: 32,
            seed: 0,
        }
    }
}

/// A strictly serializable history of `w`: transaction `i` takes effect
/// atomically at `1000 i` ns (its reads see every earlier transaction and
/// its own earlier appends), inside an interval of random width around that
/// instant; client `i % clients` runs it, and a client's intervals never
/// overlap. Intervals of different clients overlap freely.
pub fn generate(w: &Workload) -> Vec<Txn> {
    let mut rng = StdRng::seed_from_u64(w.seed);
    let clients = w.clients.max(1) as u64;
    let max_writes = w.max_writes_per_key.max(1);
    // The active keys: (key, its list).
    let mut active: Vec<(u64, Vec<u64>)> = (0..w.active_keys.max(1) as u64)
        .map(|k| (k, Vec::new()))
        .collect();
    let mut next_key = active.len() as u64;
    // Half the spacing between a client's consecutive transactions.
    let half = clients.saturating_mul(500) - 1;
    (0..w.txns)
        .map(|i| {
            let at = (i as u64).saturating_mul(1000).saturating_add(half);
            let invoke_ns = at - rng.random_range(0..half);
            let complete_ns = at.saturating_add(rng.random_range(0..half));
            let n = rng.random_range(1..=4);
            let mops = (0..n)
                .map(|_| {
                    let slot = rng.random_range(0..active.len());
                    let key = active[slot].0;
                    if rng.random_bool(0.5) {
                        let list = &mut active[slot].1;
                        let value = list.len() as u64 + 1;
                        list.push(value);
                        if value >= max_writes {
                            active[slot] = (next_key, Vec::new());
                            next_key += 1;
                        }
                        Mop::Append { key, value }
                    } else {
                        Mop::Read {
                            key,
                            value: Some(active[slot].1.clone()),
                        }
                    }
                })
                .collect();
            Txn {
                index: i,
                process: i as u64 % clients,
                status: TxnStatus::Ok,
                invoke_ns,
                complete_ns: Some(complete_ns),
                mops,
            }
        })
        .collect()
}
