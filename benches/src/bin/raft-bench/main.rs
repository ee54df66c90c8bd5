//! `raft-bench`: commit throughput and latency of a cluster in one
//! process, with openraft's bench flags so that both run side by side:
//!
//! ```text
//! raft-bench -c 256 -n 4m -m 3           # 256 clients, 4 million commands, 3 servers
//! raft-bench -c 1 -n 200k -m 3           # one client: commit latency
//! raft-bench -c 64 -n 1m -b 16           # requests of 16 commands each
//! raft-bench -c 1 -n 50k --transport network --payload 4096
//! ```
//!
//! Prints openraft's summary line (`time: …, ns/op: N, op/ms: M`) and the
//! commit latency's p50/p99/p99.9 on stdout (`--json`: one JSON object per
//! run instead), the configuration on stderr.
//!
//! In a loom build (feature `loom`) the runtime's threads are loom's: the
//! command then only says so.

#[cfg(not(feature = "loom"))]
mod cli;

#[cfg(not(feature = "loom"))]
fn main() -> anyhow::Result<()> {
    cli::main()
}

#[cfg(feature = "loom")]
fn main() {
    eprintln!("raft-bench: built with feature `loom`, whose runtime runs only inside loom models");
    std::process::exit(2);
}
