//! Log compaction and snapshot transfer: §7 and Figure 13.

use crate::consensus::effect::{Effect, Persist};
use crate::consensus::error::Error;
use crate::consensus::message::{InstallSnapshot, InstallSnapshotReply, Message};
use crate::consensus::node::Node;
use crate::consensus::types::{LogIndex, NodeId, Snapshot, SnapshotMeta};
use alloc::{vec, vec::Vec};
use bytes::Bytes;

impl Node {
    /// The application hands over a snapshot of its state through `index`
    /// (§7: "each server takes snapshots independently, covering just the
    /// committed entries in its log"). The log before it is discarded.
    ///
    /// A snapshot no newer than the current one changes nothing (the state
    /// machine may have been handed a newer one meanwhile); one past
    /// `last_applied` is refused.
    pub fn compact(&mut self, index: LogIndex, data: Bytes) -> Result<Vec<Effect>, Error> {
        if index <= self.log.snapshot_index() {
            return Ok(Vec::new());
        }
        if index > self.last_applied {
            return Err(Error::SnapshotBeyondApplied {
                index,
                last_applied: self.last_applied,
            });
        }
        let last_included_term = self
            .log
            .term_at(index)
            .ok_or(Error::SnapshotBeyondApplied {
                index,
                last_applied: self.last_applied,
            })?;
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                last_included_index: index,
                last_included_term,
            },
            data,
        };
        self.log.compact(snapshot.meta);
        self.snapshot = Some(snapshot.clone());
        Ok(vec![Effect::Persist(Persist::Snapshot(snapshot))])
    }

    /// InstallSnapshot receiver (Figure 13):
    /// 1. Reply immediately if term < currentTerm.
    /// 5. Save snapshot file, discard any existing or partial snapshot with a
    ///    smaller index.
    /// 6. If existing log entry has same index and term as snapshot's last
    ///    included entry, retain log entries following it and reply.
    /// 7. Discard the entire log.
    /// 8. Reset state machine using snapshot contents.
    ///
    /// (Steps 2-4 reassemble chunks; snapshots travel whole here.) A snapshot
    /// that covers no more than is already committed is not installed: the
    /// state machine never moves backwards.
    pub(crate) fn handle_install_snapshot(
        &mut self,
        leader: NodeId,
        request: InstallSnapshot,
        out: &mut Vec<Effect>,
    ) {
        let meta = request.snapshot.meta;
        // Step 1: a stale request is answered with the current term only.
        // Its reply acknowledges nothing (index 0): the leader of this
        // term must not read a snapshot it never sent as installed.
        let mut acknowledged = LogIndex(0);
        if request.term >= self.current_term {
            self.recognize_leader(leader, out);
            let moves_back = bug!(self, SnapshotMovesStateMachineBack)
                && meta.last_included_index > self.log.snapshot_index();
            if meta.last_included_index > self.commit_index || moves_back {
                self.install_snapshot(request.snapshot, out);
            }
            acknowledged = meta.last_included_index;
        }
        let reply = InstallSnapshotReply {
            term: self.current_term,
            last_included_index: acknowledged,
        };
        self.send(leader, Message::InstallSnapshotReply(reply), out);
    }

    /// Steps 5-8 of Figure 13, persisting before the reply is sent.
    fn install_snapshot(&mut self, snapshot: Snapshot, out: &mut Vec<Effect>) {
        let meta = snapshot.meta;
        let retain_suffix =
            self.log.term_at(meta.last_included_index) == Some(meta.last_included_term);
        if !retain_suffix && self.log.last_index() > meta.last_included_index {
            // Step 7: the entries after the snapshot conflict with it.
            out.push(Effect::Persist(Persist::TruncateAfter {
                after: meta.last_included_index,
            }));
        }
        if !retain_suffix {
            // The log after the committed prefix conflicts with the
            // snapshot: what is on disk there is not the snapshot's, until
            // the snapshot is written (its marker below reports that). The
            // simulator's "Durable claims hold" caught a follower that
            // claimed the snapshot's index durable while its disk still
            // held a deposed leader's entry there.
            self.durable = self.durable.min(self.commit_index);
        }
        self.log.compact(meta);
        self.snapshot = Some(snapshot.clone());
        out.push(Effect::Persist(Persist::Snapshot(snapshot.clone())));
        out.push(Effect::Durable {
            index: meta.last_included_index,
            term: meta.last_included_term,
        });
        self.commit_index = meta.last_included_index;
        self.last_applied = meta.last_included_index;
        out.push(Effect::ApplySnapshot(snapshot));
    }

    /// The leader learns that a follower's log now matches through the
    /// snapshot's end, and sends what follows. A reply to an older snapshot,
    /// or a duplicate, changes nothing.
    pub(crate) fn handle_install_snapshot_reply(
        &mut self,
        follower: NodeId,
        reply: InstallSnapshotReply,
        out: &mut Vec<Effect>,
    ) {
        if reply.term >= self.current_term {
            self.acknowledge(follower, reply.last_included_index, out);
        }
    }
}
