//! The network's behaviour, end to end through the dispatcher thread. Every
//! wait is for a condition (with a generous deadline), never a fixed sleep,
//! so that a loaded machine only makes the tests slower.

use super::faults::Kind;
use super::*;
use crate::consensus::{
    AppendEntries, AppendEntriesReply, AppendResult, Entry, LogIndex, Message, RequestVote,
    RequestVoteReply, Term,
};
use crate::runtime::Transport;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const C: NodeId = NodeId(3);

/// A handler that records what it receives (Raft's messages by default).
struct Recorder<M = Message> {
    received: Arc<Mutex<Vec<(NodeId, M)>>>,
}

impl<M> Default for Recorder<M> {
    fn default() -> Recorder<M> {
        Recorder {
            received: Arc::default(),
        }
    }
}

impl<M> Clone for Recorder<M> {
    fn clone(&self) -> Recorder<M> {
        Recorder {
            received: Arc::clone(&self.received),
        }
    }
}

impl<M: Wire + Clone> Recorder<M> {
    fn handler(&self) -> Handler<M> {
        let received = Arc::clone(&self.received);
        Arc::new(move |from, message| {
            received
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((from, message));
        })
    }

    fn received(&self) -> Vec<(NodeId, M)> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self) -> usize {
        self.received().len()
    }
}

/// Waits until `done` holds; fails the test after 20 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until every message sent has been delivered or dropped.
fn settle<M: Wire>(network: &Network<M>) -> Stats {
    wait_until("the network to settle", || {
        let stats = network.stats();
        network.in_flight() == 0 && stats.sent == stats.delivered + stats.dropped
    });
    network.stats()
}

fn vote(term: u64) -> Message {
    Message::RequestVote(RequestVote {
        term: Term(term),
        last_log_index: LogIndex(0),
        last_log_term: Term(0),
    })
}

fn granted(term: u64) -> Message {
    Message::RequestVoteReply(RequestVoteReply {
        term: Term(term),
        vote_granted: true,
    })
}

fn encoded_len<M: Wire>(message: &M) -> u64 {
    postcard::to_allocvec(message).map_or(0, |bytes| bytes.len() as u64)
}

/// A network with `ids` registered (each with a recorder) and connected.
fn cluster(ids: &[NodeId]) -> (Network, Vec<Recorder>) {
    let network = Network::with_seed(7);
    let recorders: Vec<Recorder> = ids.iter().map(|_| Recorder::default()).collect();
    for (&id, recorder) in ids.iter().zip(&recorders) {
        network.add_server(id, recorder.handler());
    }
    for &id in ids {
        network.connect(id, ids);
    }
    (network, recorders)
}

#[test]
fn delivers_messages_and_counts_rpcs_and_bytes() {
    let (network, recorders) = cluster(&[A, B]);
    network.endpoint(A).send(B, vote(3));
    network.endpoint(B).send(A, granted(3));
    let stats = settle(&network);

    assert_eq!(recorders[1].received(), vec![(A, vote(3))]);
    assert_eq!(recorders[0].received(), vec![(B, granted(3))]);
    assert_eq!(network.rpc_count(B), 1);
    assert_eq!(network.rpc_count(A), 0, "a reply is not an RPC");
    assert_eq!(network.total_rpcs(), 1);
    let (request, reply) = (encoded_len(&vote(3)), encoded_len(&granted(3)));
    assert_eq!(network.total_bytes(), request + reply);
    assert_eq!(network.bytes_sent(A), request);
    assert_eq!(network.bytes_sent(B), reply);
    assert_eq!(
        stats,
        Stats {
            sent: 2,
            requests_sent: 1,
            bytes: request + reply,
            delivered: 2,
            dropped: 0,
            codec_errors: 0,
            handler_panics: 0,
        }
    );
}

