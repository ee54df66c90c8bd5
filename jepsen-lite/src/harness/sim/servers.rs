//! The simulator's wiring to the servers, and only wiring: a clerk's
//! request into a server's service, the service's effects into the
//! core and back, and the leaders the history saw, into the log.

use super::{Addr, Sim};
use crate::harness::LeaderSeen;
use anyhow::{Result, bail};
use checked_raft::kv::{KvEffect, Proposal, Request};
use checked_raft::sim::Driver;
use checked_raft::{NodeId, Term};
use std::collections::VecDeque;

impl Sim<'_> {
    /// A clerk's request arrives at a server: the service decides; a
    /// proposal it asks for goes to the core, and the outcome back to it.
    pub(super) fn request(&mut self, server: usize, from: Addr, request: Request) -> Result<()> {
        if !self.servers.is_up(server) {
            self.world.stats.client_to_dead += 1;
            return Ok(());
        }
        let effects = self
            .servers
            .app_mut(server)
            .service_mut()
            .request(from, request);
        self.serve(server, effects)
    }

    fn serve(&mut self, server: usize, effects: Vec<KvEffect<Addr>>) -> Result<()> {
        let mut effects = VecDeque::from(effects);
        while let Some(effect) = effects.pop_front() {
            match effect {
                KvEffect::Reply { to, reply } => self.world.output(server, (to, reply)),
                KvEffect::Propose { command, reply_to } => {
                    let proposed =
                        self.servers
                            .propose(server, [command.encode()], &mut self.world);
                    let proposal = match self.checked(proposed)? {
                        Some(Ok(p)) => Proposal::Accepted {
                            index: p.index,
                            term: p.term,
                        },
                        Some(Err(not_leader)) => Proposal::NotLeader {
                            leader_hint: not_leader.leader_hint,
                        },
                        // Crashed while it ran the proposal's effects.
                        None => Proposal::Stopped,
                    };
                    if !self.servers.is_up(server) {
                        continue;
                    }
                    let more = self
                        .servers
                        .app_mut(server)
                        .service_mut()
                        .proposed(reply_to, &command, proposal);
                    effects.extend(more);
                }
                KvEffect::Snapshot { index, .. } => {
                    bail!("the service asked for a snapshot through {index} outside applying")
                }
            }
        }
        Ok(())
    }

    /// Logs each leader the history saw elected since the last look.
    pub(super) fn log_new_leaders(&mut self) {
        let leaders = self.servers.history().leaders();
        if leaders.len() == self.leaders_seen {
            return;
        }
        let new: Vec<(Term, NodeId)> = leaders
            .iter()
            .rev()
            .take(leaders.len() - self.leaders_seen)
            .map(|(&t, &n)| (t, n))
            .collect();
        self.leaders_seen = leaders.len();
        for (term, leader) in new.into_iter().rev() {
            self.world
                .note_log(format!("server {} leads in term {}", leader.0, term.0));
            self.leaders.push(LeaderSeen {
                time: self.world.queue.now(),
                leader: leader.0,
                term: term.0,
            });
        }
    }
}
