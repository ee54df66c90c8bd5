//! An emulated network for message-passing Raft peers, equivalent to MIT
//! 6.824's `labrpc`: the same fault knobs (unreliable, long reordering, long
//! delays), the same crash semantics and the same counters, for servers
//! that talk in one-way messages. A [`Network`] carries one payload type,
//! any [`Wire`] type: the core's [`Message`]s by default, or a service's
//! own enum that wraps them next to its clerks' requests and replies, so
//! that a service's RPCs and its Raft peers' share one network and its
//! faults (see [below](#one-network-for-raft-and-a-service)).
//!
//! ```
//! use checked_raft::network::Network;
//! use checked_raft::runtime::{Handler, Transport};
//! use checked_raft::{LogIndex, Message, NodeId, RequestVote, Term};
//! use std::sync::{Arc, mpsc};
//!
//! let network = Network::with_seed(1);
//! let (tx, rx) = mpsc::channel();
//! let tx = std::sync::Mutex::new(tx);
//! let handler: Handler = Arc::new(move |from, message| {
//!     let _ = tx.lock().unwrap().send((from, message));
//! });
//! network.add_server(NodeId(2), handler);
//! network.connect(NodeId(1), &[NodeId(2)]); // links start disabled
//! let one = network.endpoint(NodeId(1));
//! let vote = Message::RequestVote(RequestVote {
//!     term: Term(1),
//!     last_log_index: LogIndex(0),
//!     last_log_term: Term(0),
//! });
//! one.send(NodeId(2), vote.clone());
//! assert_eq!(rx.recv().unwrap(), (NodeId(1), vote));
//! assert_eq!(network.rpc_count(NodeId(2)), 1);
//! network.shutdown();
//! ```
//!
//! # From labrpc's calls to one-way messages
//!
//! In labrpc a client end *calls* a server: the request travels, the handler
//! runs, and its reply travels back to the caller, or the call fails. Here
//! requests and replies are separate messages, each sent on its own through
//! an [`Endpoint`] and handed on delivery to the receiver's [`Handler`]; a
//! reply is whatever the receiving server sends back. [`Wire::is_reply`]
//! tells them apart: for the core's messages, RequestVote, AppendEntries
//! and InstallSnapshot are requests and their `*Reply`s replies. So each of
//! labrpc's behaviours becomes a rule about single messages, whatever the
//! payload:
//!
//! | labrpc | here |
//! | --- | --- |
//! | arguments and replies of any type, encoded with `labgob` | messages of the network's payload type `M`, any [`Wire`] type ([`Message`] by default), encoded with `postcard`; [`Wire::is_reply`] tells requests from replies |
//! | a `ClientEnd`, wired to a server | [`Network::endpoint`]`(id)`: sends as `id`'s current incarnation, to any server |
//! | `AddServer(name, server)` | [`Network::add_server`]`(id, handler)`, a [`Handler`] of `M` |
//! | `DeleteServer(name)`: calls in flight fail, "a killed server's replies are never delivered" | [`Network::delete_server`]`(id)`: `id` starts a new incarnation; messages in flight from or to the old one are dropped; endpoints handed out before are dead |
//! | `Enable(endname, bool)`, per end, ends start disabled | [`Network::enable`]`(from, to, bool)`, per directed link, links start **disabled**; [`Network::connect`] / [`Network::disconnect`] set both directions |
//! | `Reliable(false)`: a call waits 0..=26 ms; 10% of requests are lost before the handler runs, 10% of replies after | a request waits 0..=26 ms, its reply none; 10% of requests and 10% of replies are dropped |
//! | `LongReordering(true)`: 2 replies in 3 are held `200 + rand(0..=rand(0..2000))` ms | the same, for reply messages |
//! | `LongDelays(true)`: a call to a disabled end or a missing server fails after 0..7 s instead of 0..100 ms | sends never block, so nobody waits for that failure: such a message is held 0..7 s (0..100 ms without long delays), then counted as dropped; nothing else changes |
//! | `GetCount(server)`: calls dispatched to the server | [`Network::rpc_count`]`(id)`: requests delivered to `id`'s current incarnation |
//! | `GetTotalCount()`: calls made | [`Network::total_rpcs`]: requests sent |
//! | `GetTotalBytes()`: request and reply bytes | [`Network::total_bytes`]: encoded bytes of every message sent |
//!
//! A round trip on an unreliable network thus waits up to 26 ms and
//! loses a request or its reply with the same 19% chance as a labrpc call.
//!
//! # What a message goes through
//!
//! On [`Endpoint::send`] (or [`Transport::send`], for the core's messages)
//! the message is encoded with `postcard` (so nothing is shared by
//! reference, and byte counts are those of a compact wire format) and
//! counted; its fate is then decided from the knobs and the seeded random
//! number generator. It is dropped at once if the network
//! loses it, or held and then dropped if it cannot be delivered (the link
//! `from -> to` is disabled, the endpoint is dead, or `to` has no handler).
//! Otherwise it is queued for its delivery time. When that time comes it is
//! delivered only if the link is still enabled and both the sender and the
//! receiver are still the incarnations it was sent between: decoded as an
//! `M` (bytes that are not exactly one `M` are dropped and counted, never a
//! panic) and handed to the receiver's handler.
//!
//! # One network for Raft and a service
//!
//! A service replicated with Raft (a key/value store, say) has clerks that
//! call its servers, and servers whose Raft peers call each other; as in
//! the labs, both kinds of traffic go over one network, under the same
//! faults. The service defines one payload with a variant for the core's
//! [`Message`]s, whose [`Wire::is_reply`] it forwards, next to its own
//! requests and replies. Each server registers one handler that hands the
//! Raft variant to its peer ([`crate::runtime::Raft::handler`]) and
//! serves the rest, and gives its peer, as its [`Transport`], a small
//! adapter that wraps the peer's messages into the Raft variant. Clerks are
//! servers too, with identifiers of their own: they send requests through
//! their endpoint and receive replies in their handler. Counters count
//! both kinds of traffic ([`Network::rpc_count`] counts the Raft requests
//! and the clerks' requests a server received).
//!
//! ```
//! use checked_raft::network::{DEFAULT_SEED, Endpoint, Handler, Network, Wire};
//! use checked_raft::runtime::Transport;
//! use checked_raft::{LogIndex, Message, NodeId, RequestVote, Term};
//! use serde::{Deserialize, Serialize};
//! use std::sync::{Arc, Mutex, mpsc};
//!
//! #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
//! enum ServiceMessage {
//!     Raft(Message),
//!     Get { key: String },
//!     Value { value: String },
//! }
//!
//! impl Wire for ServiceMessage {
//!     fn is_reply(&self) -> bool {
//!         match self {
//!             ServiceMessage::Raft(message) => message.is_reply(),
//!             ServiceMessage::Get { .. } => false,
//!             ServiceMessage::Value { .. } => true,
//!         }
//!     }
//! }
//!
//! /// A Raft peer's transport: its messages, wrapped.
//! struct RaftOver(Endpoint<ServiceMessage>);
//!
//! impl Transport for RaftOver {
//!     fn send(&self, to: NodeId, message: Message) {
//!         self.0.send(to, ServiceMessage::Raft(message));
//!     }
//! }
//!
//! let (server, peer, clerk) = (NodeId(1), NodeId(2), NodeId(100));
//! let network = Network::<ServiceMessage>::seeded(DEFAULT_SEED);
//! network.connect(server, &[peer, clerk]);
//!
//! // The server: Raft's messages to its peer (here a stand-in for
//! // `raft.handler()`), the clerks' requests served.
//! let (raft_tx, raft_rx) = mpsc::channel();
//! let raft_tx = Mutex::new(raft_tx);
//! let raft: checked_raft::runtime::Handler = Arc::new(move |from, message| {
//!     let _ = raft_tx.lock().unwrap().send((from, message));
//! });
//! let endpoint = network.endpoint(server);
//! let handler: Handler<ServiceMessage> = Arc::new(move |from, message| match message {
//!     ServiceMessage::Raft(message) => raft(from, message),
//!     ServiceMessage::Get { key } => {
//!         endpoint.send(from, ServiceMessage::Value { value: key.to_uppercase() });
//!     }
//!     ServiceMessage::Value { .. } => {} // servers get no replies
//! });
//! network.add_server(server, handler);
//!
//! // The clerk: replies to a channel.
//! let (reply_tx, reply_rx) = mpsc::channel();
//! let reply_tx = Mutex::new(reply_tx);
//! network.add_server(clerk, Arc::new(move |_, message| {
//!     let _ = reply_tx.lock().unwrap().send(message);
//! }));
//!
//! // Another server's Raft peer, sending through the adapter.
//! let transport: Arc<dyn Transport> = Arc::new(RaftOver(network.endpoint(peer)));
//! let vote = Message::RequestVote(RequestVote {
//!     term: Term(1),
//!     last_log_index: LogIndex(0),
//!     last_log_term: Term(0),
//! });
//! transport.send(server, vote.clone());
//! network.endpoint(clerk).send(server, ServiceMessage::Get { key: "x".into() });
//!
//! assert_eq!(raft_rx.recv().unwrap(), (peer, vote));
//! assert_eq!(reply_rx.recv().unwrap(), ServiceMessage::Value { value: "X".into() });
//! assert_eq!(network.rpc_count(server), 2); // RequestVote and Get
//! assert_eq!(network.rpc_count(clerk), 0); // a reply is no RPC
//! network.shutdown();
//! ```
//!
//! # Delivery
//!
//! One dispatcher thread delivers every message, in order of delivery time
//! (ties in send order), so on a reliable network without long reordering
//! the messages from one server to another arrive in the order they were
//! sent. It sleeps on a condition variable until the earliest delivery time,
//! and never holds the network's lock while a handler runs: a handler may
//! send, and may call any method of the [`Network`] ([`Network::delete_server`]
//! and [`Network::shutdown`], called from a handler, do not wait for the
//! dispatcher, which is busy running that handler). Because there is one
//! dispatcher (where labrpc runs each handler in a goroutine of its own),
//! **a handler must return promptly**: while it runs, nothing else is
//! delivered. A handler that panics is counted ([`Stats::handler_panics`])
//! and delivery goes on.
//!
//! # Randomness
//!
//! [`Network::with_seed`] (or, for any payload, [`Network::seeded`]) seeds
//! the generator that decides delays and losses; [`Network::new`] uses
//! [`DEFAULT_SEED`]. The sequence of fates is thus fixed by the seed and the
//! order in which messages are sent (which threads may change from run to
//! run).
//!
//! # Shutdown
//!
//! [`Network::shutdown`], or dropping the last [`Network`] handle, stops the
//! dispatcher, discards the messages in flight (counted as dropped),
//! unregisters every handler and waits until the thread is gone. Endpoints
//! hold the network weakly, so a peer registered as a handler does not keep
//! it alive; a handler that holds a [`Network`] clone does, and then only an
//! explicit `shutdown` stops it.

