//! The TCP transport on real loopback sockets (ports the system picks):
//! messages both ways, a three-peer Raft cluster electing and committing
//! over it, the handshake's refusals (another cluster, a non-member, the
//! wrong node), garbage and oversized frames closing only their
//! connection, a full queue dropping, and reconnection after a peer
//! restarts. Real time: every wait is a deadline of seconds, polled.

// Real threads and sockets: compiled out of the loom build.
#![cfg(not(feature = "loom"))]

use bytes::Bytes;
use checked_raft::consensus::{LogIndex, Message, NodeId, RequestVote, Term};
use checked_raft::runtime::{ApplyMsg, Handler, MemoryPersister, Raft, RaftConfig, Transport};
use checked_raft::tcp::frame::{self, Answer, Hello, Lane, MAGIC, VERSION};
use checked_raft::tcp::{TcpConfig, TcpTransport};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(20);

/// `n` free loopback addresses (bound and released: the system will not
/// hand them out again at once).
fn addresses(n: usize) -> BTreeMap<NodeId, SocketAddr> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .enumerate()
        .map(|(i, l)| (NodeId(i as u64 + 1), l.local_addr().unwrap()))
        .collect()
}

fn vote(term: u64) -> Message {
    Message::RequestVote(RequestVote {
        term: Term(term),
        last_log_index: LogIndex(0),
        last_log_term: Term(0),
    })
}

/// A handler that forwards what it receives to a channel.
fn collector() -> (Handler, mpsc::Receiver<(NodeId, Message)>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let handler: Handler = Arc::new(move |from, message| {
        let _ = tx.lock().unwrap().send((from, message));
    });
    (handler, rx)
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn node(cluster: u64, id: u64, peers: &BTreeMap<NodeId, SocketAddr>) -> TcpTransport {
    TcpTransport::bind(TcpConfig::new(cluster, NodeId(id), peers.clone())).unwrap()
}

#[test]
fn messages_flow_both_ways_in_order() {
    let peers = addresses(2);
    let (a, b) = (node(7, 1, &peers), node(7, 2, &peers));
    let (ha, ra) = collector();
    let (hb, rb) = collector();
    a.serve(ha).unwrap();
    b.serve(hb).unwrap();
    for term in 1..=100 {
        a.send(NodeId(2), vote(term));
    }
    b.send(NodeId(1), vote(7));
    for term in 1..=100 {
        assert_eq!(rb.recv_timeout(PATIENCE).unwrap(), (NodeId(1), vote(term)));
    }
    assert_eq!(ra.recv_timeout(PATIENCE).unwrap(), (NodeId(2), vote(7)));
    assert_eq!(a.counts().sent, 100);
    assert_eq!(b.counts().received, 100);
    a.shutdown();
    b.shutdown();
}

#[test]
fn three_peers_elect_a_leader_and_commit_over_tcp() {
    let peers = addresses(3);
    let members: Vec<NodeId> = peers.keys().copied().collect();
    let mut rafts = Vec::new();
    let mut transports = Vec::new();
    let mut applied = Vec::new();
    for &id in &members {
        let tcp = TcpTransport::bind(TcpConfig::new(1, id, peers.clone())).unwrap();
        let (raft, rx) = Raft::new(
            members.clone(),
            id,
            Arc::new(MemoryPersister::new()),
            RaftConfig::default(),
            Arc::new(tcp.clone()),
        )
        .unwrap();
        tcp.serve(raft.handler()).unwrap();
        rafts.push(raft);
        transports.push(tcp);
        applied.push(rx);
    }
    let mut leader = None;
    until("a leader", || {
        leader = rafts.iter().position(|r| r.state().1);
        leader.is_some()
    });
    let leader = leader.unwrap();
    let (index, _) = rafts[leader]
        .start(Bytes::from_static(b"over tcp"))
        .unwrap();
    for rx in &applied {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx
                .recv_timeout(left)
                .expect("the entry is applied everywhere")
            {
                ApplyMsg::Command {
                    index: i, command, ..
                } if i == index => {
                    assert_eq!(command, Bytes::from_static(b"over tcp"));
                    break;
                }
                _ => {}
            }
        }
    }
    for raft in &rafts {
        raft.shutdown();
    }
    for tcp in &transports {
        assert_eq!(tcp.counts().bad_frames, 0);
        assert_eq!(tcp.counts().refused, 0);
        tcp.shutdown();
    }
}

