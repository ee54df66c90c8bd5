//! # The Raft core as a stateright model
//!
//! Each server is a stateright [`Actor`] whose callbacks do nothing but call
//! the handlers of [`checked_raft::Node`], the very code a production driver
//! runs, and translate the [`Effect`]s it returns into stateright commands:
//!
//! | effect | stateright |
//! | --- | --- |
//! | `Persist(op)` | executed on the server's [`Stored`], then `Out::save` |
//! | `Send { to, message }` | `Out::send` |
//! | `ResetElectionTimer` | `Out::set_timer(Timer::Election)` |
//! | `SetHeartbeatTimer` | `Out::set_timer(Timer::Heartbeat)` |
//! | `ApplyEntries`, `ApplySnapshot` | the state machine ([`App`]) applies them |
//!
//! Every decision lives in the core. Timers fire in any order at any time,
//! the network loses, duplicates and reorders as configured, and servers
//! crash and come back through `Recover`, which restarts the core from
//! exactly what its persist effects saved: a server that forgot to persist a
//! vote forgets it here too (stateright's own Raft example persists nothing
//! and so loses Election Safety after a crash).
//!
//! Clients are modelled by a `Propose(v)` timer per value: when it fires on
//! the leader, the leader proposes `v`. With snapshots on, a `Snapshot`
//! timer lets the application snapshot its applied prefix at any moment.
//!
//! ## Properties
//!
//! The properties are those of Figure 3, evaluated on every reachable state
//! by the functions of [`checked_raft::invariants`] shared with the unit
//! tests and the simulator. The ones that speak of the past (Election
//! Safety counts a leader that has since stepped down; State Machine Safety
//! counts entries applied before a crash) read a [`History`] that each
//! server keeps beside its storage, where crashes cannot erase it. The core
//! never reads it. `Sometimes` properties show the model is not vacuous.
//!
//! ## Bounds
//!
//! The search is exhaustive within [`Bounds`]: states past the bounds are not
//! explored. Four reductions shrink the space without losing behaviour:
//! symmetry reduction identifies states that differ only by a permutation of
//! server ids (sound if the core treats ids alike, which every search checks
//! on each distinct step it takes: [`equivariance`]), and [`RaftModel`] adds
//! four (its module documentation gives each argument; tests check each
//! against the unreduced model; each claim one makes about the core is
//! checked in every search: [`audit`], [`ledger`]):
//!
//! 1. it takes off the network the messages the core itself calls stale
//!    ([`Node::is_stale`]), which could only ever be delivered as no-ops.
//!    Discarding a message is something a lossy network does anyway, so a
//!    violation found with the reduction is real. That a discarded message
//!    would have been a no-op is checked in every search: when it is
//!    discarded ([`audit`]: a message that does something fails "Stale
//!    messages are no-ops" and stays in flight), and after the search at
//!    every core its receiver was seen to step to from there ([`ledger`]:
//!    it must stay stale and inert);
//! 2. a crashed server's volatile state is replaced at once by what it
//!    will restart with, so crashes that differ only in what they lose are
//!    one state (checked at every recovery: "Crashed servers restart as
//!    forgotten");
//! 3. on a lossy duplicating network, drops are not explored as steps: a
//!    dropped message there only takes away a choice, and the same server
//!    states are reached without it (a claim about the model alone);
//! 4. on a duplicating network, a state whose messages in flight are a
//!    subset of those of a state already met with the same servers is not
//!    explored: every run from it is a run from that state (a claim about
//!    the model alone; `subsume.rs` gives the argument, and the test
//!    checks every state left out against the state that covers it).
//!
//! Besides, a step that leaves the state exactly as it was is not offered
//! as a step: it reaches no state, so leaving it out changes only how many
//! steps a search generates (on the duplicating network, about half).

mod actor;
pub mod audit;
mod describe;
pub mod equivariance;
pub mod ledger;
mod properties;
pub mod route;
pub mod run;
pub mod scenarios;
pub mod shortest;
pub mod sleep;
pub mod subsume;
mod symmetry;
mod system;

pub use actor::{Disk, Msg, RaftActor, Saved, Server, Timer, node_id, value};
pub use audit::{
    Audit, RESTARTS_AS_FORGOTTEN, SERVERS_ARE_INTERCHANGEABLE, STALE_MESSAGES_ARE_NO_OPS,
};
pub use describe::{describe_action, describe_servers, log_terms};
use equivariance::{Equivariance, Input};
pub use properties::{
    COMMITTED_IS_DURABLE, DURABLE_CLAIMS, ELECTION_SAFETY, LEADER_APPEND_ONLY, LEADER_COMPLETENESS,
    LOG_MATCHING, NODE_INVARIANTS, PROPERTIES, STATE_MACHINE_SAFETY, bug_property, holds,
    live_nodes, property_name,
};
pub use system::RaftModel;

