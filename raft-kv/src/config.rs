//! `raft-kv serve`'s settings: command-line flags, or a TOML file with
//! the same names (`--config FILE`; a flag given too overrides the
//! file's value), checked into a [`ServeConfig`] with an error that names
//! the setting.

use checked_raft::NodeId;
use checked_raft::runtime::RaftConfig;
use checked_raft::tcp::TlsConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings as given: every one optional here, checked by
/// [`ServeArgs::resolve`].
#[derive(clap::Args, Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// A TOML file of these settings (keys as the flags without `--`).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// This server's id (one of `--peers`).
    #[arg(long)]
    pub id: Option<u64>,
    /// Every member's peer address, this server's included (it listens
    /// there): `1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003`.
    #[arg(long)]
    pub peers: Option<String>,
    /// Every member's client address, for redirecting a client to the
    /// leader: `1=127.0.0.1:8001,...` (without it a follower names the
    /// leader's id only).
    #[arg(long)]
    pub clients: Option<String>,
    /// Where this server answers clients (default: its entry in
    /// `--clients`).
    #[arg(long)]
    pub client_listen: Option<SocketAddr>,
    /// The write-ahead log's directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// `disk` (default: the write-ahead log in `--data-dir`) or `memory`
    /// (nothing survives the process: for trying things out only).
    #[arg(long)]
    pub storage: Option<String>,
    /// Names the cluster; peers of another cluster are refused (the
    /// cluster id is a hash of it and the member ids; default "raft-kv").
    #[arg(long)]
    pub cluster_token: Option<String>,
    /// Election timeouts, drawn from this range: `MIN-MAX` ms (default
    /// 300-600).
    #[arg(long)]
    pub election_timeout_ms: Option<String>,
    /// Heartbeat interval in ms (default 100).
    #[arg(long)]
    pub heartbeat_ms: Option<u64>,
    /// Snapshot once the log holds this many bytes (default 64 MiB).
    #[arg(long)]
    pub snapshot_bytes: Option<usize>,
    /// How long a client request may wait for its entry to commit before
    /// it is answered 504, outcome unknown (ms, default 5000).
    #[arg(long)]
    pub request_timeout_ms: Option<u64>,
    /// Mutual TLS between peers: the CA's certificate (PEM).
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// This node's certificate chain (PEM), naming `node-<id>`.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// A bug to build in (builds with feature `bug-catalogue` only):
    /// `local-reads` answers reads from this server's own copy.
    #[arg(long)]
    pub bug: Option<String>,
}

/// Where the log lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// The write-ahead log in the data directory.
    Disk,
    /// In memory: lost with the process.
    Memory,
}

/// `raft-kv serve`'s checked settings.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// This server.
    pub id: NodeId,
    /// Every member's peer address.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The client addresses known, by member.
    pub clients: BTreeMap<NodeId, SocketAddr>,
    /// Where this server answers clients.
    pub client_listen: SocketAddr,
    /// The log's directory (with [`Storage::Disk`]).
    pub data_dir: Option<PathBuf>,
    /// Where the log lives.
    pub storage: Storage,
    /// The cluster's id.
    pub cluster_id: u64,
    /// The Raft peer's timing.
    pub raft: RaftConfig,
    /// Snapshot threshold in bytes.
    pub snapshot_bytes: usize,
    /// How long a request waits for its commit.
    pub request_timeout: Duration,
    /// Mutual TLS between peers.
    pub tls: Option<TlsConfig>,
    /// Reads served locally (the catalogue's bug).
    pub local_reads: bool,
}

/// A setting that is missing or wrong, named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is required.
    #[error("--{0} is required (as a flag or in the config file)")]
    Missing(&'static str),
    /// A setting's value is wrong.
    #[error("--{0}: {1}")]
    Invalid(&'static str, String),
    /// The config file cannot be read or parsed.
    #[error("config file {0}: {1}")]
    File(PathBuf, String),
}

/// Parses `1=host:port,2=host:port`.
pub fn parse_members(s: &str) -> Result<BTreeMap<NodeId, SocketAddr>, String> {
    let mut members = BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not ID=HOST:PORT"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("{id:?} is not a node id"))?;
        if id == 0 {
            return Err("node ids start at 1".into());
        }
        let addr: SocketAddr = addr
            .trim()
            .parse()
            .map_err(|e| format!("{addr:?} is not an address ({e})"))?;
        if members.insert(NodeId(id), addr).is_some() {
            return Err(format!("node {id} is listed twice"));
        }
    }
    if members.is_empty() {
        return Err("no members".into());
    }
    Ok(members)
}

