//! A replicated counter on checked-raft's [`Replicated`] driver: three
//! peers on the emulated network, each applying committed increments to
//! its own [`StateMachine`]. It proposes increments through whichever peer
//! leads and gets back the total each one produced, crashes that leader,
//! goes on with the two survivors, restarts the crashed peer from what it
//! had persisted (a snapshot and the log after it), and reads the same
//! total from every peer.
//!
//! ```text
//! cargo run --example replicated_counter
//! RUST_LOG=info cargo run --example replicated_counter   # with the runtime's log
//! ```

use bytes::Bytes;
use checked_raft::network::Network;
use checked_raft::runtime::{
    MemoryPersister, Persister, ProposeError, Replicated, ReplicatedConfig, StateMachine,
};
use checked_raft::{LogIndex, NodeId};
use std::error::Error;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The state machine: the sum of every increment applied.
#[derive(Default)]
struct Counter {
    total: u64,
}

/// A snapshot that is not the 8 bytes of a total.
#[derive(Debug, thiserror::Error)]
#[error("a counter snapshot is 8 bytes, not {0}")]
struct BadSnapshot(usize);

impl StateMachine for Counter {
    /// The total after the increment.
    type Response = u64;
    type Error = BadSnapshot;

    fn apply(&mut self, _index: LogIndex, command: &[u8]) -> u64 {
        // A command that is not 8 bytes adds nothing (it is answered, not
        // panicked on: commands come from clients).
        let amount = command.try_into().map(u64::from_le_bytes).unwrap_or(0);
        self.total += amount;
        self.total
    }

    fn snapshot(&self) -> Bytes {
        Bytes::copy_from_slice(&self.total.to_le_bytes())
    }

    fn restore(&mut self, data: &[u8]) -> std::result::Result<(), BadSnapshot> {
        let bytes: [u8; 8] = data.try_into().map_err(|_| BadSnapshot(data.len()))?;
        self.total = u64::from_le_bytes(bytes);
        Ok(())
    }
}

/// One peer: the replicated counter and its storage.
struct Peer {
    node: Replicated<Counter>,
    persister: Arc<MemoryPersister>,
}

/// Starts peer `me` from `persister` (empty: a fresh peer) and attaches it
/// to the network. A restarted peer restores its snapshot and re-applies
/// the log after it as the leader tells it what is committed.
fn start(
    net: &Network,
    members: &[NodeId],
    me: NodeId,
    persister: MemoryPersister,
) -> Result<Peer> {
    let persister = Arc::new(persister);
    let config = ReplicatedConfig {
        // Snapshot once the log takes more than 64 bytes.
        snapshot_threshold: Some(64),
        ..ReplicatedConfig::default()
    };
    let node = Replicated::new(
        members.to_vec(),
        me,
        persister.clone(),
        config,
        Arc::new(net.endpoint(me)),
        Counter::default(),
    )?;
    net.add_server(me, node.raft().handler());
    Ok(Peer { node, persister })
}

/// Proposes `amount` through whichever live peer leads, retrying until one
/// answers; returns the total it produced. (Retrying after
/// `LeadershipLost` could apply an increment twice: this example retries
/// only refusals, and treats a lost leadership as an error.)
fn increment(peers: &[Option<Peer>], amount: u64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for peer in peers.iter().flatten() {
            match peer
                .node
                .propose(Bytes::copy_from_slice(&amount.to_le_bytes()))
            {
                Ok(total) => return Ok(total),
                Err(ProposeError::NotLeader { .. }) => {}
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
            .map(|p| p.node.with_state(|c| c.total))
            .collect();
        if totals.iter().all(|&t| t == expected) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(format!("the peers did not all reach {expected} within 10 s").into())
}

/// Shuts a peer down and takes it off the network; returns its storage,
/// as a crash would leave it.
fn crash(net: &Network, peer: Peer) -> MemoryPersister {
    let id = peer.node.raft().id();
    peer.node.shutdown();
    net.delete_server(id);
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

    let mut total = 0;
    for amount in 1..=10 {
        total = increment(&peers, amount)?;
    }
    println!("the leader answered a total of {total}");
    converge(&peers, 55)?;
    println!("three peers agree: 55");

    // Crash the leader; the other two elect a new one and go on.
    let leader = peers
        .iter()
        .position(|p| p.as_ref().is_some_and(|p| p.node.raft().state().1))
        .ok_or("no leader")?;
    let down = peers[leader].take().ok_or("no such peer")?;
    let id = down.node.raft().id();
    let storage = crash(&net, down);
    println!(
        "crashed the leader, peer {} (it had persisted a snapshot of {} bytes and {} bytes of log)",
        id.0,
        storage.snapshot_size(),
        storage.raft_state_size()
    );
    for _ in 0..5 {
        total = increment(&peers, 100)?;
    }
    println!("the new leader answered a total of {total}");
    converge(&peers, 555)?;
    println!("the two survivors agree: 555");

    // Restart it from what it persisted: it restores its snapshot and
    // catches up from the log.
    peers[leader] = Some(start(&net, &members, id, storage)?);
    converge(&peers, 555)?;
    println!("peer {} restarted from its storage and reads 555 too", id.0);

    for peer in peers.into_iter().flatten() {
        peer.node.shutdown();
    }
    net.shutdown();
    Ok(())
}