use checked_raft::invariants::{
    History, Property as Invariant, Violation, check_committed_durable, check_durable,
    check_property,
};
use checked_raft::sim::app::App;
use checked_raft::{Config, Effect, Entry, LogIndex, Message, Node, NodeId, Role, Stored, Term};
use stateright::actor::{
    Actor, ActorModel, ActorModelState, Envelope, Id, Network, Out, model_timeout,
};
use stateright::{Expectation, Property, Rewrite, RewritePlan};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The network semantics to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    /// FIFO channels between each pair of servers.
    Ordered,
    /// Any in-flight message may be delivered next; each is delivered once.
    Unordered,
    /// Any message ever sent may be delivered again, any number of times.
    Duplicating,
}

impl NetworkKind {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NetworkKind::Ordered => "ordered",
            NetworkKind::Unordered => "unordered",
            NetworkKind::Duplicating => "duplicating",
        }
    }
}

/// The bounds of an exhaustive search.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// Servers in the cluster.
    pub servers: usize,
    /// No server's term exceeds this.
    pub max_term: u64,
    /// Distinct client values that may be proposed.
    pub values: u8,
    /// No server's log grows past this index.
    pub max_log: u64,
    /// At most this many servers are down at once (each may crash and
    /// recover any number of times).
    pub crashes: usize,
    /// Network semantics.
    pub network: NetworkKind,
    /// Whether the network may also drop any message.
    pub lossy: bool,
    /// Whether applications snapshot (and leaders send InstallSnapshot).
    pub snapshots: bool,
    /// Most entries one AppendEntries carries (raft.tla sends one).
    pub max_entries: usize,
    /// Whether leaders' heartbeat timers fire. Off restricts the
    /// environment (as if heartbeats were infinitely slow): it can hide
    /// behaviour, so proofs keep it on; bug hunts whose counterexample needs
    /// no heartbeat turn it off to search faster.
    pub heartbeats: bool,
    /// At most this many copies of one message in flight, in the ordered and
    /// unordered networks (heartbeats would otherwise grow the network
    /// without end).
    pub max_copies: usize,
    /// Whether a server's writes complete in a step of their own, as on a
    /// disk (the runtime's storage rounds): a leader's AppendEntries leave
    /// before its own write (thesis §10.2.1), replies and votes wait for
    /// it, and a crash loses what is not yet written. Off, each handler's
    /// writes are durable within its step.
    pub async_writes: bool,
    /// The catalogue bug every server reintroduces.
    #[cfg(feature = "bug-catalogue")]
    pub bug: Option<checked_raft::bugs::Bug>,
}

impl Default for Bounds {
    /// The base bounds: what `check` explores for every bound not given on
    /// its command line (given none, it runs the scenarios of
    /// [`crate::scenarios`] instead). Exhaustive in a fraction of a second.
    fn default() -> Bounds {
        Bounds {
            servers: 3,
            max_term: 1,
            values: 1,
            max_log: 1,
            crashes: 0,
            network: NetworkKind::Unordered,
            lossy: false,
            snapshots: false,
            max_entries: 1,
            heartbeats: true,
            max_copies: 1,
            async_writes: false,
            #[cfg(feature = "bug-catalogue")]
            bug: None,
        }
    }
}

impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} servers, term <= {}, {} value(s), log <= {}, {} crash(es), {} network{}, \
             <= {} entr(y/ies) per message, <= {} cop(y/ies) of a message in flight, \
             snapshots {}{}{}",
            self.servers,
            self.max_term,
            self.values,
            self.max_log,
            self.crashes,
            self.network.name(),
            if self.lossy { " (lossy)" } else { "" },
            self.max_entries,
            self.max_copies,
            if self.snapshots { "on" } else { "off" },
            if self.heartbeats {
                ""
            } else {
                ", heartbeats never fire"
            },
            if self.async_writes {
                ", writes asynchronous"
            } else {
                ""
            },
        )
    }
}

/// Configuration the properties and boundary read.
#[derive(Clone, Debug)]
pub struct ModelCfg {
    /// The bounds of the search.
    pub bounds: Bounds,
}

/// A state of [`RaftModel`].
pub type RaftState = ActorModelState<RaftActor, Audit>;

/// Builds the model for `bounds`.
pub fn model(bounds: Bounds) -> RaftModel {
    RaftModel::new(actor_model(bounds))
}

