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
//! three (its module documentation gives each argument; tests check each
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
//!    states are reached without it (a claim about the model alone).

pub mod audit;
pub mod equivariance;
pub mod ledger;
pub mod run;
pub mod scenarios;
mod symmetry;
mod system;

pub use audit::{
    Audit, RESTARTS_AS_FORGOTTEN, SERVERS_ARE_INTERCHANGEABLE, STALE_MESSAGES_ARE_NO_OPS,
};
use equivariance::{Equivariance, Input};
pub use system::RaftModel;

use checked_raft::invariants::{History, Property as Invariant, Violation, check_property};
use checked_raft::sim::app::App;
use checked_raft::{Config, Effect, Entry, LogIndex, Message, Node, NodeId, Role, Stored, Term};
use stateright::actor::{
    Actor, ActorModel, ActorModelState, Envelope, Id, Network, Out, model_timeout,
};
use stateright::{Expectation, Property, Rewrite, RewritePlan};
use std::borrow::Cow;
use std::cmp::Ordering;
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
             snapshots {}{}",
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
        )
    }
}

/// A message on the model's network: the core's [`Message`]. (A local type,
/// so that stateright's traits can be implemented for it.)
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Msg(pub Message);

/// The timers of one server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// The core's election timer ([`Effect::ResetElectionTimer`]).
    Election,
    /// The core's heartbeat timer ([`Effect::SetHeartbeatTimer`]).
    Heartbeat,
    /// A client proposing value `v` to this server.
    Propose(u8),
    /// The application snapshotting what it has applied.
    Snapshot,
}

/// What a server keeps across crashes: what the core's persist effects
/// stored, and the server's history (ghost state, never read by the core).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Disk {
    /// Stable storage, as the core's [`Effect::Persist`] effects left it.
    pub stored: Stored,
    /// What this server has shown so far, for the properties.
    pub history: History,
}

/// What `Out::save` saves: the server's [`Disk`], shared with the server's
/// own copy (a newtype so that renaming servers can share it too).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Saved(pub Arc<Disk>);

/// One server's state in the model. The core and the disk sit behind `Arc`s:
/// the checker clones and permutes states far more often than a step
/// changes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Server {
    /// The core.
    pub node: Arc<Node>,
    /// The state machine (volatile: restarts from the snapshot).
    pub app: App,
    /// A copy of what is on disk (what `Out::save` last saved).
    pub disk: Arc<Disk>,
    /// This server has restarted from its storage at least once.
    pub restarted: bool,
    /// It applied something after restarting (the "rejoins" example).
    pub applied_after_restart: bool,
    /// It installed a snapshot sent by a leader.
    pub installed_snapshot: bool,
}

/// A server: the actor whose callbacks call the core.
#[derive(Clone, Debug)]
pub struct RaftActor {
    bounds: Bounds,
    /// Symmetry reduction's claim, checked on every distinct step (absent
    /// when the search has no symmetry reduction or is unaudited).
    pub(crate) equivariance: Option<Arc<Equivariance>>,
}

impl RaftActor {
    /// Has the core carry out `input` through [`equivariance::apply`], the
    /// model's one call of the core's handlers, and checks the step against
    /// every renaming of the servers the first time it is taken.
    fn step(&self, server: &mut Server, input: &Input) -> Result<Vec<Effect>, String> {
        let before = Arc::clone(&server.node);
        let output = equivariance::apply(Arc::make_mut(&mut server.node), input);
        if let Some(check) = &self.equivariance {
            check.check(&before, input, &server.node, &output);
        }
        output
    }

    fn config(&self, id: Id) -> Config {
        let members = (0..self.bounds.servers).map(node_id).collect();
        let mut config = Config::new(node_id(usize::from(id)), members);
        config.max_entries_per_message = self.bounds.max_entries.max(1);
        #[cfg(feature = "bug-catalogue")]
        {
            config.bug = self.bounds.bug;
        }
        config
    }

