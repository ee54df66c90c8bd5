//! Histories: operations with real-time intervals, and how they are built
//! from invoke/complete events with Jepsen's semantics.
//!
//! A history is a list of [`Operation`]s. Each has the process (client) that
//! ran it, the model's input and output, and a closed real-time interval
//! `[call, return_time]`: a call and a return at equal times are concurrent.
//!
//! Jepsen records each operation as an `invoke` event followed by one
//! completion of the same process. [`HistoryBuilder`] pairs them with
//! Jepsen's meaning of the completion types ([`Completion`]):
//!
//! * `ok`: the operation happened, with the given output;
//! * `fail`: it definitely did not happen, so it is dropped, except where the
//!   failure is itself a result ([`Completion::FailResult`], like a CAS that
//!   found another value);
//! * `info`, or no completion at all: indeterminate. It may or may not have
//!   taken effect, so it stays open until the end of the history
//!   ([`OPEN`]) with an output that constrains nothing.

use rustc_hash::FxHashMap;
use serde::Serialize;
use std::fmt;

/// The return time of an operation that never returned (an `info`
/// completion or none at all): after every other event of the history.
pub const OPEN: u64 = u64::MAX;

/// How an operation completed, as far as the checker is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Completed with `ok`: it happened, with the recorded output.
    Ok,
    /// Completed with a `fail` that is itself a result (e.g. a CAS whose
    /// comparison failed): it happened and returned "failed".
    Failed,
    /// Completed with `info` or never returned: it may or may not have taken
    /// effect; its return is [`OPEN`].
    Indeterminate,
}

/// Where an operation came from in its source file (1-based line numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SourceLines {
    /// The line of the invocation.
    pub invoke: usize,
    /// The line of the completion, if there was one.
    pub complete: Option<usize>,
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The process (client) that ran the operation.
    pub client: u64,
    /// The model's input (what was asked).
    pub input: I,
    /// The model's output (what was answered; a model-specific "unknown"
    /// for indeterminate operations).
    pub output: O,
    /// Invocation time.
    pub call: u64,
    /// Return time, at or after `call`; [`OPEN`] if it never returned.
    pub return_time: u64,
    /// How the operation completed.
    pub status: Status,
    /// Its lines in the source file, when it was parsed from one.
    pub source: Option<SourceLines>,
}

impl<I, O> Operation<I, O> {
    /// A completed (`ok`) operation over `[call, return_time]`.
    pub fn new(client: u64, input: I, output: O, call: u64, return_time: u64) -> Self {
        Operation {
            client,
            input,
            output,
            call,
            return_time,
            status: Status::Ok,
            source: None,
        }
    }

    /// Whether the operation never returned.
    pub fn is_open(&self) -> bool {
        self.return_time == OPEN
    }
}

/// A parsed history: its operations, plus counts of what was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History<I, O> {
    /// The operations, in order of invocation.
    pub operations: Vec<Operation<I, O>>,
    /// Operations dropped because they definitely did not happen (`fail`).
    pub dropped: usize,
    /// Events skipped because they are not client operations (nemesis).
    pub skipped: usize,
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        History {
            operations: Vec::new(),
            dropped: 0,
            skipped: 0,
        }
    }
}

/// How a completion event ends its process's outstanding invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion<O> {
    /// `ok`: the operation happened, with this output.
    Ok(O),
    /// A `fail` that is itself a result (a CAS that found another value):
    /// the operation happened, with this output.
    FailResult(O),
    /// `fail`: the operation definitely did not happen; it is dropped.
    Fail,
    /// `info`: indeterminate; the operation stays open until the end.
    Info,
}

/// An event that cannot be paired with the rest of the history.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A process invoked an operation while another was outstanding.
    #[error(
        "process {process} invokes an operation while its operation invoked on line {previous_line} has not completed"
    )]
    AlreadyOutstanding {
        /// The process.
        process: u64,
        /// The line of the outstanding invocation.
        previous_line: usize,
    },
    /// A completion without an outstanding invocation of its process.
    #[error("process {process} completes an operation it never invoked")]
    NotOutstanding {
        /// The process.
        process: u64,
    },
    /// A completion earlier than its invocation.
    #[error(
        "process {process} completes at time {time}, before its invocation at time {call} (line {invoke_line})"
    )]
    BeforeInvocation {
        /// The process.
        process: u64,
        /// The completion's time.
        time: u64,
        /// The invocation's time.
        call: u64,
        /// The invocation's line.
        invoke_line: usize,
    },
    /// An invocation or completion at the reserved time [`OPEN`].
    #[error("time {OPEN} is reserved for operations that never return")]
    ReservedTime,
    /// The completion does not fit the invocation (e.g. a different `f`).
    #[error("{0}")]
    Mismatch(String),
}

struct Draft<I, O> {
    client: u64,
    input: I,
    call: u64,
    invoke_line: usize,
    completion: Option<(u64, usize, Completion<O>)>,
}

/// Pairs invoke and completion events per process into a [`History`].
///
/// A process has at most one outstanding operation. Feed events in the
/// order they happened for each process (the order across processes does not
/// matter: the checker sorts by time).
pub struct HistoryBuilder<I, O> {
    drafts: Vec<Draft<I, O>>,
    outstanding: FxHashMap<u64, usize>,
    skipped: usize,
}

impl<I, O> Default for HistoryBuilder<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, O> HistoryBuilder<I, O> {
    /// An empty builder.
    pub fn new() -> Self {
        HistoryBuilder {
            drafts: Vec::new(),
            outstanding: FxHashMap::default(),
            skipped: 0,
        }
    }

