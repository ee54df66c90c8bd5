//! The servers as stateright actors: each callback calls the core's
//! handler and turns its effects into stateright commands (the table in
//! the crate documentation), and the renaming of servers that symmetry
//! reduction needs.

use super::*;
use checked_raft::sim::writes::{first_batch_len, waits_for_write};

/// A message on the model's network: the core's [`Message`]. (A local type,
/// so that stateright's traits can be implemented for it.)
///
/// The message is shared and its hash computed once, when it is sent: the
/// checker clones every message in flight with each state it makes, lists
/// each as an action, renames it with the state and hashes it several
/// times over (the network's fingerprint, the candidates of the canonical
/// representative, the comparison with the state before), and a message
/// never changes once sent. Equality and order are the message's own; the
/// cached hash is a function of the message, so equal messages hash alike.
#[derive(Clone)]
pub struct Msg(pub Arc<Message>, MessageHash);

/// A message's hash, computed once by [`Msg::new`] with fixed keys (every
/// thread of a search, and every run, computes the same).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MessageHash(u64);

impl Msg {
    /// `message`, ready to be put on the network.
    pub fn new(message: Message) -> Msg {
        use std::hash::{Hash, Hasher};
        let mut h = symmetry::hasher();
        message.hash(&mut h);
        let hash = MessageHash(h.finish());
        Msg(Arc::new(message), hash)
    }
}

impl PartialEq for Msg {
    fn eq(&self, other: &Msg) -> bool {
        self.1 == other.1 && (Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0)
    }
}

impl Eq for Msg {}

impl PartialOrd for Msg {
    fn partial_cmp(&self, other: &Msg) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Msg {
    fn cmp(&self, other: &Msg) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl std::hash::Hash for Msg {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.1.0);
    }
}

impl fmt::Debug for Msg {
    /// As the message alone: the hash is bookkeeping.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Msg").field(&*self.0).finish()
    }
}

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
    /// The server's pending writes complete (with asynchronous writes).
    Write,
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
    /// With asynchronous writes: the effects waiting for the next write,
    /// in the core's order (its persist effects, and the messages, entries
    /// and durability reports that must wait for them), as in the
    /// runtime's journal. Lost in a crash.
    pub pending: Vec<Effect>,
}

/// A server: the actor whose callbacks call the core.
#[derive(Clone, Debug)]
pub struct RaftActor {
    pub(crate) bounds: Bounds,
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

    /// Starts server `id` from `stored` (`Node::restart`, the model's one
    /// call of it), and checks the start against every renaming of the
    /// servers the first time it is made from this storage.
    fn restart(&self, id: Id, stored: &Stored) -> Result<(Node, Vec<Effect>), checked_raft::Error> {
        let started = Node::restart(self.config(id), stored);
        if let Some(check) = &self.equivariance {
            check.check_restart(
                &|n| self.node_config(n),
                node_id(usize::from(id)),
                stored,
                &started,
            );
        }
        started
    }

    pub(crate) fn config(&self, id: Id) -> Config {
        self.node_config(node_id(usize::from(id)))
    }

    /// The configuration of the server named `id`.
    fn node_config(&self, id: NodeId) -> Config {
        let members = (0..self.bounds.servers).map(node_id).collect();
        let mut config = Config::new(id, members);
        config.max_entries_per_message = self.bounds.max_entries.max(1);
        #[cfg(feature = "bug-catalogue")]
        {
            config.bug = self.bounds.bug;
        }
        config
    }

    /// Carries out the core's effects in order, then records what the
    /// server now shows in its history and saves the disk if it changed.
    ///
    /// With asynchronous writes, a persist effect, and every effect after
    /// one that is still pending, waits for the server's next write
    /// ([`Timer::Write`]), as in the runtime's journal; timers are armed at
    /// once, and a leader's AppendEntries and InstallSnapshot leave at once
    /// ([`Effect::may_overtake_persists`]).
    fn execute(&self, id: Id, server: &mut Server, effects: Vec<Effect>, o: &mut Out<Self>) {
        self.execute_with(id, server, effects, self.bounds.async_writes, o);
    }

