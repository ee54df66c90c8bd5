//! The clerk's decisions, sans-IO: which server to try next, when to give
//! up on an attempt, when to back off, which replies count. The thread
//! [`crate::kv::Clerk`] and jepsen-lite's simulated clients both drive
//! one [`ClerkState`]; neither keeps retry logic of its own.
//!
//! Time is the driver's: every input carries `now`, a [`Duration`] since
//! an epoch the driver picks (an `Instant` for threads, virtual time for
//! a simulator), and every wait the clerk asks for is a point on that
//! same axis.
//!
//! An attempt goes to the server believed to lead. A refusal moves on at
//! once (to the hinted leader if there is one); silence moves on at the
//! attempt's timeout; after a whole round of servers without an answer
//! the clerk backs off, doubling from [`ClerkConfig::min_backoff`] up to
//! [`ClerkConfig::max_backoff`]. Every attempt carries the same sequence
//! number, so the servers apply the operation once however often it is
//! sent (§8).

use crate::kv::clerk::{ClerkConfig, Indeterminate};
use crate::kv::protocol::{
    ClientId, Command, Op, Output, Refusal, Reply, Request, TxnOp, TxnResult,
};
use std::time::Duration;

/// What the clerk asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClerkEffect {
    /// Send `request` to the server at position `server`; unless an answer
    /// comes first, call [`ClerkState::timed_out`] with `attempt` at
    /// `timeout_at`.
    Send {
        /// The server's position in the clerk's list.
        server: usize,
        /// This attempt's number.
        attempt: u64,
        /// What to send.
        request: Request,
        /// When to give up on it.
        timeout_at: Duration,
    },
    /// Back off: call [`ClerkState::resume`] with `attempt` at `until`.
    Wait {
        /// The attempt to resume.
        attempt: u64,
        /// When.
        until: Duration,
    },
    /// The operation is over: its output, or no answer by its deadline
    /// (it may still take effect).
    Done(Result<Output, Indeterminate>),
}

/// The operation in flight.
#[derive(Clone, Debug)]
struct InFlight {
    command: Command,
    deadline: Option<Duration>,
    attempt: u64,
    /// Servers tried in this round.
    tried: usize,
    backoff: Duration,
}

/// One clerk's session: its client id, its sequence numbers, its guess of
/// the leader and the operation in flight (one at a time).
#[derive(Clone, Debug)]
pub struct ClerkState {
    id: ClientId,
    seq: u64,
    servers: usize,
    leader: usize,
    config: ClerkConfig,
    op: Option<InFlight>,
}

impl ClerkState {
    /// A session for client `id` of a cluster of `servers` servers, first
    /// trying the one at position `leader` (the driver draws both: ids
    /// must not repeat, and spreading first guesses spreads load). `id`
    /// must not be [`crate::kv::NO_SESSION`] (0), whose commands are never
    /// deduplicated.
    pub fn new(id: ClientId, servers: usize, leader: usize, config: ClerkConfig) -> ClerkState {
        debug_assert_ne!(
            id,
            crate::kv::NO_SESSION,
            "a clerk's id must not be NO_SESSION (0)"
        );
        ClerkState {
            id,
            seq: 0,
            servers: servers.max(1),
            leader: leader % servers.max(1),
            config,
            op: None,
        }
    }

    /// This session's client id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// The position of the server the clerk believes leads.
    pub fn leader(&self) -> usize {
        self.leader
    }

    /// The command in flight, if any.
    pub fn in_flight(&self) -> Option<&Command> {
        self.op.as_ref().map(|f| &f.command)
    }

    /// Starts `op` (abandoning any operation still in flight) with a new
    /// sequence number; `deadline` bounds its retries (`None`: retry
    /// forever).
    pub fn invoke(&mut self, op: Op, now: Duration, deadline: Option<Duration>) -> ClerkEffect {
        self.seq += 1;
        self.op = Some(InFlight {
            command: Command {
                client: self.id,
                seq: self.seq,
                op,
            },
            deadline,
            attempt: 1,
            tried: 0,
            backoff: self.config.min_backoff,
        });
        self.send(now)
    }

