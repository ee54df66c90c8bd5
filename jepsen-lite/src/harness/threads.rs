//! The `threads` backend: the library's key/value service on its thread
//! runtime, over the emulated network ([`checked_raft::network`]), in
//! real time.
//!
//! Each client process is a thread with its own clerk at its own network
//! address, running one operation at a time with a deadline; a clerk whose
//! operation ended indeterminately is replaced by a new one (new address,
//! new client id), as Jepsen's process becomes a new process. The calling
//! thread is the nemesis: it cycles faults on the network links between
//! servers (partitions), the network's reliability (unreliable, long
//! reordering) and the servers themselves (kill: cut off and shut down,
//! keeping what they persisted; restart from a copy of it, as the lab's
//! tester does, or with `--storage disk` by reopening the server's
//! write-ahead log from its directory).

use crate::harness::event::Kind;
use crate::harness::generator::{self, ClientOp, Generator};
use crate::harness::live::{Due, Pacer, Recorder, Schedule};
use crate::harness::nemesis::{self, Fault, Grudge};
use crate::harness::{BackendRun, LeaderSeen, Progress, RunOptions, Storage};
use anyhow::{Context, Result, anyhow};
use checked_raft::NodeId;
use checked_raft::kv::net::{clerk, start_server};
use checked_raft::kv::{Clerk, ClerkConfig, KvConfig, KvMessage, KvServer, Op};
use checked_raft::network::Network;
use checked_raft::runtime::{MemoryPersister, Persister, RaftConfig};
use checked_raft::storage::DiskStorage;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value as Json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How often the nemesis thread wakes to report progress and check the
/// clock.
const TICK: Duration = Duration::from_millis(50);

