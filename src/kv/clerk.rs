//! The client side on threads (the lab's `Clerk`): a blocking driver of
//! the sans-IO [`ClerkState`], which decides everything (sequence
//! numbers, which server to try, timeouts, back-off, which replies count).
//! This file only sends, waits on a channel with real time, and sleeps.

use crate::consensus::NodeId;
use crate::kv::clerk_state::{ClerkEffect, ClerkState};
use crate::kv::protocol::{ClientId, Op, Output, Reply, Request, TxnOp, TxnResult};
use rand::Rng;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How a clerk sends a request to a server (by its address).
pub type RequestSink = Arc<dyn Fn(NodeId, Request) + Send + Sync>;

/// A clerk's timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClerkConfig {
    /// How long to wait for a server's answer before trying the next.
    pub attempt_timeout: Duration,
    /// The first pause after a round of servers without an answer.
    pub min_backoff: Duration,
    /// The longest such pause.
    pub max_backoff: Duration,
}

impl Default for ClerkConfig {
    /// Attempts of 250 ms (two and a half heartbeats: a healthy leader
    /// commits well within), back-off from 10 ms to 100 ms.
    fn default() -> ClerkConfig {
        ClerkConfig {
            attempt_timeout: Duration::from_millis(250),
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
        }
    }
}

/// The operation did not complete before the deadline given to
/// [`Clerk::execute`]: it may or may not take effect later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no answer before the deadline: the operation may or may not have taken effect")]
pub struct Indeterminate;

/// A client of the key/value service. Runs one operation at a time.
pub struct Clerk {
    state: ClerkState,
    servers: Vec<NodeId>,
    send: RequestSink,
    /// The servers' replies, each with the address it came from.
    replies: Receiver<(NodeId, Reply)>,
    /// The origin of the times [`ClerkState`] is given.
    epoch: Instant,
    /// The server whose reply ended the last operation with an output.
    answered_by: Option<NodeId>,
}

impl Clerk {
    /// A clerk for the cluster whose servers are at `servers`, sending
    /// through `send`. Returns it with the sender on which to deliver the
    /// servers' replies, each with the address of the server that sent it
    /// (the network handler for this clerk's address).
    pub fn new(
        servers: Vec<NodeId>,
        send: RequestSink,
        config: ClerkConfig,
    ) -> (Clerk, Sender<(NodeId, Reply)>) {
        let (tx, replies) = std::sync::mpsc::channel();
        let mut rng = rand::rng();
        // Never NO_SESSION (0): a clerk's retries must be deduplicated.
        let id = rng.random::<ClientId>().max(1);
        let leader = rng.random_range(0..servers.len().max(1));
        let clerk = Clerk {
            state: ClerkState::new(id, servers.len(), leader, config),
            servers,
            send,
            replies,
            epoch: Instant::now(),
            answered_by: None,
        };
        (clerk, tx)
    }

    /// This clerk's client id.
    pub fn id(&self) -> ClientId {
        self.state.id()
    }

    /// The server whose reply ended the last [`Clerk::execute`] with an
    /// output (the reply the [`ClerkState`] accepted); `None` if it ended
    /// [`Indeterminate`] or none ran yet.
    pub fn answered_by(&self) -> Option<NodeId> {
        self.answered_by
    }

    /// The value of `key` ("" when it has none).
    pub fn get(&mut self, key: &str) -> String {
        match self.run(Op::Get { key: key.into() }) {
            Output::Value(value) => value,
            // `execute` returns only outputs that fit the operation.
            _ => String::new(),
        }
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &str, value: &str) {
        self.run(Op::Put {
            key: key.into(),
            value: value.into(),
        });
    }

    /// Appends `value` to `key`.
    pub fn append(&mut self, key: &str, value: &str) {
        self.run(Op::Append {
            key: key.into(),
            value: value.into(),
        });
    }

    /// Sets `key` to `new` if its value is `expected` (`None`: no value);
    /// returns whether it did and the value found.
    pub fn cas(&mut self, key: &str, expected: Option<&str>, new: &str) -> (bool, Option<String>) {
        match self.run(Op::Cas {
            key: key.into(),
            expected: expected.map(str::to_owned),
            new: new.into(),
        }) {
            Output::Cas { swapped, found } => (swapped, found),
            // `execute` returns only outputs that fit the operation.
            _ => (false, None),
        }
    }

    /// Runs the transaction `ops` atomically; returns one result per
    /// micro-operation, in order.
    pub fn txn(&mut self, ops: Vec<TxnOp>) -> Vec<TxnResult> {
        match self.run(Op::Txn { ops }) {
            Output::Txn(results) => results,
            // `execute` returns only outputs that fit the operation.
            _ => Vec::new(),
        }
    }

    /// Runs `op`, retrying until a server answers.
    fn run(&mut self, op: Op) -> Output {
        loop {
            if let Ok(output) = self.execute(op.clone(), None) {
                return output;
            }
        }
    }

    /// Runs `op`, retrying until a server answers or `deadline` passes
    /// (`None`: no deadline). After [`Indeterminate`] the operation may
    /// still take effect; the clerk's next operation gets a new sequence
    /// number either way.
    pub fn execute(&mut self, op: Op, deadline: Option<Instant>) -> Result<Output, Indeterminate> {
        let deadline = deadline.map(|d| d.saturating_duration_since(self.epoch));
        self.answered_by = None;
        let mut effect = self.state.invoke(op, self.now(), deadline);
        loop {
            effect = match effect {
                ClerkEffect::Done(result) => return result,
                ClerkEffect::Send {
                    server,
                    attempt,
                    request,
                    timeout_at,
                } => {
                    (self.send)(self.servers[server], request);
                    self.await_reply(attempt, timeout_at)
                }
                ClerkEffect::Wait { attempt, until } => {
                    std::thread::sleep(until.saturating_sub(self.now()));
                    match self.state.resume(attempt, self.now()) {
                        Some(next) => next,
                        None => return Err(Indeterminate),
                    }
                }
            };
        }
    }

    /// Feeds replies to the clerk's state until it decides something, or
    /// reports the attempt's timeout at `until`.
    fn await_reply(&mut self, attempt: u64, until: Duration) -> ClerkEffect {
        loop {
            let left = until.saturating_sub(self.now());
            let next = match self.replies.recv_timeout(left) {
                // The channel cannot tell attempts apart: a reply counts
                // as the current attempt's.
                Ok((from, reply)) => {
                    let next = self.state.replied(reply, None, self.now());
                    if let Some(ClerkEffect::Done(Ok(_))) = next {
                        self.answered_by = Some(from);
                    }
                    next
                }
                Err(RecvTimeoutError::Timeout) => self.state.timed_out(attempt, self.now()),
                Err(RecvTimeoutError::Disconnected) => {
                    // Nothing can come: the attempt is silent.
                    std::thread::sleep(left);
                    self.state.timed_out(attempt, self.now())
                }
            };
            if let Some(next) = next {
                return next;
            }
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }
}
