//! The client operations: drawn at random for the workload, on a few keys
//! at a time, each key retired after a bounded number of operations, or
//! sooner once [`MAX_OPEN_PER_KEY`] of its operations ended
//! indeterminately, so that each key's history (checked on its own) stays
//! small enough to check; and the translation of what the service answered
//! into a history event.
//!
//! Why the second limit: an operation that ended `info` stays open to the
//! end of the history, and the checker must consider it taking effect at
//! any point after its call: every later read of the key must rule it in
//! or out, at each place it could go. Retiring the key at once leaves only
//! the operations already in flight on it (at most its group of clients,
//! see [`Generator::next_op`]) for the checker to place it among.

use crate::harness::event::Kind;
use crate::harness::list_append;
use crate::harness::options::Workload;
use checked_raft::kv::{Indeterminate, Op, Output};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value as Json, json};

/// One client operation: what the history says and what the service runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOp {
    /// The history's function name (`read`, `write`, `cas`, `get`, `put`,
    /// `append`).
    pub f: &'static str,
    /// The key (`None` for a transaction, which may touch several).
    pub key: Option<String>,
    /// The invocation's value in the history.
    pub value: Json,
    /// The operation on the service.
    pub op: Op,
}

impl ClientOp {
    /// True for an operation that changes nothing (a timed-out read is
    /// `fail`, not `info`).
    pub fn is_read(&self) -> bool {
        matches!(self.op, Op::Get { .. })
    }
}

/// A key is retired once this many of its operations ended `info`.
pub const MAX_OPEN_PER_KEY: u64 = 1;

/// Draws client operations.
#[derive(Clone, Debug)]
pub struct Generator {
    workload: Workload,
    rng: StdRng,
    ops_per_key: u64,
    /// The keys in use: key, operations left, operations that ended `info`.
    active: Vec<(u64, u64, u64)>,
    next_key: u64,
    next_unique: u64,
    /// Every key used so far, in order.
    used: Vec<u64>,
}

impl Generator {
    /// A generator for `workload`, seeded, with `keys` keys in use at once,
    /// each retired after `ops_per_key` operations.
    pub fn new(workload: Workload, seed: u64, keys: usize, ops_per_key: u64) -> Generator {
        let keys = keys.max(1) as u64;
        Generator {
            workload,
            rng: StdRng::seed_from_u64(seed),
            ops_per_key: ops_per_key.max(1),
            active: (0..keys).map(|k| (k, ops_per_key.max(1), 0)).collect(),
            next_key: keys,
            next_unique: 0,
            used: (0..keys).collect(),
        }
    }

    /// The next operation of client `client` (0-based). As in Jepsen's
    /// independent generator, each key in use has its own group of clients
    /// (client `c` works on the `c mod keys`-th key in use), so that at
    /// most `ceil(clients / keys)` operations on one key run at once: the
    /// concurrency of each key's history, and so the checker's work, stays
    /// bounded however slow the service gets.
    pub fn next_op(&mut self, client: usize) -> ClientOp {
        if self.workload == Workload::ListAppend {
            return self.next_txn();
        }
        let slot = client % self.active.len();
        let key = self.active[slot].0;
        self.active[slot].1 -= 1;
        if self.active[slot].1 == 0 {
            self.retire(slot);
        }
        let roll = self.rng.random_range(0..100u32);
        let key_name = key.to_string();
        match self.workload {
            Workload::Register => match roll {
                0..34 => read(self.workload, key_name),
                34..67 => {
                    let v: u64 = self.rng.random_range(0..5);
                    ClientOp {
                        f: "write",
                        value: json!(v),
                        op: Op::Put {
                            key: key_name.clone(),
                            value: v.to_string(),
                        },
                        key: Some(key_name),
                    }
                }
                _ => {
                    let from: u64 = self.rng.random_range(0..5);
                    let to: u64 = self.rng.random_range(0..5);
                    ClientOp {
                        f: "cas",
                        value: json!([from, to]),
                        op: Op::Cas {
                            key: key_name.clone(),
                            expected: Some(from.to_string()),
                            new: to.to_string(),
                        },
                        key: Some(key_name),
                    }
                }
            },
            Workload::Kv => match roll {
                0..34 => read(self.workload, key_name),
                34..67 => put(key_name, format!("{}", self.rng.random_range(0..10u32))),
                _ => append(key_name, format!("{}", self.rng.random_range(0..10u32))),
            },
            // Half reads: appends are legal in every state, so only reads
            // tell the checker which orders of concurrent appends are
            // wrong; with fewer, a slow append leaves it many more orders
            // to rule out before the next read does (gigabytes of search
            // state on some seeds at 30%).
            Workload::Append | Workload::ListAppend => match roll {
                0..50 => read(self.workload, key_name),
                _ => {
                    self.next_unique += 1;
                    append(key_name, format!("{} ", self.next_unique))
                }
            },
        }
    }