/// The cluster id of `token` and the member ids: FNV-1a over both, so that
/// every member computes the same one from its own flags (whatever
/// addresses it reaches its peers at).
pub fn cluster_id(token: &str, members: impl IntoIterator<Item = NodeId>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(token.as_bytes());
    for id in members {
        eat(&id.0.to_le_bytes());
    }
    hash
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::File(path.to_owned(), e.to_string()))
}

impl ServeArgs {
    /// The flags over the config file's values, checked.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        let merged = match &self.config {
            None => self.clone(),
            Some(path) => {
                let file: ServeArgs = toml::from_str(&read(path)?)
                    .map_err(|e| ConfigError::File(path.clone(), e.to_string()))?;
                self.clone().over(file)
            }
        };
        merged.check()
    }

    /// `self`'s values, and `file`'s where `self` has none.
    fn over(self, file: ServeArgs) -> ServeArgs {
        ServeArgs {
            config: self.config,
            id: self.id.or(file.id),
            peers: self.peers.or(file.peers),
            clients: self.clients.or(file.clients),
            client_listen: self.client_listen.or(file.client_listen),
            data_dir: self.data_dir.or(file.data_dir),
            storage: self.storage.or(file.storage),
            cluster_token: self.cluster_token.or(file.cluster_token),
            election_timeout_ms: self.election_timeout_ms.or(file.election_timeout_ms),
            heartbeat_ms: self.heartbeat_ms.or(file.heartbeat_ms),
            snapshot_bytes: self.snapshot_bytes.or(file.snapshot_bytes),
            request_timeout_ms: self.request_timeout_ms.or(file.request_timeout_ms),
            tls_ca: self.tls_ca.or(file.tls_ca),
            tls_cert: self.tls_cert.or(file.tls_cert),
            tls_key: self.tls_key.or(file.tls_key),
            bug: self.bug.or(file.bug),
        }
    }

    fn check(self) -> Result<ServeConfig, ConfigError> {
        use ConfigError::{Invalid, Missing};
        let id = NodeId(self.id.ok_or(Missing("id"))?);
        let peers = parse_members(self.peers.as_deref().ok_or(Missing("peers"))?)
            .map_err(|e| Invalid("peers", e))?;
        if !peers.contains_key(&id) {
            return Err(Invalid("id", format!("node {} is not among --peers", id.0)));
        }
        let clients = match &self.clients {
            None => BTreeMap::new(),
            Some(s) => parse_members(s).map_err(|e| Invalid("clients", e))?,
        };
        if let Some(stranger) = clients.keys().find(|c| !peers.contains_key(c)) {
            return Err(Invalid(
                "clients",
                format!("node {} is not among --peers", stranger.0),
            ));
        }
        let client_listen = self
            .client_listen
            .or_else(|| clients.get(&id).copied())
            .ok_or(Missing("client-listen"))?;
        let storage = match self.storage.as_deref().unwrap_or("disk") {
            "disk" => Storage::Disk,
            "memory" => Storage::Memory,
            other => return Err(Invalid("storage", format!("{other:?}: disk or memory"))),
        };
        if storage == Storage::Disk && self.data_dir.is_none() {
            return Err(Missing("data-dir"));
        }
        let mut raft = RaftConfig::default();
        if let Some(range) = &self.election_timeout_ms {
            let parsed = range.split_once('-').and_then(|(a, b)| {
                Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
            });
            match parsed {
                Some((min, max)) if 0 < min && min < max => {
                    raft.election_timeout = Duration::from_millis(min)..Duration::from_millis(max);
                }
                _ => {
                    return Err(Invalid(
                        "election-timeout-ms",
                        format!("{range:?}: MIN-MAX with 0 < MIN < MAX"),
                    ));
                }
            }
        }
        if let Some(ms) = self.heartbeat_ms {
            if ms == 0 || Duration::from_millis(ms) * 2 >= raft.election_timeout.start {
                return Err(Invalid(
                    "heartbeat-ms",
                    format!("{ms}: must be above 0 and under half the shortest election timeout"),
                ));
            }
            raft.heartbeat_interval = Duration::from_millis(ms);
        }
        let tls = match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (None, None, None) => None,
            (Some(ca), Some(cert), Some(key)) => Some(
                TlsConfig::from_pem(&read(ca)?, &read(cert)?, &read(key)?)
                    .map_err(|e| Invalid("tls-cert", e.to_string()))?,
            ),
            _ => {
                return Err(Invalid(
                    "tls-ca",
                    "give --tls-ca, --tls-cert and --tls-key together".into(),
                ));
            }
        };
        let local_reads = match self.bug.as_deref() {
            None => false,
            Some("local-reads") if cfg!(feature = "bug-catalogue") => true,
            Some("local-reads") => {
                return Err(Invalid(
                    "bug",
                    "this build has no bug catalogue (feature bug-catalogue)".into(),
                ));
            }
            Some(other) => {
                return Err(Invalid(
                    "bug",
                    format!("{other:?}: the only one is local-reads"),
                ));
            }
        };
        let token = self.cluster_token.as_deref().unwrap_or("raft-kv");
        Ok(ServeConfig {
            id,
            cluster_id: cluster_id(token, peers.keys().copied()),
            peers,
            clients,
            client_listen,
            data_dir: self.data_dir,
            storage,
            raft,
            snapshot_bytes: self.snapshot_bytes.unwrap_or(64 << 20),
            request_timeout: Duration::from_millis(self.request_timeout_ms.unwrap_or(5000)),
            tls,
            local_reads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            id: Some(1),
            peers: Some("1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003".into()),
            clients: Some("1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003".into()),
            data_dir: Some("/tmp/x".into()),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn flags_resolve_with_defaults() {
        let c = args().resolve().unwrap();
        assert_eq!(c.client_listen, "127.0.0.1:8001".parse().unwrap());
        assert_eq!(c.storage, Storage::Disk);
        assert_eq!(c.peers.len(), 3);
        // The cluster id does not depend on the addresses.
        let other = ServeArgs {
            peers: Some("1=127.0.0.1:9001,2=127.0.0.1:9002,3=127.0.0.1:9003".into()),
            ..args()
        };
        assert_eq!(other.resolve().unwrap().cluster_id, c.cluster_id);
        let token = ServeArgs {
            cluster_token: Some("another".into()),
            ..args()
        };
        assert_ne!(token.resolve().unwrap().cluster_id, c.cluster_id);
    }

    #[test]
    fn bad_settings_are_named() {
        let error = |a: ServeArgs| a.resolve().unwrap_err().to_string();
        assert!(
            error(ServeArgs {
                id: Some(4),
                ..args()
            })
            .contains("--id")
        );
        assert!(
            error(ServeArgs {
                peers: Some("1=nowhere".into()),
                ..args()
            })
            .contains("--peers")
        );
        assert!(
            error(ServeArgs {
                peers: Some("1=127.0.0.1:1,1=127.0.0.1:2".into()),
                ..args()
            })
            .contains("twice")
        );
        assert!(
            error(ServeArgs {
                data_dir: None,
                ..args()
            })
            .contains("--data-dir")
        );
        assert!(
            error(ServeArgs {
                storage: Some("tape".into()),
                ..args()
            })
            .contains("--storage")
        );
        assert!(
            error(ServeArgs {
                election_timeout_ms: Some("600-300".into()),
                ..args()
            })
            .contains("election")
        );
        assert!(
            error(ServeArgs {
                heartbeat_ms: Some(400),
                ..args()
            })
            .contains("heartbeat")
        );
        assert!(
            error(ServeArgs {
                bug: Some("nope".into()),
                ..args()
            })
            .contains("--bug")
        );
        assert!(
            error(ServeArgs {
                clients: None,
                ..args()
            })
            .contains("--client-listen")
        );
    }

    #[test]
    fn a_config_file_fills_what_the_flags_leave_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "id = 2\npeers = \"1=127.0.0.1:7001,2=127.0.0.1:7002\"\n\
             client-listen = \"127.0.0.1:8002\"\ndata-dir = \"/tmp/n2\"\nheartbeat-ms = 50\n",
        )
        .unwrap();
        let flags = ServeArgs {
            config: Some(path.clone()),
            heartbeat_ms: Some(60),
            ..ServeArgs::default()
        };
        let c = flags.resolve().unwrap();
        assert_eq!(c.id, NodeId(2));
        assert_eq!(c.raft.heartbeat_interval, Duration::from_millis(60));
        std::fs::write(&path, "id = 2\nhartbeat = 1\n").unwrap();
        let error = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(error.contains("hartbeat"), "{error}");
    }
}
