//! How a peer's messages leave it and reach it: the seam between the
//! runtime and a network (the emulated network of [`crate::network`], or an
//! in-process channel transport).

use crate::consensus::{Message, NodeId};
use std::sync::Arc;

/// Where one peer's outgoing messages go. The transport knows which peer
/// it belongs to; `send` never blocks on the network (it queues and
/// returns), so the runtime may call it at any time.
pub trait Transport: Send + Sync {
    /// Sends `message` from this peer to peer `to`. Delivery is not
    /// guaranteed: the network may drop, delay, reorder or duplicate it.
    fn send(&self, to: NodeId, message: Message);
}

/// What a network calls to deliver a message to a peer: the sender and the
/// message. The runtime's [`crate::runtime::Raft::receive`] is one.
pub type Handler = Arc<dyn Fn(NodeId, Message) + Send + Sync>;
