//! The key/value service as a simulated server's application: the one
//! sans-IO [`KvService`] the thread server drives, here driven by
//! [`crate::sim::Servers`]. Committed entries and snapshots go to the
//! service; its replies come out as the application's outputs; its
//! snapshots compact the server's log; it sees the core's term and role
//! after every step. Requests and proposals are the driver's to wire
//! ([`KvApp::service_mut`], [`crate::sim::Servers::propose`]).

use crate::consensus::{Entry, Node, NodeId, Snapshot};
use crate::kv::protocol::Reply;
use crate::kv::service::{KvEffect, KvService};
use crate::sim::servers::{AppEffect, Application, StorageInfo};

/// One simulated server's key/value service; `A` is a clerk's address.
#[derive(Clone, Debug)]
pub struct KvApp<A> {
    service: KvService<A>,
}

impl<A: Clone> KvApp<A> {
    /// The service of one server of `members`, snapshotting at
    /// `max_raft_state` bytes of persisted Raft state.
    pub fn new(members: Vec<NodeId>, max_raft_state: Option<usize>) -> KvApp<A> {
        KvApp {
            service: KvService::new(members, max_raft_state),
        }
    }

    /// The service.
    pub fn service(&self) -> &KvService<A> {
        &self.service
    }

    /// The service, to hand it a request or a proposal's outcome.
    pub fn service_mut(&mut self) -> &mut KvService<A> {
        &mut self.service
    }
}

/// The service's effects as the simulator's: a proposal cannot come from
/// applying (only from a request, which the driver wires).
fn convert<A>(effects: Vec<KvEffect<A>>) -> Result<Vec<AppEffect<(A, Reply)>>, String> {
    effects
        .into_iter()
        .map(|effect| match effect {
            KvEffect::Reply { to, reply } => Ok(AppEffect::Output((to, reply))),
            KvEffect::Snapshot { index, data } => Ok(AppEffect::Snapshot { index, data }),
            KvEffect::Propose { command, .. } => Err(format!(
                "the service proposed {command:?} outside a request"
            )),
        })
        .collect()
}

impl<A: Clone> Application for KvApp<A> {
    /// A reply and the clerk it goes to.
    type Output = (A, Reply);

    fn apply(
        &mut self,
        entry: &Entry,
        storage: StorageInfo,
    ) -> Result<Vec<AppEffect<(A, Reply)>>, String> {
        let before = self.service.undecodable_entries();
        let effects = self
            .service
            .applied(
                entry.index,
                entry.term,
                &entry.command,
                storage.raft_state_size,
            )
            .map_err(|e| e.to_string())?;
        if self.service.undecodable_entries() != before {
            return Err(format!("entry {} is not a command", entry.index));
        }
        convert(effects)
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<Vec<AppEffect<(A, Reply)>>, String> {
        let index = snapshot.meta.last_included_index;
        let effects = self
            .service
            .snapshot_installed(index, &snapshot.data)
            .map_err(|e| e.to_string())?;
        convert(effects)
    }

    fn observe(&mut self, node: &Node) -> Vec<AppEffect<(A, Reply)>> {
        let effects =
            self.service
                .leadership(node.current_term(), node.leader_id(), node.is_leader());
        // Only replies come of a change of leadership.
        convert(effects).unwrap_or_default()
    }
}
