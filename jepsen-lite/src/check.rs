//! Checking a whole history: partitioning (P-compositionality), searching
//! the partitions in parallel, cancelling the others at the first illegal
//! one, a timeout that yields [`Verdict::Unknown`], and the overall result.

use crate::history::Operation;
use crate::model::{Model, Partition};
use crate::search::{Outcome, PartitionSearch, Stop};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Give up after this long; the verdict is then [`Verdict::Unknown`]
    /// unless a partition was already found illegal. `None`: no limit.
    pub timeout: Option<Duration>,
    /// How many partitions to search at once: 1 searches them one after the
    /// other in order; 0 uses the machine's available parallelism.
    pub threads: usize,
    /// Record why an illegal partition is illegal (the longest partial
    /// linearization and the states the stuck operation was rejected from).
    /// Costs a little time in the search.
    pub explain: bool,
}

impl Default for CheckOptions {
    /// No timeout, all cores, with explanations.
    fn default() -> Self {
        CheckOptions {
            timeout: None,
            threads: 0,
            explain: true,
        }
    }
}

/// The verdict on a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every partition has a linearization.
    Linearizable,
    /// Some partition has none.
    NotLinearizable,
    /// The check timed out before deciding.
    Unknown,
}

/// Why a partition is not linearizable, in history indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure<S> {
    /// The longest partial linearization the search found, in order.
    pub longest: Vec<usize>,
    /// The model state after each operation of `longest`.
    pub states: Vec<S>,
    /// The first operation that could not be linearized: the one whose
    /// return came next after `longest`, which no extension could place.
    pub stuck: usize,
    /// The state after `longest` (the initial state if it is empty).
    pub state_at_stuck: S,
    /// Distinct states from which the model rejected `stuck` during the
    /// whole search (at most 8).
    pub rejected_states: Vec<S>,
}

/// The outcome for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionOutcome<S> {
    /// Linearizable, with a linearization (history indices, in order).
    Linearizable(Vec<usize>),
    /// Not linearizable; the failure if [`CheckOptions::explain`] was set.
    NotLinearizable(Option<Failure<S>>),
    /// The timeout expired before it was decided.
    TimedOut,
    /// Not decided because another partition was found illegal first.
    Cancelled,
}

/// The result for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionResult<S> {
    /// The partition's name, e.g. `key "3"`.
    pub name: String,
    /// Its operations (history indices).
    pub operations: Vec<usize>,
    /// What the search found.
    pub outcome: PartitionOutcome<S>,
    /// How long its search took.
    pub elapsed: Duration,
}

/// The result of checking a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult<S> {
    /// The verdict.
    pub verdict: Verdict,
    /// Per partition, in the model's partition order.
    pub partitions: Vec<PartitionResult<S>>,
    /// The partition found illegal (the first found, which with several
    /// threads may vary between runs when several are illegal).
    pub failed_partition: Option<usize>,
    /// Wall-clock time of the check, partitioning included.
    pub elapsed: Duration,
}

/// A history or model the checker cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// An operation returns before it is called.
    #[error("operation {index} returns at {return_time}, before its call at {call}")]
    ReturnBeforeCall {
        /// The operation's index.
        index: usize,
        /// Its call time.
        call: u64,
        /// Its return time.
        return_time: u64,
    },
    /// The model's partitions do not cover every operation exactly once.
    #[error("the model's partitions {0}")]
    BadPartition(String),
    /// More operations in one partition than the search can index.
    #[error("partition {0:?} has too many operations")]
    TooLarge(String),
}

