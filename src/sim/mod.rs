//! A seeded, deterministic simulator of a whole cluster of cores.
//!
//! Virtual time, a priority queue of events (message deliveries, timers,
//! client proposals, nemesis actions) and one random generator seeded from
//! [`SimConfig::seed`]: the same config replays the same run, event for
//! event. The network loses, duplicates and delays (hence reorders)
//! messages and is partitioned at random; servers crash, sometimes between
//! two effects of one handler, and restart from exactly what their
//! [`crate::Effect::Persist`] effects stored (or, with disks, from the real
//! write-ahead log on a simulated disk that crashes: [`disk`]);
//! applications snapshot. After every event every property of
//! [`crate::invariants`] is checked. Once the chaos phase ends the network
//! heals, and a run passes only if a leader is elected, a fresh proposal is
//! applied on every server, and no write a client saw acknowledged is lost
//! ([`acknowledged`]).

pub mod acknowledged;
pub mod app;
mod cluster;
pub mod disk;
pub mod driver;
pub mod kv;
pub mod network;
pub mod queue;
pub mod servers;
pub mod writes;

pub use cluster::{DiskConfig, Failure, Report, SimConfig, Simulation, Stats};
pub use network::{Delays, Fate, Faults, MessageFaults, fate};
pub use queue::EventQueue;
pub use servers::{
    AppEffect, Application, Driver, FailureReason, ServerStats, Servers, Step, StorageInfo, Timer,
    describe,
};

#[cfg(test)]
mod tests;
