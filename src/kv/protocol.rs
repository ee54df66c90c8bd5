//! What clerks and servers say to each other, and what goes into the Raft
//! log: operations, commands (an operation with its client's id and
//! sequence number), requests and replies.

use serde::{Deserialize, Serialize};

/// A client's identity: random, 64 bits, so two clerks never share one.
pub type ClientId = u64;

/// The client id of a command that keeps no session: never deduplicated,
/// never recorded in the session table (its `seq` need only tell apart
/// the server's own requests waiting at once).
pub const NO_SESSION: ClientId = 0;

/// One operation on the key/value store. Every operation, reads included,
/// goes through the Raft log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Reads a key ("" when it has no value).
    Get {
        /// The key.
        key: String,
    },
    /// Replaces a key's value.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Appends to a key's value ("" when it has none).
    Append {
        /// The key.
        key: String,
        /// What to append.
        value: String,
    },
    /// Reads a key, telling a key without a value from one whose value is
    /// "" (the network server's `range`).
    Read {
        /// The key.
        key: String,
    },
    /// Removes a key (the network server's `deleterange`).
    Delete {
        /// The key.
        key: String,
    },
    /// Replaces a key's value with `new` if it is `expected` now (`None`:
    /// the key has no value).
    Cas {
        /// The key.
        key: String,
        /// The value the key must have for the swap to happen.
        expected: Option<String>,
        /// The value it then gets.
        new: String,
    },
    /// Several reads and writes on any keys, applied atomically at one
    /// position of the log, in order (a read sees the transaction's own
    /// earlier writes), exactly once like any write: the list-append
    /// workload's transactions (Elle, Kingsbury and Alvaro, VLDB 2020) and
    /// the network server's multi-op `txn`.
    Txn {
        /// The micro-operations, in order.
        ops: Vec<TxnOp>,
    },
}

/// One micro-operation of a [`Op::Txn`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// Reads a key (`None` in the result: it has no value).
    Read {
        /// The key.
        key: String,
    },
    /// Replaces a key's value.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Appends to a key's value ("" when it has none).
    Append {
        /// The key.
        key: String,
        /// What to append.
        value: String,
    },
}

impl TxnOp {
    /// The key the micro-operation is on.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Read { key } | TxnOp::Put { key, .. } | TxnOp::Append { key, .. } => key,
        }
    }
}

/// What one micro-operation of a transaction returned, in its order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    /// A read's value (`None`: the key had none).
    Read(Option<String>),
    /// A put or append happened.
    Done,
}

impl Op {
    /// The key the operation is on; `None` for a transaction (see
    /// [`Op::keys`]).
    pub fn key(&self) -> Option<&str> {
        match self {
            Op::Get { key }
            | Op::Read { key }
            | Op::Delete { key }
            | Op::Put { key, .. }
            | Op::Append { key, .. }
            | Op::Cas { key, .. } => Some(key),
            Op::Txn { .. } => None,
        }
    }

    /// Every key the operation touches, in its order (repeats kept).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Op::Txn { ops } => ops.iter().map(TxnOp::key).collect(),
            _ => self.key().into_iter().collect(),
        }
    }

    /// Whether the operation changes nothing (reads, and transactions of
    /// reads only): it need not be recorded in its client's session.
    pub fn is_read_only(&self) -> bool {
        match self {
            Op::Get { .. } | Op::Read { .. } => true,
            Op::Txn { ops } => ops.iter().all(|op| matches!(op, TxnOp::Read { .. })),
            Op::Put { .. } | Op::Append { .. } | Op::Delete { .. } | Op::Cas { .. } => false,
        }
    }
}

/// What an operation returned when it was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    /// A Get's value ("" for a key without one).
    Value(String),
    /// A Put or Append happened.
    Done,
    /// A Read's value (`None`: the key has none).
    Found(Option<String>),
    /// A Delete: whether the key had a value.
    Deleted {
        /// True when the key had a value, which is now gone.
        existed: bool,
    },
    /// A Cas: whether it swapped, and the value the key had.
    Cas {
        /// True when the key had the expected value and now has the new one.
        swapped: bool,
        /// The key's value when the Cas was applied (`None`: no value).
        found: Option<String>,
    },
    /// A transaction's results, one per micro-operation, in order.
    Txn(Vec<TxnResult>),
}

/// What the Raft log holds: an operation, with the client that asked for
/// it and that client's sequence number for it (its `n`-th operation), so
/// that a retried request is applied once. Client [`NO_SESSION`] has no
/// session: its commands are applied each time they are committed (as
/// etcd's own API does; a request sent once, as by `curl`, needs none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Who asked.
    pub client: ClientId,
    /// The client's sequence number for this operation; a client's
    /// sequence numbers increase by one per operation, and it has at most
    /// one outstanding.
    pub seq: u64,
    /// What to do.
    pub op: Op,
}

impl Command {
    /// The command as stored in the Raft log.
    pub fn encode(&self) -> bytes::Bytes {
        postcard::to_stdvec(self)
            .expect("a command always encodes")
            .into()
    }

    /// A command from the Raft log, or why the bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Command, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// A clerk's request to a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The command to run.
    pub command: Command,
}

/// Why a server did not run a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// This server is not the leader, or lost leadership (or the entry)
    /// before the command committed: try another, `hint` first if given.
    WrongLeader {
        /// The server this one believes leads, as an index into the
        /// clerk's server list.
        hint: Option<u64>,
    },
    /// The server is shutting down.
    ShuttingDown,
}

/// A server's reply to a clerk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The client the reply is for.
    pub client: ClientId,
    /// The sequence number of the request it answers.
    pub seq: u64,
    /// The operation's output, or why it was not run.
    pub result: Result<Output, Refusal>,
}
