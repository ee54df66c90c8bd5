//! The `process` backend: real `raft-kv serve` processes on loopback
//! ports, each with its own data directory, tested from outside as Jepsen
//! tests etcd. The servers are not told about the test:
//!
//! - clients speak the servers' HTTP API (etcd's JSON gateway) through
//!   [`raft_kv::client::Client`], one session per Jepsen process, with the
//!   operation timeout as the client's deadline;
//! - `kill`: SIGKILL, and when the window ends a new process on the same
//!   data directory;
//! - `pause`: SIGSTOP, and SIGCONT when the window ends;
//! - `partition`, `unreliable`, `reorder`: through the per-link TCP
//!   proxies the harness owns ([`crate::harness::proxy`]): every server's
//!   peer address for another is that link's proxy;
//! - the leader is read from each server's `/health`.
//!
//! The faults are taken in rounds, each requested kind once per round in
//! a random order, so that every kind fires in a run of at least one
//! round ([`crate::harness::RunOptions::validate`] refuses a shorter one).

mod cluster;

pub use cluster::server_binary;

use crate::harness::event::Kind;
use crate::harness::generator::{self, ClientOp, Generator};
use crate::harness::live::{Due, Pacer, Recorder, Schedule};
use crate::harness::nemesis::{self, Fault};
use crate::harness::{BackendRun, LeaderSeen, NemesisKind, Progress, RunOptions};
use anyhow::{Context, Result, anyhow};
use checked_raft::kv::{Indeterminate, Op, Output};
use cluster::Cluster;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::Value as Json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(50);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One Jepsen process's client: a session of its own, bound to one
/// server as Jepsen binds each client to a node: every operation goes
/// there first (a follower redirects it to the leader).
struct ProcessClient {
    runtime: tokio::runtime::Runtime,
    client: raft_kv::client::Client,
    home: usize,
}

impl ProcessClient {
    fn new(cluster: &Cluster, slot: usize, deadline: Duration) -> Result<ProcessClient> {
        let endpoints: Vec<String> = cluster.client.iter().map(|a| a.to_string()).collect();
        let mut client = raft_kv::client::Client::new(&endpoints).starting_at(slot);
        client.deadline = deadline;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start a client's runtime")?;
        Ok(ProcessClient {
            runtime,
            client,
            home: slot,
        })
    }

    /// Runs `op`; an operation without an answer by the deadline is
    /// indeterminate, as is one the server refused or garbled (counted).
    fn execute(&mut self, op: &Op) -> (Result<Output, Indeterminate>, Option<String>) {
        let client = &mut self.client;
        client.go_to(self.home);
        let result = self.runtime.block_on(async {
            match op {
                Op::Get { key } => client
                    .get(key)
                    .await
                    .map(|v| Output::Value(v.unwrap_or_default())),
                Op::Put { key, value } => client.put(key, value).await.map(|()| Output::Done),
                Op::Cas { key, expected, new } => client
                    .cas(key, expected.as_deref(), new)
                    .await
                    .map(|o| Output::Cas {
                        swapped: o.swapped,
                        found: o.found,
                    }),
                Op::Txn { ops } => client.txn(ops).await.map(Output::Txn),
                other => Err(raft_kv::client::ClientError::BadRequest(format!(
                    "{other:?} has no counterpart in etcd's API"
                ))),
            }
        });
        match result {
            Ok(output) => (Ok(output), None),
            Err(raft_kv::client::ClientError::Unavailable(..)) => (Err(Indeterminate), None),
            Err(e) => (Err(Indeterminate), Some(e.to_string())),
        }
    }

    fn member(&self) -> Option<u64> {
        self.client.last_member
    }
}

struct Shared {
    cluster: Cluster,
    recorder: Recorder,
    generator: Mutex<Generator>,
    stop: AtomicBool,
    next_process: AtomicU64,
    client_errors: AtomicU64,
}

