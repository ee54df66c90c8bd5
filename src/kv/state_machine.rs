//! The replicated state machine: the key/value table and, per client, the
//! last write's sequence number and output, so that a write applied twice
//! (a clerk retried it after a lost reply) takes effect once.
//! Deterministic and pure: every server applies the same commands in the
//! same order and reaches the same state.

use crate::kv::protocol::{ClientId, Command, NO_SESSION, Op, Output, TxnOp, TxnResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The table and the duplicate-detection table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    data: BTreeMap<String, String>,
    /// Per client: the sequence number of its last write applied, and that
    /// write's output.
    sessions: BTreeMap<ClientId, (u64, Output)>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Applies `command` unless it is a write its client's session has
    /// already applied (or a later one), and returns its output. A
    /// duplicate of the last applied write returns that write's output
    /// again; an older one (the clerk has moved on, so nobody waits for
    /// it) returns `None`. Reads always run.
    pub fn apply(&mut self, command: &Command) -> Option<Output> {
        if let Op::Read { key } = &command.op {
            return Some(Output::Found(self.data.get(key).cloned()));
        }
        if let Op::Get { key } = &command.op {
            // A read changes nothing, so running it again is harmless, and
            // a retried read answered from a later log position is still
            // linearizable (its clerk is still waiting). Not recording reads
            // keeps their (possibly long) values out of the session table
            // and the snapshots.
            return Some(Output::Value(self.get(key).to_owned()));
        }
        if command.op.is_read_only() {
            // A transaction of reads: the same reasoning.
            return Some(self.execute(&command.op));
        }
        if command.client == NO_SESSION {
            return Some(self.execute(&command.op));
        }
        if let Some((last, output)) = self.sessions.get(&command.client) {
            if command.seq == *last {
                return Some(output.clone());
            }
            if command.seq < *last {
                return None;
            }
        }
        let output = self.execute(&command.op);
        self.sessions
            .insert(command.client, (command.seq, output.clone()));
        Some(output)
    }

    /// The output of `client`'s write `seq` if it is the last one applied
    /// for that client.
    pub fn applied_output(&self, client: ClientId, seq: u64) -> Option<&Output> {
        match self.sessions.get(&client) {
            Some((last, output)) if *last == seq => Some(output),
            _ => None,
        }
    }

    /// The value of `key`, if it has one.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// The value of `key` ("" when it has none).
    pub fn get(&self, key: &str) -> &str {
        self.data.get(key).map_or("", String::as_str)
    }

    fn execute(&mut self, op: &Op) -> Output {
        match op {
            Op::Get { key } => Output::Value(self.get(key).to_owned()),
            Op::Read { key } => Output::Found(self.data.get(key).cloned()),
            Op::Delete { key } => Output::Deleted {
                existed: self.data.remove(key).is_some(),
            },
            Op::Put { key, value } => {
                self.put(key, value);
                Output::Done
            }
            Op::Append { key, value } => {
                self.append(key, value);
                Output::Done
            }
            Op::Cas { key, expected, new } => {
                let found = self.data.get(key).cloned();
                let swapped = found == *expected;
                if swapped {
                    self.data.insert(key.clone(), new.clone());
                }
                Output::Cas { swapped, found }
            }
            // Atomic by construction: applied whole, here, at one log
            // position, as every command is.
            Op::Txn { ops } => Output::Txn(
                ops.iter()
                    .map(|op| match op {
                        TxnOp::Read { key } => TxnResult::Read(self.data.get(key).cloned()),
                        TxnOp::Put { key, value } => {
                            self.put(key, value);
                            TxnResult::Done
                        }
                        TxnOp::Append { key, value } => {
                            self.append(key, value);
                            TxnResult::Done
                        }
                    })
                    .collect(),
            ),
        }
    }

    /// Sets `key` to `value` (a put, alone or in a transaction).
    fn put(&mut self, key: &str, value: &str) {
        self.data.insert(key.to_owned(), value.to_owned());
    }

    /// Appends `value` to `key`'s value ("" when it has none).
    fn append(&mut self, key: &str, value: &str) {
        self.data.entry(key.to_owned()).or_default().push_str(value);
    }

    /// The store as a snapshot's bytes.
    pub fn encode(&self) -> bytes::Bytes {
        postcard::to_stdvec(self)
            .expect("a store always encodes")
            .into()
    }

    /// A store from a snapshot's bytes, or why they are not one.
    pub fn decode(bytes: &[u8]) -> Result<Store, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(client: ClientId, seq: u64, op: Op) -> Command {
        Command { client, seq, op }
    }

    fn append(key: &str, value: &str) -> Op {
        Op::Append {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_transaction_applies_in_order_at_once_and_exactly_once() {
        let mut store = Store::new();
        let read = |key: &str| TxnOp::Read { key: key.into() };
        let add = |key: &str, value: &str| TxnOp::Append {
            key: key.into(),
            value: value.into(),
        };
        let txn = Op::Txn {
            ops: vec![
                read("x"),
                add("x", "1 "),
                read("x"),
                add("y", "2 "),
                TxnOp::Put {
                    key: "z".into(),
                    value: "v".into(),
                },
                add("x", "3 "),
                read("x"),
            ],
        };
        let expected = Output::Txn(vec![
            TxnResult::Read(None),
            TxnResult::Done,
            // A read sees the transaction's own earlier writes.
            TxnResult::Read(Some("1 ".into())),
            TxnResult::Done,
            TxnResult::Done,
            TxnResult::Done,
            TxnResult::Read(Some("1 3 ".into())),
        ]);
        assert_eq!(
            store.apply(&command(7, 1, txn.clone())),
            Some(expected.clone())
        );
        // Retried (a lost reply): the same results, applied once.
        assert_eq!(store.apply(&command(7, 1, txn)), Some(expected));
        assert_eq!(
            (store.get("x"), store.get("y"), store.get("z")),
            ("1 3 ", "2 ", "v")
        );
        // A transaction of reads is not recorded in the session table.
        let reads = Op::Txn {
            ops: vec![read("x"), read("y")],
        };
        assert!(reads.is_read_only());
        assert_eq!(
            store.apply(&command(8, 1, reads)),
            Some(Output::Txn(vec![
                TxnResult::Read(Some("1 3 ".into())),
                TxnResult::Read(Some("2 ".into())),
            ]))
        );
        assert_eq!(store.applied_output(8, 1), None);
        assert!(store.applied_output(7, 1).is_some());
        let snapshot = Store::decode(&store.encode()).unwrap();
        assert_eq!(snapshot, store);
    }

    #[test]
    fn a_retried_command_takes_effect_once_and_returns_the_same_output() {
        let mut store = Store::new();
        assert_eq!(
            store.apply(&command(1, 1, append("k", "a"))),
            Some(Output::Done)
        );
        assert_eq!(
            store.apply(&command(1, 1, append("k", "a"))),
            Some(Output::Done)
        );
        assert_eq!(store.get("k"), "a");
        assert_eq!(
            store.apply(&command(1, 2, append("k", "b"))),
            Some(Output::Done)
        );
        assert_eq!(store.apply(&command(1, 1, append("k", "a"))), None);
        assert_eq!(store.get("k"), "ab");
        assert_eq!(
            store.apply(&command(2, 1, Op::Get { key: "k".into() })),
            Some(Output::Value("ab".into()))
        );
    }

    #[test]
    fn read_and_delete_tell_a_missing_key_from_an_empty_value() {
        let mut store = Store::new();
        let read = |store: &mut Store| store.apply(&command(1, 9, Op::Read { key: "k".into() }));
        assert_eq!(read(&mut store), Some(Output::Found(None)));
        store.apply(&command(
            2,
            1,
            Op::Put {
                key: "k".into(),
                value: String::new(),
            },
        ));
        assert_eq!(read(&mut store), Some(Output::Found(Some(String::new()))));
        let delete = Op::Delete { key: "k".into() };
        assert_eq!(
            store.apply(&command(2, 2, delete.clone())),
            Some(Output::Deleted { existed: true })
        );
        // The retry is answered from the session: the same output.
        assert_eq!(
            store.apply(&command(2, 2, delete.clone())),
            Some(Output::Deleted { existed: true })
        );
        assert_eq!(
            store.apply(&command(2, 3, delete)),
            Some(Output::Deleted { existed: false })
        );
        assert_eq!(read(&mut store), Some(Output::Found(None)));
    }

    #[test]
    fn commands_without_a_session_run_every_time_and_leave_no_session() {
        let mut store = Store::new();
        let append = command(NO_SESSION, 5, append("k", "a"));
        assert_eq!(store.apply(&append), Some(Output::Done));
        assert_eq!(store.apply(&append), Some(Output::Done));
        assert_eq!(store.get("k"), "aa");
        assert_eq!(store.applied_output(NO_SESSION, 5), None);
        assert!(store.sessions.is_empty());
    }

    #[test]
    fn cas_swaps_only_on_the_expected_value() {
        let mut store = Store::new();
        let cas = |seq, expected: Option<&str>, new: &str| {
            command(
                1,
                seq,
                Op::Cas {
                    key: "k".into(),
                    expected: expected.map(str::to_owned),
                    new: new.into(),
                },
            )
        };
        assert_eq!(
            store.apply(&cas(1, None, "x")),
            Some(Output::Cas {
                swapped: true,
                found: None
            })
        );
        assert_eq!(
            store.apply(&cas(2, Some("y"), "z")),
            Some(Output::Cas {
                swapped: false,
                found: Some("x".into())
            })
        );
        assert_eq!(store.get("k"), "x");
    }

    #[test]
    fn a_snapshot_round_trips_and_garbage_is_an_error() {
        let mut store = Store::new();
        store.apply(&command(7, 3, append("a", "1")));
        let restored = Store::decode(&store.encode()).unwrap();
        assert_eq!(restored, store);
        assert_eq!(restored.applied_output(7, 3), Some(&Output::Done));
        assert!(Store::decode(&[0xff, 0xff, 0xff]).is_err());
    }
}