#[test]
fn a_peer_of_another_cluster_is_refused_both_ways() {
    let peers = addresses(2);
    let (a, b) = (node(1, 1, &peers), node(2, 2, &peers));
    let (ha, ra) = collector();
    let (hb, rb) = collector();
    a.serve(ha).unwrap();
    b.serve(hb).unwrap();
    a.send(NodeId(2), vote(1));
    b.send(NodeId(1), vote(1));
    until("both refusals", || {
        a.counts().refused > 0 && b.counts().refused > 0
    });
    assert!(rb.recv_timeout(Duration::from_millis(200)).is_err());
    assert!(ra.try_recv().is_err());
    a.shutdown();
    b.shutdown();
}

/// Dials `addr` and says `hello`; the answer (or the error).
fn handshake(addr: SocketAddr, hello: &Hello) -> (TcpStream, Result<Answer, frame::FrameError>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    frame::write(&mut stream, hello).unwrap();
    let answer = frame::read(&mut stream, 1 << 20);
    (stream, answer)
}

fn hello(cluster_id: u64, from: u64, to: u64) -> Hello {
    Hello {
        magic: MAGIC,
        version: VERSION,
        cluster_id,
        from,
        to,
        lane: Lane::Messages,
    }
}

#[test]
fn the_handshake_refuses_non_members_wrong_nodes_versions_and_clusters_with_a_reason() {
    let peers = addresses(3);
    let b = node(5, 2, &peers);
    let (hb, rb) = collector();
    b.serve(hb).unwrap();
    let addr = b.local_addr();
    let cases = [
        (hello(5, 9, 2), "node 9 is not a member"),
        (hello(5, 2, 2), "node 2 is not a member"),
        (hello(5, 1, 3), "this is node 2, not node 3"),
        (hello(6, 1, 2), "cluster id 6 is not this cluster's (5)"),
        (
            Hello {
                version: VERSION + 1,
                ..hello(5, 1, 2)
            },
            "protocol version",
        ),
        (
            Hello {
                magic: 0,
                ..hello(5, 1, 2)
            },
            "bad magic",
        ),
    ];
    for (hello, reason) in cases {
        let (mut stream, answer) = handshake(addr, &hello);
        match answer.unwrap() {
            Answer::Refused(r) => assert!(r.contains(reason), "{r} lacks {reason}"),
            other => panic!("{hello:?} was answered {other:?}"),
        }
        // And the connection is closed.
        let mut rest = Vec::new();
        assert_eq!(stream.read_to_end(&mut rest).unwrap_or(0), 0);
    }
    let (_stream, answer) = handshake(addr, &hello(5, 1, 2));
    assert_eq!(
        answer.unwrap(),
        Answer::Welcome {
            cluster_id: 5,
            node: 2
        }
    );
    assert_eq!(b.counts().refused, 6);
    assert!(rb.try_recv().is_err());
    b.shutdown();
}