/// Runs `op` as `process`; false if it ended indeterminately.
fn invoke(shared: &Shared, process: u64, client: &mut ProcessClient, op: &ClientOp) -> bool {
    let options = &shared.cluster.options;
    shared
        .recorder
        .client(process, Kind::Invoke, op, op.value.clone(), None, None);
    let (result, error) = client.execute(&op.op);
    if error.is_some() {
        shared.client_errors.fetch_add(1, Ordering::Relaxed);
    }
    let answered = result.is_ok();
    let (kind, value, mut why) = generator::completion(options.workload, op, result);
    if let Some(error) = error {
        why = Some(error);
    }
    if kind == Kind::Info {
        lock(&shared.generator).indeterminate(op.key.as_deref());
    }
    let node = if answered { client.member() } else { None };
    shared.recorder.client(process, kind, op, value, why, node);
    kind != Kind::Info
}

fn client_thread(shared: &Shared, slot: usize, seed: u64) -> Result<()> {
    let options = &shared.cluster.options;
    let mut process = slot as u64;
    let mut pacer = Pacer::new(options, seed);
    let mut client = ProcessClient::new(&shared.cluster, slot, options.op_timeout)?;
    while pacer.wait(&shared.stop) {
        let op = lock(&shared.generator).next_op(slot);
        if !invoke(shared, process, &mut client, &op) {
            process = shared.next_process.fetch_add(1, Ordering::Relaxed);
            client = ProcessClient::new(&shared.cluster, slot, options.op_timeout)?;
        }
    }
    Ok(())
}

/// The faults in rounds: each requested kind once per round, in a random
/// order; the details (which servers, which partition) drawn as the other
/// backends draw them.
struct Rounds {
    rng: StdRng,
    queue: Vec<NemesisKind>,
}

impl Rounds {
    fn next(
        &mut self,
        kinds: &[NemesisKind],
        nodes: usize,
        leader: Option<usize>,
    ) -> Option<Fault> {
        if self.queue.is_empty() {
            self.queue = kinds.to_vec();
            self.queue.shuffle(&mut self.rng);
        }
        let kind = self.queue.pop()?;
        nemesis::draw(&mut self.rng, &[kind], nodes, leader)
    }
}

