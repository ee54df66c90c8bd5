//! A server's way onto the network: the [`Transport`] a peer is given.

use super::dispatch::Shared;
use super::topology::Address;
use crate::consensus::{Message, NodeId};
use crate::runtime::Transport;
use std::fmt;
use std::sync::Weak;

/// Sends as one incarnation of one server (see [`super::Network::endpoint`]).
///
/// Cheap to clone. Once its server is deleted (crashed), or the network is
/// shut down or dropped, what it sends is dropped.
#[derive(Clone)]
pub struct Endpoint {
    pub(super) address: Address,
    /// Weak, so that a peer holding its endpoint, registered as a handler,
    /// does not keep the network alive.
    pub(super) shared: Weak<Shared>,
}

impl Endpoint {
    /// The server this endpoint sends as.
    pub fn id(&self) -> NodeId {
        self.address.id
    }

    /// Which incarnation of the server it sends as: 0 at first, one more
    /// after each [`super::Network::delete_server`].
    pub fn incarnation(&self) -> u64 {
        self.address.incarnation
    }
}

impl Transport for Endpoint {
    /// Encodes `message`, counts it and queues it (or drops it); never
    /// blocks on delivery.
    fn send(&self, to: NodeId, message: Message) {
        if let Some(shared) = self.shared.upgrade() {
            shared.send(self.address, to, &message);
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.address.id)
            .field("incarnation", &self.address.incarnation)
            .finish()
    }
}
