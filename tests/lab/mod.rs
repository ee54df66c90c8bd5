//! The 6.824 lab's test harness (`config.go`), for the thread runtime over
//! the emulated network: servers made, crashed and restarted from a copy of
//! their persister, connected and disconnected; appliers that check every
//! applied command agrees across servers and arrives in index order (and,
//! for 2D, snapshot every ten entries); and the lab's helpers `one`,
//! `check_one_leader`, `check_terms`, `check_no_leader`, `n_committed`,
//! `wait`, with the lab's schedules and thresholds.
//!
//! Tests of one binary run one at a time (they use real time and share two
//! cores): [`Config::new`] takes a process-wide lock.
#![allow(dead_code)]

use bytes::Bytes;
use checked_raft::network::Network;
use checked_raft::runtime::ApplyReceiver;
use checked_raft::runtime::{ApplyMsg, Raft, RaftConfig, StartError};

#[path = "../storage/mod.rs"]
mod storage;
use checked_raft::{LogIndex, NodeId, Term};
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use storage::Storages;

/// The lab's election-timeout scale: a new leader must be elected within
/// five seconds of the old one failing.
pub const RAFT_ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);
/// The snapshot applier snapshots at every index `i` with `(i + 1) % 10 == 0`.
pub const SNAPSHOT_INTERVAL: u64 = 10;
/// 2D: the persisted Raft state must stay under this many bytes.
pub const MAX_LOG_SIZE: usize = 2000;
/// No test may take longer than this.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

static SERIAL: Mutex<()> = Mutex::new(());

/// An integer command, as the lab's tests use.
pub fn int(v: u64) -> Bytes {
    Bytes::copy_from_slice(&v.to_be_bytes())
}

/// A random command of `n` bytes (the lab's `randstring`).
pub fn random_bytes(n: usize) -> Bytes {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| rng.random::<u8>())
        .collect::<Vec<u8>>()
        .into()
}

fn id(i: usize) -> NodeId {
    NodeId(i as u64)
}

/// What every server has applied, shared with the applier threads.
#[derive(Default)]
struct Applied {
    /// Per server: index -> command.
    logs: Vec<BTreeMap<u64, Bytes>>,
    /// Per server: the last index applied.
    last_applied: Vec<u64>,
    /// The first error an applier found.
    error: Option<String>,
    /// Highest index applied by any server.
    max_index: u64,
}

impl Applied {
    /// The lab's `checkLogs`: `command` at `index` on server `i` must agree
    /// with what every server applied there.
    fn check(&mut self, i: usize, index: u64, command: &Bytes) -> Option<String> {
        for (j, log) in self.logs.iter().enumerate() {
            if let Some(old) = log.get(&index)
                && old != command
            {
                return Some(format!(
                    "commit index={index} server={i} {command:?} != server={j} {old:?}"
                ));
            }
        }
        let prev_ok = index == 1 || self.logs[i].contains_key(&(index - 1));
        self.logs[i].insert(index, command.clone());
        self.max_index = self.max_index.max(index);
        if !prev_ok {
            return Some(format!("server {i} apply out of order {index}"));
        }
        None
    }
}

/// One cluster under test.
pub struct Config {
    n: usize,
    net: Network,
    rafts: Vec<Option<Raft>>,
    appliers: Vec<Option<JoinHandle<()>>>,
    persisters: Storages,
    connected: Vec<bool>,
    applied: Arc<Mutex<Applied>>,
    snapshot: bool,
    raft_config: RaftConfig,
    start: Instant,
    // Figures at `begin`.
    t0: Instant,
    rpcs0: u64,
    bytes0: u64,
    max_index0: u64,
    _serial: MutexGuard<'static, ()>,
}

