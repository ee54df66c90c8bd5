//! A replicated counter on checked-raft's thread runtime: three peers on the
//! emulated network, each applying committed increments to its own counter.
//! It proposes increments through whichever peer leads, crashes that
//! leader, goes on with the two survivors, restarts the crashed peer from
//! what it had persisted, and reads the same total from every peer.
//!
//! ```text
//! cargo run --example replicated_counter
//! RUST_LOG=info cargo run --example replicated_counter   # with the runtime's log
//! ```

use bytes::Bytes;
use checked_raft::NodeId;
use checked_raft::network::Network;
use checked_raft::runtime::{ApplyMsg, MemoryPersister, Raft, RaftConfig, StartError};
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// One peer: its Raft handle, its storage and its state machine.
struct Peer {
    raft: Raft,
    persister: Arc<MemoryPersister>,
    /// The state machine: the sum of every increment applied.
    total: Arc<AtomicU64>,
    applier: JoinHandle<()>,
}

/// Applies one committed message to the counter.
fn apply(total: &AtomicU64, message: ApplyMsg) {
    if let ApplyMsg::Command { command, .. } = message {
        let bytes: [u8; 8] = command.as_ref().try_into().unwrap_or([0; 8]);
        total.fetch_add(u64::from_le_bytes(bytes), Ordering::SeqCst);
    }
    // No snapshots are taken here, so none is installed.
}

/// Starts peer `me` from `persister` (empty: a fresh peer) and attaches it
/// to the network. Its counter starts at 0: a restarted peer re-applies the
/// log from the beginning as the leader tells it what is committed.
fn start(
    net: &Network,
    members: &[NodeId],
    me: NodeId,
    persister: MemoryPersister,
) -> Result<Peer> {
    let persister = Arc::new(persister);
    let (raft, applied) = Raft::new(
        members.to_vec(),
        me,
        persister.clone(),
        RaftConfig::default(),
        Arc::new(net.endpoint(me)),
    )?;
    net.add_server(me, raft.handler());
    let total = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&total);
    // Committed commands arrive in log order until the peer shuts down.
    let applier = thread::spawn(move || {
        while let Ok(message) = applied.recv() {
            apply(&counter, message);
        }
    });
    Ok(Peer {
        raft,
        persister,
        total,
        applier,
    })
}

/// Proposes `amount` through whichever live peer leads, retrying until one
/// does.
fn increment(peers: &[Option<Peer>], amount: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for peer in peers.iter().flatten() {
            match peer
                .raft
                .start(Bytes::copy_from_slice(&amount.to_le_bytes()))
            {
                Ok(_) => return Ok(()),
                Err(StartError::NotLeader { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err("no leader within 10 s".into())
}

/// Waits until every live peer's counter reads `expected`.
fn converge(peers: &[Option<Peer>], expected: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let totals: Vec<u64> = peers
            .iter()
            .flatten()
            .map(|p| p.total.load(Ordering::SeqCst))
            .collect();
        if totals.iter().all(|&t| t == expected) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(format!("the peers did not all reach {expected} within 10 s").into())
}

/// Shuts a peer down and waits for its state machine to take the last
/// entries; returns its storage, as a crash would leave it.
fn crash(net: &Network, peer: Peer) -> MemoryPersister {
    let id = peer.raft.id();
    peer.raft.shutdown();
    net.delete_server(id);
    let _ = peer.applier.join();
    peer.persister.copy()
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let net = Network::new();
    let members: Vec<NodeId> = (1..=3).map(NodeId).collect();
    for &id in &members {
        net.connect(id, &members); // links start disabled
    }
    let mut peers: Vec<Option<Peer>> = Vec::new();
    for &me in &members {
        peers.push(Some(start(&net, &members, me, MemoryPersister::new())?));
    }

    for amount in 1..=10 {
        increment(&peers, amount)?;
    }
    converge(&peers, 55)?;
    println!("three peers agree: 55");

    // Crash the leader; the other two elect a new one and go on.
    let leader = peers
        .iter()
        .position(|p| p.as_ref().is_some_and(|p| p.raft.state().1))
        .ok_or("no leader")?;
    let down = peers[leader].take().ok_or("no such peer")?;
    let id = down.raft.id();
    let storage = crash(&net, down);
    println!("crashed the leader, peer {}", id.0);
    for _ in 0..5 {
        increment(&peers, 100)?;
    }
    converge(&peers, 555)?;
    println!("the two survivors agree: 555");

    // Restart it from what it persisted: it catches up from the log.
    peers[leader] = Some(start(&net, &members, id, storage)?);
    converge(&peers, 555)?;
    println!("peer {} restarted from its storage and reads 555 too", id.0);

    for peer in peers.into_iter().flatten() {
        peer.raft.shutdown();
        let _ = peer.applier.join();
    }
    net.shutdown();
    Ok(())
}
