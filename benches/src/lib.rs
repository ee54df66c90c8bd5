//! The benchmarks of checked-raft's thread runtime: a cluster in one
//! process ([`cluster`]), closed-loop clients that measure commit latency
//! and throughput ([`load`]), the disk's own `fdatasync` latency
//! ([`disk`]), and what is reported ([`report`]).
//!
//! Used by the criterion benches (`cargo bench`, `criterion/commit.rs`)
//! and by the `raft-bench` command, which takes openraft's bench flags
//! (`-c CLIENTS -n OPS -m MEMBERS -b BATCH`) and prints its summary line.
//!
//! In a loom build (feature `loom`, set with the root package's) the
//! runtime's threads and channels are loom's: the library is then empty.
#![cfg(not(feature = "loom"))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cluster;
pub mod disk;
pub mod load;
pub mod report;

pub use cluster::{Cluster, ClusterOptions, TransportKind};
pub use load::{Load, Run, run};
pub use report::{Summary, parse_count};
