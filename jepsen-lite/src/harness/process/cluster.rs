//! The process backend's servers: `raft-kv serve` processes on loopback
//! ports with their data directories, the per-link proxies between them,
//! and the signals the nemesis sends them.

use super::lock;
use crate::harness::nemesis::{Fault, Grudge};
use crate::harness::proxy::{Proxy, Toxics};
use crate::harness::{RunOptions, ServiceBug};
use anyhow::{Context, Result, anyhow};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value as Json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The `raft-kv` binary: `explicit`, else next to this executable (cargo
/// builds both into the same directory), else on the `PATH`.
pub fn server_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return match path.is_file() {
            true => Ok(path.to_owned()),
            false => Err(anyhow!("--server-bin {}: no such file", path.display())),
        };
    }
    let beside = std::env::current_exe().ok().and_then(|exe| {
        let dir = exe.parent()?;
        // Test binaries live in `deps/`, one below the binaries.
        [dir.join("raft-kv"), dir.parent()?.join("raft-kv")]
            .into_iter()
            .find(|p| p.is_file())
    });
    if let Some(path) = beside {
        return Ok(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("raft-kv"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| {
        anyhow!(
            "cannot find the raft-kv server binary: build it (cargo build -p raft-kv, \
             in the same profile) or pass --server-bin"
        )
    })
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The servers, their proxies and their processes.
pub(super) struct Cluster {
    pub(super) nodes: usize,
    pub(super) bin: PathBuf,
    pub(super) dir: tempfile::TempDir,
    pub(super) peer: Vec<SocketAddr>,
    pub(super) client: Vec<SocketAddr>,
    /// `proxies[a][b]`: the link from server `a` to server `b`.
    pub(super) proxies: Vec<Vec<Option<Proxy>>>,
    pub(super) children: Mutex<Vec<Option<Child>>>,
    pub(super) paused: Mutex<Vec<bool>>,
    pub(super) grudge: Mutex<Grudge>,
    pub(super) options: RunOptions,
}

impl Cluster {
    pub(super) fn new(options: &RunOptions) -> Result<Cluster> {
        let nodes = options.nodes;
        let bin = server_binary(options.server_bin.as_deref())?;
        let dir = tempfile::Builder::new()
            .prefix("jepsen-lite-processes-")
            .tempdir()
            .context("cannot create a directory for the servers")?;
        let mut peer = Vec::new();
        let mut client = Vec::new();
        for _ in 0..nodes {
            peer.push(SocketAddr::from(([127, 0, 0, 1], free_port()?)));
            client.push(SocketAddr::from(([127, 0, 0, 1], free_port()?)));
        }
        let mut proxies = Vec::new();
        for a in 0..nodes {
            let mut row = Vec::new();
            for (b, &to) in peer.iter().enumerate() {
                row.push(match a == b {
                    true => None,
                    false => Some(Proxy::start(to).context("cannot start a link proxy")?),
                });
            }
            proxies.push(row);
        }
        let cluster = Cluster {
            nodes,
            bin,
            dir,
            peer,
            client,
            proxies,
            children: Mutex::new((0..nodes).map(|_| None).collect()),
            paused: Mutex::new(vec![false; nodes]),
            grudge: Mutex::new(Grudge::healed(nodes)),
            options: options.clone(),
        };
        for i in 0..nodes {
            cluster.start(i)?;
        }
        Ok(cluster)
    }

    fn members(&self, addr: impl Fn(usize) -> SocketAddr) -> String {
        (0..self.nodes)
            .map(|j| format!("{}={}", j + 1, addr(j)))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}.log", i + 1))
    }

    /// Starts server `i` on its data directory (again, after a kill).
    pub(super) fn start(&self, i: usize) -> Result<()> {
        let peers = self.members(|j| match self.proxies[i][j].as_ref() {
            Some(proxy) => proxy.addr(),
            None => self.peer[i],
        });
        let mut command = Command::new(&self.bin);
        command
            .arg("serve")
            .args(["--id", &(i + 1).to_string()])
            .args(["--peers", &peers])
            .args(["--clients", &self.members(|j| self.client[j])])
            .arg("--data-dir")
            .arg(self.dir.path().join(format!("n{}", i + 1)))
            .args(["--storage", self.options.storage.name()]);
        if let Some(ServiceBug::LocalReads) = self.options.bug {
            command.args(["--bug", "local-reads"]);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .context("cannot open a server's log")?;
        let child = command
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        lock(&self.children)[i] = Some(child);
        lock(&self.paused)[i] = false;
        Ok(())
    }

    fn pid(&self, i: usize) -> Option<Pid> {
        lock(&self.children)[i]
            .as_ref()
            .map(|c| Pid::from_raw(c.id() as i32))
    }

    /// SIGKILLs server `i` and reaps it.
    pub(super) fn kill(&self, i: usize) {
        let child = lock(&self.children)[i].take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
        lock(&self.paused)[i] = false;
    }

    fn signal(&self, i: usize, signal: Signal) -> Result<()> {
        if let Some(pid) = self.pid(i) {
            kill(pid, signal)
                .with_context(|| format!("cannot send {signal} to server {}", i + 1))?;
            lock(&self.paused)[i] = signal == Signal::SIGSTOP;
        }
        Ok(())
    }

    /// Sets every link's toxics: the grudge's cuts, and `toxics` on the
    /// links it leaves up.
    fn set_links(&self, toxics: Toxics) {
        let grudge = lock(&self.grudge);
        for a in 0..self.nodes {
            for b in 0..self.nodes {
                if let Some(proxy) = &self.proxies[a][b] {
                    proxy.set(Toxics {
                        cut: !grudge.connected(a, b),
                        ..toxics
                    });
                }
            }
        }
    }

    pub(super) fn inject(&self, fault: &Fault, on: bool) -> Result<()> {
        match fault {
            Fault::Partition(grudge) => {
                *lock(&self.grudge) = match on {
                    true => grudge.clone(),
                    false => Grudge::healed(self.nodes),
                };
                self.set_links(Toxics::default());
            }
            Fault::Kill(nodes) => {
                for &i in nodes {
                    match on {
                        true => self.kill(i),
                        false if lock(&self.children)[i].is_none() => self.start(i)?,
                        false => {}
                    }
                }
            }
            Fault::Pause(nodes) => {
                for &i in nodes {
                    let signal = if on { Signal::SIGSTOP } else { Signal::SIGCONT };
                    self.signal(i, signal)?;
                }
            }
            Fault::Unreliable => self.set_links(match on {
                true => Toxics {
                    delay_ms: Some((0, 40)),
                    reset_probability: 0.02,
                    ..Toxics::default()
                },
                false => Toxics::default(),
            }),
            Fault::Reorder => self.set_links(match on {
                true => Toxics {
                    delay_ms: Some((0, 250)),
                    ..Toxics::default()
                },
                false => Toxics::default(),
            }),
        }
        Ok(())
    }

    /// Heals everything: links, paused and killed servers.
    pub(super) fn heal(&self) -> Result<()> {
        *lock(&self.grudge) = Grudge::healed(self.nodes);
        self.set_links(Toxics::default());
        for i in 0..self.nodes {
            if lock(&self.paused)[i] {
                self.signal(i, Signal::SIGCONT)?;
            }
            if lock(&self.children)[i].is_none() {
                self.start(i)?;
            }
        }
        Ok(())
    }

    /// The server that says it leads in the highest term, with the term.
    pub(super) fn leader(&self) -> Option<(u64, usize)> {
        (0..self.nodes)
            .filter(|&i| lock(&self.children)[i].is_some() && !lock(&self.paused)[i])
            .filter_map(|i| {
                let health = health(self.client[i])?;
                let term = health.get("term")?.as_u64()?;
                (health.get("role")? == "leader").then_some((term, i))
            })
            .max()
    }

    /// Every server's log, for the report.
    pub(super) fn logs(&self) -> Vec<(String, Vec<u8>)> {
        (0..self.nodes)
            .map(|i| {
                let name = format!("n{}.log", i + 1);
                (name, std::fs::read(self.log_path(i)).unwrap_or_default())
            })
            .collect()
    }

    pub(super) fn shutdown(&self) {
        for i in 0..self.nodes {
            if lock(&self.paused)[i] {
                let _ = self.signal(i, Signal::SIGCONT);
            }
            self.kill(i);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `GET /health` over a plain socket, with short timeouts.
fn health(addr: SocketAddr) -> Option<Json> {
    let timeout = Duration::from_millis(300);
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    write!(s, "GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}