    /// Carries out the core's effects in order, then records what the
    /// server now shows in its history and saves the disk if it changed.
    fn execute(&self, id: Id, server: &mut Server, effects: Vec<Effect>, o: &mut Out<Self>) {
        let mut disk = Disk::clone(&server.disk);
        let mut persisted = false;
        for effect in effects {
            match effect {
                Effect::Persist(op) => {
                    persisted = true;
                    let result = disk.stored.apply(&op).map_err(|e| Violation {
                        property: Invariant::NodeInvariants,
                        detail: format!("storage refused {op:?}: {e}"),
                    });
                    disk.history.record(result);
                }
                Effect::Send { to, message } => o.send(actor_id(to), Msg(message)),
                Effect::ResetElectionTimer => o.set_timer(Timer::Election, model_timeout()),
                Effect::SetHeartbeatTimer => o.set_timer(Timer::Heartbeat, model_timeout()),
                Effect::ApplyEntries(entries) => {
                    for entry in &entries {
                        self.apply(id, server, &mut disk.history, entry);
                    }
                }
                Effect::ApplySnapshot(snapshot) => {
                    let result = server.app.restore(&snapshot).map_err(|detail| Violation {
                        property: Invariant::StateMachineSafety,
                        detail: format!("{}: {detail}", node_id(id.into())),
                    });
                    disk.history.record(result);
                    server.installed_snapshot = true;
                    server.applied_after_restart |= server.restarted;
                }
            }
        }
        let observed = disk.history.observe(&server.node);
        disk.history.record(observed);
        if persisted || disk.history != server.disk.history {
            server.disk = Arc::new(disk);
            o.save(Saved(Arc::clone(&server.disk)));
        }
    }

    fn apply(&self, id: Id, server: &mut Server, history: &mut History, entry: &Entry) {
        let me = node_id(id.into());
        let applied = history.observe_applied(me, entry);
        history.record(applied);
        let result = server.app.apply(entry).map_err(|detail| Violation {
            property: Invariant::StateMachineSafety,
            detail: format!("{me}: {detail}"),
        });
        history.record(result);
        server.applied_after_restart |= server.restarted;
    }

    /// What is left of `server` while it is down: its disk, and the core as
    /// it will restart from that disk (its volatile state is gone). The
    /// state machine and the restart flags are rebuilt when it restarts.
    /// A disk the core refuses is left for `on_start` to report.
    pub(crate) fn down(&self, id: Id, server: &Server) -> Server {
        match Node::restart(self.config(id), &server.disk.stored) {
            Ok((node, _)) => Server {
                node: Arc::new(node),
                app: App::new(),
                disk: Arc::clone(&server.disk),
                restarted: false,
                applied_after_restart: false,
                installed_snapshot: server.installed_snapshot,
            },
            Err(_) => server.clone(),
        }
    }

    /// The client timers stay armed; they only do something on a leader.
    fn arm_client_timers(&self, o: &mut Out<Self>) {
        for v in 0..self.bounds.values {
            o.set_timer(Timer::Propose(v), model_timeout());
        }
        if self.bounds.snapshots {
            o.set_timer(Timer::Snapshot, model_timeout());
        }
    }
}

impl Actor for RaftActor {
    type Msg = Msg;
    type Timer = Timer;
    type State = Server;
    type Storage = Saved;
    type Random = ();

    fn on_start(&self, id: Id, storage: &Option<Saved>, o: &mut Out<Self>) -> Server {
        let mut disk = storage
            .as_ref()
            .map(|saved| Disk::clone(&saved.0))
            .unwrap_or_default();
        let config = self.config(id);
        let (node, effects, refused) = match Node::restart(config.clone(), &disk.stored) {
            Ok((node, effects)) => (node, effects, None),
            Err(e) => {
                let (node, effects) = Node::new(config).expect("the model's config is valid");
                (node, effects, Some(e))
            }
        };
        if let Some(e) = refused {
            disk.history.record(Err(Violation {
                property: Invariant::NodeInvariants,
                detail: format!("restart refused its own storage: {e}"),
            }));
        }
        let mut server = Server {
            node: Arc::new(node),
            app: App::new(),
            disk: Arc::new(disk),
            restarted: storage.is_some(),
            applied_after_restart: false,
            installed_snapshot: false,
        };
        self.arm_client_timers(o);
        // The restart's own ApplySnapshot restores the state machine; it is
        // not an installation from a leader.
        let installed = server.installed_snapshot;
        self.execute(id, &mut server, effects, o);
        server.installed_snapshot = installed;
        server.applied_after_restart = false;
        server
    }