#[test]
fn messages_are_encoded_and_decoded_on_the_way() {
    let (network, recorders) = cluster(&[A, B]);
    let entries = (1..=3)
        .map(|i| Entry {
            index: LogIndex(i),
            term: Term(2),
            command: Bytes::from(vec![i as u8; 100]),
        })
        .collect();
    let append = Message::AppendEntries(AppendEntries {
        term: Term(2),
        prev_log_index: LogIndex(0),
        prev_log_term: Term(0),
        entries,
        leader_commit: LogIndex(1),
    });
    let reply = Message::AppendEntriesReply(AppendEntriesReply {
        term: Term(2),
        prev_log_index: LogIndex(0),
        result: AppendResult::Success {
            match_index: LogIndex(3),
        },
    });
    network.endpoint(A).send(B, append.clone());
    network.endpoint(B).send(A, reply.clone());
    settle(&network);

    assert_eq!(recorders[1].received(), vec![(A, append.clone())]);
    assert_eq!(recorders[0].received(), vec![(B, reply.clone())]);
    let expected = encoded_len(&append) + encoded_len(&reply);
    assert!(encoded_len(&append) > 300, "the commands are on the wire");
    assert_eq!(network.total_bytes(), expected);
}

#[test]
fn an_undecodable_message_is_dropped_and_counted() {
    let (network, recorders) = cluster(&[A, B]);
    let from = network.endpoint(A).address;
    // A RequestVote variant tag followed by nothing: truncated.
    network.shared().submit(from, B, Kind::Request, vec![0]);
    // A variant tag that no Message has.
    network.shared().submit(from, B, Kind::Request, vec![200]);
    // A valid message with trailing garbage.
    let mut bytes = postcard::to_allocvec(&vote(1)).unwrap_or_default();
    bytes.push(0);
    network.shared().submit(from, B, Kind::Request, bytes);
    network.endpoint(A).send(B, vote(2));
    wait_until("the good message", || recorders[1].count() == 1);
    let stats = network.stats();

    assert_eq!(recorders[1].received(), vec![(A, vote(2))]);
    assert_eq!(stats.codec_errors, 3);
    assert_eq!(stats.dropped, 3);
    assert_eq!(network.rpc_count(B), 1);
}

#[test]
fn links_start_disabled_and_are_directed() {
    let network = Network::with_seed(1);
    let (a, b) = (Recorder::default(), Recorder::default());
    network.add_server(A, a.handler());
    network.add_server(B, b.handler());
    assert!(!network.is_enabled(A, B) && !network.is_enabled(B, A));

    network.endpoint(A).send(B, vote(1));
    let stats = settle(&network);
    assert_eq!((stats.delivered, stats.dropped), (0, 1));
    assert_eq!(network.total_rpcs(), 1, "a dropped request still counts");

    network.enable(A, B, true);
    network.endpoint(A).send(B, vote(2));
    network.endpoint(B).send(A, granted(2));
    let stats = settle(&network);
    assert_eq!(b.received(), vec![(A, vote(2))]);
    assert!(a.received().is_empty());
    assert_eq!((stats.delivered, stats.dropped), (1, 2));

    network.connect(A, &[B]);
    assert!(network.is_enabled(B, A));
    network.endpoint(B).send(A, granted(3));
    wait_until("the reply", || a.count() == 1);

    network.disconnect(B, &[A]);
    assert!(!network.is_enabled(A, B) && !network.is_enabled(B, A));
    network.endpoint(A).send(B, vote(4));
    network.endpoint(B).send(A, granted(4));
    let stats = settle(&network);
    assert_eq!((stats.delivered, stats.dropped), (2, 4));
    assert_eq!((a.count(), b.count()), (1, 1));
}

#[test]
fn long_delays_only_hold_undeliverable_messages_longer() {
    let network = Network::with_seed(3);
    let b = Recorder::default();
    network.add_server(B, b.handler());
    network.set_long_delays(true);
    for term in 0..20 {
        network.endpoint(A).send(B, vote(term));
    }
    // Held up to 7 s, then dropped: with this seed some are still held.
    assert!(network.in_flight() > 0);
    assert_eq!(network.stats().delivered, 0);
    network.shutdown();
    let stats = network.stats();
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (20, 0, 20));
}

/// A handler that blocks until `open` is sent something (or dropped), so
/// that messages queue up behind it.
fn gate() -> (Handler, mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (open, gate) = mpsc::channel::<()>();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let entered_tx = Mutex::new(entered_tx);
    let handler: Handler = Arc::new(move |_, _| {
        let _ = entered_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(());
        let _ = gate.lock().unwrap_or_else(PoisonError::into_inner).recv();
    });
    (handler, open, entered)
}

