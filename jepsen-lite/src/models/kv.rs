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
    /// A get returned this value (shared: see [`KvValues`]).
    Value(KvValue),
    /// A put or append was acknowledged.
    Ack,
    /// Indeterminate: the answer is unknown (constrains nothing).
    Unknown,
}

/// The key/value model (state: one key's value, `""` initially).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// A key's value, as the search's states and the history's reads hold
/// it: a persistent list of the
/// pieces appended to it since the last put, newest first, so that a state
/// and the state after an append share every earlier piece. Appending is
/// O(1) in time and memory (one node holding the appended value's own
/// shared string), so the memoized states of a history of n appends take
/// O(n) memory, not O(n x value length) as whole strings would.
///
/// A polynomial hash of the whole value and its length are kept up to
/// date, so that the search's cache hashes a state in O(1) and tells most
/// different states apart without comparing them. Equality compares the
/// values byte by byte (two chains may cut the same value differently).
#[derive(Clone)]
pub struct KvValue {
    last: Arc<Piece>,
}

impl std::fmt::Debug for KvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.value(), f)
    }
}

/// The model's state: one key's value.
pub type KvState = KvValue;

impl From<&str> for KvValue {
    fn from(value: &str) -> Self {
        KvValue::new(Arc::from(value))
    }
}

impl From<String> for KvValue {
    fn from(value: String) -> Self {
        KvValue::new(Arc::from(value))
    }
}

impl std::fmt::Display for KvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut pieces: Vec<&str> = self.pieces().collect();
        pieces.reverse();
        pieces.into_iter().try_for_each(|piece| f.write_str(piece))
    }
}

/// Builds the values a history's reads returned so that each shares its
/// prefix with the key's previous value: a key appended to n times and
/// read after each append holds O(n) pieces, not n copies of a growing
/// string (O(n x value length), 10-12 GB for some kvraft tests). Parsers
/// and recorders of key/value histories take every read's value through
/// one of these.
#[derive(Debug, Default)]
pub struct KvValues {
    latest: std::collections::HashMap<String, KvValue>,
}

impl KvValues {
    /// No values yet.
    pub fn new() -> Self {
        KvValues::default()
    }

    /// `value`, read from `key`, sharing what it can with the key's last
    /// value: the same value when equal, an extension of it when `value`
    /// starts with it, else a value of its own.
    pub fn intern(&mut self, key: &str, value: String) -> KvValue {
        let shared = match self.latest.get(key) {
            Some(last) if last.is_prefix_of(&value) => match value.get(last.len()..) {
                Some("") => Some(last.clone()),
                Some(rest) => Some(last.appended(&Arc::from(rest))),
                None => None,
            },
            _ => None,
        };
        let value = shared.unwrap_or_else(|| KvValue::from(value));
        self.latest.insert(key.to_owned(), value.clone());
        value
    }
}

/// One piece of a value: the text a put wrote (no `before`) or an append
/// added after `before`.
struct Piece {
    text: Arc<str>,
    before: Option<Arc<Piece>>,
    /// The length of the value up to and including this piece.
    len: usize,
    /// The polynomial hash of the value up to and including this piece.
    hash: u64,
}

impl Drop for Piece {
    /// Frees a long chain iteratively: the derived drop would recurse once
    /// per piece and overflow the stack on a key appended to 100,000 times.
    fn drop(&mut self) {
        let mut next = self.before.take();
        while let Some(piece) = next {
            match Arc::try_unwrap(piece) {
                Ok(mut piece) => next = piece.before.take(),
                // Still shared by another state: it stays.
                Err(_) => break,
            }
        }
    }
}

/// The multiplier of the polynomial hash (odd).
const BASE: u64 = 0x0000_0100_0000_01b3;

fn extend_hash(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        h.wrapping_mul(BASE).wrapping_add(u64::from(b) + 1)
    })
}

impl KvValue {
    /// The state holding `value`.
    pub fn new(value: Arc<str>) -> Self {
        KvValue {
            last: Arc::new(Piece {
                len: value.len(),
                hash: extend_hash(0, value.as_bytes()),
                text: value,
                before: None,
            }),
        }
    }