    fn on_msg(&self, id: Id, state: &mut Cow<Server>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let mut server = state.as_ref().clone();
        let input = Input::Deliver {
            from: node_id(src.into()),
            message: msg.0,
        };
        match self.step(&mut server, &input) {
            Ok(effects) => self.execute(id, &mut server, effects, o),
            Err(e) => {
                // A correct peer never sends what the core must refuse.
                Arc::make_mut(&mut server.disk)
                    .history
                    .record(Err(Violation {
                        property: Invariant::NodeInvariants,
                        detail: format!("core refused a message: {e}"),
                    }));
                o.save(Saved(Arc::clone(&server.disk)));
            }
        }
        // Always a new state, even when the core ignored the message (a
        // stale reply): stateright then consumes the message, as a server
        // does. A delivery that stateright saw as a no-op would leave the
        // message in flight forever.
        *state = Cow::Owned(server);
    }

    fn on_timeout(&self, id: Id, state: &mut Cow<Server>, timer: &Timer, o: &mut Out<Self>) {
        let mut server = state.as_ref().clone();
        let effects = match timer {
            Timer::Election | Timer::Heartbeat => {
                let input = match timer {
                    Timer::Election => Some(Input::ElectionTimeout),
                    _ if !self.bounds.heartbeats => None,
                    _ => Some(Input::HeartbeatTimeout),
                };
                let effects = match input {
                    // Timeouts are never refused.
                    Some(input) => self.step(&mut server, &input).unwrap_or_default(),
                    None => Vec::new(),
                };
                if effects.is_empty() && server == **state {
                    // The core ignored it (a leader's election timer, a
                    // former leader's heartbeat): firing changed nothing, so
                    // it is no step at all.
                    o.set_timer(timer.clone(), model_timeout());
                    return;
                }
                effects
            }
            Timer::Propose(v) => {
                o.set_timer(timer.clone(), model_timeout());
                if server.node.log().last_index() >= LogIndex(self.bounds.max_log) {
                    return;
                }
                match self.step(&mut server, &Input::Propose(value(*v))) {
                    Ok(effects) => effects,
                    Err(_) => return,
                }
            }
            Timer::Snapshot => {
                o.set_timer(timer.clone(), model_timeout());
                let applied = server.node.last_applied();
                if applied <= server.node.log().snapshot_index() {
                    return;
                }
                let input = Input::Compact {
                    index: applied,
                    data: server.app.snapshot_data(),
                };
                match self.step(&mut server, &input) {
                    Ok(effects) => effects,
                    Err(_) => return,
                }
            }
        };
        self.execute(id, &mut server, effects, o);
        if server != **state {
            *state = Cow::Owned(server);
        }
    }

