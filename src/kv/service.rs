//! The key/value service's decisions, sans-IO: events in, effects out,
//! as [`crate::Node`] does for Raft. Every driver of the service (the
//! thread [`crate::kv::KvServer`], jepsen-lite's simulator, the network
//! server of a later issue) feeds one [`KvService`] per server and carries
//! out what it returns; none keeps request-matching or session logic of
//! its own.
//!
//! What it decides:
//!
//! - **A request**: answered at once from the session table when it is a
//!   retried write already applied (§8: commands carry serial numbers so
//!   that none executes twice), else handed to Raft ([`KvEffect::Propose`]);
//!   the driver proposes it and reports the index and term Raft gave it
//!   ([`KvService::proposed`]), and the request waits there.
//! - **An applied entry**: applied to the [`Store`]; the request waiting at
//!   that index is answered only if the entry there is the one proposed
//!   for it, in the term it was proposed in (§5.3: a deposed leader's
//!   uncommitted entry may be overwritten); otherwise it is refused so its
//!   clerk tries elsewhere.
//! - **An installed snapshot** (§7): replaces the store (never backwards);
//!   requests it covers are answered from its session table, or refused.
//! - **A change of term or role**: every request waiting in an earlier
//!   term, or on a server that no longer leads, is refused at once.
//! - **When to snapshot**: once the persisted Raft state reaches
//!   `max_raft_state` bytes (the lab's `maxraftstate`), a snapshot of
//!   store and sessions ([`KvEffect::Snapshot`]).
//!
//! A driver feeds the events of one server in the order they happened. It
//! need not hold the service across a [`KvEffect::Propose`] and the
//! matching [`KvService::proposed`] (a thread driver must not, if applying
//! can wait on it): an entry applied, or a term lost, before the proposal
//! is reported is accounted for when it is.

use crate::consensus::{LogIndex, NodeId, Term};
use crate::kv::protocol::{ClientId, Command, Op, Output, Refusal, Reply, Request, TxnResult};
use crate::kv::state_machine::Store;
use bytes::Bytes;
use std::collections::BTreeMap;

/// What the service asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvEffect<A> {
    /// Propose `command` to the Raft peer (its [`Command::encode`]d bytes)
    /// and report the outcome through [`KvService::proposed`].
    Propose {
        /// The command to replicate.
        command: Command,
        /// Where the answer goes, once there is one.
        reply_to: A,
    },
    /// Send `reply` to the clerk at `to`.
    Reply {
        /// The clerk's address.
        to: A,
        /// The answer or refusal.
        reply: Reply,
    },
    /// Compact the Raft log through `index`, with `data` as the snapshot
    /// (`Raft::snapshot`, `Node::compact`).
    Snapshot {
        /// The last index the snapshot covers.
        index: LogIndex,
        /// The store and the session table, encoded.
        data: Bytes,
    },
}

/// What became of a [`KvEffect::Propose`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposal {
    /// The leader appended the command at `index` in `term`.
    Accepted {
        /// Where the command sits in the log.
        index: LogIndex,
        /// The term it was proposed in.
        term: Term,
    },
    /// The peer does not lead; `leader_hint` is the leader it knows of.
    NotLeader {
        /// The leader the peer last heard from, if any.
        leader_hint: Option<NodeId>,
    },
    /// The peer has stopped.
    Stopped,
}

/// An applied entry or snapshot the service cannot take: the driver broke
/// its contract (entries in index order, each once; snapshots never
/// backwards), or a snapshot's bytes are not a store. The service is
/// unchanged by a refused input. (An entry whose bytes are not a command
/// is applied as a no-op and counted: [`KvService::undecodable_entries`].)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// An entry or snapshot at or below the last applied index.
    #[error("{what} at {index} is not past the last applied index {applied}")]
    Behind {
        /// "entry" or "snapshot".
        what: &'static str,
        /// Its index.
        index: LogIndex,
        /// The last index applied.
        applied: LogIndex,
    },
    /// An entry that skips indices.
    #[error("entry {index} skips ahead of the last applied index {applied}")]
    Gap {
        /// Its index.
        index: LogIndex,
        /// The last index applied.
        applied: LogIndex,
    },
    /// A snapshot's bytes are not a store.
    #[error("the snapshot through {index} does not decode: {reason}")]
    Undecodable {
        /// Its last index.
        index: LogIndex,
        /// What the decoder said.
        reason: String,
    },
}

