//! A read/write/compare-and-set register whose value may be nil, as in
//! Jepsen's etcd test and porcupine's `etcdModel`.
//!
//! Operations with a key are independent registers, one per key (Jepsen's
//! "independent" checker): the model partitions the history by key.

use crate::history::Operation;
use crate::model::{Model, Partition};
use std::collections::BTreeMap;

/// A register value: `None` is nil (absent).
pub type Value = Option<i64>;

/// What a register operation asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// Read the value.
    Read,
    /// Set the value.
    Write(Value),
    /// Set the value to `to` if it is `from`.
    Cas {
        /// The expected value.
        from: Value,
        /// The new value.
        to: Value,
    },
}

/// A register operation's input: the operation and, for independent
/// registers, the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegisterInput {
    /// The register's key, if the history has several registers.
    pub key: Option<String>,
    /// The operation.
    pub op: RegisterOp,
}

/// What a register operation answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// A read returned this value.
    Read(Value),
    /// A write was acknowledged.
    Written,
    /// A CAS swapped (`true`) or found another value (`false`).
    Cas(bool),
    /// Indeterminate: the answer is unknown (constrains nothing).
    Unknown,
}

/// The register model (state: the current value, nil initially).
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

impl Model for Register {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type State = Value;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Value {
        None
    }

    #[inline]
    fn step(&self, state: &Value, input: &RegisterInput, output: &RegisterOutput) -> Option<Value> {
        match (input.op, *output) {
            (RegisterOp::Read, RegisterOutput::Read(v)) => (v == *state).then_some(*state),
            (RegisterOp::Read, RegisterOutput::Unknown) => Some(*state),
            (RegisterOp::Write(v), RegisterOutput::Written | RegisterOutput::Unknown) => Some(v),
            (RegisterOp::Cas { from, to }, RegisterOutput::Cas(true)) => {
                (from == *state).then_some(to)
            }
            (RegisterOp::Cas { from, .. }, RegisterOutput::Cas(false)) => {
                (from != *state).then_some(*state)
            }
            (RegisterOp::Cas { from, to }, RegisterOutput::Unknown) => {
                Some(if from == *state { to } else { *state })
            }
            // An answer of another operation's kind is never legal.
            _ => None,
        }
    }

    fn is_read_only(&self, input: &RegisterInput, output: &RegisterOutput) -> bool {
        // A read never changes the value; a CAS that failed is legal only
        // where the value is not `from`, and then leaves it.
        matches!(
            (input.op, output),
            (RegisterOp::Read, _) | (RegisterOp::Cas { .. }, RegisterOutput::Cas(false))
        )
    }

    fn partition(&self, history: &[Operation<RegisterInput, RegisterOutput>]) -> Vec<Partition> {
        partition_by_key(history.iter().map(|op| op.input.key.as_deref()), "register")
    }