    /// A transaction of one to [`list_append::MAX_TXN_LEN`] reads and
    /// appends of fresh values on keys in use drawn at random; a key is
    /// retired after `ops_per_key` appends. Any client may touch any key:
    /// the Elle-style checker's work grows with the history, not with its
    /// concurrency, so no grouping is needed.
    fn next_txn(&mut self) -> ClientOp {
        let len = self.rng.random_range(1..=list_append::MAX_TXN_LEN);
        let mut mops = Vec::with_capacity(len);
        for _ in 0..len {
            let slot = self.rng.random_range(0..self.active.len());
            let key = self.active[slot].0;
            if self.rng.random_bool(0.5) {
                mops.push(list_append::Mop::Read(key));
            } else {
                self.next_unique += 1;
                mops.push(list_append::Mop::Append(key, self.next_unique));
                self.active[slot].1 -= 1;
                if self.active[slot].1 == 0 {
                    self.retire(slot);
                }
            }
        }
        list_append::txn(&mops)
    }

    /// Notes that an operation on `key` ended `info`: the key is retired
    /// once [`MAX_OPEN_PER_KEY`] have. A transaction (`None`) retires
    /// nothing: the Elle-style checker places an indeterminate append by
    /// the reads that saw it, without a search.
    pub fn indeterminate(&mut self, key: Option<&str>) {
        let Some(key) = key else {
            return;
        };
        let Some(slot) = self
            .active
            .iter()
            .position(|&(k, _, _)| k.to_string() == key)
        else {
            return;
        };
        self.active[slot].2 += 1;
        if self.active[slot].2 >= MAX_OPEN_PER_KEY {
            self.retire(slot);
        }
    }

    fn retire(&mut self, slot: usize) {
        self.active[slot] = (self.next_key, self.ops_per_key, 0);
        self.used.push(self.next_key);
        self.next_key += 1;
    }

    /// A read of every key in use now (the final reads after the heal).
    pub fn final_reads(&self) -> Vec<ClientOp> {
        let mut keys: Vec<u64> = self.active.iter().map(|&(k, _, _)| k).collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|k| match self.workload {
                Workload::ListAppend => list_append::txn(&[list_append::Mop::Read(k)]),
                _ => read(self.workload, k.to_string()),
            })
            .collect()
    }

    /// Every key used so far.
    pub fn keys_used(&self) -> &[u64] {
        &self.used
    }
}

fn put(key: String, value: String) -> ClientOp {
    ClientOp {
        f: "put",
        value: json!(value),
        op: Op::Put {
            key: key.clone(),
            value,
        },
        key: Some(key),
    }
}

fn append(key: String, value: String) -> ClientOp {
    ClientOp {
        f: "append",
        value: json!(value),
        op: Op::Append {
            key: key.clone(),
            value,
        },
        key: Some(key),
    }
}

fn read(workload: Workload, key: String) -> ClientOp {
    ClientOp {
        f: match workload {
            Workload::Register => "read",
            Workload::Kv | Workload::Append | Workload::ListAppend => "get",
        },
        value: Json::Null,
        op: Op::Get { key: key.clone() },
        key: Some(key),
    }
}