/// A request waiting for the entry proposed for it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pending<A> {
    term: Term,
    client: ClientId,
    seq: u64,
    reply_to: A,
}

/// An applied entry no request waited for, kept while a proposal is still
/// to be reported (it may be that proposal's).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unclaimed {
    term: Term,
    client: ClientId,
    seq: u64,
    output: Option<Output>,
}

/// One server's key/value service: the replicated [`Store`], what it has
/// applied, the requests waiting on log indices, and who leads. `A` is a
/// clerk's address, whatever the driver uses to send a reply back.
#[derive(Clone, Debug)]
pub struct KvService<A> {
    members: Vec<NodeId>,
    max_raft_state: Option<usize>,
    store: Store,
    applied: LogIndex,
    pending: BTreeMap<LogIndex, Pending<A>>,
    /// Proposals asked for and not yet reported, and the entries applied
    /// meanwhile that no request waited for.
    proposing: usize,
    unclaimed: BTreeMap<LogIndex, Unclaimed>,
    /// The peer's term and leader, as last reported.
    term: Term,
    leader: Option<NodeId>,
    leads: bool,
    /// Applied entries whose bytes were not a command.
    undecodable: u64,
    /// The bug catalogue's broken reads (`KvService::serve_local_reads`,
    /// in a bug-catalogue build).
    local_reads: bool,
}

impl<A: Clone> KvService<A> {
    /// The service of one server of the cluster `members`, with nothing
    /// applied (a restarted server gets its snapshot back through
    /// [`KvService::snapshot_installed`]). It snapshots once the persisted
    /// Raft state reaches `max_raft_state` bytes (`None`: never).
    pub fn new(members: Vec<NodeId>, max_raft_state: Option<usize>) -> KvService<A> {
        KvService {
            members,
            max_raft_state,
            store: Store::new(),
            applied: LogIndex(0),
            pending: BTreeMap::new(),
            proposing: 0,
            unclaimed: BTreeMap::new(),
            term: Term(0),
            leader: None,
            leads: false,
            undecodable: 0,
            local_reads: false,
        }
    }

    /// A clerk at `from` asks for `request`.
    pub fn request(&mut self, from: A, request: Request) -> Vec<KvEffect<A>> {
        let command = request.command;
        if self.local_reads {
            // The catalogue's bug: a read answered from this server's own
            // copy, which may lag the cluster (a follower, a deposed
            // leader), instead of through the log.
            let local = match &command.op {
                Op::Get { key } => Some(Output::Value(self.store.get(key).to_owned())),
                Op::Read { key } => Some(Output::Found(self.store.value(key).map(str::to_owned))),
                Op::Txn { ops } if command.op.is_read_only() => Some(Output::Txn(
                    ops.iter()
                        .map(|op| TxnResult::Read(self.store.value(op.key()).map(str::to_owned)))
                        .collect(),
                )),
                _ => None,
            };
            if let Some(output) = local {
                return vec![reply(from, &command, Ok(output))];
            }
        }
        if let Some(output) = self.store.applied_output(command.client, command.seq) {
            // A retried write already applied: its output, again (§8).
            let output = output.clone();
            return vec![reply(from, &command, Ok(output))];
        }
        self.proposing += 1;
        vec![KvEffect::Propose {
            command,
            reply_to: from,
        }]
    }

    /// What became of the proposal of `command` for the clerk at `from`
    /// (every [`KvEffect::Propose`] must be reported, once).
    pub fn proposed(&mut self, from: A, command: &Command, proposal: Proposal) -> Vec<KvEffect<A>> {
        let effects = self.settle(from, command, proposal);
        self.proposing = self.proposing.saturating_sub(1);
        if self.proposing == 0 {
            self.unclaimed.clear();
        }
        effects
    }

