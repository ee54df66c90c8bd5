//! loom models of the thread runtime (`cargo test --features loom`): the
//! real `Raft` handle, its ticker and storage loops, its journal and persister, with
//! loom's locks, condition variables, atomics, threads and channels swapped
//! in by `src/runtime/sync.rs`. Each model uses at most four threads (main
//! included) and a preemption bound of 2 or 3 (`LOOM_MAX_PREEMPTIONS`
//! overrides it), and each has a mutation test: the same model with a
//! concurrency bug switched back in (`RaftConfig::mutation`), which loom
//! must report.

mod support;

mod apply_order;
mod backpressure;
mod shutdown;
mod start_race;
mod state_pair;
mod two_peers;
