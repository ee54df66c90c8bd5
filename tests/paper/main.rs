//! One test per rule of the extended Raft paper (Figure 2, §5, §7 and
//! Figure 13) and of the thesis where the core follows it (§10.2.1), each
//! named after its section. Every test checks three
//! things: what the handler returned, the state the node is left in (through
//! its query methods) and the exact, ordered list of effects it emitted.
//!
//! Nodes are brought into a state only through the public API: restart from
//! stored state, then timeouts, messages and proposals (see `common`).
//!
//! One module a section of the paper; `cargo test --test paper s5_3` runs
//! one.

#[path = "../common/mod.rs"]
mod common;

mod robustness;
mod s10_2_1_parallel_writes;
mod s5_1_terms;
mod s5_2_election;
mod s5_3_follower;
mod s5_3_leader;
mod s7_compaction;