    /// Records that `process` invoked `input` at `time` (source line `line`).
    pub fn invoke(
        &mut self,
        process: u64,
        time: u64,
        line: usize,
        input: I,
    ) -> Result<(), EventError> {
        if time == OPEN {
            return Err(EventError::ReservedTime);
        }
        if let Some(&previous) = self.outstanding.get(&process) {
            return Err(EventError::AlreadyOutstanding {
                process,
                previous_line: self.drafts[previous].invoke_line,
            });
        }
        self.outstanding.insert(process, self.drafts.len());
        self.drafts.push(Draft {
            client: process,
            input,
            call: time,
            invoke_line: line,
            completion: None,
        });
        Ok(())
    }

    /// Records the completion of `process`'s outstanding operation at `time`.
    /// `complete` sees the invocation's input and decides the
    /// [`Completion`], or rejects the pair with a reason.
    pub fn complete(
        &mut self,
        process: u64,
        time: u64,
        line: usize,
        complete: impl FnOnce(&I) -> Result<Completion<O>, String>,
    ) -> Result<(), EventError> {
        if time == OPEN {
            return Err(EventError::ReservedTime);
        }
        let &index = self
            .outstanding
            .get(&process)
            .ok_or(EventError::NotOutstanding { process })?;
        let draft = &mut self.drafts[index];
        if time < draft.call {
            return Err(EventError::BeforeInvocation {
                process,
                time,
                call: draft.call,
                invoke_line: draft.invoke_line,
            });
        }
        let completion = complete(&draft.input).map_err(EventError::Mismatch)?;
        draft.completion = Some((time, line, completion));
        self.outstanding.remove(&process);
        Ok(())
    }

    /// Counts an event that is not a client operation (e.g. the nemesis).
    pub fn skip(&mut self) {
        self.skipped += 1;
    }

    /// The history: operations in invocation order; `unknown` gives the
    /// output of an indeterminate operation from its input.
    pub fn finish(self, unknown: impl Fn(&I) -> O) -> History<I, O> {
        let mut history = History {
            operations: Vec::with_capacity(self.drafts.len()),
            dropped: 0,
            skipped: self.skipped,
        };
        for draft in self.drafts {
            let (output, return_time, status, complete_line) = match draft.completion {
                Some((time, line, Completion::Ok(output))) => {
                    (output, time, Status::Ok, Some(line))
                }
                Some((time, line, Completion::FailResult(output))) => {
                    (output, time, Status::Failed, Some(line))
                }
                Some((_, _, Completion::Fail)) => {
                    history.dropped += 1;
                    continue;
                }
                Some((_, line, Completion::Info)) => (
                    unknown(&draft.input),
                    OPEN,
                    Status::Indeterminate,
                    Some(line),
                ),
                None => (unknown(&draft.input), OPEN, Status::Indeterminate, None),
            };
            history.operations.push(Operation {
                client: draft.client,
                input: draft.input,
                output,
                call: draft.call,
                return_time,
                status,
                source: Some(SourceLines {
                    invoke: draft.invoke_line,
                    complete: complete_line,
                }),
            });
        }
        history
    }
}

/// Formats a time for people: `open` for [`OPEN`], else the number.
pub struct DisplayTime(pub u64);

impl fmt::Display for DisplayTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == OPEN {
            f.write_str("open")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_events_with_jepsen_semantics() {
        let mut b: HistoryBuilder<&str, i32> = HistoryBuilder::new();
        b.invoke(1, 10, 1, "a").unwrap();
        b.invoke(2, 11, 2, "b").unwrap();
        b.invoke(3, 12, 3, "c").unwrap();
        b.invoke(4, 13, 4, "d").unwrap();
        b.invoke(5, 14, 5, "e").unwrap();
        b.complete(1, 20, 6, |_| Ok(Completion::Ok(7))).unwrap();
        b.complete(2, 21, 7, |_| Ok(Completion::Fail)).unwrap();
        b.complete(3, 22, 8, |_| Ok(Completion::FailResult(8)))
            .unwrap();
        b.complete(4, 23, 9, |_| Ok(Completion::Info)).unwrap();
        b.skip();
        let h = b.finish(|_| -1);
        assert_eq!(h.dropped, 1);
        assert_eq!(h.skipped, 1);
        let ops: Vec<_> = h
            .operations
            .iter()
            .map(|o| (o.input, o.output, o.call, o.return_time, o.status))
            .collect();
        assert_eq!(
            ops,
            vec![
                ("a", 7, 10, 20, Status::Ok),
                ("c", 8, 12, 22, Status::Failed),
                ("d", -1, 13, OPEN, Status::Indeterminate),
                ("e", -1, 14, OPEN, Status::Indeterminate),
            ]
        );
    }

    #[test]
    fn rejects_unpaired_events() {
        let mut b: HistoryBuilder<(), ()> = HistoryBuilder::new();
        assert_eq!(
            b.complete(1, 5, 1, |_| Ok(Completion::Ok(()))),
            Err(EventError::NotOutstanding { process: 1 })
        );
        b.invoke(1, 5, 2, ()).unwrap();
        assert!(matches!(
            b.invoke(1, 6, 3, ()),
            Err(EventError::AlreadyOutstanding {
                previous_line: 2,
                ..
            })
        ));
        assert!(matches!(
            b.complete(1, 4, 4, |_| Ok(Completion::Ok(()))),
            Err(EventError::BeforeInvocation { .. })
        ));
        assert_eq!(
            b.complete(1, 7, 5, |_| Err("nope".into())),
            Err(EventError::Mismatch("nope".into()))
        );
        assert_eq!(b.invoke(2, OPEN, 6, ()), Err(EventError::ReservedTime));
        // After an info completion the process may invoke again.
        b.complete(1, 7, 7, |_| Ok(Completion::Info)).unwrap();
        b.invoke(1, 8, 8, ()).unwrap();
    }
}