mod counters;
mod dispatch;
mod endpoint;
mod faults;
mod topology;
mod wire;

// Real threads and real time: compiled out of the loom build.
#[cfg(all(test, not(feature = "loom")))]
mod tests;

pub use counters::Stats;
pub use endpoint::Endpoint;
pub use wire::{Handler, Wire};

use crate::consensus::{Message, NodeId};
#[cfg(doc)]
use crate::runtime::Transport;
use dispatch::Shared;
use faults::Faults;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};

/// The seed of [`Network::new`]'s random number generator.
pub const DEFAULT_SEED: u64 = 0x6824;

/// The emulated network, carrying payloads of type `M`: Raft's [`Message`]
/// by default, or any other [`Wire`] type (see the
/// [module documentation](self)). Cheap to clone: every clone is a handle
/// on the same network.
///
/// [`Network::new`], [`Network::with_seed`] and [`Network::try_with_seed`]
/// make a network of [`Message`]s; [`Network::seeded`] and
/// [`Network::try_seeded`] make one of any payload, as in
/// `Network::<ServiceMessage>::seeded(DEFAULT_SEED)`.
pub struct Network<M: Wire = Message> {
    inner: Arc<Handle<M>>,
}

/// What the handles share; dropping the last one shuts the network down.
struct Handle<M> {
    shared: Arc<Shared<M>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    dispatcher: ThreadId,
}