/// Runs the test against real processes.
pub fn run(options: &RunOptions, progress: &mut dyn FnMut(&Progress)) -> Result<BackendRun> {
    options.validate().map_err(|e| anyhow!(e))?;
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
        client_errors: AtomicU64::new(0),
    });
    let mut log = Vec::new();
    let note = |log: &mut Vec<String>, shared: &Shared, line: String| {
        log.push(format!(
            "{:>9.3} s  {line}",
            shared.recorder.elapsed().as_secs_f64()
        ));
    };
    note(
        &mut log,
        &shared,
        format!(
            "started {} raft-kv processes ({}, {} storage, seed {}); data in {}",
            options.nodes,
            shared.cluster.bin.display(),
            options.storage.name(),
            options.seed,
            shared.cluster.dir.path().display()
        ),
    );
    // Wait for a leader before the clients start (not part of the test).
    let ready = Instant::now() + options.recovery;
    while shared.cluster.leader().is_none() && Instant::now() < ready {
        thread::sleep(TICK);
    }
    let mut handles = Vec::new();
    for c in 0..options.clients {
        let mine = Arc::clone(&shared);
        let seed = options.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(c as u64 + 1));
        handles.push(
            thread::Builder::new()
                .name(format!("client-{c}"))
                .spawn(move || client_thread(&mine, c, seed))
                .context("cannot start a client thread")?,
        );
    }
    let started = Instant::now();
    let mut rounds = Rounds {
        rng: StdRng::seed_from_u64(options.seed.rotate_left(17) ^ 0x006e_656d_6573_6973),
        queue: Vec::new(),
    };
    let mut current: Option<Fault> = None;
    let mut schedule = Schedule::new(options);
    let mut last_seen = None;
    let mut leaders = Vec::new();
    let mut failure = None;
    while started.elapsed() < options.time {
        thread::sleep(TICK);
        progress(&Progress {
            elapsed: started.elapsed(),
            ops: shared.recorder.counts().0,
            ok: shared.recorder.counts().1,
            nemesis: current.as_ref().map(Fault::description),
            phase: "load",
        });
        let now_leader = shared.cluster.leader();
        if let Some((term, l)) = now_leader
            && now_leader != last_seen
        {
            leaders.push(LeaderSeen {
                time: shared.recorder.now(),
                leader: l as u64 + 1,
                term,
            });
            note(
                &mut log,
                &shared,
                format!("server {} leads in term {term}", l + 1),
            );
            last_seen = now_leader;
        }
        let result = match schedule.due(started.elapsed(), current.is_some()) {
            Due::Wait => continue,
            Due::Stop => {
                let Some(fault) = current.take() else {
                    continue;
                };
                let result = shared.cluster.inject(&fault, false);
                shared
                    .recorder
                    .nemesis(format!("stop-{}", fault.name()), Json::Null);
                note(&mut log, &shared, format!("stop {}", fault.name()));
                result
            }
            Due::Start => {
                let leader = now_leader.map(|(_, l)| l);
                match rounds.next(&options.nemesis, options.nodes, leader) {
                    Some(fault) => {
                        shared.recorder.nemesis(
                            format!("start-{}", fault.name()),
                            Json::String(fault.description()),
                        );
                        note(
                            &mut log,
                            &shared,
                            format!("start {}: {}", fault.name(), fault.description()),
                        );
                        let result = shared.cluster.inject(&fault, true);
                        current = Some(fault);
                        result
                    }
                    None => Ok(()),
                }
            }
        };
        if let Err(e) = result {
            failure = Some(e);
            break;
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    for handle in handles {
        match handle.join() {
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(_) => {
                failure.get_or_insert(anyhow!("a client thread panicked"));
            }
            Ok(Ok(())) => {}
        }
    }
    if let Some(fault) = current.take() {
        let result = shared.cluster.inject(&fault, false);
        shared
            .recorder
            .nemesis(format!("stop-{}", fault.name()), Json::Null);
        note(&mut log, &shared, format!("stop {}", fault.name()));
        if let Err(e) = result {
            failure.get_or_insert(e);
        }
    }
    if let Err(e) = shared.cluster.heal() {
        failure.get_or_insert(e);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    note(
        &mut log,
        &shared,
        "healed: every link up, every server running".into(),
    );
    // Recovery: a read of a key no client uses, not recorded.
    let healed = Instant::now();
    let mut probe = ProcessClient::new(&shared.cluster, 0, options.recovery)?;
    let recovered = probe
        .execute(&Op::Get {
            key: "jepsen-lite/recovery".into(),
        })
        .0
        .is_ok();
    note(
        &mut log,
        &shared,
        match recovered {
            true => format!(
                "recovered: an operation committed {:.3} s after the heal",
                healed.elapsed().as_secs_f64()
            ),
            false => format!(
                "not recovered {:.1} s after the heal",
                options.recovery.as_secs_f64()
            ),
        },
    );
    progress(&Progress {
        elapsed: started.elapsed(),
        ops: shared.recorder.counts().0,
        ok: shared.recorder.counts().1,
        nemesis: None,
        phase: "final reads",
    });
    let reads = lock(&shared.generator).final_reads();
    let mut reader = ProcessClient::new(&shared.cluster, 0, options.op_timeout)?;
    for op in &reads {
        let process = shared.next_process.fetch_add(1, Ordering::Relaxed);
        if !invoke(&shared, process, &mut reader, op) {
            reader = ProcessClient::new(&shared.cluster, 0, options.op_timeout)?;
        }
    }
    note(
        &mut log,
        &shared,
        format!("final reads of {} keys done", reads.len()),
    );
    let errors = shared.client_errors.load(Ordering::Relaxed);
    if errors > 0 {
        note(
            &mut log,
            &shared,
            format!("{errors} operations refused or garbled by a server (recorded as info)"),
        );
    }
    for (a, row) in shared.cluster.proxies.iter().enumerate() {
        for (b, proxy) in row.iter().enumerate() {
            if let Some(proxy) = proxy {
                let s = proxy.stats();
                note(
                    &mut log,
                    &shared,
                    format!(
                        "link {}→{}: {} connections, {} cut, {} reset, {} bytes",
                        a + 1,
                        b + 1,
                        s.connections.load(Ordering::Relaxed),
                        s.cut.load(Ordering::Relaxed),
                        s.resets.load(Ordering::Relaxed),
                        s.bytes.load(Ordering::Relaxed)
                    ),
                );
            }
        }
    }
    shared.cluster.shutdown();
    let files = shared.cluster.logs();
    let events = shared.recorder.take();
    Ok(BackendRun {
        events,
        log,
        files,
        leaders,
    })
}
