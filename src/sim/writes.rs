//! Writes that complete after the step that made them, as on a disk: the
//! rules the simulator and the model checker (`check --async-writes`)
//! share, so that both explore what the runtime's storage rounds do
//! (`src/runtime/journal.rs`).
//!
//! A persist effect, and every effect after one that is still pending,
//! waits for a write; timers are armed at once, and a leader's
//! AppendEntries and InstallSnapshot leave at once, before the leader's own
//! write ([`Effect::may_overtake_persists`], thesis §10.2.1). A write makes
//! the oldest handler's batch durable ([`first_batch_len`]); a crash loses
//! whatever is pending.

use crate::consensus::Effect;

/// Whether `effect` waits for a write, given whether writes are pending.
pub fn waits_for_write(effect: &Effect, pending: bool) -> bool {
    let timer = matches!(
        effect,
        Effect::ResetElectionTimer | Effect::SetHeartbeatTimer
    );
    let waits = matches!(effect, Effect::Persist(_)) || pending;
    waits && !timer && !effect.may_overtake_persists()
}

/// How many of the `pending` effects one write takes: through the first
/// durability marker and what follows it up to the next persist effect
/// (one handler's batch), or all of them if none has a marker. Later
/// batches wait for writes of their own, so a write's report can arrive
/// while a later write, which a truncation may have made, is still pending
/// (etcd's ABA window). A runtime round that takes several batches at once
/// is one of the interleavings this allows.
pub fn first_batch_len(pending: &[Effect]) -> usize {
    let Some(marker) = pending
        .iter()
        .position(|e| matches!(e, Effect::Durable { .. }))
    else {
        return pending.len();
    };
    pending[marker..]
        .iter()
        .position(|e| matches!(e, Effect::Persist(_)))
        .map_or(pending.len(), |k| marker + k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{HardState, LogIndex, Persist, Term};

    fn durable(i: u64) -> Effect {
        Effect::Durable {
            index: LogIndex(i),
            term: Term(1),
        }
    }

    #[test]
    fn a_write_takes_one_handlers_batch() {
        let persist = || Effect::Persist(Persist::HardState(HardState::default()));
        let pending = vec![
            persist(),
            durable(1),
            Effect::ApplyEntries(vec![]),
            persist(),
            durable(2),
        ];
        assert_eq!(first_batch_len(&pending), 3);
        assert_eq!(first_batch_len(&pending[3..]), 2);
        assert_eq!(first_batch_len(&[persist(), persist()]), 2);
        assert_eq!(first_batch_len(&[]), 0);
    }

    #[test]
    fn timers_never_wait_and_the_rest_waits_behind_a_pending_write() {
        assert!(!waits_for_write(&Effect::ResetElectionTimer, true));
        assert!(waits_for_write(&Effect::ApplyEntries(vec![]), true));
        assert!(!waits_for_write(&Effect::ApplyEntries(vec![]), false));
        let persist = Effect::Persist(Persist::HardState(HardState::default()));
        assert!(waits_for_write(&persist, false));
    }
}