    /// The value's length in bytes.
    pub fn len(&self) -> usize {
        self.last.len
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.last.len == 0
    }

    /// The value, assembled from its pieces (O(length)).
    pub fn value(&self) -> String {
        self.to_string()
    }

    /// Whether `value` starts with this value (O(this length), no
    /// allocation).
    pub fn is_prefix_of(&self, value: &str) -> bool {
        value
            .as_bytes()
            .get(..self.len())
            .is_some_and(|prefix| self.bytes_from_end().eq(prefix.iter().rev().copied()))
    }

    /// The state after appending `suffix`; shares this state's pieces.
    pub fn appended(&self, suffix: &Arc<str>) -> Self {
        if suffix.is_empty() {
            return self.clone();
        }
        KvValue {
            last: Arc::new(Piece {
                len: self.last.len + suffix.len(),
                hash: extend_hash(self.last.hash, suffix.as_bytes()),
                text: suffix.clone(),
                before: Some(self.last.clone()),
            }),
        }
    }

    /// Whether the value is `value` (O(length), no allocation).
    pub fn holds(&self, value: &str) -> bool {
        self.len() == value.len() && self.bytes_from_end().eq(value.bytes().rev())
    }

    /// The pieces, newest first.
    fn pieces(&self) -> impl Iterator<Item = &str> {
        std::iter::successors(Some(&*self.last), |p| p.before.as_deref()).map(|p| &*p.text)
    }

    /// The value's bytes, last first.
    fn bytes_from_end(&self) -> impl Iterator<Item = u8> + '_ {
        self.pieces().flat_map(|text| text.bytes().rev())
    }
}

impl PartialEq for KvValue {
    fn eq(&self, other: &Self) -> bool {
        self.last.hash == other.last.hash
            && self.last.len == other.last.len
            && (Arc::ptr_eq(&self.last, &other.last)
                || self.bytes_from_end().eq(other.bytes_from_end()))
    }
}

impl Eq for KvValue {}

impl Hash for KvValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.last.hash);
    }
}

impl Model for Kv {
    type Input = KvInput;
    type Output = KvOutput;
    type State = KvValue;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvValue {
        KvValue::new(Arc::from(""))
    }