#[test]
fn garbage_and_oversized_frames_close_only_their_connection() {
    let peers = addresses(2);
    let (a, b) = (node(3, 1, &peers), node(3, 2, &peers));
    let (hb, rb) = collector();
    b.serve(hb).unwrap();
    let addr = b.local_addr();
    // Garbage instead of a hello.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(PATIENCE)).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    assert_eq!(raw.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    // A welcomed connection that claims a 4 GiB frame.
    let (mut stream, answer) = handshake(addr, &hello(3, 1, 2));
    assert!(matches!(answer, Ok(Answer::Welcome { .. })));
    stream.write_all(&u32::MAX.to_le_bytes()).unwrap();
    assert_eq!(stream.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    // A welcomed connection that sends a frame that does not decode.
    let (mut stream, _) = handshake(addr, &hello(3, 1, 2));
    stream.write_all(&[3, 0, 0, 0, 0xff, 0xff, 0xff]).unwrap();
    assert_eq!(stream.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    // A snapshot lane that carries a vote.
    let snapshots = Hello {
        lane: Lane::Snapshots,
        ..hello(3, 1, 2)
    };
    let (mut stream, _) = handshake(addr, &snapshots);
    frame::write(&mut stream, &vote(1)).unwrap();
    assert_eq!(stream.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
    until("four bad frames counted", || b.counts().bad_frames == 4);
    // The real peer still gets through.
    a.send(NodeId(2), vote(4));
    assert_eq!(rb.recv_timeout(PATIENCE).unwrap(), (NodeId(1), vote(4)));
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_full_queue_drops_and_a_restarted_peer_is_reached_again() {
    let peers = addresses(2);
    let config = TcpConfig {
        queue_capacity: 8,
        ..TcpConfig::new(4, NodeId(1), peers.clone())
    };
    let a = TcpTransport::bind(config).unwrap();
    let (ha, _ra) = collector();
    a.serve(ha).unwrap();
    // Nobody listens at node 2's address: the queue fills, then drops.
    for term in 0..20 {
        a.send(NodeId(2), vote(term));
    }
    assert!(a.counts().dropped >= 12, "{:?}", a.counts());
    // Node 2 comes up: what was queued arrives, then new messages.
    let b = node(4, 2, &peers);
    let (hb, rb) = collector();
    b.serve(hb).unwrap();
    let first = rb.recv_timeout(PATIENCE).unwrap();
    assert_eq!(first.0, NodeId(1));
    // Node 2 restarts on the same address: node 1 dials it again.
    b.shutdown();
    drop(rb);
    let b = node(4, 2, &peers);
    let (hb, rb) = collector();
    b.serve(hb).unwrap();
    until("a message through the new connection", || {
        a.send(NodeId(2), vote(99));
        rb.recv_timeout(Duration::from_millis(50))
            .is_ok_and(|(from, m)| from == NodeId(1) && m == vote(99))
    });
    assert!(a.counts().connects >= 2);
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_config_without_this_nodes_address_is_an_error() {
    let peers = addresses(2);
    let error = TcpTransport::bind(TcpConfig::new(1, NodeId(3), peers)).unwrap_err();
    assert_eq!(error.to_string(), "node 3 has no address among the peers");
}

// ----- mutual TLS -----

mod tls {
    use super::*;
    use checked_raft::tcp::TlsConfig;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A certificate authority made in the test.
    struct Ca {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    impl Ca {
        fn new() -> Ca {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            Ca {
                cert: params.self_signed(&key).unwrap(),
                key,
            }
        }

        /// A certificate naming `name`, signed by this CA, trusting `trust`.
        fn identity(&self, name: &str, trust: &Ca) -> TlsConfig {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &self.cert, &self.key)
                .unwrap();
            TlsConfig::new(
                trust.cert.der().clone(),
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap()
        }
    }

    fn tls_node(
        id: u64,
        peers: &BTreeMap<NodeId, SocketAddr>,
        tls: Option<TlsConfig>,
    ) -> TcpTransport {
        let config = TcpConfig {
            tls,
            ..TcpConfig::new(8, NodeId(id), peers.clone())
        };
        TcpTransport::bind(config).unwrap()
    }

    #[test]
    fn nodes_of_one_ca_talk_over_mutual_tls() {
        let ca = Ca::new();
        let peers = addresses(2);
        let a = tls_node(1, &peers, Some(ca.identity("node-1", &ca)));
        let b = tls_node(2, &peers, Some(ca.identity("node-2", &ca)));
        let (ha, ra) = collector();
        let (hb, rb) = collector();
        a.serve(ha).unwrap();
        b.serve(hb).unwrap();
        for term in 1..=20 {
            a.send(NodeId(2), vote(term));
        }
        b.send(NodeId(1), vote(5));
        for term in 1..=20 {
            assert_eq!(rb.recv_timeout(PATIENCE).unwrap(), (NodeId(1), vote(term)));
        }
        assert_eq!(ra.recv_timeout(PATIENCE).unwrap(), (NodeId(2), vote(5)));
        assert_eq!((a.counts().refused, b.counts().refused), (0, 0));
        a.shutdown();
        b.shutdown();
    }

    /// `a` (node 1) sends to `b` (node 2): nothing arrives, and `b`
    /// refuses at least once.
    fn refused(a: TcpTransport, b: TcpTransport) {
        let (hb, rb) = collector();
        b.serve(hb).unwrap();
        let (ha, _ra) = collector();
        a.serve(ha).unwrap();
        a.send(NodeId(2), vote(1));
        until("a refusal", || b.counts().refused + a.counts().refused > 0);
        assert!(rb.recv_timeout(Duration::from_millis(300)).is_err());
        a.shutdown();
        b.shutdown();
    }

    #[test]
    fn a_certificate_of_another_ca_is_refused() {
        let (ca, rogue) = (Ca::new(), Ca::new());
        let peers = addresses(2);
        // Node 1's certificate is signed by a CA node 2 does not trust.
        let a = tls_node(1, &peers, Some(rogue.identity("node-1", &ca)));
        let b = tls_node(2, &peers, Some(ca.identity("node-2", &ca)));
        refused(a, b);
    }

    #[test]
    fn a_certificate_naming_another_node_is_refused() {
        let ca = Ca::new();
        let peers = addresses(3);
        // Node 1 presents node 3's certificate.
        let a = tls_node(1, &peers, Some(ca.identity("node-3", &ca)));
        let b = tls_node(2, &peers, Some(ca.identity("node-2", &ca)));
        refused(a, b);
    }

    #[test]
    fn a_listener_whose_certificate_names_another_node_is_refused_by_the_dialer() {
        let ca = Ca::new();
        let peers = addresses(2);
        let a = tls_node(1, &peers, Some(ca.identity("node-1", &ca)));
        let b = tls_node(2, &peers, Some(ca.identity("node-7", &ca)));
        let (hb, rb) = collector();
        b.serve(hb).unwrap();
        a.send(NodeId(2), vote(1));
        // The dialer's TLS handshake fails: nothing is delivered.
        assert!(rb.recv_timeout(Duration::from_millis(500)).is_err());
        assert_eq!(a.counts().connects, 0);
        a.shutdown();
        b.shutdown();
    }

    #[test]
    fn a_peer_in_the_clear_and_a_peer_under_tls_do_not_talk() {
        let ca = Ca::new();
        let peers = addresses(2);
        let a = tls_node(1, &peers, None);
        let b = tls_node(2, &peers, Some(ca.identity("node-2", &ca)));
        refused(a, b);
        let peers = addresses(2);
        let a = tls_node(1, &peers, Some(ca.identity("node-1", &ca)));
        let b = tls_node(2, &peers, None);
        let (hb, rb) = collector();
        b.serve(hb).unwrap();
        a.send(NodeId(2), vote(1));
        assert!(rb.recv_timeout(Duration::from_millis(500)).is_err());
        a.shutdown();
        b.shutdown();
    }

    #[test]
    fn pem_that_holds_no_certificate_is_a_clear_error() {
        let ca = Ca::new();
        let error = TlsConfig::from_pem(&ca.cert.pem(), "", &ca.key.serialize_pem()).unwrap_err();
        assert_eq!(error.to_string(), "bad PEM: certificate: none found");
        let pem_ok = TlsConfig::from_pem(&ca.cert.pem(), &ca.cert.pem(), &ca.key.serialize_pem());
        assert!(pem_ok.is_ok());
    }
}