impl<M> Handle<M> {
    fn shutdown(&self) {
        self.shared.stop();
        if thread::current().id() == self.dispatcher {
            // A handler shutting the network down: the dispatcher stops when
            // the handler returns; it cannot wait for itself.
            return;
        }
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = thread.take() {
            // The dispatcher catches handler panics, so it ends normally.
            let _ = handle.join();
        }
    }
}

impl<M> Drop for Handle<M> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<M: Wire> Clone for Network<M> {
    fn clone(&self) -> Network<M> {
        Network {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Default for Network {
    /// As [`Network::new`].
    fn default() -> Network {
        Network::new()
    }
}

/// The constructors of a network of Raft's [`Message`]s, the default
/// payload (kept apart from the generic ones so that `Network::new()` needs
/// no type annotation).
impl Network {
    /// A reliable network without long reordering or long delays, with no
    /// servers and every link disabled, seeded with [`DEFAULT_SEED`]; starts
    /// the dispatcher thread.
    ///
    /// # Panics
    ///
    /// If the operating system cannot start a thread (as
    /// [`std::thread::spawn`]); [`Network::try_with_seed`] returns that
    /// error instead.
    pub fn new() -> Network {
        Network::with_seed(DEFAULT_SEED)
    }

    /// As [`Network::new`], with the random number generator seeded with
    /// `seed`.
    ///
    /// # Panics
    ///
    /// If the operating system cannot start a thread (as
    /// [`std::thread::spawn`]); [`Network::try_with_seed`] returns that
    /// error instead.
    pub fn with_seed(seed: u64) -> Network {
        Network::seeded(seed)
    }

    /// As [`Network::with_seed`], returning the error if the dispatcher
    /// thread cannot be started.
    pub fn try_with_seed(seed: u64) -> io::Result<Network> {
        Network::try_seeded(seed)
    }
}

impl<M: Wire> Network<M> {
    /// As [`Network::with_seed`], for a network carrying `M`:
    /// `Network::<M>::seeded(DEFAULT_SEED)` is the `M` network's
    /// [`Network::new`].
    ///
    /// # Panics
    ///
    /// If the operating system cannot start a thread (as
    /// [`std::thread::spawn`]); [`Network::try_seeded`] returns that error
    /// instead.
    pub fn seeded(seed: u64) -> Network<M> {
        match Network::try_seeded(seed) {
            Ok(network) => network,
            Err(error) => panic!("cannot start the network's dispatcher thread: {error}"),
        }
    }

    /// As [`Network::seeded`], returning the error if the dispatcher thread
    /// cannot be started.
    pub fn try_seeded(seed: u64) -> io::Result<Network<M>> {
        let shared = Arc::new(Shared::new(Faults::default(), StdRng::seed_from_u64(seed)));
        let dispatcher = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("network-dispatcher".into())
            .spawn(move || dispatch::run(&dispatcher))?;
        Ok(Network {
            inner: Arc::new(Handle {
                shared,
                dispatcher: thread.thread().id(),
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    fn shared(&self) -> &Shared<M> {
        &self.inner.shared
    }

    /// An endpoint that sends as the current incarnation of server `id`
    /// (on a network of [`Message`]s, give it, in an `Arc`, to the peer as
    /// its [`Transport`]). It dies when `id` is deleted; the restarted
    /// server needs a new one.
    pub fn endpoint(&self, id: NodeId) -> Endpoint<M> {
        Endpoint {
            address: self.shared().lock().topology.current(id),
            shared: Arc::downgrade(&self.inner.shared),
        }
    }

    /// Registers `handler` as the current incarnation of server `id`:
    /// messages to `id` are delivered to it from now on. Replaces the
    /// handler registered before, if any, without starting a new
    /// incarnation (messages in flight to `id` go to the new handler). After
    /// shutdown the handler is dropped at once.
    ///
    /// On a network of [`Message`]s the handler is a
    /// [`crate::runtime::Handler`], such as a peer's
    /// [`crate::runtime::Raft::handler`].
    pub fn add_server(&self, id: NodeId, handler: Handler<M>) {
        let mut state = self.shared().lock();
        let replaced = if state.shutdown {
            Some(handler)
        } else {
            state.topology.add(id, handler)
        };
        drop(state);
        drop(replaced);
    }

    /// Crashes server `id`: unregisters its handler and starts its next
    /// incarnation, so that endpoints handed out before are dead (what they
    /// send is dropped) and the messages in flight from or to the old
    /// incarnation are never delivered. Its [`rpc_count`](Network::rpc_count)
    /// restarts at 0, as labrpc's does for a new server. Links are left as
    /// they are.
    ///
    /// Returns once no handler of the old incarnation is running, so that
    /// none runs after it returns; called from a handler, it does not wait
    /// (the calling handler may be the old incarnation's own). Hence the
    /// caller must not hold anything the handler may wait for.
    ///
    /// A restarted server is `endpoint(id)` and `add_server(id, ..)` again.
    pub fn delete_server(&self, id: NodeId) {
        let shared = self.shared();
        let mut state = shared.lock();
        let old = state.topology.delete(id);
        let state = shared.wait_for_handler(state, id, self.inner.dispatcher);
        shared.counters.new_incarnation(id);
        drop(state);
        drop(old);
    }

    /// Enables or disables the directed link `from -> to`. Links start
    /// disabled. A message is delivered only if its link is enabled both
    /// when it is sent and when it is due.
    pub fn enable(&self, from: NodeId, to: NodeId, enabled: bool) {
        self.shared().lock().topology.set_link(from, to, enabled);
    }

    /// Whether the directed link `from -> to` is enabled.
    pub fn is_enabled(&self, from: NodeId, to: NodeId) -> bool {
        self.shared().lock().topology.is_enabled(from, to)
    }

    /// Enables the links between `id` and each of `peers`, both ways.
    pub fn connect(&self, id: NodeId, peers: &[NodeId]) {
        self.set_links(id, peers, true);
    }

    /// Disables the links between `id` and each of `peers`, both ways.
    pub fn disconnect(&self, id: NodeId, peers: &[NodeId]) {
        self.set_links(id, peers, false);
    }

    fn set_links(&self, id: NodeId, peers: &[NodeId], enabled: bool) {
        let mut state = self.shared().lock();
        for &peer in peers {
            state.topology.set_link(id, peer, enabled);
            state.topology.set_link(peer, id, enabled);
        }
    }

    /// Reliable (the default): no loss, no short delays. Unreliable: every
    /// request is delayed 0..=26 ms (replies are not, as in labrpc) and 10%
    /// of requests and 10% of replies are dropped (see [`Wire::is_reply`]).
    /// Applies to messages sent from now on.
    pub fn set_reliable(&self, reliable: bool) {
        self.shared().lock().faults.reliable = reliable;
    }

    /// On: two replies in three are held `200 + rand(0..=rand(0..2000))`
    /// ms (so 200..=2199 ms), reordering them behind later ones. Off by
    /// default. Applies to messages sent from now on.
    pub fn set_long_reordering(&self, long_reordering: bool) {
        self.shared().lock().faults.long_reordering = long_reordering;
    }

    /// labrpc's long delays: a call to a disconnected server fails only
    /// after 0..7 s. Here sends never wait, so the knob only sets how long
    /// an undeliverable message (disabled link, dead endpoint, no handler)
    /// is held before it is counted as dropped: 0..7 s when on, 0..100 ms
    /// when off (the default). It never changes what is delivered.
    pub fn set_long_delays(&self, long_delays: bool) {
        self.shared().lock().faults.long_delays = long_delays;
    }

    /// Requests delivered to the current incarnation of server `id`
    /// (labrpc's `GetCount`); replies ([`Wire::is_reply`]) are not counted.
    pub fn rpc_count(&self, id: NodeId) -> u64 {
        self.shared().counters.rpcs(id)
    }

    /// Requests sent, by every server, delivered or not (labrpc's
    /// `GetTotalCount`).
    pub fn total_rpcs(&self) -> u64 {
        self.shared().counters.stats().requests_sent
    }

    /// Encoded bytes of every message sent, requests and replies, delivered
    /// or not (labrpc's `GetTotalBytes`).
    pub fn total_bytes(&self) -> u64 {
        self.shared().counters.stats().bytes
    }

    /// Encoded bytes sent by server `id`, over all its incarnations.
    pub fn bytes_sent(&self, id: NodeId) -> u64 {
        self.shared().counters.bytes_sent(id)
    }

    /// The network's totals: sent, delivered, dropped, and more.
    pub fn stats(&self) -> Stats {
        self.shared().counters.stats()
    }

    /// Messages queued: in flight, or held before being dropped.
    pub fn in_flight(&self) -> usize {
        self.shared().lock().queued()
    }

    /// Stops the dispatcher, discards the messages in flight (counting them
    /// as dropped) and unregisters every handler; returns once the
    /// dispatcher thread is gone. What is sent afterwards is dropped.
    /// Idempotent. Called from a handler it cannot wait for the thread it
    /// runs on: the dispatcher then stops when that handler returns.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl<M: Wire> fmt::Debug for Network<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("stats", &self.stats())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}
