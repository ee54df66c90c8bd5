//! Who is on the network: the registered servers and their incarnations,
//! and which directed links are enabled.

use super::wire::Handler;
use crate::consensus::NodeId;
use std::collections::{HashMap, HashSet};

/// One incarnation of one server: what a message is sent from and to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Address {
    /// The server.
    pub(super) id: NodeId,
    /// Which life of the server: 0 at first, one more after each
    /// `delete_server`.
    pub(super) incarnation: u64,
}

/// The servers, their incarnations and the links between them. Links start
/// disabled, as labrpc's ends do. `M` is the payload the handlers receive.
pub(super) struct Topology<M> {
    handlers: HashMap<NodeId, Handler<M>>,
    incarnations: HashMap<NodeId, u64>,
    enabled: HashSet<(NodeId, NodeId)>,
}

impl<M> Default for Topology<M> {
    /// No servers, every link disabled.
    fn default() -> Topology<M> {
        Topology {
            handlers: HashMap::new(),
            incarnations: HashMap::new(),
            enabled: HashSet::new(),
        }
    }
}

impl<M> Topology<M> {
    /// The current incarnation of server `id`.
    pub(super) fn current(&self, id: NodeId) -> Address {
        Address {
            id,
            incarnation: self.incarnations.get(&id).copied().unwrap_or(0),
        }
    }

    /// Registers `handler` for the current incarnation of `id`, returning
    /// the handler it replaces (to be dropped outside the network's lock).
    pub(super) fn add(&mut self, id: NodeId, handler: Handler<M>) -> Option<Handler<M>> {
        self.handlers.insert(id, handler)
    }

    /// Ends the current incarnation of `id`: unregisters its handler
    /// (returned, to be dropped outside the network's lock) and starts the
    /// next incarnation.
    pub(super) fn delete(&mut self, id: NodeId) -> Option<Handler<M>> {
        let incarnation = self.incarnations.entry(id).or_insert(0);
        *incarnation = incarnation.saturating_add(1);
        self.handlers.remove(&id)
    }

    /// Unregisters every handler, returning them (to be dropped outside the
    /// network's lock).
    pub(super) fn clear_handlers(&mut self) -> Vec<Handler<M>> {
        self.handlers.drain().map(|(_, handler)| handler).collect()
    }

    /// Enables or disables the directed link `from -> to`.
    pub(super) fn set_link(&mut self, from: NodeId, to: NodeId, enabled: bool) {
        if enabled {
            self.enabled.insert((from, to));
        } else {
            self.enabled.remove(&(from, to));
        }
    }

    /// Whether the directed link `from -> to` is enabled.
    pub(super) fn is_enabled(&self, from: NodeId, to: NodeId) -> bool {
        self.enabled.contains(&(from, to))
    }

    /// The handler a message from `from` to `to` goes to, if it can go now:
    /// the link is enabled, both incarnations are current and `to` has a
    /// handler.
    pub(super) fn route(&self, from: Address, to: Address) -> Option<&Handler<M>> {
        if self.is_enabled(from.id, to.id)
            && self.current(from.id) == from
            && self.current(to.id) == to
        {
            self.handlers.get(&to.id)
        } else {
            None
        }
    }
}