#[test]
fn delete_server_drops_messages_in_flight_and_kills_old_endpoints() {
    let (network, recorders) = cluster(&[A, B]);
    let (gate, open, entered) = gate();
    network.add_server(C, gate);
    network.connect(C, &[A, B]);

    // The dispatcher blocks in C's handler; what follows stays queued.
    network.endpoint(A).send(C, vote(1));
    entered.recv_timeout(Duration::from_secs(20)).unwrap_or(());
    let old_b = network.endpoint(B);
    network.endpoint(A).send(B, vote(1));
    old_b.send(A, granted(1));
    assert_eq!(network.in_flight(), 2);

    network.delete_server(B);
    old_b.send(A, granted(2));
    drop(open);
    let stats = settle(&network);
    assert!(recorders[0].received().is_empty(), "old B's replies");
    assert!(recorders[1].received().is_empty(), "requests to old B");
    assert_eq!((stats.delivered, stats.dropped), (1, 3));

    // The restarted B.
    let new_b = network.endpoint(B);
    assert_eq!((old_b.incarnation(), new_b.incarnation()), (0, 1));
    let restarted = Recorder::default();
    network.add_server(B, restarted.handler());
    network.endpoint(A).send(B, vote(5));
    new_b.send(A, granted(5));
    old_b.send(A, granted(6));
    settle(&network);
    assert_eq!(restarted.received(), vec![(A, vote(5))]);
    assert_eq!(recorders[0].received(), vec![(B, granted(5))]);
    assert!(recorders[1].received().is_empty());
    assert_eq!(network.rpc_count(B), 1, "counted since the restart");
}

#[test]
fn a_server_with_no_handler_receives_nothing() {
    let (network, recorders) = cluster(&[A, B]);
    network.delete_server(B);
    let new_b = network.endpoint(B);
    network.endpoint(A).send(B, vote(1));
    new_b.send(A, granted(1));
    let stats = settle(&network);
    // Not registered yet: dropped. Its own sends go out.
    assert_eq!(recorders[0].received(), vec![(B, granted(1))]);
    assert_eq!((stats.delivered, stats.dropped), (1, 1));
}

#[test]
fn delete_server_waits_for_a_running_handler() {
    let network = Network::with_seed(1);
    let running = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (entered_tx, entered) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let handler: Handler = {
        let (running, finished) = (Arc::clone(&running), Arc::clone(&finished));
        Arc::new(move |_, _| {
            running.store(true, Ordering::SeqCst);
            let _ = entered_tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(());
            thread::sleep(Duration::from_millis(30));
            finished.store(true, Ordering::SeqCst);
        })
    };
    network.add_server(B, handler);
    network.connect(A, &[B]);
    network.endpoint(A).send(B, vote(1));
    entered.recv_timeout(Duration::from_secs(20)).unwrap_or(());
    assert!(running.load(Ordering::SeqCst));
    network.delete_server(B);
    assert!(finished.load(Ordering::SeqCst));
}

#[test]
fn a_handler_may_delete_its_own_server() {
    let network = Network::with_seed(1);
    let calls = Arc::new(AtomicU64::new(0));
    let handler: Handler = {
        let (network, calls) = (network.clone(), Arc::clone(&calls));
        Arc::new(move |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            network.delete_server(B);
        })
    };
    network.add_server(B, handler);
    network.connect(A, &[B]);
    let a = network.endpoint(A);
    a.send(B, vote(1));
    a.send(B, vote(2));
    let stats = settle(&network);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!((stats.delivered, stats.dropped), (1, 1));
    // The handler held a Network clone, now dropped with it: this handle
    // is the last.
    network.shutdown();
}

