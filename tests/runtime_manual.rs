//! The runtime driven by hand: a peer built with `Raft::unstarted`, its
//! timers fired through `Ticker::fire_due` on a `ManualClock`.
//! Deterministic: no timer fires unless the test moves the clock.

// Real threads: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

use bytes::Bytes;
use checked_raft::runtime::{
    ApplyMsg, Leadership, ManualClock, MemoryPersister, Persister, Raft, RaftConfig, Transport,
    Unstarted,
};
use checked_raft::{LogIndex, Message, NodeId, Term};
use std::sync::Arc;
use std::time::Duration;

/// A transport for a one-peer cluster: there is no one to send to.
struct Nowhere;

impl Transport for Nowhere {
    fn send(&self, to: NodeId, message: Message) {
        panic!("a lone peer sent {message:?} to {to:?}");
    }
}

#[test]
fn a_lone_peer_elects_itself_when_its_clock_says_so_and_applies_what_it_is_given() {
    let clock = Arc::new(ManualClock::new());
    // Writes as slow as a disk's: the storage loop, run by hand, does them.
    let memory = Arc::new(MemoryPersister::new().slow());
    let Unstarted {
        raft,
        ticker,
        storage,
        applied,
    } = Raft::unstarted(
        vec![NodeId(0)],
        NodeId(0),
        memory.clone(),
        RaftConfig::default(),
        Arc::new(Nowhere),
        clock.clone(),
    )
    .unwrap();

    assert!(!ticker.fire_due(), "no timer is due before the clock moves");
    assert_eq!(raft.state(), (Term(0), false));
    clock.advance(Duration::from_millis(299));
    assert!(
        !ticker.fire_due(),
        "no election timeout is shorter than 300 ms"
    );
    // The timeout is drawn from [300, 600) ms: due by 600 ms.
    clock.advance(Duration::from_millis(301));
    assert!(ticker.fire_due(), "the election timer fires");
    assert_eq!(raft.state(), (Term(1), true));

    assert_eq!(
        raft.start(Bytes::from_static(b"x")),
        Ok((LogIndex(1), Term(1)))
    );
    assert!(
        applied.try_recv().is_err(),
        "nothing is applied before the storage loop writes it"
    );
    assert_eq!(memory.load().unwrap().entries.len(), 0, "nor written");
    // A round writes the vote and the entry; its report commits the entry
    // (thesis §10.2.1), and since that commit has nothing to write, the
    // same thread hands it over at once, without another round.
    assert!(storage.flush(), "a round writes the vote and the entry");
    assert!(!storage.flush(), "leaving nothing behind");
    let stored = memory.load().unwrap();
    assert_eq!(stored.hard_state.current_term, Term(1));
    assert_eq!(stored.entries.len(), 1);
    assert_eq!(
        applied.recv().unwrap(),
        ApplyMsg::Command {
            index: LogIndex(1),
            term: Term(1),
            command: Bytes::from_static(b"x"),
        }
    );
    raft.shutdown();
    assert!(applied.recv().is_err(), "the channel closes at shutdown");
    assert!(!ticker.fire_due(), "a stopped peer fires nothing");
}

#[test]
fn a_leader_watch_sees_each_change_of_leader_and_the_shutdown() {
    let clock = Arc::new(ManualClock::new());
    let Unstarted { raft, ticker, .. } = Raft::unstarted(
        vec![NodeId(0)],
        NodeId(0),
        Arc::new(MemoryPersister::new()),
        RaftConfig::default(),
        Arc::new(Nowhere),
        clock.clone(),
    )
    .unwrap();
    let mut watch = raft.leader_watch();
    let none_yet = Leadership {
        term: Term(0),
        leader: None,
        is_me: false,
    };
    assert_eq!(watch.current(), none_yet);
    assert_eq!(
        watch.changed_within(Duration::from_millis(10)),
        None,
        "nothing changed yet"
    );

    // A watcher on another thread is woken by the election.
    let mut other = raft.leader_watch();
    let waiter = std::thread::spawn(move || other.changed());
    clock.advance(Duration::from_millis(600));
    assert!(ticker.fire_due(), "the election timer fires");
    let leading = Leadership {
        term: Term(1),
        leader: Some(NodeId(0)),
        is_me: true,
    };
    assert_eq!(waiter.join().unwrap(), Some(leading));
    assert_eq!(watch.changed(), Some(leading));
    // Seen: no further change until one happens.
    assert_eq!(watch.changed_within(Duration::from_millis(10)), None);

    raft.shutdown();
    assert_eq!(watch.changed(), None, "a shut-down peer ends the watch");
    assert_eq!(watch.current(), leading, "its last value stays readable");
}