impl Config {
    /// The lab's `make_config(t, n, unreliable, snapshot)`: `n` servers,
    /// all started and connected.
    pub fn new(n: usize, unreliable: bool, snapshot: bool) -> Config {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let net = Network::new();
        net.set_reliable(!unreliable);
        net.set_long_delays(true);
        let mut cfg = Config {
            n,
            net,
            rafts: (0..n).map(|_| None).collect(),
            appliers: (0..n).map(|_| None).collect(),
            persisters: Storages::new(n),
            connected: vec![false; n],
            applied: Arc::new(Mutex::new(Applied {
                logs: vec![BTreeMap::new(); n],
                last_applied: vec![0; n],
                ..Applied::default()
            })),
            snapshot,
            raft_config: RaftConfig::default(),
            start: Instant::now(),
            t0: Instant::now(),
            rpcs0: 0,
            bytes0: 0,
            max_index0: 0,
            _serial: serial,
        };
        for i in 0..n {
            cfg.start1(i);
        }
        for i in 0..n {
            cfg.connect(i);
        }
        cfg
    }

    /// Number of servers.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Server `i`'s handle, if it is running.
    pub fn raft(&self, i: usize) -> Option<&Raft> {
        self.rafts[i].as_ref()
    }

    /// Whether server `i` is connected.
    pub fn is_connected(&self, i: usize) -> bool {
        self.connected[i]
    }

    /// The network (for its fault knobs and counters).
    pub fn net(&self) -> &Network {
        &self.net
    }

    /// Turns unreliable mode on or off.
    pub fn set_unreliable(&self, unreliable: bool) {
        self.net.set_reliable(!unreliable);
    }

    /// Turns long reordering on or off.
    pub fn set_long_reordering(&self, on: bool) {
        self.net.set_long_reordering(on);
    }

    /// The lab's `crash1`: shut server `i` down; its persister is replaced
    /// by a copy, so the dead instance's late writes stay invisible.
    pub fn crash1(&mut self, i: usize) {
        self.disconnect(i);
        self.net.delete_server(id(i));
        self.persisters.crash(i);
        if let Some(raft) = self.rafts[i].take() {
            raft.shutdown();
        }
        if let Some(applier) = self.appliers[i].take() {
            let _ = applier.join();
        }
    }

    /// The lab's `start1`: (re)start server `i` from its persister.
    pub fn start1(&mut self, i: usize) {
        self.crash1(i);
        self.applied.lock().unwrap().last_applied[i] = 0;
        let members = (0..self.n).map(id).collect();
        let persister = self.persisters.open(i);
        let endpoint = Arc::new(self.net.endpoint(id(i)));
        let (raft, rx) = Raft::new(
            members,
            id(i),
            persister,
            self.raft_config.clone(),
            endpoint,
        )
        .expect("make a peer");
        self.net.add_server(id(i), raft.handler());
        let applied = Arc::clone(&self.applied);
        let snapshot = self.snapshot;
        let handle = raft.clone();
        self.appliers[i] = Some(
            thread::Builder::new()
                .name(format!("lab-applier-{i}"))
                .spawn(move || applier(i, rx, applied, snapshot.then_some(handle)))
                .expect("spawn an applier"),
        );
        self.rafts[i] = Some(raft);
    }

    /// Attaches server `i` to the network (links to and from every
    /// connected server).
    pub fn connect(&mut self, i: usize) {
        self.connected[i] = true;
        for j in 0..self.n {
            if self.connected[j] {
                self.net.enable(id(i), id(j), true);
                self.net.enable(id(j), id(i), true);
            }
        }
    }

    /// Detaches server `i` from the network.
    pub fn disconnect(&mut self, i: usize) {
        self.connected[i] = false;
        for j in 0..self.n {
            self.net.enable(id(i), id(j), false);
            self.net.enable(id(j), id(i), false);
        }
    }

    /// Fails the test if an applier found an error or time ran out.
    fn check_errors(&self) {
        if let Some(e) = &self.applied.lock().unwrap().error {
            panic!("apply error: {e}");
        }
        if self.start.elapsed() > TEST_TIMEOUT {
            panic!("test took longer than 120 seconds");
        }
    }