#[test]
fn handlers_send_from_inside_handlers() {
    const ROUNDS: u64 = 200;
    let network = Network::with_seed(1);
    let a = network.endpoint(A);
    let b = network.endpoint(B);
    let pongs = Arc::new(AtomicU64::new(0));
    let ping: Handler = {
        let (a, pongs) = (a.clone(), Arc::clone(&pongs));
        Arc::new(move |from, message| {
            if pongs.fetch_add(1, Ordering::SeqCst) + 1 < ROUNDS {
                a.send(from, vote(message.term().0 + 1));
            }
        })
    };
    let pong: Handler = Arc::new(move |from, message| b.send(from, granted(message.term().0)));
    network.add_server(A, ping);
    network.add_server(B, pong);
    network.connect(A, &[B]);
    a.send(B, vote(0));
    wait_until("the rallies", || pongs.load(Ordering::SeqCst) == ROUNDS);
    assert_eq!(network.rpc_count(B), ROUNDS);
    assert_eq!(network.stats().delivered, 2 * ROUNDS);
}

#[test]
fn a_reliable_network_delivers_in_send_order() {
    let (network, recorders) = cluster(&[A, B, C]);
    let (a, c) = (network.endpoint(A), network.endpoint(C));
    for term in 0..500 {
        a.send(B, vote(term));
        c.send(B, granted(term));
    }
    wait_until("every message", || recorders[1].count() == 1000);
    let received = recorders[1].received();
    let expected: Vec<_> = (0..500)
        .flat_map(|term| [(A, vote(term)), (C, granted(term))])
        .collect();
    assert_eq!(received, expected);
}

#[test]
fn an_unreliable_network_drops_about_a_tenth() {
    const N: u64 = 2000;
    let (network, recorders) = cluster(&[A, B]);
    network.set_reliable(false);
    let (a, b) = (network.endpoint(A), network.endpoint(B));
    for term in 0..N {
        a.send(B, vote(term));
        b.send(A, granted(term));
    }
    let stats = settle(&network);
    let requests = recorders[1].count() as u64;
    let replies = recorders[0].count() as u64;
    // 200 expected each; a standard deviation is about 13.
    assert!(
        (N - 280..=N - 120).contains(&requests),
        "{requests} requests"
    );
    assert!((N - 280..=N - 120).contains(&replies), "{replies} replies");
    assert_eq!(network.rpc_count(B), requests);
    assert_eq!(network.total_rpcs(), N);
    assert_eq!(stats.dropped, 2 * N - requests - replies);
    // Delays of 0..=26 ms reorder messages.
    let terms: Vec<u64> = recorders[1]
        .received()
        .iter()
        .map(|(_, m)| m.term().0)
        .collect();
    assert!(terms.windows(2).any(|w| w[0] > w[1]), "some reordering");
}

#[test]
fn a_panicking_handler_is_counted_and_delivery_goes_on() {
    let (network, recorders) = cluster(&[A, B]);
    network.add_server(C, Arc::new(|_, _| panic!("a handler's bug")));
    network.connect(C, &[A]);
    network.endpoint(A).send(C, vote(1));
    network.endpoint(A).send(B, vote(2));
    let stats = settle(&network);
    assert_eq!(stats.handler_panics, 1);
    assert_eq!(recorders[1].received(), vec![(A, vote(2))]);
}

#[test]
fn shutdown_discards_messages_in_flight_and_joins_the_dispatcher() {
    let (network, recorders) = cluster(&[A, B]);
    let (gate, open, entered) = gate();
    network.add_server(C, gate);
    network.connect(C, &[A]);
    network.endpoint(A).send(C, vote(1));
    entered.recv_timeout(Duration::from_secs(20)).unwrap_or(());
    network.endpoint(A).send(B, vote(2));

    let stopper = {
        let network = network.clone();
        thread::spawn(move || network.shutdown())
    };
    wait_until("shutdown to begin", || network.shared().lock().shutdown);
    drop(open);
    stopper.join().unwrap_or(());

    // The dispatcher's reference is gone: only the handle's is left.
    assert_eq!(Arc::strong_count(&network.inner.shared), 1);
    assert!(recorders[1].received().is_empty());
    assert_eq!(network.in_flight(), 0);
    assert_eq!(Arc::strong_count(&recorders[0].received), 1, "unregistered");
    network.endpoint(A).send(B, vote(3));
    network.add_server(A, recorders[0].handler());
    assert_eq!(Arc::strong_count(&recorders[0].received), 1, "not kept");
    network.shutdown();
    let stats = network.stats();
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (3, 1, 2));
}

