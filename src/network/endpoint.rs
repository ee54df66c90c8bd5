//! A server's way onto the network: what it sends through, and, for Raft's
//! [`Message`]s, the [`Transport`] a peer is given.

use super::dispatch::Shared;
use super::topology::Address;
use super::wire::Wire;
use crate::consensus::{Message, NodeId};
use crate::runtime::Transport;
use std::fmt;
use std::sync::Weak;

/// Sends `M`s as one incarnation of one server (see
/// [`super::Network::endpoint`]). An `Endpoint` (of the default payload,
/// Raft's [`Message`]) is a [`Transport`].
///
/// Cheap to clone. Once its server is deleted (crashed), or the network is
/// shut down or dropped, what it sends is dropped.
pub struct Endpoint<M: Wire = Message> {
    pub(super) address: Address,
    /// Weak, so that a peer holding its endpoint, registered as a handler,
    /// does not keep the network alive.
    pub(super) shared: Weak<Shared<M>>,
}

impl<M: Wire> Endpoint<M> {
    /// The server this endpoint sends as.
    pub fn id(&self) -> NodeId {
        self.address.id
    }

    /// Which incarnation of the server it sends as: 0 at first, one more
    /// after each [`super::Network::delete_server`].
    pub fn incarnation(&self) -> u64 {
        self.address.incarnation
    }

    /// Sends `message` to server `to`: encodes it, counts it and queues it
    /// (or drops it); never blocks on delivery.
    pub fn send(&self, to: NodeId, message: M) {
        if let Some(shared) = self.shared.upgrade() {
            shared.send(self.address, to, &message);
        }
    }
}

impl Transport for Endpoint {
    /// As [`Endpoint::send`]: encodes `message`, counts it and queues it
    /// (or drops it); never blocks on delivery.
    fn send(&self, to: NodeId, message: Message) {
        // The inherent method (inherent methods take precedence).
        Endpoint::send(self, to, message);
    }
}

impl<M: Wire> Clone for Endpoint<M> {
    fn clone(&self) -> Endpoint<M> {
        Endpoint {
            address: self.address,
            shared: Weak::clone(&self.shared),
        }
    }
}

impl<M: Wire> fmt::Debug for Endpoint<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.address.id)
            .field("incarnation", &self.address.incarnation)
            .finish()
    }
}