/// Snapshot when a server's persisted Raft state reaches this many bytes,
/// so that log compaction and InstallSnapshot run during every test.
const MAX_RAFT_STATE: usize = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Server position `i` has id `i + 1` (the library's convention).
fn server_id(i: usize) -> NodeId {
    NodeId(i as u64 + 1)
}

/// Where the servers' Raft state lives between incarnations.
enum Disks {
    /// In memory: each incarnation starts from a copy of what its
    /// predecessor persisted (its late writes invisible to its successor).
    Memory(Mutex<Vec<Arc<MemoryPersister>>>),
    /// On disk: server `i`'s write-ahead log in `dir/n<id>`; each
    /// incarnation reopens it.
    Disk(tempfile::TempDir),
}

/// The cluster: servers, their storage, the network, the links in force.
struct Cluster {
    nodes: usize,
    net: Network<KvMessage>,
    servers: Mutex<Vec<Option<KvServer>>>,
    disks: Disks,
    grudge: Mutex<Grudge>,
    next_address: AtomicU64,
    options: RunOptions,
}

impl Cluster {
    fn new(options: &RunOptions) -> Result<Cluster> {
        let nodes = options.nodes;
        let net = Network::<KvMessage>::try_seeded(options.seed)
            .context("cannot start the emulated network")?;
        let disks = match options.storage {
            Storage::Memory => Disks::Memory(Mutex::new(
                (0..nodes)
                    .map(|_| Arc::new(MemoryPersister::new()))
                    .collect(),
            )),
            Storage::Disk => Disks::Disk(
                tempfile::Builder::new()
                    .prefix("jepsen-lite-data-")
                    .tempdir()
                    .context("cannot create a directory for the servers' logs")?,
            ),
        };
        let cluster = Cluster {
            nodes,
            net,
            servers: Mutex::new((0..nodes).map(|_| None).collect()),
            disks,
            grudge: Mutex::new(Grudge::healed(nodes)),
            next_address: AtomicU64::new(nodes as u64 + 1000),
            options: options.clone(),
        };
        for i in 0..nodes {
            cluster.start(i)?;
        }
        cluster.apply_grudge();
        Ok(cluster)
    }

    /// Starts server `i` from what its predecessor persisted: a copy of
    /// it in memory, or its log reopened from disk.
    fn start(&self, i: usize) -> Result<()> {
        let persister: Arc<dyn Persister> = match &self.disks {
            Disks::Memory(persisters) => {
                let mut persisters = lock(persisters);
                persisters[i] = Arc::new(persisters[i].copy());
                Arc::clone(&persisters[i]) as Arc<dyn Persister>
            }
            Disks::Disk(dir) => {
                let path = dir.path().join(format!("n{}", server_id(i).0));
                let disk = DiskStorage::open(&path).map_err(|e| {
                    anyhow!(
                        "server {} cannot open {}: {e}",
                        server_id(i).0,
                        path.display()
                    )
                })?;
                Arc::new(disk)
            }
        };
        let config = KvConfig {
            raft: RaftConfig::default(),
            max_raft_state: Some(MAX_RAFT_STATE),
        };
        let server = start_server(
            &self.net,
            (0..self.nodes).map(server_id).collect(),
            server_id(i),
            persister,
            config,
        )
        .map_err(|e| anyhow!("server {} does not start: {e}", server_id(i).0))?;
        self.break_service(&server)?;
        lock(&self.servers)[i] = Some(server);
        self.apply_grudge();
        Ok(())
    }

    #[cfg(feature = "bug-catalogue")]
    fn break_service(&self, server: &KvServer) -> Result<()> {
        match self.options.bug {
            Some(crate::harness::ServiceBug::LocalReads) => server.serve_local_reads(),
            None => {}
        }
        Ok(())
    }

    #[cfg(not(feature = "bug-catalogue"))]
    fn break_service(&self, _server: &KvServer) -> Result<()> {
        match self.options.bug {
            Some(bug) => Err(anyhow!(
                "--bug {bug:?} needs a build with the bug-catalogue feature \
                 (cargo run -p jepsen-lite --features bug-catalogue ...)"
            )),
            None => Ok(()),
        }
    }

    /// Kills server `i`: cut off and deleted from the network (nothing it
    /// sends is delivered any more), its in-memory persister copied so its
    /// late writes are invisible to its successor, then shut down (on disk,
    /// that closes its log: the successor reopens it).
    fn kill(&self, i: usize) {
        self.net.delete_server(server_id(i));
        if let Disks::Memory(persisters) = &self.disks {
            let mut persisters = lock(persisters);
            persisters[i] = Arc::new(persisters[i].copy());
        }
        let server = lock(&self.servers)[i].take();
        if let Some(server) = server {
            server.shutdown();
        }
    }

    fn is_up(&self, i: usize) -> bool {
        lock(&self.servers)[i].is_some()
    }

    /// Sets every server-to-server link as the grudge says.
    fn apply_grudge(&self) {
        let grudge = lock(&self.grudge);
        for a in 0..self.nodes {
            for b in 0..self.nodes {
                if a != b {
                    self.net
                        .enable(server_id(a), server_id(b), grudge.connected(a, b));
                }
            }
        }
    }

    fn set_grudge(&self, grudge: Grudge) {
        *lock(&self.grudge) = grudge;
        self.apply_grudge();
    }

    /// The server that believes it leads in the highest term, with that
    /// term, if any.
    fn leader(&self) -> Option<(u64, usize)> {
        let servers = lock(&self.servers);
        servers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let (term, leads) = s.as_ref()?.raft().state();
                leads.then_some((term, i))
            })
            .max()
            .map(|(term, i)| (term.0, i))
    }

    /// A clerk at a fresh address, linked to every server.
    fn clerk(&self) -> (NodeId, Clerk) {
        let me = NodeId(self.next_address.fetch_add(1, Ordering::Relaxed));
        let servers = (0..self.nodes).map(server_id).collect();
        let clerk = clerk(&self.net, me, servers, ClerkConfig::default());
        for j in 0..self.nodes {
            self.net.enable(me, server_id(j), true);
            self.net.enable(server_id(j), me, true);
        }
        (me, clerk)
    }

    fn drop_clerk(&self, address: NodeId) {
        for j in 0..self.nodes {
            self.net.enable(address, server_id(j), false);
            self.net.enable(server_id(j), address, false);
        }
        self.net.delete_server(address);
    }

    /// Starts or undoes a fault.
    fn inject(&self, fault: &Fault, on: bool) -> Result<()> {
        match fault {
            Fault::Partition(grudge) => {
                if on {
                    self.set_grudge(grudge.clone());
                } else {
                    self.set_grudge(Grudge::healed(self.nodes));
                }
            }
            Fault::Kill(nodes) => {
                for &i in nodes {
                    if on {
                        self.kill(i);
                    } else if !self.is_up(i) {
                        self.start(i)?;
                    }
                }
            }
            Fault::Unreliable => self.net.set_reliable(!on),
            Fault::Reorder => self.net.set_long_reordering(on),
            Fault::Pause(_) => return Err(anyhow!("pause needs --backend process")),
        }
        Ok(())
    }

    fn shutdown(&self) {
        let servers: Vec<(usize, KvServer)> = lock(&self.servers)
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.take()?)))
            .collect();
        for (i, server) in servers {
            self.net.delete_server(server_id(i));
            server.shutdown();
        }
        self.net.shutdown();
    }
}

