//! raft-kv: a key/value server people can run, and its client.
//!
//! Each server is the library's [`checked_raft::kv::KvServer`] (the Raft
//! peer and the sans-IO service layer, the same code the simulator and
//! the model checker drive) over the write-ahead log on disk
//! ([`checked_raft::storage::DiskStorage`]) and the TCP transport
//! ([`checked_raft::tcp::TcpTransport`]); clients speak etcd v3's JSON
//! gateway API over HTTP ([`api`], [`http`]). Nothing here decides
//! anything about Raft or requests: it wires those parts and carries
//! replies back to the HTTP requests that asked.
//!
//! - [`config`]: `raft-kv serve`'s flags and config file;
//! - [`node`]: a running server;
//! - [`http`]: the client API, `/health` and `/metrics`;
//! - [`client`], [`mod@bench`]: the client commands and the load generator.

pub mod api;
pub mod bench;
pub mod client;
pub mod config;
pub mod http;
pub mod metrics;
pub mod node;
