//! The clients: Jepsen's processes on the library's clerks, their pacing,
//! and each operation from invocation to its recorded completion.

use super::{Ev, Phase, Sim, nanos};
use crate::harness::event::{Kind, Process};
use crate::harness::generator::{self, ClientOp};
use checked_raft::kv::{ClerkConfig, ClerkEffect, ClerkState, Indeterminate, Output};
use checked_raft::sim::servers::id;
use rand::Rng;
use std::time::Duration;

impl Sim<'_> {
    /// Schedules a client's next operation: at its share of the rate (a
    /// pause uniform in `0..2 × clients / rate`, paced from the previous
    /// start as the threads backend does), or at once without a rate.
    pub(super) fn schedule_next_op(&mut self, slot: usize) {
        let gap = match self.options.rate {
            Some(rate) => {
                let mean = self.options.clients as f64 / rate;
                let gap = mean * self.world.rng.random_range(0.0..2.0);
                Duration::try_from_secs_f64(gap).map_or(u64::MAX, nanos)
            }
            None => 0,
        };
        let now = self.world.queue.now();
        let c = &mut self.clients[slot];
        c.next_at = c.next_at.saturating_add(gap).max(now);
        c.generation += 1;
        let (at, generation) = (c.next_at, c.generation);
        self.world
            .queue
            .schedule_at(at, Ev::ClientStart { slot, generation });
    }

    pub(super) fn next_op(&mut self, slot: usize) {
        let op = match self.phase {
            Phase::Load => self.generator.next_op(slot),
            Phase::FinalReads => match self.clients[slot].final_reads.pop_front() {
                Some(op) => op,
                None => return,
            },
            Phase::Heal | Phase::Done => return,
        };
        let deadline = self
            .world
            .queue
            .now()
            .saturating_add(nanos(self.options.op_timeout));
        self.invoke(slot, op, deadline);
    }

    pub(super) fn invoke(&mut self, slot: usize, op: ClientOp, deadline: u64) {
        let c = &mut self.clients[slot];
        if c.recorded {
            let (name, key, value) = (op.f, op.key.clone(), op.value.clone());
            let process = Process::Client(c.process);
            self.record(process, Kind::Invoke, name, key, value, None);
        }
        let now = Duration::from_nanos(self.world.queue.now());
        let c = &mut self.clients[slot];
        let effect = c
            .clerk
            .invoke(op.op.clone(), now, Some(Duration::from_nanos(deadline)));
        c.op = Some(op);
        self.clerk_effect(slot, Some(effect));
    }

    /// Carries out what a clerk decided.
    pub(super) fn clerk_effect(&mut self, slot: usize, effect: Option<ClerkEffect>) {
        self.clerk_effect_from(slot, effect, None);
    }

    /// Carries out what a clerk decided on a reply from the server at
    /// position `from` (`None`: on a timeout or a back-off): an output it
    /// accepted is that server's answer.
    pub(super) fn clerk_effect_from(
        &mut self,
        slot: usize,
        effect: Option<ClerkEffect>,
        from: Option<usize>,
    ) {
        match effect {
            None => {}
            Some(ClerkEffect::Send {
                server,
                attempt,
                request,
                timeout_at,
            }) => {
                self.world.send_client(Ev::Request {
                    slot,
                    attempt,
                    server,
                    request,
                });
                let at = nanos(timeout_at);
                self.world
                    .queue
                    .schedule_at(at, Ev::AttemptTimeout { slot, attempt });
            }
            Some(ClerkEffect::Wait { attempt, until }) => {
                let at = nanos(until);
                self.world
                    .queue
                    .schedule_at(at, Ev::ClientResume { slot, attempt });
            }
            Some(ClerkEffect::Done(result)) => {
                // Only a reply carries an output: a timeout's `Done` is
                // indeterminate and has no server.
                let node = from.filter(|_| result.is_ok()).map(|s| id(s).0);
                self.complete(slot, result, node);
            }
        }
    }

    /// Ends the client's operation and records it, with the id of the
    /// server that answered it (`node`) if one did; an indeterminate one
    /// retires the process (a new process, with a new client id, follows).
    fn complete(&mut self, slot: usize, result: Result<Output, Indeterminate>, node: Option<u64>) {
        let Some(op) = self.clients[slot].op.take() else {
            return;
        };
        if !self.clients[slot].recorded {
            self.probe_done(result.is_ok());
            return;
        }
        let (kind, value, error) = generator::completion(self.options.workload, &op, result);
        if kind == Kind::Info {
            self.generator.indeterminate(op.key.as_deref());
        }
        let process = self.clients[slot].process;
        let (process, key) = (Process::Client(process), op.key);
        self.record(process, kind, op.f, key, value, error).node = node;
        let stats = &mut self.world.stats;
        stats.ops += 1;
        match kind {
            Kind::Ok => stats.ok += 1,
            Kind::Fail => stats.fail += 1,
            Kind::Info | Kind::Invoke => stats.info += 1,
        }
        let clients = self.options.clients as u64;
        let nodes = self.servers.len();
        let c = &mut self.clients[slot];
        if kind == Kind::Info {
            c.process += clients;
            let leader = c.clerk.leader();
            c.clerk = ClerkState::new(c.process + 1, nodes, leader, ClerkConfig::default());
        }
        match self.phase {
            Phase::Load => self.schedule_next_op(slot),
            Phase::FinalReads => {
                c.generation += 1;
                let generation = c.generation;
                self.world
                    .queue
                    .schedule(0, Ev::ClientStart { slot, generation });
                self.maybe_done();
            }
            Phase::Heal | Phase::Done => {}
        }
    }

    pub(super) fn maybe_done(&mut self) {
        let idle = self.clients.iter().filter(|c| c.recorded);
        if self.phase == Phase::FinalReads
            && idle.clone().all(|c| c.op.is_none())
            && idle.clone().all(|c| c.final_reads.is_empty())
        {
            self.phase = Phase::Done;
        }
    }
}