    fn describe_operation(&self, input: &RegisterInput, output: &RegisterOutput) -> String {
        let key = input.key.as_ref().map(|k| format!("{k:?}"));
        let args = |rest: &[String]| -> String {
            key.iter()
                .cloned()
                .chain(rest.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (input.op, output) {
            (RegisterOp::Read, RegisterOutput::Read(v)) => {
                format!("read({}) -> {}", args(&[]), describe_value(*v))
            }
            (RegisterOp::Read, _) => format!("read({}) -> ?", args(&[])),
            (RegisterOp::Write(v), RegisterOutput::Unknown) => {
                format!("write({}) -> ?", args(&[describe_value(v)]))
            }
            (RegisterOp::Write(v), _) => format!("write({})", args(&[describe_value(v)])),
            (RegisterOp::Cas { from, to }, out) => {
                let result = match out {
                    RegisterOutput::Cas(true) => "ok",
                    RegisterOutput::Cas(false) => "fail",
                    _ => "?",
                };
                format!(
                    "cas({}) -> {result}",
                    args(&[describe_value(from), describe_value(to)])
                )
            }
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        describe_value(*state)
    }

    /// A read of a value that no write or CAS of the partition (however it
    /// ended) wrote, and that is not the initial nil.
    fn diagnose(
        &self,
        stuck: &Operation<RegisterInput, RegisterOutput>,
        ops: &[&Operation<RegisterInput, RegisterOutput>],
    ) -> Option<String> {
        let (RegisterOp::Read, RegisterOutput::Read(Some(v))) = (stuck.input.op, stuck.output)
        else {
            return None;
        };
        let written = ops.iter().any(|op| match op.input.op {
            RegisterOp::Write(w) => w == Some(v),
            RegisterOp::Cas { to, .. } => to == Some(v),
            RegisterOp::Read => false,
        });
        (!written).then(|| {
            format!("value {v} was never written: no write or CAS of this register (however it ended) wrote {v}")
        })
    }
}

/// `nil` or the number.
pub fn describe_value(v: Value) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "nil".to_string(),
    }
}

/// Groups operations by key, keys in sorted order; operations without a key
/// form one partition named `unkeyed` (placed first).
pub(crate) fn partition_by_key<'a>(
    keys: impl Iterator<Item = Option<&'a str>>,
    unkeyed: &str,
) -> Vec<Partition> {
    let mut without_key = Vec::new();
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, key) in keys.enumerate() {
        match key {
            Some(k) => by_key.entry(k).or_default().push(i),
            None => without_key.push(i),
        }
    }
    let mut partitions = Vec::with_capacity(by_key.len() + 1);
    if !without_key.is_empty() {
        partitions.push(Partition {
            name: unkeyed.to_string(),
            operations: without_key,
        });
    }
    partitions.extend(by_key.into_iter().map(|(k, ops)| Partition {
        name: format!("key {k:?}"),
        operations: ops,
    }));
    partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(op: RegisterOp) -> RegisterInput {
        RegisterInput { key: None, op }
    }

    #[test]
    fn steps() {
        let m = Register;
        let read = input(RegisterOp::Read);
        assert_eq!(
            m.step(&None, &read, &RegisterOutput::Read(None)),
            Some(None)
        );
        assert_eq!(m.step(&Some(1), &read, &RegisterOutput::Read(None)), None);
        assert_eq!(
            m.step(&Some(1), &read, &RegisterOutput::Unknown),
            Some(Some(1))
        );
        let write = input(RegisterOp::Write(Some(2)));
        assert_eq!(
            m.step(&None, &write, &RegisterOutput::Written),
            Some(Some(2))
        );
        assert_eq!(
            m.step(&None, &write, &RegisterOutput::Unknown),
            Some(Some(2))
        );
        assert_eq!(m.step(&None, &write, &RegisterOutput::Read(None)), None);
        let cas = input(RegisterOp::Cas {
            from: Some(1),
            to: Some(3),
        });
        assert_eq!(
            m.step(&Some(1), &cas, &RegisterOutput::Cas(true)),
            Some(Some(3))
        );
        assert_eq!(m.step(&Some(2), &cas, &RegisterOutput::Cas(true)), None);
        assert_eq!(
            m.step(&Some(2), &cas, &RegisterOutput::Cas(false)),
            Some(Some(2))
        );
        assert_eq!(m.step(&Some(1), &cas, &RegisterOutput::Cas(false)), None);
        assert_eq!(
            m.step(&Some(1), &cas, &RegisterOutput::Unknown),
            Some(Some(3))
        );
        assert_eq!(m.step(&None, &cas, &RegisterOutput::Unknown), Some(None));
    }

    #[test]
    fn describes() {
        let m = Register;
        let cas = RegisterInput {
            key: Some("k".into()),
            op: RegisterOp::Cas {
                from: None,
                to: Some(3),
            },
        };
        assert_eq!(
            m.describe_operation(&cas, &RegisterOutput::Cas(false)),
            "cas(\"k\", nil, 3) -> fail"
        );
        let read = input(RegisterOp::Read);
        assert_eq!(
            m.describe_operation(&read, &RegisterOutput::Read(Some(4))),
            "read() -> 4"
        );
        assert_eq!(m.describe_state(&None), "nil");
    }

    #[test]
    fn diagnoses_a_read_of_a_value_never_written() {
        let op =
            |op: RegisterOp, output: RegisterOutput| Operation::new(0, input(op), output, 0, 1);
        let writes = [
            op(RegisterOp::Write(Some(1)), RegisterOutput::Written),
            // However it ended, a CAS may have written its value.
            op(
                RegisterOp::Cas {
                    from: Some(1),
                    to: Some(2),
                },
                RegisterOutput::Cas(false),
            ),
        ];
        let ops: Vec<_> = writes.iter().collect();
        let read = |v: Value| op(RegisterOp::Read, RegisterOutput::Read(v));
        assert_eq!(
            Register.diagnose(&read(Some(99)), &ops).as_deref(),
            Some(
                "value 99 was never written: no write or CAS of this register (however it ended) wrote 99"
            )
        );
        for written in [None, Some(1), Some(2)] {
            assert_eq!(Register.diagnose(&read(written), &ops), None);
        }
        assert_eq!(Register.diagnose(&writes[0], &ops), None);
    }

    #[test]
    fn partitions_by_key() {
        let op = |key: Option<&str>| {
            Operation::new(
                0,
                RegisterInput {
                    key: key.map(str::to_string),
                    op: RegisterOp::Read,
                },
                RegisterOutput::Unknown,
                0,
                1,
            )
        };
        let h = vec![op(Some("b")), op(None), op(Some("a")), op(Some("b"))];
        let p = Register.partition(&h);
        let names: Vec<_> = p
            .iter()
            .map(|p| (p.name.as_str(), p.operations.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("register", vec![1]),
                ("key \"a\"", vec![2]),
                ("key \"b\"", vec![0, 3])
            ]
        );
    }
}