    fn name(&self) -> String {
        "raft".into()
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

/// The properties, named as in the paper, with what each expects.
pub const PROPERTIES: [(Expectation, &str); 14] = [
    (Expectation::Always, ELECTION_SAFETY),
    (Expectation::Always, LEADER_APPEND_ONLY),
    (Expectation::Always, LOG_MATCHING),
    (Expectation::Always, LEADER_COMPLETENESS),
    (Expectation::Always, STATE_MACHINE_SAFETY),
    (Expectation::Always, NODE_INVARIANTS),
    (Expectation::Always, STALE_MESSAGES_ARE_NO_OPS),
    (Expectation::Always, RESTARTS_AS_FORGOTTEN),
    (Expectation::Always, SERVERS_ARE_INTERCHANGEABLE),
    (Expectation::Sometimes, "a leader is elected"),
    (Expectation::Sometimes, "an entry commits"),
    (Expectation::Sometimes, "a leader is elected in term >= 2"),
    (
        Expectation::Sometimes,
        "a restarted server rejoins and applies",
    ),
    (
        Expectation::Sometimes,
        "a snapshot is installed by InstallSnapshot",
    ),
];

/// Name of the Election Safety property.
pub const ELECTION_SAFETY: &str = "Election Safety";
/// Name of the Leader Append-Only property.
pub const LEADER_APPEND_ONLY: &str = "Leader Append-Only";
/// Name of the Log Matching property.
pub const LOG_MATCHING: &str = "Log Matching";
/// Name of the Leader Completeness property.
pub const LEADER_COMPLETENESS: &str = "Leader Completeness";
/// Name of the State Machine Safety property.
pub const STATE_MACHINE_SAFETY: &str = "State Machine Safety";
/// Name of the property that each server's own invariants hold.
pub const NODE_INVARIANTS: &str = "Server invariants";

/// The property `check` reports when it finds the catalogue bug `bug`: the
/// property of the paper it breaks, or, for a bug that breaks only a claim
/// the reductions rest on, the property named for that claim.
pub fn bug_property(bug: checked_raft::bugs::Bug) -> &'static str {
    use checked_raft::bugs::Bug;
    match (bug.breaks(), bug) {
        (Some(property), _) => property_name(property),
        (None, Bug::VotesByServerId) => SERVERS_ARE_INTERCHANGEABLE,
        (None, _) => STALE_MESSAGES_ARE_NO_OPS,
    }
}

/// The property name the model uses for an invariant of the core crate.
pub fn property_name(invariant: Invariant) -> &'static str {
    match invariant {
        Invariant::ElectionSafety => ELECTION_SAFETY,
        Invariant::LeaderAppendOnly => LEADER_APPEND_ONLY,
        Invariant::LogMatching => LOG_MATCHING,
        Invariant::LeaderCompleteness => LEADER_COMPLETENESS,
        Invariant::StateMachineSafety => STATE_MACHINE_SAFETY,
        Invariant::NodeInvariants => NODE_INVARIANTS,
    }
}

/// Whether `invariant` holds in `state`: over every server's history
/// (crashed ones included) and the live servers' cores.
pub fn holds(state: &RaftState, invariant: Invariant) -> bool {
    let histories: Vec<&History> = state.actor_states.iter().map(|s| &s.disk.history).collect();
    check_property(invariant, &histories, &live_nodes(state)).is_ok()
}

/// The cores of the servers that are up.
pub fn live_nodes(state: &RaftState) -> Vec<&Node> {
    state
        .actor_states
        .iter()
        .zip(&state.crashed)
        .filter(|(_, crashed)| !**crashed)
        .map(|(s, _)| s.node.as_ref())
        .collect()
}

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

