//! The service on the emulated network ([`crate::network`]): one payload
//! type for everything a key/value cluster says, Raft's messages and the
//! clerks' requests and replies, and the wiring of servers and clerks to
//! it, as the lab runs `kvraft` over `labrpc`.

use crate::consensus::{Message, NodeId};
use crate::kv::clerk::{Clerk, ClerkConfig, RequestSink};
use crate::kv::protocol::{Reply, Request};
use crate::kv::server::{KvConfig, KvServer, ReplySink};
use crate::network::{Endpoint, Handler, Network, Wire};
use crate::runtime::{Persister, RaftError, Transport};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything a key/value cluster sends on its network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvMessage {
    /// Between Raft peers.
    Raft(Message),
    /// From a clerk to a server.
    Request(Request),
    /// From a server to a clerk.
    Reply(Reply),
}

impl Wire for KvMessage {
    fn is_reply(&self) -> bool {
        match self {
            KvMessage::Raft(message) => message.is_reply(),
            KvMessage::Request(_) => false,
            KvMessage::Reply(_) => true,
        }
    }
}

/// A Raft peer's [`Transport`] over a key/value network: wraps each
/// message in [`KvMessage::Raft`].
pub struct RaftOverKv(pub Endpoint<KvMessage>);

impl Transport for RaftOverKv {
    fn send(&self, to: NodeId, message: Message) {
        self.0.send(to, KvMessage::Raft(message));
    }
}

/// Starts server `me` of `members` on `network` from `persister`, and
/// registers it to receive: Raft messages go to its peer, requests to the
/// server. Call [`Network::delete_server`] before [`KvServer::shutdown`]
/// to crash it.
pub fn start_server(
    network: &Network<KvMessage>,
    members: Vec<NodeId>,
    me: NodeId,
    persister: Arc<dyn Persister>,
    config: KvConfig,
) -> Result<KvServer, RaftError> {
    let endpoint = network.endpoint(me);
    let replies = endpoint.clone();
    let reply: ReplySink = Arc::new(move |to, reply| replies.send(to, KvMessage::Reply(reply)));
    let server = KvServer::new(
        members,
        me,
        persister,
        config,
        Arc::new(RaftOverKv(endpoint)),
        reply,
    )?;
    network.add_server(me, server_handler(&server));
    Ok(server)
}

/// What the network calls to deliver to a server.
pub fn server_handler(server: &KvServer) -> Handler<KvMessage> {
    let server = server.clone();
    Arc::new(move |from, message| match message {
        KvMessage::Raft(message) => server.raft().receive(from, message),
        KvMessage::Request(request) => server.handle(from, request),
        // Servers get no replies; a misdirected one is ignored.
        KvMessage::Reply(_) => {}
    })
}

/// A clerk at address `me` on `network` for the servers at `servers`
/// (which links are enabled is the caller's business: the network starts
/// with all disabled).
pub fn clerk(
    network: &Network<KvMessage>,
    me: NodeId,
    servers: Vec<NodeId>,
    config: ClerkConfig,
) -> Clerk {
    let endpoint = network.endpoint(me);
    let send: RequestSink =
        Arc::new(move |to, request| endpoint.send(to, KvMessage::Request(request)));
    let (clerk, replies) = Clerk::new(servers, send, config);
    network.add_server(
        me,
        Arc::new(move |from, message| {
            // A reply for a clerk that has gone is dropped.
            if let KvMessage::Reply(reply) = message {
                let _ = replies.send((from, reply));
            }
        }),
    );
    clerk
}
