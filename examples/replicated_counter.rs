//! A replicated counter built on checked-raft's `StateMachine`: three peers
//! on the emulated network, each running the same `Counter`. It proposes
//! increments through whichever peer leads and gets each one's response
//! (the total after it) back from `propose`, crashes the leader, goes on
//! with the two survivors, restarts the crashed peer from what it had
//! persisted (its snapshot restores the counter), and reads the same total
//! from every peer.
//!
//! ```text
//! cargo run --example replicated_counter
//! RUST_LOG=info cargo run --example replicated_counter   # with the runtime's log
//! ```

use bytes::Bytes;
use checked_raft::network::Network;
use checked_raft::replicated::{ProposeError, Replicated, ReplicatedConfig, StateMachine};
use checked_raft::runtime::MemoryPersister;
use checked_raft::{LogIndex, NodeId};
use std::error::Error;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The state machine: a sum of increments.
struct Counter {
    total: u64,
}

impl StateMachine for Counter {
    /// The total after the increment.
    type Response = u64;

    fn apply(&mut self, _index: LogIndex, command: &[u8]) -> u64 {
        let amount: [u8; 8] = command.try_into().unwrap_or([0; 8]);
        self.total += u64::from_le_bytes(amount);
        self.total
    }

    fn snapshot(&self) -> Bytes {
        Bytes::copy_from_slice(&self.total.to_le_bytes())
    }

    fn restore(&mut self, data: &[u8]) -> std::result::Result<(), String> {
        let total: [u8; 8] = data.try_into().map_err(|_| "not a counter")?;
        self.total = u64::from_le_bytes(total);
        Ok(())
    }
}

/// One peer and its storage.
struct Peer {
    counter: Replicated<Counter>,
    persister: Arc<MemoryPersister>,
}

/// Starts peer `me` from `persister` (empty: a fresh peer) on the network.
fn start(
    net: &Network,
    members: &[NodeId],
    me: NodeId,
    persister: MemoryPersister,
) -> Result<Peer> {
    let persister = Arc::new(persister);
    let config = ReplicatedConfig {
        // Snapshot every few entries (64 bytes of log), so the restart below
        // restores the counter from a snapshot.
        snapshot_threshold: Some(64),
        ..ReplicatedConfig::default()
    };
    let counter = Replicated::new(
        members.to_vec(),
        me,
        persister.clone(),
        config,
        Arc::new(net.endpoint(me)),
        Counter { total: 0 },
    )?;
    net.add_server(me, counter.raft().handler());
    Ok(Peer { counter, persister })
}

/// Proposes `amount` through whichever live peer leads, retrying until one
/// does; returns the total after it.
fn increment(peers: &[Option<Peer>], amount: u64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for peer in peers.iter().flatten() {
            match peer
                .counter
                .propose(Bytes::copy_from_slice(&amount.to_le_bytes()))
            {
                Ok(total) => return Ok(total),
                // Not proposed: try another peer.
                Err(ProposeError::NotLeader { .. }) => {}
                // An increment is not idempotent: a real service would
                // carry a request id; here the leader changes only when
                // we crash it, between proposals.
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
        let totals = peers
            .iter()
            .flatten()
            .map(|p| p.counter.with_state(|c| c.total));
        if totals.clone().all(|t| t == expected) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(format!("the peers did not all reach {expected} within 10 s").into())
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

    let mut total = 0;
    for amount in 1..=10 {
        total = increment(&peers, amount)?;
    }
    converge(&peers, 55)?;
    println!("the leader answered {total}; three peers agree: 55");

    // Crash the leader; the other two elect a new one and go on.
    let leader = peers
        .iter()
        .position(|p| p.as_ref().is_some_and(|p| p.counter.raft().state().1))
        .ok_or("no leader")?;
    let down = peers[leader].take().ok_or("no such peer")?;
    let id = down.counter.raft().id();
    down.counter.shutdown();
    net.delete_server(id);
    let storage = down.persister.copy();
    println!("crashed the leader, peer {}", id.0);
    for _ in 0..5 {
        total = increment(&peers, 100)?;
    }
    converge(&peers, 555)?;
    println!("the new leader answered {total}; the two survivors agree: 555");

    // Restart it from what it persisted: its snapshot and its log.
    let stored = checked_raft::runtime::Persister::load(&storage)?;
    println!(
        "its storage: a snapshot through {}, then {} entries",
        stored.snapshot_meta().last_included_index,
        stored.entries.len()
    );
    peers[leader] = Some(start(&net, &members, id, storage)?);
    converge(&peers, 555)?;
    println!("peer {} restarted from its storage and reads 555 too", id.0);

    for peer in peers.into_iter().flatten() {
        peer.counter.shutdown();
    }
    net.shutdown();
    Ok(())
}