/// How an operation ended, as a history completion: its type, value and
/// error. A timed-out read is `fail` (it changed nothing); a timed-out
/// write `info` (it may yet take effect); a CAS that found another value
/// `fail`.
pub fn completion(
    workload: Workload,
    op: &ClientOp,
    result: Result<Output, Indeterminate>,
) -> (Kind, Json, Option<String>) {
    if workload == Workload::ListAppend || matches!(op.op, Op::Txn { .. }) {
        return list_append::completion(op, result);
    }
    match result {
        Err(Indeterminate) if op.is_read() => (Kind::Fail, Json::Null, Some("timeout".into())),
        Err(Indeterminate) => (Kind::Info, op.value.clone(), Some("timeout".into())),
        Ok(Output::Value(value)) => match workload {
            Workload::Register if value.is_empty() => (Kind::Ok, Json::Null, None),
            Workload::Register => match value.parse::<u64>() {
                Ok(v) => (Kind::Ok, json!(v), None),
                // Only integers are ever written: anything else is a
                // corrupt read, recorded as read so the checker sees it.
                Err(_) => (Kind::Ok, json!(value), Some("not an integer".into())),
            },
            Workload::Kv | Workload::Append | Workload::ListAppend => {
                (Kind::Ok, json!(value), None)
            }
        },
        Ok(Output::Done) => (Kind::Ok, op.value.clone(), None),
        Ok(Output::Cas { swapped: true, .. }) => (Kind::Ok, op.value.clone(), None),
        Ok(Output::Cas {
            swapped: false,
            found,
        }) => (
            Kind::Fail,
            op.value.clone(),
            Some(format!("found {}", found.as_deref().unwrap_or("nil"))),
        ),
        // The generator asks for neither; a clerk only accepts an output
        // that fits its operation, so this is a server's error: the
        // operation's effect is unknown.
        Ok(other @ (Output::Found(_) | Output::Deleted { .. } | Output::Txn(_))) => (
            Kind::Info,
            op.value.clone(),
            Some(format!(
                "an output that does not fit the operation: {other:?}"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_operations() {
        for workload in [Workload::Register, Workload::Kv, Workload::Append] {
            let mut a = Generator::new(workload, 9, 3, 10);
            let mut b = Generator::new(workload, 9, 3, 10);
            for i in 0..100 {
                assert_eq!(a.next_op(i % 5), b.next_op(i % 5));
            }
        }
    }

    #[test]
    fn keys_retire_after_their_operations() {
        let mut g = Generator::new(Workload::Register, 1, 2, 5);
        let mut per_key = std::collections::BTreeMap::<String, u64>::new();
        for i in 0..100 {
            *per_key.entry(g.next_op(i % 3).key.unwrap()).or_default() += 1;
        }
        assert!(per_key.values().all(|&n| n <= 5), "{per_key:?}");
        // 100 operations retire 20 keys of 5; the two in use at the end may
        // have been started.
        assert!((20..=22).contains(&per_key.len()), "{per_key:?}");
        let used: Vec<String> = g.keys_used().iter().map(u64::to_string).collect();
        assert!(per_key.keys().all(|k| used.contains(k)));
        // Plus the fresh keys in use that have had no operation yet.
        assert!((per_key.len()..=per_key.len() + 2).contains(&g.keys_used().len()));
        assert_eq!(g.final_reads().len(), 2);
    }

    #[test]
    fn keys_with_open_operations_retire_early() {
        let mut g = Generator::new(Workload::Append, 2, 1, 1000);
        let first = g.next_op(0).key;
        assert_eq!(g.next_op(0).key, first);
        for _ in 0..MAX_OPEN_PER_KEY {
            g.indeterminate(first.as_deref());
        }
        assert_ne!(g.next_op(0).key, first);
        // A key already retired is left alone.
        g.indeterminate(first.as_deref());
        assert_eq!(g.keys_used().len(), 2);
    }

    #[test]
    fn appends_are_unique() {
        let mut g = Generator::new(Workload::Append, 5, 2, 1000);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let op = g.next_op(0);
            if op.f == "append" {
                assert!(seen.insert(op.value.to_string()));
            }
        }
    }

    #[test]
    fn completions_follow_jepsen() {
        let read = super::read(Workload::Register, "1".into());
        assert_eq!(
            completion(Workload::Register, &read, Err(Indeterminate)).0,
            Kind::Fail
        );
        assert_eq!(
            completion(Workload::Register, &read, Ok(Output::Value(String::new()))),
            (Kind::Ok, Json::Null, None)
        );
        assert_eq!(
            completion(Workload::Register, &read, Ok(Output::Value("3".into()))).1,
            json!(3)
        );
        let mut g = Generator::new(Workload::Register, 0, 1, 100);
        let write = std::iter::repeat_with(|| g.next_op(0))
            .find(|op| op.f == "write")
            .unwrap();
        assert_eq!(
            completion(Workload::Register, &write, Err(Indeterminate)).0,
            Kind::Info
        );
        let cas = std::iter::repeat_with(|| g.next_op(0))
            .find(|op| op.f == "cas")
            .unwrap();
        let failed = completion(
            Workload::Register,
            &cas,
            Ok(Output::Cas {
                swapped: false,
                found: None,
            }),
        );
        assert_eq!(
            (failed.0, failed.2.as_deref()),
            (Kind::Fail, Some("found nil"))
        );
    }
}