#[test]
fn dropping_the_last_handle_stops_the_network() {
    let (network, recorders) = cluster(&[A, B]);
    let a = network.endpoint(A);
    a.send(B, vote(1));
    wait_until("delivery", || recorders[1].count() == 1);
    let clone = network.clone();
    drop(network);
    a.send(B, vote(2));
    wait_until("delivery", || recorders[1].count() == 2);
    drop(clone);
    assert!(a.shared.upgrade().is_none(), "the dispatcher is gone");
    assert_eq!(Arc::strong_count(&recorders[1].received), 1);
    a.send(B, vote(3));
    assert_eq!(recorders[1].count(), 2);
}

#[test]
fn an_endpoint_is_a_raft_transport() {
    let (network, recorders) = cluster(&[A, B]);
    let transport: Arc<dyn Transport> = Arc::new(network.endpoint(A));
    transport.send(B, vote(1));
    Transport::send(&network.endpoint(B), A, granted(1));
    settle(&network);
    assert_eq!(recorders[1].received(), vec![(A, vote(1))]);
    assert_eq!(recorders[0].received(), vec![(B, granted(1))]);
    assert_eq!(network.total_rpcs(), 1);
}

/// A payload of a service's own: a request and its reply.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
enum Kv {
    Get { key: u64 },
    Value { key: u64, value: Option<String> },
}

impl Wire for Kv {
    fn is_reply(&self) -> bool {
        matches!(self, Kv::Value { .. })
    }
}

fn get(key: u64) -> Kv {
    Kv::Get { key }
}

fn value(key: u64) -> Kv {
    Kv::Value {
        key,
        value: Some(format!("value {key}")),
    }
}

fn key(message: &Kv) -> u64 {
    match message {
        Kv::Get { key } | Kv::Value { key, .. } => *key,
    }
}

/// A network of `Kv`s with A and B registered (each with a recorder) and
/// connected.
fn kv_pair() -> (Network<Kv>, Recorder<Kv>, Recorder<Kv>) {
    let network = Network::<Kv>::seeded(7);
    let (a, b) = (Recorder::default(), Recorder::default());
    network.add_server(A, a.handler());
    network.add_server(B, b.handler());
    network.connect(A, &[B]);
    (network, a, b)
}

#[test]
fn a_custom_payload_is_delivered_and_only_its_requests_are_rpcs() {
    let (network, a, b) = kv_pair();
    network.endpoint(A).send(B, get(1));
    network.endpoint(A).send(B, get(2));
    network.endpoint(B).send(A, value(1));
    let stats = settle(&network);

    assert_eq!(b.received(), vec![(A, get(1)), (A, get(2))]);
    assert_eq!(a.received(), vec![(B, value(1))]);
    assert_eq!(network.rpc_count(B), 2);
    assert_eq!(network.rpc_count(A), 0, "a reply is not an RPC");
    assert_eq!(network.total_rpcs(), 2);
    let (request, reply) = (encoded_len(&get(1)), encoded_len(&value(1)));
    assert_eq!(network.bytes_sent(A), 2 * request);
    assert_eq!(network.bytes_sent(B), reply);
    assert_eq!(
        stats,
        Stats {
            sent: 3,
            requests_sent: 2,
            bytes: 2 * request + reply,
            delivered: 3,
            dropped: 0,
            codec_errors: 0,
            handler_panics: 0,
        }
    );
}

#[test]
fn bytes_that_are_no_custom_payload_are_dropped_and_counted() {
    let (network, _, b) = kv_pair();
    let from = network.endpoint(A).address;
    // A variant tag that no Kv has.
    network.shared().submit(from, B, Kind::Request, vec![2]);
    // A Get without its key: truncated.
    network.shared().submit(from, B, Kind::Request, vec![0]);
    // A Raft message: a Get, then bytes left over.
    let raft = postcard::to_allocvec(&vote(1)).unwrap_or_default();
    network.shared().submit(from, B, Kind::Request, raft);
    // A valid Kv with trailing garbage.
    let mut bytes = postcard::to_allocvec(&get(1)).unwrap_or_default();
    bytes.push(0);
    network.shared().submit(from, B, Kind::Request, bytes);
    network.endpoint(A).send(B, get(2));
    wait_until("the good message", || b.count() == 1);
    let stats = network.stats();

    assert_eq!(b.received(), vec![(A, get(2))]);
    assert_eq!((stats.codec_errors, stats.dropped), (4, 4));
    assert_eq!(network.rpc_count(B), 1);
}

