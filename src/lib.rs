//! Raft, as in the extended Raft paper (Ongaro and Ousterhout), written once
//! as a sans-IO core and driven by interchangeable drivers.
//!
//! - [`consensus`]: the protocol, from the `no_std` crate `raft-core`
//!   (re-exported here). A [`Node`] holds Figure 2's state; its
//!   handlers ([`Node::step`], [`Node::handle_election_timeout`],
//!   [`Node::handle_heartbeat_timeout`], [`Node::propose`],
//!   [`Node::compact`], [`Node::restart`]) return an ordered list of
//!   [`Effect`]s: persist, send, arm a timer, apply.
//! - [`invariants`]: the safety properties of Figure 3, written once and
//!   checked by unit tests, the simulator and the model checker (also
//!   `raft-core`'s).
//! - [`sim`]: a seeded, deterministic whole-cluster simulator with a faulty
//!   network, crashes and snapshots.
//! - [`bugs`]: the bug catalogue, classic Raft bugs that the checkers must
//!   catch; the switches exist only under the `bug-catalogue` feature.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use raft_core::{bugs, consensus, invariants};
pub mod kv;
pub mod network;
pub use runtime::replicated;
pub mod runtime;
pub mod sim;
pub mod storage;
pub mod tcp;

pub use consensus::*;

/// README's code blocks, compiled and run as doc tests, so that an example
/// that does not work fails CI. (Not in the loom build, whose runtime runs
/// only inside a loom model.)
#[cfg(all(doctest, not(feature = "loom")))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The code blocks of the pages under `docs/`, compiled as doc tests (not
/// in the loom build).
#[cfg(all(doctest, not(feature = "loom")))]
pub mod docs {
    /// docs/core.md
    #[doc = include_str!("../docs/core.md")]
    pub struct Core;
    /// docs/runtime.md
    #[doc = include_str!("../docs/runtime.md")]
    pub struct Runtime;
    /// docs/kv.md
    #[doc = include_str!("../docs/kv.md")]
    pub struct Kv;
    /// docs/storage.md
    #[doc = include_str!("../docs/storage.md")]
    pub struct Storage;
    /// docs/cluster.md
    #[doc = include_str!("../docs/cluster.md")]
    pub struct Cluster;
    /// docs/model-checking.md
    #[doc = include_str!("../docs/model-checking.md")]
    pub struct ModelChecking;
    /// docs/testing.md
    #[doc = include_str!("../docs/testing.md")]
    pub struct Testing;
    /// docs/jepsen-lite.md
    #[doc = include_str!("../docs/jepsen-lite.md")]
    pub struct JepsenLite;
    /// docs/benchmarks.md
    #[doc = include_str!("../docs/benchmarks.md")]
    pub struct Benchmarks;
    /// docs/design.md
    #[doc = include_str!("../docs/design.md")]
    pub struct Design;
}