/// Checks whether `history` is linearizable with respect to `model`.
pub fn check<'a, M: Model>(
    model: &'a M,
    history: &'a [Operation<M::Input, M::Output>],
    options: &CheckOptions,
) -> Result<CheckResult<M::State>, CheckError> {
    let start = Instant::now();
    let deadline = options.timeout.map(|t| start + t);
    for (index, op) in history.iter().enumerate() {
        if op.return_time < op.call {
            return Err(CheckError::ReturnBeforeCall {
                index,
                call: op.call,
                return_time: op.return_time,
            });
        }
    }
    let partitions = model.partition(history);
    validate(&partitions, history.len())?;

    let cancel = AtomicBool::new(false);
    let stop = Stop {
        cancel: &cancel,
        deadline,
    };
    let threads = match options.threads {
        0 => available_parallelism(),
        n => n,
    }
    .min(partitions.len().max(1));

    // Partitions take turns: each runs for a slice of steps and, if still
    // undecided, goes to the back of the queue with a slice twice as long.
    // So a hard partition cannot hold up the discovery that another one is
    // illegal (which cancels the rest), even with one thread, and the
    // doubling bounds the cost of taking turns. With several threads the
    // largest partitions start first; with one, the model's order is kept.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    if threads > 1 {
        order.sort_by_key(|&p| std::cmp::Reverse(partitions[p].operations.len()));
    }
    let queue: Mutex<VecDeque<Task<'a, M>>> = Mutex::new(
        order
            .into_iter()
            .map(|partition| Task {
                partition,
                search: None,
                slice: FIRST_SLICE,
                elapsed: Duration::ZERO,
            })
            .collect(),
    );
    let pop = || queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
    // Gives `task` a turn: its result as (partition, outcome, elapsed,
    // finished-at) if it finished, else it goes back in the queue.
    let turn = |mut task: Task<'a, M>| {
        let started = Instant::now();
        let search = task.search.get_or_insert_with(|| {
            let ops: Vec<&'a Operation<M::Input, M::Output>> = partitions[task.partition]
                .operations
                .iter()
                .map(|&i| &history[i])
                .collect();
            PartitionSearch::new(model, &ops, options.explain)
        });
        let outcome = search.resume(&stop, task.slice);
        task.elapsed += started.elapsed();
        match outcome {
            None => {
                task.slice = task.slice.saturating_mul(2);
                queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(task);
                None
            }
            Some(outcome) => {
                let outcome = convert(model, history, &partitions[task.partition], outcome);
                if matches!(outcome, PartitionOutcome::NotLinearizable(_)) {
                    cancel.store(true, Ordering::Relaxed);
                }
                Some((task.partition, outcome, task.elapsed, Instant::now()))
            }
        }
    };
    let work = || std::iter::from_fn(pop).filter_map(turn).collect::<Vec<_>>();
    // The calling thread starts alone; helper threads join only if the work
    // is still going after SPAWN_AFTER, so that small histories do not pay
    // for starting threads.
    let mut finished: Vec<_> = std::thread::scope(|s| {
        let mut helpers = Vec::new();
        let mut done = Vec::new();
        while let Some(task) = pop() {
            done.extend(turn(task));
            let waiting = !queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
            if helpers.is_empty() && threads > 1 && waiting && start.elapsed() >= SPAWN_AFTER {
                helpers = (1..threads).map(|_| s.spawn(work)).collect();
            }
        }
        for helper in helpers {
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        done
    });

    // The first partition found illegal is the one reported.
    let failed_partition = finished
        .iter()
        .filter(|(_, outcome, _, _)| matches!(outcome, PartitionOutcome::NotLinearizable(_)))
        .min_by_key(|&&(p, _, _, at)| (at, p))
        .map(|&(p, _, _, _)| p);
    finished.sort_by_key(|&(p, _, _, _)| p);
    let results: Vec<PartitionResult<M::State>> = partitions
        .into_iter()
        .zip(finished)
        .map(|(partition, (_, outcome, elapsed, _))| PartitionResult {
            name: partition.name,
            operations: partition.operations,
            outcome,
            elapsed,
        })
        .collect();
    let verdict = if failed_partition.is_some() {
        Verdict::NotLinearizable
    } else if results
        .iter()
        .all(|r| matches!(r.outcome, PartitionOutcome::Linearizable(_)))
    {
        Verdict::Linearizable
    } else {
        Verdict::Unknown
    };
    Ok(CheckResult {
        verdict,
        partitions: results,
        failed_partition,
        elapsed: start.elapsed(),
    })
}

/// The machine's available parallelism, asked once (on Linux the question
/// reads cgroup files, which costs more than checking a small history).
fn available_parallelism() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Every index in range and in exactly one partition.
fn validate(partitions: &[Partition], len: usize) -> Result<(), CheckError> {
    let mut seen = vec![false; len];
    for p in partitions {
        if p.operations.len() > (u32::MAX as usize - 2) / 2 {
            return Err(CheckError::TooLarge(p.name.clone()));
        }
        for &i in &p.operations {
            match seen.get_mut(i) {
                None => {
                    return Err(CheckError::BadPartition(format!(
                        "name operation {i}, but the history has {len}"
                    )));
                }
                Some(true) => {
                    return Err(CheckError::BadPartition(format!(
                        "contain operation {i} more than once"
                    )));
                }
                Some(s) => *s = true,
            }
        }
    }
    match seen.iter().position(|s| !s) {
        Some(i) => Err(CheckError::BadPartition(format!("leave out operation {i}"))),
        None => Ok(()),
    }
}

/// A partition waiting for its (next) turn.
struct Task<'a, M: Model> {
    partition: usize,
    /// Built on the first turn.
    search: Option<PartitionSearch<'a, M>>,
    /// How many steps the next turn may take.
    slice: u64,
    /// Time spent on it so far.
    elapsed: Duration,
}

/// The steps of a partition's first turn (a few milliseconds).
const FIRST_SLICE: u64 = 1 << 15;
/// How long a check runs on the calling thread alone before helper threads
/// start.
const SPAWN_AFTER: Duration = Duration::from_micros(500);

/// The search's outcome in history indices, with the states of the longest
/// partial linearization.
fn convert<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &Partition,
    outcome: Outcome<M::State>,
) -> PartitionOutcome<M::State> {
    let global = |local: usize| partition.operations[local];
    let op = |local: usize| &history[global(local)];
    match outcome {
        Outcome::Linearizable(order) => {
            PartitionOutcome::Linearizable(order.into_iter().map(global).collect())
        }
        Outcome::Illegal(diagnosis) => PartitionOutcome::NotLinearizable(diagnosis.map(|d| {
            // Replay the prefix for the state after each operation. The
            // search found it legal and models are deterministic, so the
            // replay cannot fail; stop early rather than panic if it does.
            let mut state = model.init();
            let mut states = Vec::with_capacity(d.longest.len());
            for &local in &d.longest {
                match model.step(&state, &op(local).input, &op(local).output) {
                    Some(next) => {
                        states.push(next.clone());
                        state = next;
                    }
                    None => break,
                }
            }
            let longest: Vec<usize> = d
                .longest
                .iter()
                .take(states.len())
                .map(|&l| global(l))
                .collect();
            Failure {
                longest,
                states,
                stuck: global(d.stuck),
                state_at_stuck: d.state_at_stuck,
                rejected_states: d.rejected,
            }
        })),
        Outcome::TimedOut => PartitionOutcome::TimedOut,
        Outcome::Cancelled => PartitionOutcome::Cancelled,
    }
}
