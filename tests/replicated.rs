//! `checked_raft::replicated`: a `StateMachine` on three peers over the
//! emulated network. Real threads and real time, with generous deadlines.

// Real threads and real time: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

use bytes::Bytes;
use checked_raft::network::Network;
use checked_raft::replicated::{ProposeError, Replicated, ReplicatedConfig, StateMachine};
use checked_raft::runtime::{MemoryPersister, Persister};
use checked_raft::{LogIndex, NodeId};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any condition may take to come about on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// Appends each command to a list; answers with the index it applied at.
#[derive(Default)]
struct Log {
    commands: Vec<Vec<u8>>,
}

impl StateMachine for Log {
    type Response = LogIndex;
    type Error = postcard::Error;

    fn apply(&mut self, index: LogIndex, command: &[u8]) -> LogIndex {
        self.commands.push(command.to_vec());
        index
    }

    fn snapshot(&self) -> Bytes {
        Bytes::from(postcard::to_stdvec(&self.commands).unwrap_or_default())
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), postcard::Error> {
        self.commands = postcard::from_bytes(data)?;
        Ok(())
    }
}

struct Cluster {
    net: Network,
    members: Vec<NodeId>,
    peers: Vec<Option<(Replicated<Log>, Arc<MemoryPersister>)>>,
    config: ReplicatedConfig,
}

impl Cluster {
    fn new(snapshot_threshold: Option<usize>) -> Cluster {
        let net = Network::new();
        let members: Vec<NodeId> = (1..=3).map(NodeId).collect();
        for &id in &members {
            net.connect(id, &members);
        }
        let config = ReplicatedConfig {
            snapshot_threshold,
            ..ReplicatedConfig::default()
        };
        let mut cluster = Cluster {
            net,
            members,
            peers: Vec::new(),
            config,
        };
        for k in 0..3 {
            cluster.peers.push(None);
            cluster.start(k, MemoryPersister::new());
        }
        cluster
    }

    fn start(&mut self, k: usize, persister: MemoryPersister) {
        let me = self.members[k];
        let persister = Arc::new(persister);
        let peer = Replicated::new(
            self.members.clone(),
            me,
            persister.clone(),
            self.config.clone(),
            Arc::new(self.net.endpoint(me)),
            Log::default(),
        )
        .expect("the peer starts");
        self.net.add_server(me, peer.raft().handler());
        self.peers[k] = Some((peer, persister));
    }

    fn peer(&self, k: usize) -> &Replicated<Log> {
        &self.peers[k].as_ref().expect("the peer is up").0
    }

    /// The peer that leads, once one does.
    fn leader(&self) -> usize {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let leading = (0..3).find(|&k| {
                self.peers[k]
                    .as_ref()
                    .is_some_and(|(p, _)| p.raft().state().1)
            });
            if let Some(k) = leading {
                return k;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("no leader within {PATIENCE:?}");
    }

    /// Proposes through whichever peer leads, until one answers.
    fn propose(&self, command: Bytes) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            for (peer, _) in self.peers.iter().flatten() {
                match peer.propose(command.clone()) {
                    Ok(_) => return,
                    Err(ProposeError::NotLeader { .. } | ProposeError::LeadershipLost) => {}
                    Err(e) => panic!("propose failed: {e}"),
                }
            }
            assert!(Instant::now() < deadline, "no leader answered");
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn crash(&mut self, k: usize) -> MemoryPersister {
        let (peer, persister) = self.peers[k].take().expect("the peer is up");
        peer.shutdown();
        self.net.delete_server(self.members[k]);
        persister.copy()
    }

    fn converge(&self, commands: usize) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let lens: Vec<usize> = self
                .peers
                .iter()
                .flatten()
                .map(|(p, _)| p.with_state(|l| l.commands.len()))
                .collect();
            if lens.iter().all(|&n| n == commands) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!("the peers did not all apply {commands} commands within {PATIENCE:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (peer, _) in self.peers.iter().flatten() {
            peer.shutdown();
        }
        self.net.shutdown();
    }
}

