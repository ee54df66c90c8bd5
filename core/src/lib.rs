//! The sans-IO Raft core of `checked-raft` (the extended Raft paper,
//! Figure 2): plain data and pure handlers that take a message, a timer
//! firing, a client proposal or a snapshot, change the server's state and
//! return an ordered list of effects (persist, send, arm a timer, apply).
//!
//! The crate is `#![no_std]` with `alloc` only: no thread, clock, source of
//! randomness, file or socket can be used in it, so every decision here is
//! one a driver (the simulator, the model checker, the thread runtime) can
//! replay exactly. Use it through the `checked-raft` crate, which
//! re-exports it.
//!
//! - [`consensus`]: the protocol. A [`Node`] holds Figure 2's state; its
//!   handlers ([`Node::step`], [`Node::handle_election_timeout`],
//!   [`Node::handle_heartbeat_timeout`], [`Node::propose`],
//!   [`Node::compact`], [`Node::restart`]) return [`Effect`]s.
//! - [`invariants`]: the safety properties of Figure 3, written once and
//!   checked by unit tests, the simulator and the model checker.
//! - [`bugs`]: the bug catalogue, classic Raft bugs that the checkers must
//!   catch; the switches exist only under the `bug-catalogue` feature.
// The unit tests run on the host with std's test harness; everything else
// is built without std.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod bugs;
pub mod consensus;
pub mod invariants;

pub use consensus::*;