    fn settle(&mut self, from: A, command: &Command, proposal: Proposal) -> Vec<KvEffect<A>> {
        match proposal {
            Proposal::Accepted { index, term } => {
                if index <= self.applied {
                    // Applied before the driver reported the proposal (it
                    // need not hold the service across the propose, and a
                    // one-server cluster commits at once): answered as if
                    // it had waited, from what was applied there, or else
                    // (a snapshot covered it) from the session table.
                    let applied = self.unclaimed.remove(&index);
                    let result = match applied {
                        Some(u)
                            if u.term == term
                                && u.client == command.client
                                && u.seq == command.seq =>
                        {
                            u.output.ok_or(())
                        }
                        Some(_) => Err(()),
                        None => self
                            .store
                            .applied_output(command.client, command.seq)
                            .cloned()
                            .ok_or(()),
                    };
                    let result = result.map_err(|()| Refusal::WrongLeader {
                        hint: self.leader_position(),
                    });
                    return vec![reply(from, command, result)];
                }
                let waiting = Pending {
                    term,
                    client: command.client,
                    seq: command.seq,
                    reply_to: from,
                };
                if term < self.term {
                    // Its leader's term ended before the proposal was
                    // reported.
                    return vec![self.refuse(waiting)];
                }
                // A request that waited at the same index lost its entry
                // to this one (a new term's leader overwrote it).
                match self.pending.insert(index, waiting) {
                    Some(old) => vec![self.refuse(old)],
                    None => Vec::new(),
                }
            }
            Proposal::NotLeader { leader_hint } => {
                let hint = leader_hint.and_then(|id| self.position(id));
                vec![reply(from, command, Err(Refusal::WrongLeader { hint }))]
            }
            Proposal::Stopped => vec![reply(from, command, Err(Refusal::ShuttingDown))],
        }
    }

    /// Raft applied the entry `command` (its log bytes) at `index` in
    /// `term`; the persisted Raft state now takes `raft_state_size` bytes.
    pub fn applied(
        &mut self,
        index: LogIndex,
        term: Term,
        command: &[u8],
        raft_state_size: usize,
    ) -> Result<Vec<KvEffect<A>>, ApplyError> {
        if index <= self.applied {
            return Err(ApplyError::Behind {
                what: "entry",
                index,
                applied: self.applied,
            });
        }
        if index != self.applied.next() {
            return Err(ApplyError::Gap {
                index,
                applied: self.applied,
            });
        }
        self.applied = index;
        let mut effects = Vec::new();
        let waiting = self.pending.remove(&index);
        let Ok(command) = Command::decode(command) else {
            // No correct cluster logs such bytes. The log moves on past
            // them; whoever waited there is refused.
            self.undecodable += 1;
            effects.extend(waiting.map(|w| self.refuse(w)));
            return Ok(effects);
        };
        let output = self.store.apply(&command);
        if waiting.is_none() && self.proposing > 0 {
            self.unclaimed.insert(
                index,
                Unclaimed {
                    term,
                    client: command.client,
                    seq: command.seq,
                    output: output.clone(),
                },
            );
        }
        if let Some(waiting) = waiting {
            // Answer only from the entry proposed for it, in its term.
            effects.push(match output {
                Some(output)
                    if waiting.term == term
                        && waiting.client == command.client
                        && waiting.seq == command.seq =>
                {
                    KvEffect::Reply {
                        to: waiting.reply_to,
                        reply: Reply {
                            client: waiting.client,
                            seq: waiting.seq,
                            result: Ok(output),
                        },
                    }
                }
                _ => self.refuse(waiting),
            });
        }
        if self
            .max_raft_state
            .is_some_and(|max| raft_state_size >= max)
        {
            effects.push(KvEffect::Snapshot {
                index,
                data: self.store.encode(),
            });
        }
        Ok(effects)
    }