    /// The lab's `checkOneLeader`: up to ten rounds of 450-550 ms; more
    /// than one leader in a term is fatal; returns the leader of the
    /// latest term.
    pub fn check_one_leader(&self) -> usize {
        let mut rng = rand::rng();
        for _ in 0..10 {
            thread::sleep(Duration::from_millis(rng.random_range(450..550)));
            let mut leaders: BTreeMap<Term, Vec<usize>> = BTreeMap::new();
            for i in 0..self.n {
                if let (true, Some(raft)) = (self.connected[i], &self.rafts[i]) {
                    let (term, leader) = raft.state();
                    if leader {
                        leaders.entry(term).or_default().push(i);
                    }
                }
            }
            for (term, ids) in &leaders {
                if ids.len() > 1 {
                    panic!("term {} has {} (>1) leaders", term.0, ids.len());
                }
            }
            if let Some((_, ids)) = leaders.iter().next_back() {
                return ids[0];
            }
        }
        panic!("expected one leader, got none\n{}", self.describe());
    }

    /// The lab's `checkTerms`: every connected server has the same term.
    pub fn check_terms(&self) -> Term {
        let mut term = None;
        for i in 0..self.n {
            if let (true, Some(raft)) = (self.connected[i], &self.rafts[i]) {
                let (t, _) = raft.state();
                match term {
                    None => term = Some(t),
                    Some(seen) if seen != t => panic!("servers disagree on term"),
                    Some(_) => {}
                }
            }
        }
        term.unwrap_or_default()
    }

    /// The lab's `checkNoLeader`: no connected server thinks it leads.
    pub fn check_no_leader(&self) {
        for i in 0..self.n {
            if let (true, Some(raft)) = (self.connected[i], &self.rafts[i])
                && raft.state().1
            {
                panic!("expected no leader among connected servers, but {i} claims to be leader");
            }
        }
    }

    /// The lab's `nCommitted`: how many servers applied `index`, and what.
    pub fn n_committed(&self, index: u64) -> (usize, Option<Bytes>) {
        self.check_errors();
        self.committed().n_committed(index)
    }

    /// The lab's `wait`: waits for at least `n` servers to apply `index`
    /// (30 polls, 10 ms doubling to 1 s). Returns `None` early if some
    /// server moved past `start_term`.
    pub fn wait(&self, index: u64, n: usize, start_term: Option<Term>) -> Option<Bytes> {
        let mut to = Duration::from_millis(10);
        for _ in 0..30 {
            let (nd, _) = self.n_committed(index);
            if nd >= n {
                break;
            }
            thread::sleep(to);
            if to < Duration::from_secs(1) {
                to *= 2;
            }
            if let Some(start_term) = start_term {
                for raft in self.rafts.iter().flatten() {
                    if raft.state().0 > start_term {
                        return None;
                    }
                }
            }
        }
        let (nd, command) = self.n_committed(index);
        if nd < n {
            panic!("only {nd} decided for index {index}; wanted {n}");
        }
        command
    }