    /// [`RaftActor::execute`], with `defer` whether writes wait for a step
    /// of their own (off for the write's own step).
    fn execute_with(
        &self,
        id: Id,
        server: &mut Server,
        effects: Vec<Effect>,
        defer: bool,
        o: &mut Out<Self>,
    ) {
        let mut disk = Disk::clone(&server.disk);
        let mut persisted = false;
        let mut reports = Vec::new();
        for effect in effects {
            if defer && waits_for_write(&effect, !server.pending.is_empty()) {
                if server.pending.is_empty() {
                    o.set_timer(Timer::Write, model_timeout());
                }
                server.pending.push(effect);
                continue;
            }
            match effect {
                // The core hears of it after the rest of the effects, as
                // from the runtime's storage round, so that what it decides
                // comes after what was decided before it.
                Effect::Durable { index, term } => reports.push((index, term)),
                Effect::Persist(op) => {
                    persisted = true;
                    let result = disk.stored.apply(&op).map_err(|e| Violation {
                        property: Invariant::NodeInvariants,
                        detail: format!("storage refused {op:?}: {e}"),
                    });
                    disk.history.record(result);
                }
                Effect::Send { to, message } => o.send(actor_id(to), Msg::new(message)),
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
        disk.history
            .record(check_durable(&server.node, &disk.stored));
        if persisted || disk.history != server.disk.history {
            server.disk = Arc::new(disk);
            o.save(Saved(Arc::clone(&server.disk)));
        }
        for (index, term) in reports {
            let input = Input::Persisted { index, term };
            let decided = self.step(server, &input).unwrap_or_default();
            self.execute(id, server, decided, o);
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
        match self.restart(id, &server.disk.stored) {
            Ok((node, _)) => Server {
                node: Arc::new(node),
                app: App::new(),
                disk: Arc::clone(&server.disk),
                restarted: false,
                applied_after_restart: false,
                installed_snapshot: server.installed_snapshot,
                pending: Vec::new(),
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
        let (node, effects, refused) = match self.restart(id, &disk.stored) {
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
            pending: Vec::new(),
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
            message: Arc::unwrap_or_clone(msg.0),
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
            Timer::Write => {
                // One write makes the oldest handler's batch durable (its
                // persist effects through its durability marker); then
                // what waited for it goes out, in order. Later batches
                // wait for writes of their own, so a report can arrive
                // while a later write, which a truncation may have made,
                // is still pending (etcd's ABA window). A runtime round
                // that takes several batches at once is one of the
                // interleavings this explores.
                let cut = first_batch_len(&server.pending);
                let rest = server.pending.split_off(cut);
                let written = std::mem::replace(&mut server.pending, rest);
                self.execute_with(id, &mut server, written, false, o);
                if !server.pending.is_empty() {
                    o.set_timer(Timer::Write, model_timeout());
                }
                if server != **state {
                    *state = Cow::Owned(server);
                }
                return;
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

/// The core's id of the server at actor index `index`: ids 1..=n, the
/// library's one convention (`checked_raft::sim::servers::id`), as in the
/// simulators and jepsen-lite.
pub fn node_id(index: usize) -> NodeId {
    checked_raft::sim::servers::id(index)
}

/// The actor index of the server with core id `node`; an id that names no
/// server (0) maps past every actor.
pub fn actor_index(node: NodeId) -> usize {
    checked_raft::sim::servers::position(node).unwrap_or(usize::MAX)
}

fn actor_id(node: NodeId) -> Id {
    Id::from(actor_index(node))
}

/// Renames servers by `naming` (actor index to actor index); an id that
/// names no server is left alone.
pub(crate) fn renaming(naming: &[usize]) -> impl Fn(NodeId) -> NodeId + '_ {
    move |n| naming.get(actor_index(n)).map_or(n, |&k| node_id(k))
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
        let pending = self
            .pending
            .iter()
            .map(|e| equivariance::rename_effect(e, &rename))
            .collect();
        Server {
            node: Arc::new(self.node.rename_nodes(&rename)),
            disk: symmetry::rename_disk(&self.disk, &rename),
            pending: equivariance::sends_by_recipient(pending),
            ..self.clone()
        }
    }
}

impl Server {
    /// What the server's state says without naming any server: part of the
    /// colour [`crate::symmetry::canonical`] orders servers by, so that
    /// renamings of one state order their servers alike.
    pub(crate) fn symmetric_key(&self) -> impl Ord + '_ {
        let role = match self.node.role() {
            Role::Follower => (0, Vec::new()),
            Role::Candidate { votes_granted } => (1, vec![(votes_granted.len(), LogIndex(0))]),
            Role::Leader { progress } => {
                let mut p: Vec<_> = progress
                    .values()
                    .map(|p| (p.next_index().0 as usize, p.match_index()))
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
                self.pending.len(),
            ),
        )
    }
}