    /// A server's reply arrived; `attempt` is the attempt it answers when
    /// the driver can tell (a late refusal of an earlier attempt is then
    /// ignored), `None` when it cannot (it counts as the current one's).
    /// Replies to other clients or to earlier operations are ignored.
    pub fn replied(
        &mut self,
        reply: Reply,
        attempt: Option<u64>,
        now: Duration,
    ) -> Option<ClerkEffect> {
        let f = self.op.as_ref()?;
        if reply.client != self.id || reply.seq != f.command.seq {
            return None;
        }
        let current = attempt.is_none_or(|a| a == f.attempt);
        match reply.result {
            // An answer from any attempt is the operation's; an output of
            // another kind than the operation's cannot come from applying
            // it (a faulty server): try another.
            Ok(output) if output_fits(&f.command.op, &output) => {
                self.op = None;
                Some(ClerkEffect::Done(Ok(output)))
            }
            Ok(_) if current => Some(self.advance(None, now)),
            Err(Refusal::WrongLeader { hint }) if current => Some(self.advance(hint, now)),
            Err(Refusal::ShuttingDown) if current => Some(self.advance(None, now)),
            _ => None,
        }
    }

    /// The timeout of `attempt` passed without an answer.
    pub fn timed_out(&mut self, attempt: u64, now: Duration) -> Option<ClerkEffect> {
        let f = self.op.as_ref().filter(|f| f.attempt == attempt)?;
        if f.deadline.is_some_and(|d| now >= d) {
            self.op = None;
            return Some(ClerkEffect::Done(Err(Indeterminate)));
        }
        Some(self.advance(None, now))
    }

    /// The back-off before `attempt` is over.
    pub fn resume(&mut self, attempt: u64, now: Duration) -> Option<ClerkEffect> {
        self.op.as_ref().filter(|f| f.attempt == attempt)?;
        Some(self.send(now))
    }

    /// Sends the current attempt to the server believed to lead, or ends
    /// the operation if its deadline has passed.
    fn send(&mut self, now: Duration) -> ClerkEffect {
        let Some(f) = self.op.as_ref() else {
            return ClerkEffect::Done(Err(Indeterminate));
        };
        if f.deadline.is_some_and(|d| now >= d) {
            self.op = None;
            return ClerkEffect::Done(Err(Indeterminate));
        }
        let timeout_at = now + self.config.attempt_timeout;
        ClerkEffect::Send {
            server: self.leader,
            attempt: f.attempt,
            request: Request {
                command: f.command.clone(),
            },
            timeout_at: f.deadline.map_or(timeout_at, |d| d.min(timeout_at)),
        }
    }

    /// Moves on after a refusal or silence: to the hinted leader, else the
    /// next server; after a whole round, backs off first.
    fn advance(&mut self, hint: Option<u64>, now: Duration) -> ClerkEffect {
        let servers = self.servers;
        let leader = self.leader;
        let Some(f) = self.op.as_mut() else {
            return ClerkEffect::Done(Err(Indeterminate));
        };
        self.leader = match hint.and_then(|h| usize::try_from(h).ok()) {
            Some(h) if h < servers && h != leader => h,
            _ => (leader + 1) % servers,
        };
        f.attempt += 1;
        f.tried += 1;
        if f.tried < servers {
            return self.send(now);
        }
        f.tried = 0;
        let until = now + f.backoff;
        let until = f.deadline.map_or(until, |d| d.min(until));
        f.backoff = (f.backoff * 2).min(self.config.max_backoff);
        ClerkEffect::Wait {
            attempt: f.attempt,
            until,
        }
    }
}

/// Whether `output` is what applying `op` can return.
fn output_fits(op: &Op, output: &Output) -> bool {
    matches!(
        (op, output),
        (Op::Get { .. }, Output::Value(_))
            | (Op::Read { .. }, Output::Found(_))
            | (Op::Delete { .. }, Output::Deleted { .. })
            | (Op::Put { .. } | Op::Append { .. }, Output::Done)
            | (Op::Cas { .. }, Output::Cas { .. })
    ) || match (op, output) {
        (Op::Txn { ops }, Output::Txn(results)) => {
            ops.len() == results.len()
                && ops.iter().zip(results).all(|(op, result)| {
                    matches!(
                        (op, result),
                        (TxnOp::Read { .. }, TxnResult::Read(_))
                            | (TxnOp::Put { .. } | TxnOp::Append { .. }, TxnResult::Done)
                    )
                })
        }
        _ => false,
    }
}
