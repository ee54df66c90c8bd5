//! What a run does: cluster size, clients, duration, workload, faults.

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The operations clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Read, write and compare-and-set of small integers, on a few keys,
    /// each key an independent register (checked with the register model).
    Register,
    /// Get, put and append of short strings on a few keys (kv model).
    Kv,
    /// Appends of unique values and gets, on a few keys (kv model): every
    /// value ever written is distinct, so a read shows exactly which
    /// appends it saw and in what order.
    Append,
    /// Transactions of reads and appends over a few keys, each applied
    /// atomically through the log, judged by the Elle-style checker
    /// ([`crate::elle`]): with list-append, every read reveals the order
    /// of the appends it saw, so strict serializability is checked in
    /// near-linear time and anomalies are named (Kingsbury and Alvaro,
    /// VLDB 2020).
    ListAppend,
}

impl Workload {
    /// The name, as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Register => "register",
            Workload::Kv => "kv",
            Workload::Append => "append",
            Workload::ListAppend => "list-append",
        }
    }
}

/// A kind of fault the nemesis injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisKind {
    /// Network partitions: random halves, the leader isolated, a ring of
    /// overlapping majorities, or two halves joined by a bridge node.
    Partition,
    /// Crash nodes (keeping what they persisted) and restart them.
    Kill,
    /// Drop and delay messages at random.
    Unreliable,
    /// Delay messages for long and random times, so they arrive far out of
    /// order.
    Reorder,
    /// Freeze servers (SIGSTOP) and thaw them (SIGCONT): the process
    /// backend only.
    Pause,
}

impl NemesisKind {
    /// The name, as given on the command line and in nemesis events.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Partition => "partition",
            NemesisKind::Kill => "kill",
            NemesisKind::Unreliable => "unreliable",
            NemesisKind::Reorder => "reorder",
            NemesisKind::Pause => "pause",
        }
    }

    /// Every kind the in-process backends inject, in a fixed order (the
    /// default `--nemesis`).
    pub const ALL: [NemesisKind; 4] = [
        NemesisKind::Partition,
        NemesisKind::Kill,
        NemesisKind::Unreliable,
        NemesisKind::Reorder,
    ];

    /// Every kind there is, `pause` included.
    pub const EVERY: [NemesisKind; 5] = [
        NemesisKind::Partition,
        NemesisKind::Kill,
        NemesisKind::Unreliable,
        NemesisKind::Reorder,
        NemesisKind::Pause,
    ];
}

/// What runs the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The thread runtime over the emulated network, in real time.
    Threads,
    /// The seeded whole-cluster simulator, in virtual time: a run is
    /// exactly reproducible from its seed.
    Sim,
    /// Real `raft-kv serve` processes on loopback, killed with SIGKILL,
    /// paused with SIGSTOP, partitioned through per-link TCP proxies.
    Process,
}

impl Backend {
    /// The name, as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Threads => "threads",
            Backend::Sim => "sim",
            Backend::Process => "process",
        }
    }
}

/// Where the servers keep their Raft state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    /// `MemoryPersister`: a killed server restarts from a copy of what it
    /// persisted, as the lab's tester does.
    #[default]
    Memory,
    /// `DiskStorage`. Threads backend: each server's write-ahead log in a
    /// directory of a temporary directory removed after the run, every
    /// batch made durable with `fdatasync`, and a killed server restarts
    /// by reopening its log (recovery, torn-tail repair and all). Sim
    /// backend: each server's log on a simulated disk that crashes
    /// (`checked_raft::sim::disk`), writes completing in events of their
    /// own; a kill reboots the disk to a random crash mode.
    Disk,
}

/// The storage a process backend's servers use by default (a real
/// cluster keeps its log on disk).
pub const PROCESS_DEFAULT_STORAGE: Storage = Storage::Disk;

/// Why `--backend process` is refused by a build without it.
pub const NO_PROCESS_BACKEND: &str = "this jepsen-lite was built without the process backend (cargo feature `process`, on by default)";

impl Storage {
    /// The name, as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Storage::Memory => "memory",
            Storage::Disk => "disk",
        }
    }
}

/// A deliberately broken service, to show that the harness finds what it
/// is meant to find. Only with the `bug-catalogue` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceBug {
    /// Every server answers gets from its own state machine at once,
    /// without going through the log: a follower or a deposed leader
    /// serves stale values.
    LocalReads,
}

