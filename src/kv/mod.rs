//! A linearizable key/value service on the thread runtime (the 6.824
//! lab's `kvraft`): [`KvServer`]s replicate a [`Store`] through the Raft
//! log, [`Clerk`]s send them [`Op`]s and retry until one answers.
//!
//! Every operation, reads included, is a log entry; a server answers only
//! once the entry it proposed has been applied at the index and term Raft
//! gave it, so every answer reflects a committed prefix of the log
//! (linearizable: the operation takes effect at its commit, between its
//! invocation and its answer). Each command carries its clerk's id and
//! sequence number, and the store keeps each client's last sequence
//! number and output, so a command retried after a lost reply, a leader
//! change, a crash or a snapshot takes effect once. The server snapshots
//! the store and the session table when the persisted Raft state outgrows
//! [`KvConfig::max_raft_state`].

pub mod clerk;
pub mod clerk_state;
pub mod net;
pub mod protocol;
pub mod server;
pub mod service;
pub mod state_machine;

pub use clerk::{Clerk, ClerkConfig, Indeterminate, RequestSink};
pub use clerk_state::{ClerkEffect, ClerkState};
pub use net::{KvMessage, RaftOverKv};
pub use protocol::{
    ClientId, Command, NO_SESSION, Op, Output, Refusal, Reply, Request, TxnOp, TxnResult,
};
pub use server::{KvConfig, KvServer, ReplySink};
pub use service::{ApplyError, KvEffect, KvService, Proposal};
pub use state_machine::Store;

#[cfg(test)]
mod tests {
    mod clerk_state;
    mod service;
}
