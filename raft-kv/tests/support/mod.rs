//! Real `raft-kv serve` processes on loopback ports picked here, each with
//! its own data directory; every process is killed when the cluster is
//! dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_raft-kv");

/// A free loopback port (the system's pick; bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A cluster of `raft-kv serve` processes.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub peer_ports: Vec<u16>,
    pub client_ports: Vec<u16>,
    pub children: Vec<Option<Child>>,
    pub extra: Vec<String>,
}

impl Cluster {
    /// Starts `n` servers.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let mut cluster = Cluster {
            dir: tempfile::tempdir().expect("a temporary directory"),
            peer_ports: (0..n).map(|_| free_port()).collect(),
            client_ports: (0..n).map(|_| free_port()).collect(),
            children: (0..n).map(|_| None).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster
    }

    fn members(ports: &[u16]) -> String {
        ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}", i + 1))
    }

    pub fn log(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}.log", i + 1))
    }

    /// The arguments of server `i`'s `serve`.
    pub fn args(&self, i: usize) -> Vec<String> {
        let mut args = vec![
            "serve".to_owned(),
            "--id".into(),
            (i + 1).to_string(),
            "--peers".into(),
            Self::members(&self.peer_ports),
            "--clients".into(),
            Self::members(&self.client_ports),
            "--data-dir".into(),
            self.data_dir(i).display().to_string(),
        ];
        args.extend(self.extra.iter().cloned());
        args
    }

    /// Starts server `i` (again), appending to its log.
    pub fn spawn(&mut self, i: usize) {
        assert!(self.children[i].is_none(), "server {} is running", i + 1);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(i))
            .expect("a log file");
        let child = Command::new(BIN)
            .args(self.args(i))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log)
            .spawn()
            .expect("raft-kv starts");
        self.children[i] = Some(child);
    }

    /// SIGKILLs server `i` and waits for it.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERMs server `i` and waits (at most `within`) for it to exit.
    pub fn terminate(&mut self, i: usize, within: Duration) -> Option<ExitStatus> {
        let mut child = self.children[i].take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every server's client endpoint.
    pub fn endpoints(&self) -> Vec<String> {
        self.client_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// Server `i`'s `/health` JSON (None if it does not answer).
    pub async fn health(&self, i: usize) -> Option<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/health", self.client_ports[i]);
        let response = reqwest::get(url).await.ok()?;
        response.json().await.ok()
    }

    /// Waits until a running server names a leader that says it leads;
    /// returns its index.
    pub async fn leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            for i in 0..self.children.len() {
                if self.children[i].is_none() {
                    continue;
                }
                if let Some(h) = self.health(i).await
                    && h["role"] == "leader"
                {
                    return i;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no leader within {within:?}; logs in {}",
            self.dir.path().display()
        );
    }

    /// What server `i` logged.
    pub fn read_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.log(i)).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `path` holds a segment of the log.
pub fn has_log(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|d| d.count() > 0)
}
