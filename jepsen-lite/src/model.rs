//! The [`Model`] trait: a sequential specification the history is checked
//! against.

use crate::history::Operation;
use std::fmt::Debug;
use std::hash::Hash;

/// One independent part of a history (P-compositionality): a subset of its
/// operations that is linearizable on its own exactly when the whole history
/// is, together with the other parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// A name for people, e.g. `key "3"`.
    pub name: String,
    /// Indices into the history's operations, in any order.
    pub operations: Vec<usize>,
}

/// A sequential specification: an initial state and a step function that
/// says whether an operation (input and output) is legal in a state and what
/// state follows.
///
/// The checker is generic over the model (no boxing): implement it on a small
/// type whose `State` is cheap to clone, compare and hash, since the search
/// stores one state per memoized configuration.
///
/// `step` must be a function of its arguments (deterministic). Inputs and
/// outputs are compared for equality because operations with equal input and
/// output are interchangeable, which the search exploits (symmetry
/// reduction).
pub trait Model: Sync {
    /// What an operation asks.
    type Input: Debug + Eq + Hash + Send + Sync;
    /// What an operation answered.
    type Output: Debug + Eq + Hash + Send + Sync;
    /// The state of the specified object.
    type State: Clone + Eq + Hash + Debug + Send + Sync;

    /// A short name for the model, e.g. `register`.
    fn name(&self) -> &'static str;

    /// The initial state.
    fn init(&self) -> Self::State;

    /// The state after applying `input` answered by `output` in `state`, or
    /// `None` if that answer is impossible in that state.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// Whether the operation is read-only: whenever `step` accepts it, the
    /// state after is equal to the state before (a read, a failed CAS). The
    /// search then never tries to linearize it later than the first place
    /// it fits, which prunes much of the search. Default `false`, always
    /// safe; a wrong `true` makes the checker unsound.
    fn is_read_only(&self, input: &Self::Input, output: &Self::Output) -> bool {
        let _ = (input, output);
        false
    }

    /// Splits a history into independent parts (e.g. per key). The parts
    /// must be disjoint and cover every operation. Default: one part.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Partition> {
        vec![Partition {
            name: "all operations".to_string(),
            operations: (0..history.len()).collect(),
        }]
    }

    /// A human-readable description of an operation, e.g. `read() -> 3`.
    fn describe_operation(&self, input: &Self::Input, output: &Self::Output) -> String;

    /// A human-readable description of a state.
    fn describe_state(&self, state: &Self::State) -> String;

    /// A plain reason why `stuck` can never be linearized among `ops`
    /// (its partition's operations), when the model knows one: e.g. a
    /// read of a value no operation wrote. `None` by default.
    fn diagnose(
        &self,
        stuck: &Operation<Self::Input, Self::Output>,
        ops: &[&Operation<Self::Input, Self::Output>],
    ) -> Option<String> {
        let _ = (stuck, ops);
        None
    }
}
