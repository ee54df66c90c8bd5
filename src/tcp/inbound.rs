//! Inbound: the accept loop, and a reader thread per connection. A
//! connection's first frame must be a [`Hello`] from a member of this
//! cluster addressed to this node, in this protocol version; anything else
//! is answered [`Answer::Refused`] with the reason, logged, and closed
//! (etcd checks its cluster id the same way; a stray peer of another
//! cluster is how split brains start). After the welcome, every frame is a
//! Raft message handed to the handler; a frame that is too long, cut short
//! or does not decode closes the connection with the reason logged.

use super::frame::{self, Answer, FrameError, Hello, Lane, MAGIC, VERSION};
use super::tls::Conn;
use super::{Inner, lock};
use crate::consensus::{Message, NodeId};
use crate::runtime::Handler;
use std::io::BufReader;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a dialer has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections until the transport stops; each gets a reader
/// thread of its own.
pub(super) fn run_acceptor(inner: Arc<Inner>, listener: TcpListener, handler: Handler) {
    for stream in listener.incoming() {
        if inner.stopped.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            continue;
        };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let key = inner.next_inbound.fetch_add(1, Ordering::Relaxed);
        lock(&inner.inbound).insert(key, clone);
        if inner.stopped.load(Ordering::SeqCst) {
            // Stopped after the check above: `shutdown` may have cut the
            // open connections before this one was registered.
            lock(&inner.inbound).remove(&key);
            break;
        }
        let (reader, handler) = (inner.clone(), handler.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("tcp-in-{}", inner.config.id.0))
            .spawn(move || {
                serve(&reader, stream, &handler);
                lock(&reader.inbound).remove(&key);
            });
        match spawned {
            Ok(handle) => lock(&inner.threads).push(handle),
            Err(e) => {
                lock(&inner.inbound).remove(&key);
                tracing::error!(error = %e, "cannot start a reader thread; connection dropped");
            }
        }
    }
}

/// Why a dialer's hello is refused, if it is.
pub(super) fn judge(inner: &Inner, hello: &Hello) -> Result<(), String> {
    let config = &inner.config;
    if hello.magic != MAGIC {
        return Err("not a checked-raft peer (bad magic)".into());
    }
    if hello.version != VERSION {
        return Err(format!(
            "protocol version {} (this node speaks {VERSION})",
            hello.version
        ));
    }
    if hello.cluster_id != config.cluster_id {
        return Err(format!(
            "cluster id {} is not this cluster's ({})",
            hello.cluster_id, config.cluster_id
        ));
    }
    if hello.to != config.id.0 {
        return Err(format!(
            "this is node {}, not node {}",
            config.id.0, hello.to
        ));
    }
    let from = NodeId(hello.from);
    if from == config.id || !config.peers.contains_key(&from) {
        return Err(format!(
            "node {} is not a member of this cluster",
            hello.from
        ));
    }
    Ok(())
}

/// One inbound connection: the handshake, then messages until it closes.
fn serve(inner: &Inner, raw: TcpStream, handler: &Handler) {
    let remote = raw.peer_addr().map_or_else(
        |_| "an unknown address".to_string(),
        |a: SocketAddr| a.to_string(),
    );
    let me = inner.config.id.0;
    let _ = raw.set_read_timeout(Some(HELLO_TIMEOUT));
    let Ok(clone) = raw.try_clone() else {
        return;
    };
    let mut stream = match Conn::accept(inner.config.tls.as_ref(), clone) {
        Ok(stream) => stream,
        Err(reason) => {
            tracing::error!(peer = me, %remote, %reason, "cannot start TLS on a connection");
            return;
        }
    };
    let hello: Hello = match frame::read(&mut stream, frame::MAX_HANDSHAKE) {
        Ok(hello) => hello,
        Err(FrameError::Io(e))
            if inner.config.tls.is_some() && e.kind() == std::io::ErrorKind::InvalidData =>
        {
            inner.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = me, %remote, reason = %e, "refusing a connection: the TLS handshake failed");
            return;
        }
        Err(e) => {
            inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(peer = me, %remote, reason = %e, "closing a connection that did not say hello");
            return;
        }
    };
    let judged = judge(inner, &hello).and_then(|()| match stream.certifies(hello.from) {
        true => Ok(()),
        false => Err(format!(
            "the client certificate does not name node {}",
            hello.from
        )),
    });
    if let Err(reason) = judged {
        inner.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(peer = me, %remote, %reason, "refusing a connection");
        let _ = frame::write(&mut stream, &Answer::Refused(reason)).and_then(|()| stream.flush());
        return;
    }
    let welcome = Answer::Welcome {
        cluster_id: inner.config.cluster_id,
        node: me,
    };
    if frame::write(&mut stream, &welcome)
        .and_then(|()| stream.flush())
        .is_err()
    {
        return;
    }
    let _ = raw.set_read_timeout(None);
    let from = NodeId(hello.from);
    let mut input = BufReader::new(stream);
    loop {
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        match frame::read::<Message>(&mut input, inner.config.max_frame) {
            Ok(message) => {
                let snapshot = matches!(message, Message::InstallSnapshot(_));
                if snapshot != (hello.lane == Lane::Snapshots) {
                    inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(peer = me, from = from.0, lane = ?hello.lane, "closing a connection that sent a message of the other lane");
                    return;
                }
                inner.stats.received.fetch_add(1, Ordering::Relaxed);
                handler(from, message);
            }
            Err(FrameError::Io(e)) => {
                tracing::debug!(peer = me, from = from.0, error = %e, "connection closed");
                return;
            }
            Err(e) => {
                inner.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(peer = me, from = from.0, %remote, reason = %e, "closing a connection that sent a bad frame");
                return;
            }
        }
    }
}
