//! A key/value store with get/put/append, as in porcupine's `kvModel` (the
//! 6.824 kvraft tests): every key is an independent string register that
//! starts as `""`; `get` returns it, `put` replaces it, `append`
//! concatenates. The model partitions the history per key, so its state is
//! one key's value.

use crate::history::Operation;
use crate::model::{Model, Partition};
use crate::models::register::partition_by_key;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// What a key/value operation asks (for one key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// Read the key's value.
    Get,
    /// Replace the key's value.
    Put(Arc<str>),
    /// Append to the key's value.
    Append(Arc<str>),
}

/// A key/value operation's input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvInput {
    /// The key.
    pub key: String,
    /// The operation.
    pub op: KvOp,
}

/// What a key/value operation answered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput {
    /// A get returned this value.
    Value(String),
    /// A put or append was acknowledged.
    Ack,
    /// Indeterminate: the answer is unknown (constrains nothing).
    Unknown,
}

/// The key/value model (state: one key's value, `""` initially).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// One key's value, as the search stores it: a shared string, so that gets
/// and puts (the common steps) do not copy it, with a polynomial hash kept
/// up to date as it is appended to, so that the search's cache hashes a
/// state in O(1) and tells most different states apart without comparing
/// them. Equality still compares the strings.
#[derive(Clone, Debug)]
pub struct KvState {
    value: Arc<str>,
    hash: u64,
}

/// The multiplier of the polynomial hash (odd).
const BASE: u64 = 0x0000_0100_0000_01b3;

fn extend_hash(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        h.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1)
    })
}

impl KvState {
    /// The state holding `value`.
    pub fn new(value: Arc<str>) -> Self {
        let hash = extend_hash(0, value.as_bytes());
        KvState { value, hash }
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The state after appending `suffix`.
    pub fn appended(&self, suffix: &str) -> Self {
        let mut s = String::with_capacity(self.value.len() + suffix.len());
        s.push_str(&self.value);
        s.push_str(suffix);
        KvState {
            value: Arc::from(s),
            hash: extend_hash(self.hash, suffix.as_bytes()),
        }
    }
}

impl PartialEq for KvState {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.value, &other.value) || self.value == other.value)
    }
}

impl Eq for KvState {}

impl Hash for KvState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Model for Kv {
    type Input = KvInput;
    type Output = KvOutput;
    type State = KvState;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::new(Arc::from(""))
    }

    #[inline]
    fn step(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> Option<KvState> {
        match (&input.op, output) {
            (KvOp::Get, KvOutput::Value(v)) => (*state.value == **v).then(|| state.clone()),
            (KvOp::Get, KvOutput::Unknown) => Some(state.clone()),
            (KvOp::Put(v), KvOutput::Ack | KvOutput::Unknown) => Some(KvState::new(v.clone())),
            (KvOp::Append(v), KvOutput::Ack | KvOutput::Unknown) => Some(state.appended(v)),
            // An answer of another operation's kind is never legal.
            _ => None,
        }
    }

    fn is_read_only(&self, input: &KvInput, _output: &KvOutput) -> bool {
        input.op == KvOp::Get
    }

    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
        partition_by_key(history.iter().map(|op| Some(op.input.key.as_str())), "")
    }

    fn describe_operation(&self, input: &KvInput, output: &KvOutput) -> String {
        let key = &input.key;
        match (&input.op, output) {
            (KvOp::Get, KvOutput::Value(v)) => format!("get({key:?}) -> {v:?}"),
            (KvOp::Get, _) => format!("get({key:?}) -> ?"),
            (KvOp::Put(v), KvOutput::Unknown) => format!("put({key:?}, {:?}) -> ?", &**v),
            (KvOp::Put(v), _) => format!("put({key:?}, {:?})", &**v),
            (KvOp::Append(v), KvOutput::Unknown) => format!("append({key:?}, {:?}) -> ?", &**v),
            (KvOp::Append(v), _) => format!("append({key:?}, {:?})", &**v),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        format!("{:?}", state.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(op: KvOp) -> KvInput {
        KvInput {
            key: "k".into(),
            op,
        }
    }

    #[test]
    fn steps() {
        let m = Kv;
        let s0 = m.init();
        let get = input(KvOp::Get);
        assert_eq!(
            m.step(&s0, &get, &KvOutput::Value(String::new())),
            Some(s0.clone())
        );
        assert_eq!(m.step(&s0, &get, &KvOutput::Value("x".into())), None);
        let s1 = m
            .step(&s0, &input(KvOp::Append("ab".into())), &KvOutput::Ack)
            .unwrap();
        let s2 = m
            .step(&s1, &input(KvOp::Append("c".into())), &KvOutput::Unknown)
            .unwrap();
        assert_eq!(s2.value(), "abc");
        assert_eq!(s2, KvState::new(Arc::from("abc")));
        assert_ne!(s2, KvState::new(Arc::from("abd")));
        let s3 = m
            .step(&s2, &input(KvOp::Put("z".into())), &KvOutput::Ack)
            .unwrap();
        assert_eq!(s3.value(), "z");
        assert_eq!(m.step(&s3, &get, &KvOutput::Unknown), Some(s3.clone()));
        assert_eq!(
            m.step(
                &s3,
                &input(KvOp::Put("z".into())),
                &KvOutput::Value("z".into())
            ),
            None
        );
    }

    #[test]
    fn describes_and_partitions() {
        let m = Kv;
        assert_eq!(
            m.describe_operation(&input(KvOp::Get), &KvOutput::Value("v".into())),
            "get(\"k\") -> \"v\""
        );
        assert_eq!(
            m.describe_operation(&input(KvOp::Append("v".into())), &KvOutput::Ack),
            "append(\"k\", \"v\")"
        );
        assert_eq!(
            m.describe_state(&KvState::new(Arc::from("a\"b"))),
            "\"a\\\"b\""
        );
        let op = |key: &str| {
            Operation::new(
                0,
                KvInput {
                    key: key.into(),
                    op: KvOp::Get,
                },
                KvOutput::Unknown,
                0,
                1,
            )
        };
        let p = m.partition(&[op("2"), op("1"), op("2")]);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "key \"1\"");
        assert_eq!(p[1].operations, vec![0, 2]);
    }
}