/// The properties the model checks, named as in [`PROPERTIES`].
fn properties() -> Vec<Property<RaftModel>> {
    vec![
        Property::always(ELECTION_SAFETY, |_, s: &RaftState| {
            holds(s, Invariant::ElectionSafety)
        }),
        Property::always(LEADER_APPEND_ONLY, |_, s: &RaftState| {
            holds(s, Invariant::LeaderAppendOnly)
        }),
        Property::always(LOG_MATCHING, |_, s: &RaftState| {
            holds(s, Invariant::LogMatching)
        }),
        Property::always(LEADER_COMPLETENESS, |_, s: &RaftState| {
            holds(s, Invariant::LeaderCompleteness)
        }),
        Property::always(STATE_MACHINE_SAFETY, |_, s: &RaftState| {
            holds(s, Invariant::StateMachineSafety)
        }),
        Property::always(NODE_INVARIANTS, |_, s: &RaftState| {
            holds(s, Invariant::NodeInvariants)
        }),
        Property::always(STALE_MESSAGES_ARE_NO_OPS, |_, s: &RaftState| {
            s.history.holds(audit::Claim::StaleIsNoOp)
        }),
        Property::always(RESTARTS_AS_FORGOTTEN, |_, s: &RaftState| {
            s.history.holds(audit::Claim::RestartsAsForgotten)
        }),
        // Checked on steps, not states: a breach is reported after the
        // search (`RaftModel::final_audit`).
        Property::always(SERVERS_ARE_INTERCHANGEABLE, |_, _| true),
        Property::sometimes("a leader is elected", |_, s: &RaftState| {
            live_nodes(s).iter().any(|n| n.is_leader())
        }),
        Property::sometimes("an entry commits", |_, s: &RaftState| {
            live_nodes(s)
                .iter()
                .any(|n| n.commit_index() >= LogIndex(1))
        }),
        Property::sometimes("a leader is elected in term >= 2", |_, s: &RaftState| {
            live_nodes(s)
                .iter()
                .any(|n| n.is_leader() && n.current_term() >= Term(2))
        }),
        Property::sometimes(
            "a restarted server rejoins and applies",
            |_, s: &RaftState| {
                s.actor_states
                    .iter()
                    .zip(&s.crashed)
                    .any(|(server, crashed)| !crashed && server.applied_after_restart)
            },
        ),
        Property::sometimes(
            "a snapshot is installed by InstallSnapshot",
            |_, s: &RaftState| {
                s.actor_states
                    .iter()
                    .any(|server| server.installed_snapshot)
            },
        ),
    ]
}

/// States past the bounds are not explored.
fn within_boundary(bounds: &Bounds, state: &RaftState) -> bool {
    let servers_within = state.actor_states.iter().all(|s| {
        s.node.current_term() <= Term(bounds.max_term)
            && s.node.log().last_index() <= LogIndex(bounds.max_log)
    });
    servers_within && network_within(&state.network, bounds.max_copies)
}

/// At most `max` copies of any one message in flight (the constraint TLC
/// models of raft.tla use). Without it, heartbeats would grow the ordered and
/// unordered networks without end; the duplicating network is a set.
fn network_within(network: &Network<Msg>, max: usize) -> bool {
    match network {
        Network::UnorderedDuplicating(..) => true,
        Network::UnorderedNonDuplicating(counts) => counts.values().all(|&n| n <= max),
        Network::Ordered(channels) => channels.values().all(|queue| {
            queue
                .iter()
                .all(|m| queue.iter().filter(|other| *other == m).count() <= max)
        }),
    }
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
        // One election is enough to tell the servers apart.
        Bug::VotesByServerId => Bounds {
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
    }
}

/// The bytes of client value `v`: static, so that cloning an entry costs no
/// allocation or atomic reference count in the checker's hot path.
pub fn value(v: u8) -> bytes::Bytes {
    static VALUES: [u8; 256] = {
        let mut values = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            values[i] = i as u8;
            i += 1;
        }
        values
    };
    let v = usize::from(v);
    bytes::Bytes::from_static(&VALUES[v..=v])
}

/// The core's id of the server at actor index `index`.
pub fn node_id(index: usize) -> NodeId {
    NodeId(index as u64)
}

fn actor_id(node: NodeId) -> Id {
    Id::from(node.0 as usize)
}

// ----- symmetry reduction -----

fn rename_with<S>(plan: &RewritePlan<Id, S>) -> impl Fn(NodeId) -> NodeId + '_ {
    move |n| node_id(plan.rewrite(&actor_id(n)).into())
}

impl Rewrite<Id> for Msg {
    /// Messages carry no server ids (the sender travels in the envelope).
    fn rewrite<S>(&self, _: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

impl Rewrite<Id> for Saved {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        Saved(symmetry::rename_disk(&self.0, &rename_with(plan)))
    }
}

impl Rewrite<Id> for Server {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        let ids = std::iter::once(self.node.id()).chain(self.node.peers().iter().copied());
        let rename = rename_with(plan);
        if ids.into_iter().all(|n| rename(n) == n) {
            // The permutation fixes every server: share, do not copy.
            return self.clone();
        }
        Server {
            node: Arc::new(self.node.rename_nodes(&rename)),
            disk: symmetry::rename_disk(&self.disk, &rename),
            ..self.clone()
        }
    }
}