    #[inline]
    fn step(&self, state: &KvValue, input: &KvInput, output: &KvOutput) -> Option<KvValue> {
        match (&input.op, output) {
            (KvOp::Get, KvOutput::Value(v)) => (state == v).then(|| state.clone()),
            (KvOp::Get, KvOutput::Unknown) => Some(state.clone()),
            (KvOp::Put(v), KvOutput::Ack | KvOutput::Unknown) => Some(KvValue::new(v.clone())),
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

    fn describe_state(&self, state: &KvValue) -> String {
        format!("{:?}", state.value())
    }

    /// A get of a value no put or append of the key (however it ended)
    /// could have produced. Every value a key ever holds is `""` or a
    /// put's value, followed by appended values; the check allows any
    /// append any number of times, in any order, so it never calls a
    /// value that some order of the writes makes "never written".
    fn diagnose(
        &self,
        stuck: &Operation<KvInput, KvOutput>,
        ops: &[&Operation<KvInput, KvOutput>],
    ) -> Option<String> {
        let (KvOp::Get, KvOutput::Value(read)) = (&stuck.input.op, &stuck.output) else {
            return None;
        };
        let read = read.value();
        let mut puts = Vec::new();
        let mut appends = Vec::new();
        for op in ops {
            match &op.input.op {
                KvOp::Put(v) => puts.push(v.as_bytes()),
                KvOp::Append(v) => appends.push(v.as_bytes()),
                KvOp::Get => {}
            }
        }
        if could_be_written(read.as_bytes(), &puts, &appends) {
            return None;
        }
        let key = &stuck.input.key;
        let shown = shorten(&read);
        Some(if appends.is_empty() {
            format!(
                "value {shown} was never written: no put of key {key:?} (however it ended) wrote it"
            )
        } else {
            format!(
                "value {shown} was never written: no put of key {key:?} (however it ended), nor its initial \"\", followed by any of its appends makes it"
            )
        })
    }
}

/// Whether `value` is `""` or one of `puts`, followed by any number of
/// `appends` (each any number of times): a dynamic program over the
/// value's byte positions, trying each distinct append length at each
/// position that such a prefix reaches (O(length x distinct lengths)).
fn could_be_written(value: &[u8], puts: &[&[u8]], appends: &[&[u8]]) -> bool {
    let pieces: std::collections::HashSet<&[u8]> =
        appends.iter().copied().filter(|a| !a.is_empty()).collect();
    let mut lengths: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut reached = vec![false; value.len() + 1];
    reached[0] = true;
    for put in puts {
        if value.starts_with(put) {
            reached[put.len()] = true;
        }
    }
    for at in 0..value.len() {
        if !reached[at] {
            continue;
        }
        for &len in &lengths {
            if value.get(at..at + len).is_some_and(|p| pieces.contains(p)) {
                reached[at + len] = true;
            }
        }
    }
    reached[value.len()]
}

/// A value for a diagnosis, quoted: in full when short, else its start and
/// end and its length.
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= MAX {
        return format!("{value:?}");
    }
    let head: String = chars[..MAX / 2].iter().collect();
    let tail: String = chars[chars.len() - MAX / 2..].iter().collect();
    format!("{head:?}…{tail:?} ({} chars)", chars.len())
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
            m.step(&s0, &get, &KvOutput::Value("".into())),
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
        assert_eq!(s2, KvValue::new(Arc::from("abc")));
        assert_ne!(s2, KvValue::new(Arc::from("abd")));
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
    fn states_share_their_pieces_and_compare_by_value() {
        let m = Kv;
        let append = |s: &KvValue, v: &str| {
            m.step(s, &input(KvOp::Append(v.into())), &KvOutput::Ack)
                .unwrap()
        };
        // "abc" cut three ways is one state.
        let a = append(&append(&m.init(), "a"), "bc");
        let b = append(&append(&m.init(), "ab"), "c");
        let c = KvValue::new(Arc::from("abc"));
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!(a.holds("abc") && !a.holds("abd") && !a.holds("ab") && !a.holds("xabc"));
        assert_eq!(format!("{a:?}"), "\"abc\"");
        assert_eq!(a.to_string(), "abc");
        // An empty append is the same state.
        assert_eq!(append(&a, ""), a);
        assert_eq!(m.init().len(), 0);
        assert!(m.init().is_empty());
    }

    #[test]
    fn a_long_chain_is_linear_and_drops_without_recursion() {
        let piece: Arc<str> = Arc::from("x");
        let mut s = KvValue::new(Arc::from(""));
        let mut kept = Vec::new();
        for i in 0..300_000 {
            s = s.appended(&piece);
            if i % 100_000 == 0 {
                kept.push(s.clone());
            }
        }
        assert_eq!(s.len(), 300_000);
        assert!(s.holds(&"x".repeat(300_000)));
        drop(s);
        // The shared prefixes outlive the longer states.
        assert_eq!(kept[1].len(), 100_001);
        drop(kept);
    }

    #[test]
    fn reads_share_the_prefix_of_the_keys_last_value() {
        let mut values = KvValues::new();
        let a = values.intern("k", "x 0 y".into());
        let b = values.intern("k", "x 0 yx 1 y".into());
        let c = values.intern("k", "x 0 yx 1 y".into());
        // b extends a: its first piece is a's.
        assert!(Arc::ptr_eq(b.last.before.as_ref().unwrap(), &a.last));
        assert!(Arc::ptr_eq(&b.last, &c.last));
        assert_eq!(b.to_string(), "x 0 yx 1 y");
        // A stale read, another key, a multi-byte value: values of their own.
        assert_eq!(values.intern("k", "x 0".into()).to_string(), "x 0");
        assert_eq!(values.intern("j", "x 0 y".into()), a);
        let e = values.intern("j", "x 0 yé".into());
        assert_eq!(e.to_string(), "x 0 yé");
        assert_eq!(values.intern("j", "x 0 yéé".into()).to_string(), "x 0 yéé");
        // 10,000 reads of a growing value: one piece each.
        let mut grown = String::new();
        let mut last = None;
        for i in 0..10_000 {
            grown.push_str(&format!("x {i} y"));
            last = Some(values.intern("big", grown.clone()));
        }
        let last = last.unwrap();
        assert_eq!(last.pieces().count(), 10_000);
        assert_eq!(last.to_string(), grown);
    }

    /// A completed operation on key `k`.
    fn op(op: KvOp, output: KvOutput) -> Operation<KvInput, KvOutput> {
        Operation::new(0, input(op), output, 0, 1)
    }

    fn get(value: &str) -> Operation<KvInput, KvOutput> {
        op(KvOp::Get, KvOutput::Value(value.into()))
    }

    #[test]
    fn diagnoses_a_get_of_a_value_never_written() {
        let writes = [
            op(KvOp::Put("a".into()), KvOutput::Ack),
            op(KvOp::Append("b".into()), KvOutput::Ack),
            // However it ended, an append may have happened.
            op(KvOp::Append("cd".into()), KvOutput::Unknown),
        ];
        let ops: Vec<&Operation<KvInput, KvOutput>> = writes.iter().collect();
        let diagnose = |value: &str| Kv.diagnose(&get(value), &ops);
        // Never written: no put or "" followed by appends makes these.
        assert_eq!(
            diagnose("x").as_deref(),
            Some(
                "value \"x\" was never written: no put of key \"k\" (however it ended), nor its initial \"\", followed by any of its appends makes it"
            )
        );
        for never in ["ac", "abc", "ba", "bx", "cdb "] {
            assert!(diagnose(never).is_some(), "{never}");
        }
        // Written, by some order of the writes (even an order the history
        // rules out, and repeats): no diagnosis.
        for written in [
            "", "a", "ab", "acd", "abcd", "b", "cd", "cdb", "bb", "abbcd",
        ] {
            assert_eq!(diagnose(written), None, "{written}");
        }
        // Only puts: the value must be one of them (or "").
        let put = op(KvOp::Put("p".into()), KvOutput::Unknown);
        assert_eq!(
            Kv.diagnose(&get("pp"), &[&put]).as_deref(),
            Some("value \"pp\" was never written: no put of key \"k\" (however it ended) wrote it")
        );
        assert_eq!(Kv.diagnose(&get("p"), &[&put]), None);
        // Not a get with a value: nothing to say.
        assert_eq!(Kv.diagnose(&writes[0], &ops), None);
        assert_eq!(Kv.diagnose(&op(KvOp::Get, KvOutput::Unknown), &ops), None);
        // A long value is shortened.
        let long = "z".repeat(100);
        let text = Kv.diagnose(&get(&long), &ops).unwrap();
        assert!(text.contains("…") && text.contains("(100 chars)"), "{text}");
    }

    #[test]
    fn a_stale_read_is_not_diagnosed() {
        // Not linearizable (the get misses the acknowledged append that
        // finished before it began), but its value was written.
        let history = vec![
            Operation::new(0, input(KvOp::Append("x".into())), KvOutput::Ack, 0, 1),
            Operation::new(0, input(KvOp::Append("y".into())), KvOutput::Ack, 2, 3),
            Operation::new(1, input(KvOp::Get), KvOutput::Value("x".into()), 4, 5),
        ];
        let options = crate::CheckOptions::default();
        let result = crate::check(&Kv, &history, &options).unwrap();
        assert_eq!(result.verdict, crate::Verdict::NotLinearizable);
        let ops: Vec<_> = history.iter().collect();
        assert_eq!(Kv.diagnose(&history[2], &ops), None);
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
            m.describe_state(&KvValue::new(Arc::from("a\"b"))),
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