#[test]
fn an_unreliable_network_drops_about_a_tenth_of_a_custom_payload() {
    const N: u64 = 2000;
    let (network, a, b) = kv_pair();
    network.set_reliable(false);
    let (from_a, from_b) = (network.endpoint(A), network.endpoint(B));
    for k in 0..N {
        from_a.send(B, get(k));
        from_b.send(A, value(k));
    }
    let stats = settle(&network);
    let requests = b.count() as u64;
    let replies = a.count() as u64;
    // 200 expected each; a standard deviation is about 13.
    assert!(
        (N - 280..=N - 120).contains(&requests),
        "{requests} requests"
    );
    assert!((N - 280..=N - 120).contains(&replies), "{replies} replies");
    assert_eq!(network.rpc_count(B), requests);
    assert_eq!(network.rpc_count(A), 0);
    assert_eq!((stats.sent, stats.requests_sent), (2 * N, N));
    assert_eq!(stats.dropped, 2 * N - requests - replies);
    // Requests are delayed 0..=26 ms, which reorders them.
    let keys: Vec<u64> = b.received().iter().map(|(_, m)| key(m)).collect();
    assert!(keys.windows(2).any(|w| w[0] > w[1]), "some reordering");
}

#[test]
fn long_reordering_holds_the_replies_of_a_custom_payload() {
    const N: u64 = 30;
    let (network, a, b) = kv_pair();
    network.set_long_reordering(true);
    let (from_a, from_b) = (network.endpoint(A), network.endpoint(B));
    for k in 0..N {
        from_a.send(B, get(k));
        from_b.send(A, value(k));
    }
    // Held replies wait 200..=2199 ms.
    let stats = settle(&network);
    assert_eq!((stats.delivered, stats.dropped), (2 * N, 0));
    let requests: Vec<_> = b.received().iter().map(|(_, m)| key(m)).collect();
    let replies: Vec<_> = a.received().iter().map(|(_, m)| key(m)).collect();
    assert_eq!(requests, (0..N).collect::<Vec<_>>(), "requests in order");
    assert!(replies.windows(2).any(|w| w[0] > w[1]), "replies reordered");
}

/// A service's payload: Raft's messages and its own, on one network.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
enum Service {
    Raft(Message),
    Kv(Kv),
}

impl Wire for Service {
    fn is_reply(&self) -> bool {
        match self {
            Service::Raft(message) => message.is_reply(),
            Service::Kv(message) => message.is_reply(),
        }
    }
}

/// What a Raft peer is given as its transport on a `Service` network.
struct RaftOver(Endpoint<Service>);

impl Transport for RaftOver {
    fn send(&self, to: NodeId, message: Message) {
        self.0.send(to, Service::Raft(message));
    }
}

#[test]
fn raft_and_a_service_share_one_network() {
    let network = Network::<Service>::seeded(7);
    let (a, b) = (Recorder::default(), Recorder::default());
    network.add_server(A, a.handler());
    network.add_server(B, b.handler());
    network.connect(A, &[B, C]);
    let raft_a: Arc<dyn Transport> = Arc::new(RaftOver(network.endpoint(A)));
    let raft_b: Arc<dyn Transport> = Arc::new(RaftOver(network.endpoint(B)));
    raft_a.send(B, vote(1));
    raft_b.send(A, granted(1));
    network.endpoint(C).send(A, Service::Kv(get(7)));
    network.endpoint(A).send(C, Service::Kv(value(7)));
    let stats = settle(&network);

    assert_eq!(b.received(), vec![(A, Service::Raft(vote(1)))]);
    assert_eq!(
        a.received(),
        vec![(B, Service::Raft(granted(1))), (C, Service::Kv(get(7)))]
    );
    // C has no handler: the reply to it is dropped.
    assert_eq!((stats.delivered, stats.dropped), (3, 1));
    assert_eq!((network.rpc_count(A), network.rpc_count(B)), (1, 1));
    assert_eq!(network.total_rpcs(), 2, "RequestVote and Get");
}