impl Server {
    /// What the server's state says without naming any server: servers are
    /// sorted by this first, so that states equal up to a permutation of ids
    /// sort alike and share a representative.
    fn symmetric_key(&self) -> impl Ord + '_ {
        let role = match self.node.role() {
            Role::Follower => (0, Vec::new()),
            Role::Candidate { votes_granted } => (1, vec![(votes_granted.len(), LogIndex(0))]),
            Role::Leader { progress } => {
                let mut p: Vec<_> = progress
                    .values()
                    .map(|p| (p.next_index.0 as usize, p.match_index))
                    .collect();
                p.sort_unstable();
                (2, p)
            }
        };
        (
            self.node.current_term(),
            self.node.voted_for().is_some(),
            role,
            self.node.log(),
            self.node.commit_index(),
            self.node.last_applied(),
            &self.app,
            (
                self.restarted,
                self.applied_after_restart,
                self.installed_snapshot,
            ),
        )
    }
}

impl PartialOrd for Server {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Server {
    fn cmp(&self, other: &Self) -> Ordering {
        self.symmetric_key()
            .cmp(&other.symmetric_key())
            .then_with(|| self.node.cmp(&other.node))
            .then_with(|| self.disk.cmp(&other.disk))
    }
}

/// A server's log as the terms of its entries, e.g. `1 1 2`.
pub fn log_terms(node: &Node) -> String {
    let terms: Vec<String> = node
        .log()
        .entries()
        .iter()
        .map(|e| e.term.0.to_string())
        .collect();
    terms.join(" ")
}

/// One line per server: role, term, vote, log (as terms), commit index.
pub fn describe_servers(state: &RaftState) -> Vec<String> {
    state
        .actor_states
        .iter()
        .zip(&state.crashed)
        .map(|(server, &crashed)| {
            let node = &server.node;
            let role = match node.role() {
                Role::Follower => "follower",
                Role::Candidate { .. } => "candidate",
                Role::Leader { .. } => "LEADER",
            };
            let snapshot = node.log().snapshot_index();
            format!(
                "{}: {:<9} term {} voted_for {:<4} log [{}{}] commit {}{}",
                node.id(),
                if crashed { "CRASHED" } else { role },
                node.current_term().0,
                node.voted_for().map_or("-".to_string(), |v| v.to_string()),
                if snapshot > LogIndex(0) {
                    format!("snap@{} ", snapshot.0)
                } else {
                    String::new()
                },
                log_terms(node),
                node.commit_index().0,
                server
                    .disk
                    .history
                    .violation()
                    .map_or(String::new(), |v| format!("  ({v})")),
            )
        })
        .collect()
}

/// One line for an action of the model.
pub fn describe_action(action: &stateright::actor::ActorModelAction<Msg, Timer, ()>) -> String {
    use stateright::actor::ActorModelAction as A;
    let name = |id: &Id| node_id(usize::from(*id)).to_string();
    match action {
        A::Deliver { src, dst, msg } => format!(
            "deliver {} -> {}: {}",
            name(src),
            name(dst),
            checked_raft::sim::describe(&msg.0)
        ),
        A::Drop(Envelope { src, dst, msg }) => format!(
            "drop {} -> {}: {}",
            name(src),
            name(dst),
            checked_raft::sim::describe(&msg.0)
        ),
        A::Timeout(id, Timer::Propose(v)) => format!("{} client proposes value {v}", name(id)),
        A::Timeout(id, Timer::Snapshot) => format!("{} application snapshots", name(id)),
        A::Timeout(id, timer) => format!("{} {timer:?} timeout", name(id)),
        A::Crash(id) => format!("{} crashes", name(id)),
        A::Recover(id) => format!("{} restarts from storage", name(id)),
        A::SelectRandom { actor, .. } => format!("{} random choice", name(actor)),
    }
}