/// Stateright's actor model of the servers: the actors, the network and the
/// crashes. [`RaftModel`] adds the properties and the bounds.
fn actor_model(bounds: Bounds) -> ActorModel<RaftActor, ModelCfg, Audit> {
    let network = match bounds.network {
        NetworkKind::Ordered => Network::new_ordered([]),
        NetworkKind::Unordered => Network::new_unordered_nonduplicating([]),
        NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
    };
    let actors = (0..bounds.servers).map(|_| RaftActor {
        bounds: bounds.clone(),
        equivariance: None,
    });
    ActorModel::new(
        ModelCfg {
            bounds: bounds.clone(),
        },
        Audit::default(),
    )
    .actors(actors)
    .init_network(network)
    .max_crashes(bounds.crashes)
}

/// Bounds within which the model checker finds `bug`, each in seconds: the
/// smallest cluster, terms, values and log that the bug's counterexample
/// needs, with crashes or snapshots where the bug is about them.
#[cfg(feature = "bug-catalogue")]
pub fn bug_bounds(bug: checked_raft::bugs::Bug) -> Bounds {
    use checked_raft::bugs::Bug;
    let base = Bounds {
        bug: Some(bug),
        ..Bounds::default()
    };
    match bug {
        // Two elections in one term: no log needed.
        Bug::VoteNotPersisted | Bug::TermNotPersisted => Bounds {
            max_term: 1,
            values: 0,
            max_log: 0,
            crashes: 1,
            ..base
        },
        Bug::TwoVotesPerTerm => Bounds {
            max_term: 1,
            values: 0,
            max_log: 0,
            ..base
        },
        // The overwrite keeps the log at one entry, but a client proposes
        // only while the log has room for one more.
        Bug::LeaderOverwritesOwnEntries => Bounds {
            max_term: 1,
            values: 2,
            max_log: 2,
            ..base
        },
        Bug::NoElectionRestriction => Bounds {
            max_term: 2,
            max_log: 1,
            ..base
        },
        Bug::TruncateOnStaleAppend => Bounds {
            max_term: 2,
            max_log: 2,
            max_entries: 2,
            ..base
        },
        // Figure 8 needs four elections with three servers: deeper than a
        // breadth-first frontier can hold, so the depth-first part of the
        // hunt finds it (delivering messages before firing timers, it
        // reaches four elections won in seconds). Its leaders retry at once
        // after a conflict, so
        // heartbeats only slow the hunt, and it needs no reordering, so an
        // ordered network (fewer interleavings) still exhibits it.
        Bug::CommitPreviousTermByCounting => Bounds {
            max_term: 4,
            max_log: 1,
            heartbeats: false,
            network: NetworkKind::Ordered,
            ..base
        },
        Bug::SnapshotMovesStateMachineBack => Bounds {
            max_term: 1,
            max_log: 1,
            snapshots: true,
            ..base
        },
        // A follower acknowledges an entry twice (the second is discarded),
        // then a heartbeat finds a second entry unacknowledged.
        Bug::MatchIndexRegresses => Bounds {
            max_term: 1,
            max_log: 2,
            ..base
        },
        // One election is enough to tell the servers apart; the first
        // start of each server, to see one bootstrap.
        Bug::VotesByServerId | Bug::BootstrapByLowestId => Bounds {
            max_term: 1,
            values: 0,
            max_log: 0,
            ..base
        },
        // The example: two elections, no log.
        Bug::StaleVoteCounted => Bounds {
            max_term: 2,
            values: 0,
            max_log: 0,
            ..base
        },
        Bug::CommitPastSentEntries => Bounds {
            max_term: 1,
            max_log: 2,
            ..base
        },
        // A leader's entry committed with one follower while the leader's
        // own write is pending; the leader crashes and, with the other
        // follower, elects a leader without it.
        Bug::LeaderCountsUnpersisted => Bounds {
            max_term: 2,
            max_log: 1,
            crashes: 1,
            async_writes: true,
            heartbeats: false,
            ..base
        },
        // A follower's write of term 1's entry is pending when term 2's
        // leader replaces it; the first write's report then arrives. With
        // three servers that leader can be elected without the entry only
        // if term 1's leader lost its own unwritten copy in a crash. It
        // needs no reordering, so an ordered network (fewer interleavings)
        // still exhibits it.
        Bug::DurableByIndexOnly => Bounds {
            max_term: 2,
            max_log: 1,
            crashes: 1,
            async_writes: true,
            heartbeats: false,
            network: NetworkKind::Ordered,
            ..base
        },
    }
}