    /// The lab's `one`: submits `command` to the leader (trying each
    /// connected server in turn) until `expected` servers agree on it, for
    /// at most 10 s; after an accepted start, polls every 20 ms for 2 s.
    /// Without `retry`, one miss is fatal.
    pub fn one(&self, command: Bytes, expected: usize, retry: bool) -> u64 {
        let t0 = Instant::now();
        let mut starts = 0;
        while t0.elapsed() < Duration::from_secs(10) {
            self.check_errors();
            let mut index = None;
            for _ in 0..self.n {
                starts = (starts + 1) % self.n;
                if let (true, Some(raft)) = (self.connected[starts], &self.rafts[starts])
                    && let Ok((i, _)) = raft.start(command.clone())
                {
                    index = Some(i.0);
                    break;
                }
            }
            if let Some(index) = index {
                let t1 = Instant::now();
                while t1.elapsed() < Duration::from_secs(2) {
                    let (nd, c) = self.n_committed(index);
                    if nd > 0 && nd >= expected && c.as_ref() == Some(&command) {
                        return index;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
                if !retry {
                    panic!(
                        "one({command:?}) failed to reach agreement\n{}",
                        self.describe()
                    );
                }
            } else {
                thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "one({command:?}) failed to reach agreement\n{}",
            self.describe()
        );
    }

    /// Every server's state, one line each, for a failure message: whether
    /// it is up and connected, its term, role, leader, log, commit and
    /// snapshot, and what it has applied.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for i in 0..self.n {
            let line = match &self.rafts[i] {
                None => format!("server {i}: crashed"),
                Some(raft) => raft.with_node(|node| {
                    format!(
                        "server {i}: {}, term {}, {:?}, leader {:?}, log ({}..={}], commit {}, applied {}, refused {}",
                        if self.connected[i] { "connected" } else { "disconnected" },
                        node.current_term().0,
                        node.role(),
                        node.leader_id().map(|l| l.0),
                        node.log().snapshot_index().0,
                        node.log().last_index().0,
                        node.commit_index().0,
                        node.last_applied().0,
                        raft.refused_messages(),
                    )
                }),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&format!("network: {:?}", self.net.stats()));
        out
    }

    /// `start` on server `i`: `Some((index, term))` if it leads.
    pub fn start_on(&self, i: usize, command: Bytes) -> Option<(u64, Term)> {
        match self.rafts[i].as_ref()?.start(command) {
            Ok((index, term)) => Some((index.0, term)),
            Err(StartError::NotLeader { .. } | StartError::Shutdown) => None,
        }
    }

    /// The lab's `begin`: prints the test's title and notes the counters.
    pub fn begin(&mut self, description: &str) {
        println!("{description} ...");
        self.t0 = Instant::now();
        self.rpcs0 = self.rpc_total();
        self.bytes0 = self.net.total_bytes();
        self.max_index0 = self.applied.lock().unwrap().max_index;
    }

    /// The lab's `end`: checks the time limit and prints the summary line:
    /// seconds, peers, RPCs, bytes, commands committed.
    pub fn end(&self) {
        self.check_errors();
        let seconds = self.t0.elapsed().as_secs_f64();
        let rpcs = self.rpc_total() - self.rpcs0;
        let bytes = self.net.total_bytes() - self.bytes0;
        let commands = self.applied.lock().unwrap().max_index - self.max_index0;
        println!(
            "  ... Passed --  {seconds:4.1}  {}  {rpcs:4}  {bytes:7}  {commands:4}",
            self.n
        );
    }

    /// RPCs (requests) sent in total so far.
    pub fn rpc_total(&self) -> u64 {
        self.net.total_rpcs()
    }

    /// RPCs received by server `i` so far.
    pub fn rpc_count(&self, i: usize) -> u64 {
        self.net.rpc_count(id(i))
    }

    /// Largest persisted Raft state among the servers, in bytes.
    pub fn log_size(&self) -> usize {
        (0..self.persisters.len())
            .map(|i| self.persisters.raft_state_size(i))
            .max()
            .unwrap_or(0)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        for raft in self.rafts.iter().flatten() {
            raft.shutdown();
        }
        self.net.shutdown();
        for applier in self.appliers.iter_mut().filter_map(Option::take) {
            let _ = applier.join();
        }
    }
}

/// The lab's `applier` / `applierSnap`: checks each applied command against
/// every server's, in index order; with `snapshotter`, snapshots every
/// [`SNAPSHOT_INTERVAL`] entries and installs snapshots it is handed.
fn applier(i: usize, rx: ApplyReceiver, applied: Arc<Mutex<Applied>>, snapshotter: Option<Raft>) {
    for message in rx {
        let mut a = applied.lock().unwrap();
        match message {
            ApplyMsg::Command { index, command, .. } => {
                let index = index.0;
                let error = if index != a.last_applied[i] + 1 {
                    Some(format!(
                        "server {i} apply out of order: expected index {}, got {index}",
                        a.last_applied[i] + 1
                    ))
                } else {
                    a.check(i, index, &command)
                };
                if let Some(e) = error {
                    a.error.get_or_insert(e);
                    continue;
                }
                a.last_applied[i] = index;
                if let Some(raft) = &snapshotter
                    && (index + 1) % SNAPSHOT_INTERVAL == 0
                {
                    let data = encode_snapshot(index, &a.logs[i]);
                    drop(a);
                    if let Err(e) = raft.snapshot(LogIndex(index), data) {
                        applied
                            .lock()
                            .unwrap()
                            .error
                            .get_or_insert(format!("server {i} snapshot({index}): {e}"));
                    }
                }
            }
            ApplyMsg::Snapshot { index, data, .. } => {
                if snapshotter.is_none() {
                    a.error
                        .get_or_insert(format!("server {i} got a snapshot without snapshots on"));
                    continue;
                }
                match decode_snapshot(&data) {
                    Ok((last, log)) if last == index.0 => {
                        for (k, command) in &log {
                            if let Some(e) = a.check(i, *k, command) {
                                a.error.get_or_insert(e);
                            }
                        }
                        a.logs[i] = log;
                        a.last_applied[i] = last;
                    }
                    Ok((last, _)) => {
                        a.error.get_or_insert(format!(
                            "server {i} snapshot says index {last}, message says {}",
                            index.0
                        ));
                    }
                    Err(e) => {
                        a.error
                            .get_or_insert(format!("server {i} snapshot decode: {e}"));
                    }
                }
            }
        }
    }
}

/// The snapshot applier's snapshot: the last index, then every command up
/// to it (length-prefixed).
fn encode_snapshot(index: u64, log: &BTreeMap<u64, Bytes>) -> Bytes {
    let mut out = Vec::new();
    out.extend_from_slice(&index.to_be_bytes());
    for (k, command) in log.range(..=index) {
        out.extend_from_slice(&k.to_be_bytes());
        out.extend_from_slice(&(command.len() as u32).to_be_bytes());
        out.extend_from_slice(command);
    }
    out.into()
}

fn decode_snapshot(data: &[u8]) -> Result<(u64, BTreeMap<u64, Bytes>), String> {
    fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if data.len() < n {
            return Err("truncated snapshot".into());
        }
        let (head, tail) = data.split_at(n);
        *data = tail;
        Ok(head)
    }
    let mut data = data;
    let index = u64::from_be_bytes(take(&mut data, 8)?.try_into().map_err(|_| "index")?);
    let mut log = BTreeMap::new();
    while !data.is_empty() {
        let k = u64::from_be_bytes(take(&mut data, 8)?.try_into().map_err(|_| "key")?);
        let len = u32::from_be_bytes(take(&mut data, 4)?.try_into().map_err(|_| "len")?);
        log.insert(k, Bytes::copy_from_slice(take(&mut data, len as usize)?));
    }
    Ok((index, log))
}

/// For client threads that run while the test crashes, restarts and
/// reconnects servers (the lab's churn tests): `Config` itself is borrowed
/// mutably by the test then, so clients get clones of the handles and a
/// view of what was applied instead.
impl Config {
    /// Clones of every server's handle (`None` for a crashed server): the
    /// lab's `cfg.rafts` read under `cfg.mu`.
    pub fn rafts(&self) -> Vec<Option<Raft>> {
        self.rafts.clone()
    }

    /// A view of what the servers applied, usable from other threads.
    pub fn committed(&self) -> Committed {
        Committed(Arc::clone(&self.applied))
    }
}

/// What the servers applied, shared with the appliers: [`Config::n_committed`]
/// for client threads.
#[derive(Clone)]
pub struct Committed(Arc<Mutex<Applied>>);

impl Committed {
    /// The lab's `nCommitted`: how many servers applied `index`, and what.
    /// Fails if an applier found an error or the servers disagree.
    pub fn n_committed(&self, index: u64) -> (usize, Option<Bytes>) {
        let applied = self.0.lock().unwrap();
        if let Some(e) = &applied.error {
            panic!("apply error: {e}");
        }
        let mut count = 0;
        let mut command: Option<&Bytes> = None;
        for (i, log) in applied.logs.iter().enumerate() {
            if let Some(c) = log.get(&index) {
                if let Some(prev) = command.filter(|prev| *prev != c) {
                    panic!(
                        "committed values do not match: index {index}, {prev:?}, {c:?} (server {i})"
                    );
                }
                count += 1;
                command = Some(c);
            }
        }
        (count, command.cloned())
    }
}