/// What every client thread shares.
struct Shared {
    cluster: Cluster,
    recorder: Recorder,
    generator: Mutex<Generator>,
    stop: AtomicBool,
    next_process: AtomicU64,
}

/// Runs one operation as `process` through `clerk` and records it;
/// returns false if it ended indeterminately (the process must retire).
fn invoke(shared: &Shared, process: u64, clerk: &mut Clerk, op: &ClientOp) -> bool {
    let options = &shared.cluster.options;
    let recorder = &shared.recorder;
    recorder.client(process, Kind::Invoke, op, op.value.clone(), None, None);
    let deadline = Instant::now() + options.op_timeout;
    let result = clerk.execute(op.op.clone(), Some(deadline));
    // The server that answered, by its id (position + 1, as the process
    // backend's servers are numbered); none for a timeout.
    let node = result
        .is_ok()
        .then(|| clerk.answered_by())
        .flatten()
        .map(|n| n.0);
    let (kind, value, error) = generator::completion(options.workload, op, result);
    if kind == Kind::Info {
        lock(&shared.generator).indeterminate(op.key.as_deref());
    }
    recorder.client(process, kind, op, value, error, node);
    kind != Kind::Info
}

/// One client thread: operations until told to stop, at its share of the
/// rate.
fn client(shared: &Shared, slot: usize, seed: u64) {
    let mut process = slot as u64;
    let options = &shared.cluster.options;
    let mut pacer = Pacer::new(options, seed);
    let (mut address, mut clerk) = shared.cluster.clerk();
    while pacer.wait(&shared.stop) {
        let op = lock(&shared.generator).next_op(slot);
        if !invoke(shared, process, &mut clerk, &op) {
            // As in Jepsen: the process that left an operation open is
            // done; a new one (new client id) takes its place.
            shared.cluster.drop_clerk(address);
            process = shared.next_process.fetch_add(1, Ordering::Relaxed);
            (address, clerk) = shared.cluster.clerk();
        }
    }
    shared.cluster.drop_clerk(address);
}