/// Everything a run needs.
#[derive(Clone, Debug, Serialize)]
pub struct RunOptions {
    /// Servers in the cluster.
    pub nodes: usize,
    /// Concurrent client processes.
    pub clients: usize,
    /// How long clients run under faults (virtual time for the simulator),
    /// before the final heal.
    #[serde(serialize_with = "seconds")]
    pub time: Duration,
    /// The operations.
    pub workload: Workload,
    /// The faults to inject (none: a fault-free run).
    pub nemesis: Vec<NemesisKind>,
    /// Seeds every random choice (of the generator, the nemesis and, in the
    /// simulator, of everything else).
    pub seed: u64,
    /// Total client operations per second, over all clients (`None`: as
    /// fast as the clients go).
    pub rate: Option<f64>,
    /// How long a fault lasts, and the pause between faults.
    #[serde(serialize_with = "seconds")]
    pub nemesis_on: Duration,
    /// See `nemesis_on`.
    #[serde(serialize_with = "seconds")]
    pub nemesis_off: Duration,
    /// A client gives up on an operation after this long: a read is then
    /// `fail`, a write `info`.
    #[serde(serialize_with = "seconds")]
    pub op_timeout: Duration,
    /// Keys in use at once.
    pub keys: usize,
    /// Operations on a key before it is retired for a fresh one (keeps each
    /// key's history small enough to check).
    pub ops_per_key: u64,
    /// After the final heal, how long to wait for the cluster to serve
    /// again before the final reads.
    #[serde(serialize_with = "seconds")]
    pub recovery: Duration,
    /// The checker's time limit (an undecided check is `unknown`).
    #[serde(serialize_with = "seconds")]
    pub check_timeout: Duration,
    /// Where reports go: `<store>/<test>/<timestamp>/`.
    pub store: PathBuf,
    /// What runs the cluster.
    pub backend: Backend,
    /// Where the servers keep their Raft state (the threads backend).
    pub storage: Storage,
    /// A deliberately broken service (test-only).
    pub bug: Option<ServiceBug>,
    /// The process backend's `raft-kv` binary (`None`: next to this
    /// executable, or on the `PATH`).
    pub server_bin: Option<PathBuf>,
}

/// Durations in `results.json` as seconds.
fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for RunOptions {
    /// A useful 30-second test: 5 nodes, 10 clients, the register
    /// workload at 200 ops/s, every fault on a 5 s on / 5 s off cycle.
    fn default() -> RunOptions {
        RunOptions {
            nodes: 5,
            clients: 10,
            time: Duration::from_secs(30),
            workload: Workload::Register,
            nemesis: NemesisKind::ALL.to_vec(),
            seed: 0,
            rate: Some(200.0),
            nemesis_on: Duration::from_secs(5),
            nemesis_off: Duration::from_secs(5),
            op_timeout: Duration::from_secs(1),
            keys: 4,
            ops_per_key: 300,
            recovery: Duration::from_secs(10),
            check_timeout: Duration::from_secs(60),
            store: PathBuf::from("store"),
            backend: Backend::Threads,
            storage: Storage::Memory,
            bug: None,
            server_bin: None,
        }
    }
}

impl RunOptions {
    /// The test's name, e.g. `register-partition-kill`: the directory
    /// under the store.
    pub fn test_name(&self) -> String {
        let mut name = self.workload.name().to_string();
        if self.nemesis.is_empty() {
            name.push_str("-none");
        }
        for kind in &self.nemesis {
            name.push('-');
            name.push_str(kind.name());
        }
        if self.backend == Backend::Sim {
            name.push_str("-sim");
        }
        if self.backend == Backend::Process {
            name.push_str("-process");
        }
        if self.storage == Storage::Disk {
            name.push_str("-disk");
        }
        name
    }

