//! The nemesis and the phases: faults started and stopped in windows,
//! then the heal, the recovery probe, the final reads and the summary.

use super::{Ev, Net, PROBE_KEY, Phase, Sim, nanos, secs};
use crate::harness::Storage;
use crate::harness::event::{Kind, Process};
use crate::harness::generator::ClientOp;
use crate::harness::nemesis::{self, Fault};
use anyhow::Result;
use checked_raft::kv::Op;
use checked_raft::sim::servers::id;
use serde_json::Value as Json;

impl Sim<'_> {
    /// The server that leads in the highest term, if any.
    fn leader(&self) -> Option<usize> {
        (0..self.servers.len())
            .filter_map(|i| {
                self.servers
                    .node(i)
                    .filter(|n| n.is_leader())
                    .map(|n| (n.current_term(), i))
            })
            .max()
            .map(|(_, i)| i)
    }

    pub(super) fn nemesis(&mut self) -> Result<()> {
        if self.phase != Phase::Load {
            return Ok(());
        }
        let next = match self.fault.take() {
            Some(fault) => {
                self.stop_fault(&fault)?;
                self.options.nemesis_off
            }
            None => {
                let leader = self.leader();
                let drawn = nemesis::draw(
                    &mut self.nemesis_rng,
                    &self.options.nemesis,
                    self.servers.len(),
                    leader,
                );
                if let Some(fault) = drawn {
                    self.start_fault(&fault);
                    self.fault = Some(fault);
                }
                self.options.nemesis_on
            }
        };
        let at = self.world.queue.now().saturating_add(nanos(next));
        let time = nanos(self.options.time);
        // The next event stops the fault just started (if before the
        // clients stop: the heal stops it otherwise), or starts one, only
        // if that one ends before the clients stop.
        let due = match self.fault {
            Some(_) => at < time,
            None => at.saturating_add(nanos(self.options.nemesis_on)) <= time,
        };
        if due {
            self.world.queue.schedule_at(at, Ev::Nemesis);
        }
        Ok(())
    }

    fn start_fault(&mut self, fault: &Fault) {
        let (name, value) = (format!("start-{}", fault.name()), fault.description());
        let value = Json::String(value);
        self.record(Process::Nemesis, Kind::Info, &name, None, value, None);
        self.world
            .note_log(format!("start {}: {}", fault.name(), fault.description()));
        match fault {
            Fault::Partition(grudge) => self.world.net.grudge = Some(grudge.clone()),
            Fault::Kill(nodes) => {
                for &i in nodes {
                    if self.servers.is_up(i) {
                        self.servers.crash(i, &mut self.world);
                        self.world.note_log(format!("server {} killed", id(i).0));
                    }
                }
            }
            Fault::Unreliable => self.world.net.unreliable = true,
            Fault::Reorder => self.world.net.reorder = true,
            Fault::Pause(_) => {
                unreachable!("RunOptions::validate refuses pause outside the process backend")
            }
        }
    }

    fn stop_fault(&mut self, fault: &Fault) -> Result<()> {
        match fault {
            Fault::Partition(_) => self.world.net.grudge = None,
            Fault::Kill(nodes) => {
                for &i in nodes {
                    self.restart(i)?;
                }
            }
            Fault::Unreliable => self.world.net.unreliable = false,
            Fault::Reorder => self.world.net.reorder = false,
            Fault::Pause(_) => {
                unreachable!("RunOptions::validate refuses pause outside the process backend")
            }
        }
        let name = format!("stop-{}", fault.name());
        self.record(Process::Nemesis, Kind::Info, &name, None, Json::Null, None);
        self.world.note_log(format!("stop {}", fault.name()));
        Ok(())
    }

    fn restart(&mut self, server: usize) -> Result<()> {
        if server >= self.servers.len() || self.servers.is_up(server) {
            return Ok(());
        }
        let stored = self.servers.stored(server);
        let line = format!(
            "server {} restarts from its storage (term {}, snapshot through {}, log through {})",
            id(server).0,
            stored.hard_state.current_term.0,
            stored.snapshot_meta().last_included_index.0,
            stored.last_index().0
        );
        self.world.note_log(line);
        let started = self.servers.start(server, &mut self.world);
        self.checked(started)
    }

    /// The load ends: the fault stops, everything heals, and a probe (not
    /// recorded) waits for a write to commit before the final reads.
    pub(super) fn end_load(&mut self) -> Result<()> {
        self.phase = Phase::Heal;
        if let Some(fault) = self.fault.take() {
            self.stop_fault(&fault)?;
        }
        self.world.net = Net::default();
        for server in 0..self.servers.len() {
            self.restart(server)?;
        }
        self.world
            .note_log("healed: every link up, reliable network, every server up".into());
        self.healed_at = self.world.queue.now();
        let probe = ClientOp {
            f: "write",
            key: Some(PROBE_KEY.into()),
            value: Json::Null,
            op: Op::Put {
                key: PROBE_KEY.into(),
                value: "1".into(),
            },
        };
        let deadline = self
            .world
            .queue
            .now()
            .saturating_add(nanos(self.options.recovery));
        self.invoke(self.options.clients, probe, deadline);
        Ok(())
    }

    pub(super) fn probe_done(&mut self, recovered: bool) {
        let after = secs(self.world.queue.now() - self.healed_at);
        self.world.note_log(if recovered {
            format!("recovered: a write committed {after:.3} s after the heal")
        } else {
            format!("not recovered {after:.3} s after the heal; reading anyway")
        });
        self.phase = Phase::FinalReads;
        let reads = self.generator.final_reads();
        self.world
            .note_log(format!("final reads of {} keys", reads.len()));
        let clients = self.options.clients;
        for (k, op) in reads.into_iter().enumerate() {
            self.clients[k % clients].final_reads.push_back(op);
        }
        for slot in 0..clients {
            let c = &mut self.clients[slot];
            if c.op.is_none() {
                c.generation += 1;
                let generation = c.generation;
                self.world
                    .queue
                    .schedule(0, Ev::ClientStart { slot, generation });
            }
        }
        self.maybe_done();
    }

    pub(super) fn summarize(&mut self) {
        let s = &self.world.stats;
        let servers = self.servers.stats();
        let highest = (0..self.servers.len())
            .map(|i| self.servers.app(i).service().applied_index().0)
            .max()
            .unwrap_or(0);
        let leaders = self.servers.history().leaders();
        let lines = [
            format!(
                "operations: {} ({} ok, {} fail, {} info); {} processes",
                s.ops,
                s.ok,
                s.fail,
                s.info,
                self.options.clients as u64 + s.info
            ),
            format!(
                "raft messages: {} sent, {} cut by partitions, {} lost, {} to killed servers",
                s.raft_sent, s.raft_cut, s.raft_lost, s.raft_to_dead
            ),
            format!(
                "client messages: {} sent, {} lost, {} to killed servers",
                s.client_sent, s.client_lost, s.client_to_dead
            ),
            format!(
                "{} elections (last term {}); {} kills, {} restarts; {} snapshots taken, {} installed; applied through index {highest}; {} events simulated",
                leaders.len(),
                leaders.keys().next_back().map_or(0, |t| t.0),
                servers.crashes,
                servers.restarts,
                servers.snapshots_taken,
                servers.snapshots_installed,
                s.steps
            ),
        ];
        let mut lines = lines.to_vec();
        if self.options.storage == Storage::Disk {
            lines.push(format!(
                "on disk: every restart reopened its write-ahead log and found exactly what was acknowledged; {} restarts cut a torn or unsynced tail",
                servers.disk_repairs
            ));
        }
        for line in lines {
            self.world.note_log(line);
        }
    }
}
