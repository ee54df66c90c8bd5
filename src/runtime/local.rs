//! [`LocalNetwork`]: peers in one process, wired by channels. Messages are
//! moved, never encoded: the transport of an embedded cluster and of the
//! benchmarks' "in-process, no serialization" condition (the one openraft's
//! own benchmark measures).
//!
//! Requests (RequestVote, AppendEntries, InstallSnapshot) are queued: each
//! peer has a delivery thread that blocks on its inbox, takes every message
//! waiting there (up to [`MAX_BATCH`]) and hands them to the peer in one
//! [`Raft::receive_batch`]: one acquisition of the node lock and one round
//! of sends per wakeup, however many messages arrived meanwhile.
//!
//! Replies are handed to their addressee at once, on the replying thread,
//! as a function-call RPC returns its result to the caller: no thread
//! hand-off on the way back. This cannot recurse: the runtime sends only
//! after releasing the node lock, and handling a reply produces requests
//! (which are queued) and never replies.
//!
//! It is reliable and ordered per pair of peers: no loss, no delay, no
//! duplication. Faults belong to [`crate::network`].

use crate::consensus::{Message, NodeId};
use crate::network::Wire;
use crate::runtime::raft::Raft;
use crate::runtime::transport::Transport;
use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

/// Most messages handed to a peer in one [`Raft::receive_batch`].
pub const MAX_BATCH: usize = 1024;

/// What travels on an inbox: a message from a peer, or the order to stop.
enum Envelope {
    Message(NodeId, Message),
    Stop,
}

/// In-process channels between the members of one cluster.
pub struct LocalNetwork {
    senders: BTreeMap<NodeId, Sender<Envelope>>,
    peers: Peers,
    inboxes: Mutex<BTreeMap<NodeId, Receiver<Envelope>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The attached peers, by id, to hand replies to. Emptied at shutdown
/// (a peer holds its transport, which holds this: the cycle is broken
/// there).
type Peers = Arc<BTreeMap<NodeId, Mutex<Option<Raft>>>>;

/// One member's [`Transport`] on a [`LocalNetwork`].
pub struct LocalTransport {
    me: NodeId,
    senders: BTreeMap<NodeId, Sender<Envelope>>,
    peers: Peers,
}

impl Transport for LocalTransport {
    /// Hands a reply to `to` at once, on this thread; moves a request into
    /// `to`'s inbox. A message to a stranger, to a peer not attached, or
    /// to one whose delivery thread has stopped, is dropped.
    fn send(&self, to: NodeId, message: Message) {
        if message.is_reply() {
            let peer = self
                .peers
                .get(&to)
                .and_then(|p| p.lock().unwrap_or_else(PoisonError::into_inner).clone());
            if let Some(peer) = peer {
                peer.receive(self.me, message);
            }
        } else if let Some(inbox) = self.senders.get(&to) {
            let _ = inbox.send(Envelope::Message(self.me, message));
        }
    }
}

impl LocalNetwork {
    /// A network with an inbox for each of `members`.
    pub fn new(members: &[NodeId]) -> LocalNetwork {
        let mut senders = BTreeMap::new();
        let mut inboxes = BTreeMap::new();
        for &id in members {
            let (tx, rx) = mpsc::channel();
            senders.insert(id, tx);
            inboxes.insert(id, rx);
        }
        let peers = members.iter().map(|&id| (id, Mutex::new(None))).collect();
        LocalNetwork {
            senders,
            peers: Arc::new(peers),
            inboxes: Mutex::new(inboxes),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// The transport member `me` sends through.
    pub fn transport(&self, me: NodeId) -> Arc<dyn Transport> {
        Arc::new(LocalTransport {
            me,
            senders: self.senders.clone(),
            peers: Arc::clone(&self.peers),
        })
    }

    /// Starts delivering `raft`'s inbox to it, on a thread of its own.
    /// Messages sent to it before are waiting there. Fails if the peer is
    /// no member, is already attached, or the thread cannot start.
    pub fn attach(&self, raft: &Raft) -> io::Result<()> {
        let id = raft.id();
        let inbox = self
            .inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("peer {} is no member, or is attached already", id.0),
                )
            })?;
        if let Some(slot) = self.peers.get(&id) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(raft.clone());
        }
        let raft = raft.clone();
        let handle = thread::Builder::new()
            .name(format!("local-{}", id.0))
            .spawn(move || deliver(&raft, &inbox))?;
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle);
        Ok(())
    }

    /// Stops every delivery thread (each after the batch it is handling)
    /// and waits for them, and hands no more replies over. Messages still
    /// queued are dropped. The peers themselves keep running: shut them
    /// down separately.
    pub fn shutdown(&self) {
        for slot in self.peers.values() {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
        for inbox in self.senders.values() {
            let _ = inbox.send(Envelope::Stop);
        }
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for handle in threads {
            let _ = handle.join();
        }
    }
}

impl Drop for LocalNetwork {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A delivery thread: waits for a message, takes what else is waiting, and
/// hands the batch to the peer, until told to stop.
fn deliver(raft: &Raft, inbox: &Receiver<Envelope>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let Ok(first) = inbox.recv() else {
            return;
        };
        let mut stop = false;
        let mut next = Some(first);
        while let Some(envelope) = next {
            match envelope {
                Envelope::Message(from, message) => batch.push((from, message)),
                Envelope::Stop => {
                    stop = true;
                    break;
                }
            }
            next = if batch.len() < MAX_BATCH {
                inbox.try_recv().ok()
            } else {
                None
            };
        }
        if !stop {
            raft.receive_batch(batch.drain(..));
        }
        if stop {
            return;
        }
    }
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use crate::runtime::{MemoryPersister, RaftConfig};
    use std::time::{Duration, Instant};

    #[test]
    fn a_local_cluster_elects_a_leader_and_commits() {
        let members: Vec<NodeId> = (0..3).map(NodeId).collect();
        let network = LocalNetwork::new(&members);
        let mut peers = Vec::new();
        for &id in &members {
            let config = RaftConfig {
                seed: Some(7),
                ..RaftConfig::default()
            };
            let (raft, applied) = Raft::new(
                members.clone(),
                id,
                Arc::new(MemoryPersister::new()),
                config,
                network.transport(id),
            )
            .expect("a fresh peer starts");
            network.attach(&raft).expect("attached once");
            peers.push((raft, applied));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let leader = loop {
            if let Some(p) = peers.iter().position(|(r, _)| r.state().1) {
                break p;
            }
            assert!(Instant::now() < deadline, "no leader within 10 s");
            thread::sleep(Duration::from_millis(5));
        };
        let (index, _) = peers[leader]
            .0
            .start(bytes::Bytes::from_static(b"x"))
            .expect("the leader takes it");
        for (_, applied) in &peers {
            let got = loop {
                let message = applied
                    .recv_timeout(Duration::from_secs(10))
                    .expect("every peer applies it");
                if message.index() == index {
                    break message;
                }
            };
            assert!(
                matches!(got, crate::runtime::ApplyMsg::Command { ref command, .. } if &command[..] == b"x")
            );
        }
        assert!(network.attach(&peers[0].0).is_err(), "attached twice");
        network.shutdown();
        for (raft, _) in &peers {
            raft.shutdown();
        }
    }
}
