//! The client side (the lab's `Clerk`): a unique client id, a sequence
//! number per operation, a guess of the leader, and retries until a server
//! answers from the log.
//!
//! An attempt is sent to the server believed to lead. A refusal moves on
//! at once (to the hinted leader if there is one); silence moves on after
//! [`ClerkConfig::attempt_timeout`]; after a whole round of servers
//! without an answer the clerk backs off, doubling up to
//! [`ClerkConfig::max_backoff`]. The same sequence number is used for
//! every attempt, so the servers apply the operation once however often
//! it is sent.

use crate::consensus::NodeId;
use crate::kv::protocol::{ClientId, Command, Op, Output, Refusal, Reply, Request};
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
    id: ClientId,
    seq: u64,
    servers: Vec<NodeId>,
    leader: usize,
    send: RequestSink,
    replies: Receiver<Reply>,
    config: ClerkConfig,
}

impl Clerk {
    /// A clerk for the cluster whose servers are at `servers`, sending
    /// through `send`. Returns it with the sender on which to deliver the
    /// servers' replies (the network handler for this clerk's address).
    pub fn new(
        servers: Vec<NodeId>,
        send: RequestSink,
        config: ClerkConfig,
    ) -> (Clerk, Sender<Reply>) {
        let (tx, replies) = std::sync::mpsc::channel();
        let mut rng = rand::rng();
        let clerk = Clerk {
            id: rng.random(),
            seq: 0,
            leader: rng.random_range(0..servers.len().max(1)),
            servers,
            send,
            replies,
            config,
        };
        (clerk, tx)
    }

    /// This clerk's client id.
    pub fn id(&self) -> ClientId {
        self.id
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
        self.seq += 1;
        let command = Command {
            client: self.id,
            seq: self.seq,
            op,
        };
        let mut backoff = self.config.min_backoff;
        let mut tried_this_round = 0;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Indeterminate);
            }
            let server = self.servers[self.leader];
            (self.send)(
                server,
                Request {
                    command: command.clone(),
                },
            );
            let attempt_end = Instant::now() + self.config.attempt_timeout;
            let attempt_end = deadline.map_or(attempt_end, |d| d.min(attempt_end));
            match self.await_reply(attempt_end) {
                // An output of another kind than the operation's cannot
                // come from applying it: a faulty server; try another.
                Some(Ok(output)) if output_fits(&command.op, &output) => return Ok(output),
                Some(Err(Refusal::WrongLeader { hint: Some(hint) }))
                    if (hint as usize) < self.servers.len() && hint as usize != self.leader =>
                {
                    self.leader = hint as usize;
                }
                _ => self.leader = (self.leader + 1) % self.servers.len(),
            }
            tried_this_round += 1;
            if tried_this_round >= self.servers.len() {
                tried_this_round = 0;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(self.config.max_backoff);
            }
        }
    }

    /// Waits until `until` for the reply to the current request; replies
    /// to earlier requests (late duplicates) are discarded.
    fn await_reply(&self, until: Instant) -> Option<Result<Output, Refusal>> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(reply) if reply.client == self.id && reply.seq == self.seq => {
                    return Some(reply.result);
                }
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None;
                }
            }
        }
    }
}

/// Whether `output` is what applying `op` can return.
fn output_fits(op: &Op, output: &Output) -> bool {
    matches!(
        (op, output),
        (Op::Get { .. }, Output::Value(_))
            | (Op::Put { .. } | Op::Append { .. }, Output::Done)
            | (Op::Cas { .. }, Output::Cas { .. })
    )
}
