//! "No write a client saw acknowledged is ever lost", as a simulation of
//! the digest application judges it (issue 21: through every crash and
//! every disk).
//!
//! A write is acknowledged when the server that took the proposal applies
//! it at the index and term it was given (what a client of a key/value
//! server is told). [`Acknowledgements`] follows proposals and
//! applications; once every server has applied through the last
//! acknowledged write, [`Acknowledgements::check`] requires each server's
//! state to be that of applying, in order, the first entry any server
//! applied at each index: so every acknowledged write is in it, where it
//! was acknowledged.

use crate::consensus::{Entry, LogIndex, Term};
use crate::sim::app::App;
use crate::sim::servers::{FailureReason, Step, id};
use bytes::Bytes;
use std::collections::BTreeMap;

/// What clients were told, and what servers applied.
#[derive(Clone, Debug, Default)]
pub struct Acknowledgements {
    /// Proposals a leader took: (server, index) -> (term, command).
    proposals: BTreeMap<(usize, LogIndex), (Term, Bytes)>,
    /// Writes acknowledged: index -> command.
    acknowledged: BTreeMap<LogIndex, Bytes>,
    /// The first entry any server applied at each index.
    applied: BTreeMap<LogIndex, Entry>,
    /// An acknowledged write that a server applied something else in
    /// place of.
    lost: Option<String>,
}

impl Acknowledgements {
    /// Nothing proposed yet.
    pub fn new() -> Acknowledgements {
        Acknowledgements::default()
    }

    /// `server` took `command` at `index` in `term` (recorded before its
    /// effects run: a single server applies its proposal at once).
    pub fn proposed(&mut self, server: usize, index: LogIndex, term: Term, command: Bytes) {
        self.proposals.insert((server, index), (term, command));
    }

    /// The proposal recorded at `index` was not taken there after all.
    pub fn withdrawn(&mut self, server: usize, index: LogIndex) {
        self.proposals.remove(&(server, index));
    }

    /// `server` applied `entry`.
    pub fn applied(&mut self, server: usize, entry: &Entry) {
        if self
            .proposals
            .get(&(server, entry.index))
            .is_some_and(|(term, command)| *term == entry.term && *command == entry.command)
        {
            self.acknowledged.insert(entry.index, entry.command.clone());
        }
        let first = self
            .applied
            .entry(entry.index)
            .or_insert_with(|| entry.clone());
        if first.command != entry.command
            && self.lost.is_none()
            && let Some(acknowledged) = self.acknowledged.get(&entry.index)
        {
            self.lost = Some(format!(
                "{} applied {:?} at {}, where {:?} was acknowledged",
                id(server),
                entry.command,
                entry.index,
                acknowledged
            ));
        }
    }

    /// How many writes were acknowledged.
    pub fn len(&self) -> usize {
        self.acknowledged.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.acknowledged.is_empty()
    }

    /// The index of the last acknowledged write.
    pub fn last(&self) -> Option<LogIndex> {
        self.acknowledged.keys().next_back().copied()
    }

    /// Judges the servers' final states, `apps[k]` that of server `k`
    /// (each applied through [`Acknowledgements::last`]).
    pub fn check(&self, apps: &[&App]) -> Step {
        let lost = FailureReason::AcknowledgedWriteLost;
        if let Some(detail) = &self.lost {
            return Err(lost(detail.clone()));
        }
        let mut expected = App::new();
        let mut states = BTreeMap::new();
        for (index, entry) in &self.applied {
            expected
                .apply(entry)
                .map_err(|e| lost(format!("no server applied the entries before {index}: {e}")))?;
            states.insert(*index, expected.digest);
        }
        for (index, command) in &self.acknowledged {
            if self.applied.get(index).map(|e| &e.command) != Some(command) {
                return Err(lost(format!(
                    "the acknowledged write at {index} was never applied"
                )));
            }
        }
        for (server, app) in apps.iter().enumerate() {
            if let Some(last) = self.last().filter(|&last| app.applied_index < last) {
                return Err(lost(format!(
                    "{} applied through {} only, but a write at {last} was acknowledged",
                    id(server),
                    app.applied_index,
                )));
            }
            if states.get(&app.applied_index) != Some(&app.digest) {
                return Err(lost(format!(
                    "{}'s state at {} is not that of the entries applied first at each index",
                    id(server),
                    app.applied_index
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::LogIndex;

    fn entry(index: u64, command: &'static str) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(1),
            command: Bytes::from_static(command.as_bytes()),
        }
    }

    /// Servers 1 and 2 applied a, b, c; a and c were acknowledged.
    fn three_writes() -> (Acknowledgements, App) {
        let mut acks = Acknowledgements::new();
        let mut app = App::new();
        for (i, c) in [(1, "a"), (2, "b"), (3, "c")] {
            if c != "b" {
                acks.proposed(0, LogIndex(i), Term(1), Bytes::from_static(c.as_bytes()));
            }
            for server in 0..2 {
                acks.applied(server, &entry(i, c));
            }
            app.apply(&entry(i, c)).unwrap();
        }
        (acks, app)
    }

    #[test]
    fn states_holding_every_acknowledged_write_pass() {
        let (acks, app) = three_writes();
        assert_eq!(acks.len(), 2);
        acks.check(&[&app, &app]).unwrap();
    }

    #[test]
    fn a_server_whose_state_lacks_an_acknowledged_write_is_caught() {
        // Server 2 applied another command in place of `a` (a lost write,
        // rewritten): its state differs.
        let (acks, app) = three_writes();
        let mut other = App::new();
        for (i, c) in [(1, "x"), (2, "b"), (3, "c")] {
            other.apply(&entry(i, c)).unwrap();
        }
        let caught = acks.check(&[&app, &other]).unwrap_err();
        assert!(caught.to_string().contains("n2's state at i3"), "{caught}");
    }

    #[test]
    fn a_server_behind_the_last_acknowledged_write_is_caught() {
        let (acks, app) = three_writes();
        let mut behind = App::new();
        behind.apply(&entry(1, "a")).unwrap();
        let caught = acks.check(&[&app, &behind]).unwrap_err();
        assert!(
            caught.to_string().contains("n2 applied through i1 only"),
            "{caught}"
        );
    }

    #[test]
    fn a_write_replaced_after_its_acknowledgement_is_caught() {
        let (mut acks, app) = three_writes();
        acks.applied(2, &entry(3, "z"));
        let caught = acks.check(&[&app, &app]).unwrap_err();
        assert!(
            caught.to_string().contains("where b\"c\" was acknowledged"),
            "{caught}"
        );
    }

    #[test]
    fn an_acknowledgement_needs_the_term_it_was_given() {
        let mut acks = Acknowledgements::new();
        acks.proposed(0, LogIndex(1), Term(2), Bytes::from_static(b"a"));
        acks.applied(0, &entry(1, "a"));
        assert!(acks.is_empty(), "applied in term 1, proposed in term 2");
    }
}