    /// Raft installed a snapshot through `index` (a leader's, or this
    /// server's own at restart): it replaces the store (§7), and the
    /// requests it covers are answered from its session table or refused.
    pub fn snapshot_installed(
        &mut self,
        index: LogIndex,
        data: &[u8],
    ) -> Result<Vec<KvEffect<A>>, ApplyError> {
        if index <= self.applied {
            return Err(ApplyError::Behind {
                what: "snapshot",
                index,
                applied: self.applied,
            });
        }
        let store = Store::decode(data).map_err(|e| ApplyError::Undecodable {
            index,
            reason: e.to_string(),
        })?;
        self.store = store;
        self.applied = index;
        let rest = self.pending.split_off(&index.next());
        let covered = std::mem::replace(&mut self.pending, rest);
        Ok(covered
            .into_values()
            .map(
                |waiting| match self.store.applied_output(waiting.client, waiting.seq) {
                    Some(output) => KvEffect::Reply {
                        to: waiting.reply_to.clone(),
                        reply: Reply {
                            client: waiting.client,
                            seq: waiting.seq,
                            result: Ok(output.clone()),
                        },
                    },
                    None => self.refuse(waiting),
                },
            )
            .collect())
    }

    /// The Raft peer's term, the leader it knows of, and whether it leads
    /// itself, as they are now: call it whenever they change (or
    /// periodically). Every request waiting in another term, or on a peer
    /// that no longer leads, is refused.
    pub fn leadership(
        &mut self,
        term: Term,
        leader: Option<NodeId>,
        leads: bool,
    ) -> Vec<KvEffect<A>> {
        if (term, leader, leads) == (self.term, self.leader, self.leads) {
            // Nothing changed: every request still waits in the term it
            // was accepted in, on a peer that leads it (or in a later
            // term this report has not caught up with).
            return Vec::new();
        }
        self.term = term;
        self.leader = leader;
        self.leads = leads;
        let (lost, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(_, w)| !leads || w.term != term);
        self.pending = kept;
        lost.into_values().map(|w| self.refuse(w)).collect()
    }

    /// Every waiting request is dropped without an answer (the server
    /// stops; its clerks time out and retry elsewhere). Returns how many.
    pub fn stop(&mut self) -> usize {
        self.unclaimed.clear();
        self.proposing = 0;
        std::mem::take(&mut self.pending).len()
    }

    /// Bug catalogue (test-only, feature `bug-catalogue`): from now on
    /// this service answers every Get at once from its own copy of the
    /// store, without going through the log, as a careless implementation
    /// of fast reads would. A follower or a deposed leader then serves
    /// stale values: jepsen-lite (`run --bug local-reads`) must find the
    /// history not linearizable, on either backend.
    #[cfg(feature = "bug-catalogue")]
    pub fn serve_local_reads(&mut self) {
        self.local_reads = true;
    }

    /// The replicated store, as this server has applied it (it may lag
    /// the cluster).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The last log index applied to the store.
    pub fn applied_index(&self) -> LogIndex {
        self.applied
    }

    /// Applied entries whose bytes were not a command (zero in a correct
    /// cluster).
    pub fn undecodable_entries(&self) -> u64 {
        self.undecodable
    }

    /// How many requests wait for their entries.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// The position of peer `id` in the member list (what clerks call a
    /// server).
    fn position(&self, id: NodeId) -> Option<u64> {
        self.members.iter().position(|m| *m == id).map(|p| p as u64)
    }

    /// The position of the leader known now.
    fn leader_position(&self) -> Option<u64> {
        self.leader.and_then(|id| self.position(id))
    }

    /// Fails a waiting request (its entry or its leader was lost), with
    /// the leader known now as the hint.
    fn refuse(&self, waiting: Pending<A>) -> KvEffect<A> {
        let hint = self.leader_position();
        KvEffect::Reply {
            to: waiting.reply_to,
            reply: Reply {
                client: waiting.client,
                seq: waiting.seq,
                result: Err(Refusal::WrongLeader { hint }),
            },
        }
    }
}

fn reply<A>(to: A, command: &Command, result: Result<Output, Refusal>) -> KvEffect<A> {
    KvEffect::Reply {
        to,
        reply: Reply {
            client: command.client,
            seq: command.seq,
            result,
        },
    }
}
