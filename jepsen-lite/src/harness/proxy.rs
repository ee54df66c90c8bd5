//! Per-link TCP proxies for the process backend (as toxiproxy does): the
//! harness owns one listener per ordered pair of servers, and server
//! `a`'s peer address for `b` is the proxy of link `a → b`, which relays
//! to `b`'s real peer address. So a link can be cut, delayed or made
//! lossy without root and without the servers knowing.
//!
//! - **cut**: the link's connections are closed and new ones are closed
//!   at once (the server's transport redials with back-off);
//! - **delay**: every chunk of bytes waits a random time in a range before
//!   it is relayed (the peer sees late, and across links and lanes
//!   reordered, messages);
//! - **lossy**: a relayed chunk closes its connection with a probability
//!   (what was in flight on it is lost, as Raft tolerates; TCP cannot lose
//!   single messages without corrupting the stream, so loss is by
//!   connection, as toxiproxy's `reset_peer`).

use rand::Rng;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a link does to its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Toxics {
    /// Nothing passes.
    pub cut: bool,
    /// Each chunk waits a random time in this range (ms).
    pub delay_ms: Option<(u64, u64)>,
    /// Probability that relaying a chunk closes the connection instead.
    pub reset_probability: f64,
}

/// Counters of one link.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Connections relayed.
    pub connections: AtomicU64,
    /// Connections refused or closed because the link was cut.
    pub cut: AtomicU64,
    /// Connections reset by the lossy toxic.
    pub resets: AtomicU64,
    /// Bytes relayed.
    pub bytes: AtomicU64,
}

struct Link {
    to: SocketAddr,
    toxics: Mutex<Toxics>,
    /// Open connections (both sockets), to close on a cut.
    open: Mutex<Vec<(TcpStream, TcpStream)>>,
    stats: LinkStats,
    stopped: AtomicBool,
}

/// One link's proxy: a listener relaying to one server.
pub struct Proxy {
    link: Arc<Link>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a loopback port of the system's choice, relaying to `to`.
    pub fn start(to: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let link = Arc::new(Link {
            to,
            toxics: Mutex::new(Toxics::default()),
            open: Mutex::new(Vec::new()),
            stats: LinkStats::default(),
            stopped: AtomicBool::new(false),
        });
        let acceptor = {
            let link = Arc::clone(&link);
            thread::Builder::new()
                .name(format!("proxy-{addr}"))
                .spawn(move || accept(&link, &listener))?
        };
        Ok(Proxy {
            link,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// Where servers dial this link.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the link's toxics; a cut closes its open connections.
    pub fn set(&self, toxics: Toxics) {
        *lock(&self.link.toxics) = toxics;
        if toxics.cut {
            for (a, b) in lock(&self.link.open).drain(..) {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
                self.link.stats.cut.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The link's counters.
    pub fn stats(&self) -> &LinkStats {
        &self.link.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.link.stopped.store(true, Ordering::SeqCst);
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for (a, b) in lock(&self.link.open).drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(link: &Arc<Link>, listener: &TcpListener) {
    for incoming in listener.incoming() {
        if link.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(from) = incoming else { continue };
        if lock(&link.toxics).cut {
            link.stats.cut.fetch_add(1, Ordering::Relaxed);
            let _ = from.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(to) = TcpStream::connect_timeout(&link.to, Duration::from_secs(1)) else {
            // The server is down: the dialer sees its connection close.
            let _ = from.shutdown(Shutdown::Both);
            continue;
        };
        let _ = from.set_nodelay(true);
        let _ = to.set_nodelay(true);
        let clones = (
            from.try_clone(),
            to.try_clone(),
            from.try_clone(),
            to.try_clone(),
        );
        let (Ok(from2), Ok(to2), Ok(from3), Ok(to3)) = clones else {
            continue;
        };
        link.stats.connections.fetch_add(1, Ordering::Relaxed);
        {
            let mut open = lock(&link.open);
            // Forget connections that have ended.
            open.retain(|(a, _)| a.peer_addr().is_ok());
            open.push((from3, to3));
        }
        for (reader, writer) in [(from, to), (to2, from2)] {
            let link = Arc::clone(link);
            let _ = thread::Builder::new()
                .name("proxy-relay".into())
                .spawn(move || relay(&link, reader, writer));
        }
    }
}

/// Relays `reader` to `writer` through the link's toxics until either
/// side closes; then closes both.
fn relay(link: &Link, mut reader: TcpStream, mut writer: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut rng = rand::rng();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let toxics = *lock(&link.toxics);
        if toxics.cut || link.stopped.load(Ordering::SeqCst) {
            break;
        }
        if toxics.reset_probability > 0.0 && rng.random_bool(toxics.reset_probability.min(1.0)) {
            link.stats.resets.fetch_add(1, Ordering::Relaxed);
            break;
        }
        if let Some((min, max)) = toxics.delay_ms {
            let ms = if max > min {
                rng.random_range(min..=max)
            } else {
                min
            };
            thread::sleep(Duration::from_millis(ms));
        }
        if writer.write_all(&buf[..n]).is_err() {
            break;
        }
        link.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = reader.shutdown(Shutdown::Both);
    let _ = writer.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::io::BufReader;

    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        if writeln!(writer, "{line}").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(addr: SocketAddr) -> std::io::Result<String> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        writeln!(s, "hello")?;
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line)?;
        Ok(line)
    }

    #[test]
    fn a_link_relays_is_cut_and_heals() {
        let proxy = Proxy::start(echo_server()).unwrap();
        assert_eq!(roundtrip(proxy.addr()).unwrap(), "hello\n");
        // An open connection is closed by the cut, and new ones get nothing.
        let mut open = TcpStream::connect(proxy.addr()).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        thread::sleep(Duration::from_millis(50));
        proxy.set(Toxics {
            cut: true,
            ..Toxics::default()
        });
        let mut buf = [0u8; 8];
        assert!(matches!(open.read(&mut buf), Ok(0) | Err(_)));
        assert!(roundtrip(proxy.addr()).map_or(true, |l| l.is_empty()));
        proxy.set(Toxics::default());
        assert_eq!(roundtrip(proxy.addr()).unwrap(), "hello\n");
        assert!(proxy.stats().cut.load(Ordering::Relaxed) >= 2);
    }

    #[test]
    fn a_delayed_link_is_slow_and_a_lossy_one_resets() {
        let proxy = Proxy::start(echo_server()).unwrap();
        proxy.set(Toxics {
            delay_ms: Some((100, 100)),
            ..Toxics::default()
        });
        let started = std::time::Instant::now();
        assert_eq!(roundtrip(proxy.addr()).unwrap(), "hello\n");
        // Each direction waits 100 ms.
        assert!(started.elapsed() >= Duration::from_millis(200));
        proxy.set(Toxics {
            reset_probability: 1.0,
            ..Toxics::default()
        });
        assert!(roundtrip(proxy.addr()).map_or(true, |l| l.is_empty()));
        assert!(proxy.stats().resets.load(Ordering::Relaxed) >= 1);
    }
}