#[test]
fn a_proposal_returns_the_response_to_its_own_entry() {
    let cluster = Cluster::new(None);
    let leader = cluster.leader();
    let first = cluster.peer(leader).propose(Bytes::from("a")).unwrap();
    let second = cluster.peer(leader).propose(Bytes::from("b")).unwrap();
    assert_eq!(second, first.next());
    cluster.converge(2);
    for k in 0..3 {
        let commands = cluster.peer(k).with_state(|l| l.commands.clone());
        assert_eq!(commands, vec![b"a".to_vec(), b"b".to_vec()]);
    }
}

#[test]
fn a_follower_refuses_with_the_leader_as_hint() {
    let cluster = Cluster::new(None);
    let leader = cluster.leader();
    // Every follower learns of the leader from its first heartbeat.
    cluster.peer(leader).propose(Bytes::from("a")).unwrap();
    let follower = (leader + 1) % 3;
    let refused = cluster.peer(follower).propose(Bytes::from("b"));
    let hint = Some(cluster.members[leader]);
    assert!(
        matches!(refused, Err(ProposeError::NotLeader { leader_hint }) if leader_hint == hint),
        "{refused:?}"
    );
}

#[test]
fn a_deposed_leader_answers_leadership_lost() {
    let cluster = Cluster::new(None);
    let old = cluster.leader();
    let others: Vec<NodeId> = (0..3)
        .filter(|&k| k != old)
        .map(|k| cluster.members[k])
        .collect();
    // Cut the leader off, then propose to it: its entry cannot commit.
    cluster
        .net
        .disconnect(cluster.members[old], &cluster.members);
    thread::scope(|scope| {
        let deposed = cluster.peer(old);
        let waiting = scope.spawn(move || deposed.propose(Bytes::from("lost")));
        // The others elect a leader of a later term and commit over the entry.
        let deadline = Instant::now() + PATIENCE;
        let new = loop {
            let new = (0..3)
                .filter(|&k| k != old)
                .find(|&k| cluster.peer(k).raft().state().1);
            if let Some(new) = new {
                break new;
            }
            assert!(Instant::now() < deadline, "no new leader");
            thread::sleep(Duration::from_millis(20));
        };
        cluster.peer(new).propose(Bytes::from("kept")).unwrap();
        // Healed, the old leader hears of the new term and steps down.
        cluster.net.connect(cluster.members[old], &others);
        let outcome = waiting.join().unwrap();
        assert!(
            matches!(outcome, Err(ProposeError::LeadershipLost)),
            "{outcome:?}"
        );
    });
    cluster.converge(1);
}

#[test]
fn shutdown_fails_proposals() {
    let cluster = Cluster::new(None);
    let leader = cluster.leader();
    cluster.peer(leader).shutdown();
    let outcome = cluster.peer(leader).propose(Bytes::from("a"));
    assert!(
        matches!(outcome, Err(ProposeError::Shutdown)),
        "{outcome:?}"
    );
}

#[test]
fn a_restarted_peer_restores_its_snapshot_and_catches_up() {
    // Snapshots every few entries.
    let mut cluster = Cluster::new(Some(64));
    let leader = cluster.leader();
    for n in 0..20u8 {
        cluster.peer(leader).propose(Bytes::from(vec![n])).unwrap();
    }
    cluster.converge(20);
    let follower = (leader + 1) % 3;
    let storage = cluster.crash(follower);
    let stored = storage.load().unwrap();
    assert!(
        stored.snapshot.is_some(),
        "the follower snapshotted: {:?}",
        stored.snapshot_meta()
    );
    for n in 20..25u8 {
        cluster.peer(leader).propose(Bytes::from(vec![n])).unwrap();
    }
    cluster.start(follower, storage);
    // One more entry after the restart: the restarted peer's election may
    // depose the leader, and a new leader commits the earlier term's
    // entries only through one of its own (§5.4.2; there is no no-op).
    cluster.propose(Bytes::from(vec![25]));
    cluster.converge(26);
    let expected: Vec<Vec<u8>> = (0..26u8).map(|n| vec![n]).collect();
    assert_eq!(
        cluster.peer(follower).with_state(|l| l.commands.clone()),
        expected
    );
}