    /// The `jepsen-lite run` command that repeats this run: every option
    /// that shapes the history, spelled as the command line takes it.
    pub fn command_line(&self) -> String {
        let secs = |d: Duration| format!("{}s", d.as_secs_f64());
        let nemesis = match self.nemesis.is_empty() {
            true => "none".to_string(),
            false => self
                .nemesis
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(","),
        };
        let mut line = format!(
            "jepsen-lite run --backend {} --seed {} --nodes {} --clients {} --time {} --workload {} --nemesis {nemesis} --rate {} --nemesis-on {} --nemesis-off {} --op-timeout {} --keys {} --ops-per-key {} --storage {}",
            self.backend.name(),
            self.seed,
            self.nodes,
            self.clients,
            secs(self.time),
            self.workload.name(),
            self.rate
                .map_or_else(|| "unlimited".to_string(), |r| r.to_string()),
            secs(self.nemesis_on),
            secs(self.nemesis_off),
            secs(self.op_timeout),
            self.keys,
            self.ops_per_key,
            self.storage.name(),
        );
        if let Some(ServiceBug::LocalReads) = self.bug {
            line.push_str(" --bug local-reads");
        }
        line
    }

    /// Checks the options make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 {
            return Err("--nodes must be at least 1".into());
        }
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if self.ops_per_key == 0 {
            return Err("--ops-per-key must be at least 1".into());
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!("--rate must be a positive number, not {rate}"));
        }
        if self.op_timeout.is_zero() {
            return Err("--op-timeout must be positive".into());
        }
        if self.time.is_zero() {
            return Err("--time must be positive".into());
        }
        if !self.nemesis.is_empty() && self.nemesis_on.is_zero() {
            return Err("--nemesis-on must be positive".into());
        }
        // The first fault starts after one pause and must end before the
        // clients stop: a shorter run would test no fault at all.
        let cycle = self.nemesis_off + self.nemesis_on;
        if !self.nemesis.is_empty() && self.time < cycle {
            return Err(format!(
                "--time {:?} is shorter than one nemesis cycle ({:?} off, then {:?} on): no fault would fire (use --nemesis none for a fault-free run)",
                self.time, self.nemesis_off, self.nemesis_on
            ));
        }
        if self.backend != Backend::Process && self.nemesis.contains(&NemesisKind::Pause) {
            return Err("--nemesis pause needs --backend process (it stops real processes)".into());
        }
        if self.backend == Backend::Process && !cfg!(feature = "process") {
            return Err(NO_PROCESS_BACKEND.into());
        }
        if self.backend == Backend::Process {
            if !matches!(self.workload, Workload::Register | Workload::ListAppend) {
                return Err(format!(
                    "--workload {} needs a single-key append, which etcd's API (the process backend's) does not have: use --workload register or list-append",
                    self.workload.name()
                ));
            }
            // Every requested fault must fire: one round takes each kind once.
            let round = (self.nemesis_on + self.nemesis_off) * self.nemesis.len() as u32;
            if !self.nemesis.is_empty() && self.time < round {
                return Err(format!(
                    "--time {:?} is shorter than one round of faults ({} kinds × ({:?} on + {:?} off) = {:?}): some would never fire",
                    self.time,
                    self.nemesis.len(),
                    self.nemesis_on,
                    self.nemesis_off,
                    round
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_every_option_that_shapes_a_run() {
        let options = RunOptions {
            backend: Backend::Sim,
            seed: 42,
            nemesis: vec![NemesisKind::Kill, NemesisKind::Partition],
            nemesis_off: Duration::from_millis(500),
            bug: Some(ServiceBug::LocalReads),
            ..RunOptions::default()
        };
        let line = options.command_line();
        for part in [
            "--backend sim",
            "--seed 42",
            "--nemesis kill,partition",
            "--nemesis-off 0.5s",
            "--time 30s",
            "--rate 200",
            "--bug local-reads",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        let none = RunOptions {
            nemesis: Vec::new(),
            rate: None,
            ..RunOptions::default()
        };
        assert!(
            none.command_line()
                .contains("--nemesis none --rate unlimited")
        );
    }

    #[test]
    fn runs_too_short_for_a_fault_are_refused() {
        let zero = RunOptions {
            time: Duration::ZERO,
            ..RunOptions::default()
        };
        assert!(
            zero.validate()
                .unwrap_err()
                .contains("--time must be positive")
        );
        let short = RunOptions {
            time: Duration::from_secs(9),
            ..RunOptions::default()
        };
        assert!(
            short
                .validate()
                .unwrap_err()
                .contains("shorter than one nemesis cycle")
        );
        let quiet = RunOptions {
            time: Duration::from_secs(1),
            nemesis: Vec::new(),
            ..RunOptions::default()
        };
        assert!(quiet.validate().is_ok());
    }
}