/// Runs the test: clients for `options.time` under the nemesis, then the
/// heal, the wait for recovery and the final reads.
pub fn run(options: &RunOptions, progress: &mut dyn FnMut(&Progress)) -> Result<BackendRun> {
    options.validate().map_err(|e| anyhow!(e))?;
    if checked_raft::runtime::LOOM_BUILD {
        return Err(anyhow!(
            "this build's thread runtime is loom's (feature `loom`), which runs only inside \
             loom models: use --backend sim, or a build without the feature"
        ));
    }
    let cluster = Cluster::new(options)?;
    let shared = Arc::new(Shared {
        cluster,
        recorder: Recorder::new(),
        generator: Mutex::new(Generator::new(
            options.workload,
            options.seed,
            options.keys,
            options.ops_per_key,
        )),
        stop: AtomicBool::new(false),
        next_process: AtomicU64::new(options.clients as u64),
    });
    let mut log = Vec::new();
    let mut note = |shared: &Shared, line: String| {
        log.push(format!(
            "{:>9.3} s  {line}",
            shared.recorder.elapsed().as_secs_f64()
        ));
    };
    note(
        &shared,
        format!(
            "started {} servers (threads backend, seed {})",
            options.nodes, options.seed
        ),
    );

    let mut handles = Vec::new();
    for c in 0..options.clients {
        let mine = Arc::clone(&shared);
        let seed = options.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(c as u64 + 1));
        let spawned = thread::Builder::new()
            .name(format!("client-{c}"))
            .spawn(move || client(&mine, c, seed));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                shared.stop.store(true, Ordering::Relaxed);
                for handle in handles {
                    let _ = handle.join();
                }
                shared.cluster.shutdown();
                return Err(anyhow!("cannot start a client thread: {e}"));
            }
        }
    }

    // The nemesis, on this thread.
    let mut rng = StdRng::seed_from_u64(options.seed.rotate_left(17) ^ 0x006e_656d_6573_6973);
    let mut current: Option<Fault> = None;
    let mut schedule = Schedule::new(options);
    let mut last_seen = None;
    let mut leaders = Vec::new();
    let mut report = |shared: &Shared, current: &Option<Fault>, phase: &'static str| {
        progress(&Progress {
            elapsed: shared.recorder.elapsed(),
            ops: shared.recorder.counts().0,
            ok: shared.recorder.counts().1,
            nemesis: current.as_ref().map(Fault::description),
            phase,
        });
    };
    let mut failure = None;
    while shared.recorder.elapsed() < options.time {
        thread::sleep(TICK);
        report(&shared, &current, "load");
        let now_leader = shared.cluster.leader();
        // A moment without a known leader between two sightings of the
        // same one is not news.
        if let Some((term, l)) = now_leader
            && now_leader != last_seen
        {
            let id = server_id(l).0;
            note(&shared, format!("server {id} leads in term {term}"));
            leaders.push(LeaderSeen {
                time: shared.recorder.now(),
                leader: id,
                term,
            });
            last_seen = now_leader;
        }
        let leader = now_leader.map(|(_, l)| l);
        let result = match schedule.due(shared.recorder.elapsed(), current.is_some()) {
            Due::Wait => continue,
            Due::Stop => {
                let Some(fault) = current.take() else {
                    continue;
                };
                stop_fault(&shared, &fault, &mut note)
            }
            Due::Start => match nemesis::draw(&mut rng, &options.nemesis, options.nodes, leader) {
                Some(fault) => {
                    let started = start_fault(&shared, &fault, &mut note);
                    current = Some(fault);
                    started
                }
                None => Ok(()),
            },
        };
        if let Err(e) = result {
            failure = Some(e);
            break;
        }
    }

    // Clients stop; the network heals; the servers recover.
    shared.stop.store(true, Ordering::Relaxed);
    report(&shared, &current, "heal");
    for handle in handles {
        let _ = handle.join();
    }
    if let Some(fault) = current.take()
        && let Err(e) = stop_fault(&shared, &fault, &mut note)
    {
        failure.get_or_insert(e);
    }
    if let Some(e) = failure {
        shared.cluster.shutdown();
        return Err(e);
    }
    shared.cluster.set_grudge(Grudge::healed(options.nodes));
    shared.cluster.net.set_reliable(true);
    shared.cluster.net.set_long_reordering(false);
    note(&shared, "healed: every link up, reliable network".into());
    let healed = Instant::now();
    let recovered = await_recovery(&shared, options.recovery);
    match recovered {
        Some(()) => note(
            &shared,
            format!(
                "recovered: an operation committed {:.3} s after the heal",
                healed.elapsed().as_secs_f64()
            ),
        ),
        None => note(
            &shared,
            format!(
                "not recovered {:.1} s after the heal",
                options.recovery.as_secs_f64()
            ),
        ),
    }

    // The final reads: every key in use, each by a new process.
    report(&shared, &None, "final reads");
    let reads = lock(&shared.generator).final_reads();
    let (address, mut reader) = shared.cluster.clerk();
    for op in &reads {
        let process = shared.next_process.fetch_add(1, Ordering::Relaxed);
        invoke(&shared, process, &mut reader, op);
    }
    shared.cluster.drop_clerk(address);
    note(&shared, format!("final reads of {} keys done", reads.len()));
    report(&shared, &None, "final reads");

    let stats = shared.cluster.net.stats();
    note(&shared, format!("network: {stats:?}"));
    shared.cluster.shutdown();
    let events = shared.recorder.take();
    Ok(BackendRun {
        events,
        log,
        files: Vec::new(),
        leaders,
    })
}

fn start_fault(
    shared: &Shared,
    fault: &Fault,
    note: &mut impl FnMut(&Shared, String),
) -> Result<()> {
    shared.recorder.nemesis(
        format!("start-{}", fault.name()),
        Json::String(fault.description()),
    );
    note(
        shared,
        format!("start {}: {}", fault.name(), fault.description()),
    );
    shared.cluster.inject(fault, true)
}

fn stop_fault(
    shared: &Shared,
    fault: &Fault,
    note: &mut impl FnMut(&Shared, String),
) -> Result<()> {
    let result = shared.cluster.inject(fault, false);
    shared
        .recorder
        .nemesis(format!("stop-{}", fault.name()), Json::Null);
    note(shared, format!("stop {}", fault.name()));
    result
}

/// Waits until an operation commits (a read of a key no client uses, not
/// recorded), at most `limit`.
fn await_recovery(shared: &Shared, limit: Duration) -> Option<()> {
    let deadline = Instant::now() + limit;
    let (address, mut probe) = shared.cluster.clerk();
    let op = Op::Get {
        key: "jepsen-lite/recovery".into(),
    };
    let recovered = probe.execute(op, Some(deadline)).ok().map(|_| ());
    shared.cluster.drop_clerk(address);
    recovered
}
