//! The safety properties of Raft (Figure 3 of the paper), written once.
//!
//! Unit tests, the simulator (`checked_raft::sim`) and the model checker all judge
//! clusters with these functions. Some properties speak of the whole history
//! ("at most one leader can be elected in a given term" holds even after that
//! leader stepped down), so they are checked against a [`History`] that the
//! driver feeds with every state it sees; the others are checked over the
//! current states of the live servers.
//!
//! - Election Safety: at most one leader can be elected in a given term.
//! - Leader Append-Only: a leader never overwrites or deletes entries in its
//!   log; it only appends new entries.
//! - Log Matching: if two logs contain an entry with the same index and term,
//!   then the logs are identical in all entries up through the given index.
//! - Leader Completeness: if a log entry is committed in a given term, then
//!   that entry will be present in the logs of the leaders for all
//!   higher-numbered terms.
//! - State Machine Safety: if a server has applied a log entry at a given
//!   index to its state machine, no other server will ever apply a different
//!   log entry for the same index.

use crate::consensus::{Entry, Log, LogIndex, Node, NodeId, Stored, Term};
use alloc::collections::BTreeMap;
use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::fmt;

/// A property of Figure 3, or a server's own invariants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// At most one leader per term, over the whole history.
    ElectionSafety,
    /// A leader only appends to its log.
    LeaderAppendOnly,
    /// Same index and term implies the same prefix.
    LogMatching,
    /// Committed entries are in every later leader's log.
    LeaderCompleteness,
    /// No two servers apply different entries at one index.
    StateMachineSafety,
    /// A server's own invariants ([`Node::check_invariants`]).
    NodeInvariants,
    /// What a server counts as durable ([`Node::durable_index`]) is on its
    /// disk: checked by drivers that own the disk ([`check_durable`]).
    DurableClaims,
    /// What a leader has committed is on a majority of disks (§5.3
    /// "replicated it on a majority"; with thesis §10.2.1's parallel
    /// writes, the leader's own copy counts only once written): checked by
    /// drivers that own the disks ([`check_committed_durable`]).
    CommittedIsDurable,
}

impl Property {
    /// Every property, in the order checkers report them: the one list the
    /// simulator's and the model checker's lists are made from.
    pub const ALL: [Property; 8] = [
        Property::ElectionSafety,
        Property::LeaderAppendOnly,
        Property::LogMatching,
        Property::LeaderCompleteness,
        Property::StateMachineSafety,
        Property::NodeInvariants,
        Property::DurableClaims,
        Property::CommittedIsDurable,
    ];

    /// The property's name, as the paper gives it (Figure 3), and for the
    /// servers' own invariants "Server invariants".
    pub const fn name(self) -> &'static str {
        match self {
            Property::ElectionSafety => "Election Safety",
            Property::LeaderAppendOnly => "Leader Append-Only",
            Property::LogMatching => "Log Matching",
            Property::LeaderCompleteness => "Leader Completeness",
            Property::StateMachineSafety => "State Machine Safety",
            Property::NodeInvariants => "Server invariants",
            Property::DurableClaims => "Durable claims hold",
            Property::CommittedIsDurable => "Committed entries are durable on a majority",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken property and what broke it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    /// Which property.
    pub property: Property,
    /// The servers, indices and terms involved.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated: {}", self.property, self.detail)
    }
}

impl core::error::Error for Violation {}

fn violation<T>(property: Property, detail: String) -> Result<T, Violation> {
    Err(Violation { property, detail })
}

/// A committed entry and the term in which it was first seen committed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Committed {
    entry_term: Term,
    command: bytes::Bytes,
    /// `current_term` of the first server seen holding it as committed: no
    /// earlier than the term in which it was committed.
    seen_in_term: Term,
}

/// What the history of a run has shown so far: the ghost state behind the
/// properties that speak of the past. Plain data, so a model checker can
/// keep it inside its states.
///
/// A driver may keep one history for the whole cluster (the simulator), or
/// one per server that survives the server's crashes (the model checker
/// keeps it beside the server's storage); [`check_property`] then judges
/// the servers' histories together, pairwise ([`History::agrees_with`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct History {
    /// The leader of each term in which one was seen.
    leaders: BTreeMap<Term, NodeId>,
    /// Each current leader's term and log (entries after its snapshot) when
    /// last seen. A server that stepped down can never lead that term again,
    /// so its record is dropped (keeping it would only split equal states).
    leader_logs: BTreeMap<NodeId, (Term, Vec<Entry>)>,
    /// Every entry seen committed, by index.
    committed: BTreeMap<LogIndex, Committed>,
    /// Every entry seen applied, by index.
    applied: BTreeMap<LogIndex, Entry>,
    /// The first violation recorded by a driver that cannot stop where it
    /// finds one (see [`History::record`]).
    violation: Option<Violation>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// The leader seen for each term.
    pub fn leaders(&self) -> &BTreeMap<Term, NodeId> {
        &self.leaders
    }

    /// Keeps the first violation among `result`s, for drivers that must
    /// finish a step before a property is evaluated (a model checker's
    /// actor); [`check_property`] reports it.
    pub fn record(&mut self, result: Result<(), Violation>) {
        if let Err(violation) = result {
            self.violation.get_or_insert(violation);
        }
    }

    /// The first violation recorded, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Checks that this history and `other` agree: one leader per term, one
    /// entry per committed index, one entry per applied index.
    pub fn agrees_with(&self, other: &History) -> Result<(), Violation> {
        for (term, leader) in &self.leaders {
            if let Some(theirs) = other.leaders.get(term).filter(|t| *t != leader) {
                return violation(
                    Property::ElectionSafety,
                    format!("{leader} and {theirs} both led {term}"),
                );
            }
        }
        for (index, ours) in &self.committed {
            if let Some(theirs) = other
                .committed
                .get(index)
                .filter(|t| t.entry_term != ours.entry_term || t.command != ours.command)
            {
                return violation(
                    Property::StateMachineSafety,
                    format!("different entries committed at {index}: {ours:?} and {theirs:?}"),
                );
            }
        }
        for (index, ours) in &self.applied {
            if let Some(theirs) = other.applied.get(index).filter(|t| *t != ours) {
                return violation(
                    Property::StateMachineSafety,
                    format!("{ours:?} and {theirs:?} both applied at {index}"),
                );
            }
        }
        Ok(())
    }

    /// This history with every server id passed through `rename`.
    pub fn rename_nodes(&self, rename: &impl Fn(NodeId) -> NodeId) -> History {
        History {
            leaders: self.leaders.iter().map(|(&t, &n)| (t, rename(n))).collect(),
            leader_logs: self
                .leader_logs
                .iter()
                .map(|(&n, log)| (rename(n), log.clone()))
                .collect(),
            ..self.clone()
        }
    }

    /// Every server id this history mentions (leaders seen), so that a
    /// driver renaming servers can tell whether a permutation changes it.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.leaders
            .values()
            .chain(self.leader_logs.keys())
            .copied()
    }

    /// Forgets the committed and applied entries below `index`, so that a
    /// long run's history (and the cost of checking it) stays bounded. The
    /// caller guarantees that every server, crashed ones included, holds a
    /// snapshot through `index` or later in stable storage: no server can
    /// then hold, commit or apply an entry below it again, so no check
    /// below it can fail (Leader Completeness looks at a leader's snapshot
    /// end, which is kept).
    pub fn forget_before(&mut self, index: LogIndex) {
        self.committed = self.committed.split_off(&index);
        self.applied = self.applied.split_off(&index);
    }

    /// The highest index seen committed anywhere.
    pub fn max_committed(&self) -> LogIndex {
        self.committed
            .keys()
            .next_back()
            .copied()
            .unwrap_or_default()
    }

    /// Records `node`'s current state and checks the properties that
    /// compare it with the past: Election Safety, Leader Append-Only, and
    /// that an entry once committed never changes.
    pub fn observe(&mut self, node: &Node) -> Result<(), Violation> {
        if let Err(detail) = node.check_invariants() {
            return violation(Property::NodeInvariants, detail);
        }
        if node.is_leader() {
            self.observe_leader(node)?;
        } else {
            self.leader_logs.remove(&node.id());
        }
        self.observe_committed(node)
    }

    fn observe_leader(&mut self, node: &Node) -> Result<(), Violation> {
        let term = node.current_term();
        let leader = *self.leaders.entry(term).or_insert(node.id());
        if leader != node.id() {
            return violation(
                Property::ElectionSafety,
                format!("{leader} and {} both led {term}", node.id()),
            );
        }
        let log = node.log();
        if let Some((_, before)) = self.leader_logs.get(&node.id()).filter(|(t, _)| *t == term) {
            for old in before.iter().filter(|e| e.index > log.snapshot_index()) {
                if !log.entry(old.index).is_some_and(|e| same_entry(e, old)) {
                    return violation(
                        Property::LeaderAppendOnly,
                        format!(
                            "leader {} of {term} had {old:?} and now has {:?}",
                            node.id(),
                            log.entry(old.index)
                        ),
                    );
                }
            }
        }
        let unchanged = self.leader_logs.get(&node.id()).is_some_and(|(t, before)| {
            *t == term
                && before.len() == log.entries().len()
                && before
                    .iter()
                    .zip(log.entries())
                    .all(|(a, b)| same_entry(a, b))
        });
        if !unchanged {
            self.leader_logs
                .insert(node.id(), (term, log.entries().to_vec()));
        }
        Ok(())
    }

    fn observe_committed(&mut self, node: &Node) -> Result<(), Violation> {
        let log = node.log();
        let first = log.snapshot_index().next();
        let last = node.commit_index().min(log.last_index());
        if last < first {
            return Ok(());
        }
        // Entries recorded before must be the ones this server holds.
        let mut recorded = 0;
        let mut highest = None;
        for (&index, seen) in self.committed.range(first..=last) {
            let Some(entry) = log.entry(index) else { break };
            if seen.entry_term != entry.term || !same_bytes(&seen.command, &entry.command) {
                return violation(
                    Property::StateMachineSafety,
                    format!(
                        "{} holds {entry:?} as committed, but {} at {} was committed before",
                        node.id(),
                        seen.entry_term,
                        index
                    ),
                );
            }
            recorded += 1;
            highest = Some(index);
        }
        // The others are recorded now, as first seen committed here: past
        // the highest recorded when those are contiguous (the usual case),
        // else every gap.
        let mut index = match highest {
            None => first,
            Some(h) if recorded == h.0 - first.0 + 1 => h.next(),
            Some(_) => first,
        };
        while index <= last {
            if !self.committed.contains_key(&index)
                && let Some(entry) = log.entry(index)
            {
                self.committed.insert(
                    index,
                    Committed {
                        entry_term: entry.term,
                        command: entry.command.clone(),
                        seen_in_term: node.current_term(),
                    },
                );
            }
            index = index.next();
        }
        Ok(())
    }

    /// Records that server `node` handed `entry` to its state machine, and
    /// checks State Machine Safety.
    pub fn observe_applied(&mut self, node: NodeId, entry: &Entry) -> Result<(), Violation> {
        match self.applied.get(&entry.index) {
            Some(seen) if seen != entry => violation(
                Property::StateMachineSafety,
                format!("{node} applied {entry:?} where {seen:?} was applied before"),
            ),
            Some(_) => Ok(()),
            None => {
                self.applied.insert(entry.index, entry.clone());
                Ok(())
            }
        }
    }
}

/// Whether two commands hold the same bytes; clones of one buffer (as
/// entries copied between simulated servers are) are told equal without
/// reading them.
fn same_bytes(a: &bytes::Bytes, b: &bytes::Bytes) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// Entry equality, with [`same_bytes`] for the command.
fn same_entry(a: &Entry, b: &Entry) -> bool {
    a.index == b.index && a.term == b.term && same_bytes(&a.command, &b.command)
}

/// Log Matching between two logs: where both hold an entry of the same
/// index and term, they agree on every entry before it that both still hold.
pub fn log_matching(a: &Log, b: &Log) -> Result<(), String> {
    let low = a.snapshot_index().max(b.snapshot_index());
    let high = a.last_index().min(b.last_index());
    // The highest index at which both logs know the same term.
    let mut index = high;
    while index > low && a.term_at(index) != b.term_at(index) {
        index = index.prev();
    }
    // Entries up to `low` are compacted in at least one of the logs.
    let mut j = low.next();
    while j <= index {
        let same = match (a.entry(j), b.entry(j)) {
            (Some(x), Some(y)) => same_entry(x, y),
            (x, y) => x == y,
        };
        if !same {
            return Err(format!(
                "both hold term {:?} at {index} but differ at {j}: {:?} vs {:?}",
                a.term_at(index),
                a.entry(j),
                b.entry(j)
            ));
        }
        j = j.next();
    }
    Ok(())
}

/// Log Matching over every pair of live servers.
pub fn check_log_matching(nodes: &[&Node]) -> Result<(), Violation> {
    for (k, a) in nodes.iter().enumerate() {
        for b in &nodes[k + 1..] {
            if let Err(detail) = log_matching(a.log(), b.log()) {
                return violation(
                    Property::LogMatching,
                    format!("{} and {}: {detail}", a.id(), b.id()),
                );
            }
        }
    }
    Ok(())
}

/// Leader Completeness: every current leader holds every entry the history
/// saw committed in an earlier term (compacted entries count as held when
/// the snapshot's end agrees).
pub fn check_leader_completeness(nodes: &[&Node], history: &History) -> Result<(), Violation> {
    for leader in nodes.iter().filter(|n| n.is_leader()) {
        let log = leader.log();
        let term = leader.current_term();
        // Compacted entries below the snapshot's end count as held.
        for (&index, seen) in history.committed.range(log.snapshot_index()..) {
            if seen.seen_in_term >= term {
                continue;
            }
            let holds = if index == log.snapshot_index() {
                log.term_at(index) == Some(seen.entry_term)
            } else {
                log.entry(index).is_some_and(|e| {
                    e.term == seen.entry_term && same_bytes(&e.command, &seen.command)
                })
            };
            if !holds {
                return violation(
                    Property::LeaderCompleteness,
                    format!(
                        "leader {} of {term} lacks the entry of {} at {index} committed by {}",
                        leader.id(),
                        seen.entry_term,
                        seen.seen_in_term
                    ),
                );
            }
        }
    }
    Ok(())
}

/// Checks one property over the servers' own histories (one each, kept
/// across their crashes) and the live servers' current states.
pub fn check_property(
    property: Property,
    histories: &[&History],
    nodes: &[&Node],
) -> Result<(), Violation> {
    for recorded in histories.iter().filter_map(|h| h.violation()) {
        if recorded.property == property {
            return Err(recorded.clone());
        }
    }
    match property {
        Property::ElectionSafety | Property::StateMachineSafety => {
            for (k, a) in histories.iter().enumerate() {
                for b in &histories[k + 1..] {
                    match a.agrees_with(b) {
                        Err(v) if v.property == property => return Err(v),
                        _ => {}
                    }
                }
            }
            Ok(())
        }
        Property::LogMatching => check_log_matching(nodes),
        Property::LeaderCompleteness => histories
            .iter()
            .try_for_each(|h| check_leader_completeness(nodes, h)),
        // Checked as each server's history observes it (or, for durable
        // claims, by the driver that owns its disk): recorded above.
        Property::LeaderAppendOnly
        | Property::NodeInvariants
        | Property::DurableClaims
        | Property::CommittedIsDurable => Ok(()),
    }
}

/// Checks that what `node` counts as durable ([`Node::durable_index`]) is
/// in `stored`, what its disk holds: the entry at that index is on the disk
/// with the term the log gives it (by Log Matching, so is every entry
/// before it), or a stored snapshot covers it. A leader counts itself
/// toward commits only that far (thesis §10.2.1), so a claim past the disk
/// can commit an entry that a crash then loses.
pub fn check_durable(node: &Node, stored: &Stored) -> Result<(), Violation> {
    let durable = node.durable_index();
    let snapshot = stored.snapshot_meta().last_included_index;
    if durable <= snapshot {
        return Ok(());
    }
    // Stored entries are contiguous from the snapshot on.
    let on_disk = usize::try_from(durable.0 - snapshot.0 - 1)
        .ok()
        .and_then(|k| stored.entries.get(k))
        .filter(|e| e.index == durable)
        .map(|e| e.term);
    let in_log = node.log().term_at(durable);
    if on_disk.is_some() && on_disk == in_log {
        return Ok(());
    }
    // Compacted in memory (the snapshot's write may be pending): the entry
    // is committed, and any disk that holds one there holds the same.
    if durable < node.log().snapshot_index() && on_disk.is_some() {
        return Ok(());
    }
    violation(
        Property::DurableClaims,
        format!(
            "{} counts its log durable through {durable} (term {}), but its disk holds {} there",
            node.id(),
            in_log.map_or("none".to_string(), |t| format!("{t}")),
            on_disk.map_or("nothing".to_string(), |t| format!("term {t}")),
        ),
    )
}

/// Checks that what each live leader among `nodes` has committed is on a
/// majority of `disks` (every server's storage, crashed ones included):
/// the entry at its commit index, with the term its log gives it, is
/// stored there, or a stored snapshot covers that index. By Log Matching
/// every earlier entry is too.
pub fn check_committed_durable(nodes: &[&Node], disks: &[&Stored]) -> Result<(), Violation> {
    for leader in nodes.iter().filter(|n| n.is_leader()) {
        let commit = leader.commit_index();
        let Some(term) = leader.log().term_at(commit) else {
            continue;
        };
        if commit == LogIndex(0) {
            continue;
        }
        let holding = disks
            .iter()
            .filter(|disk| {
                let snapshot = disk.snapshot_meta().last_included_index;
                commit <= snapshot
                    || usize::try_from(commit.0 - snapshot.0 - 1)
                        .ok()
                        .and_then(|k| disk.entries.get(k))
                        .is_some_and(|e| e.index == commit && e.term == term)
            })
            .count();
        if holding * 2 <= disks.len() {
            return violation(
                Property::CommittedIsDurable,
                format!(
                    "{} committed through {commit} (term {term}), but only {holding} of {} \
                     disks hold it",
                    leader.id(),
                    disks.len()
                ),
            );
        }
    }
    Ok(())
}

/// Checks every property over the live servers, after recording them in the
/// history. Call it after every step of a run.
pub fn check_invariants(nodes: &[&Node], history: &mut History) -> Result<(), Violation> {
    for node in nodes {
        history.observe(node)?;
    }
    check_log_matching(nodes)?;
    check_leader_completeness(nodes, history)
}

/// As [`check_invariants`], for a driver that knows only the server
/// `stepped` changed since its last check (a simulator checking after each
/// step of one server; a crash only removes a server). Observing an
/// unchanged server again can find nothing new: the history only grows,
/// and a conflict between a new record and an old one is found when the
/// new one is made. So this observes `stepped` alone, checks Log Matching
/// between it and each other server, and Leader Completeness for every
/// leader (the history's committed entries may have grown).
pub fn check_after_step(
    nodes: &[&Node],
    stepped: NodeId,
    history: &mut History,
) -> Result<(), Violation> {
    let Some(node) = nodes.iter().find(|n| n.id() == stepped) else {
        return check_leader_completeness(nodes, history);
    };
    history.observe(node)?;
    for other in nodes.iter().filter(|n| n.id() != stepped) {
        if let Err(detail) = log_matching(node.log(), other.log()) {
            return violation(
                Property::LogMatching,
                format!("{} and {}: {detail}", node.id(), other.id()),
            );
        }
    }
    check_leader_completeness(nodes, history)
}

#[cfg(test)]
mod tests {
    //! Each check must catch the violation it names: these tests build
    //! broken states directly (reaching into the crate-private fields) and
    //! expect the matching [`Property`].
    use super::*;
    use crate::consensus::{Config, Effect, Role};
    use bytes::Bytes;

    /// A single-server cluster `id` that leads term 1 with `commands` committed.
    fn solo_leader(id: u64, commands: &[&str]) -> Node {
        let (mut node, _) =
            Node::new(Config::new(NodeId(id), vec![NodeId(id)])).expect("valid config");
        node.handle_election_timeout();
        for c in commands {
            let (_, effects) = node
                .propose([Bytes::from(c.to_string())])
                .expect("leader accepts");
            // Its write is durable at once: the driver reports it.
            for effect in effects {
                if let Effect::Durable { index, term } = effect {
                    node.handle_persisted(index, term);
                }
            }
        }
        node
    }

    fn entry(index: u64, term: u64, command: &str) -> Entry {
        Entry {
            index: LogIndex(index),
            term: Term(term),
            command: Bytes::from(command.to_string()),
        }
    }

    #[test]
    fn election_safety_remembers_leaders_that_stepped_down() {
        let mut history = History::new();
        let a = solo_leader(1, &[]);
        history.observe(&a).expect("first leader of t1");
        // `a` steps down (it is no longer observed as leader), then `b`
        // leads the same term: still a violation.
        let b = solo_leader(2, &[]);
        let err = history.observe(&b).expect_err("two leaders in t1");
        assert_eq!(err.property, Property::ElectionSafety);
    }

    #[test]
    fn leader_append_only_catches_an_overwrite() {
        let mut history = History::new();
        let mut leader = solo_leader(1, &["x", "y"]);
        history.observe(&leader).expect("valid");
        leader.log.truncate_after(LogIndex(1));
        assert!(leader.log.push(entry(2, 1, "z")));
        let err = history.observe(&leader).expect_err("entry 2 overwritten");
        assert_eq!(err.property, Property::LeaderAppendOnly);
    }

    #[test]
    fn log_matching_catches_a_divergent_prefix() {
        let a = Log::from_parts(Default::default(), vec![entry(1, 1, "x"), entry(2, 2, "y")])
            .expect("valid");
        let b = Log::from_parts(Default::default(), vec![entry(1, 1, "z"), entry(2, 2, "y")])
            .expect("valid");
        assert!(log_matching(&a, &b).is_err());
        let c = Log::from_parts(Default::default(), vec![entry(1, 1, "x"), entry(2, 3, "w")])
            .expect("valid");
        assert!(
            log_matching(&a, &c).is_ok(),
            "diverging after a match is allowed"
        );
    }

    #[test]
    fn leader_completeness_catches_a_leader_missing_a_committed_entry() {
        let mut history = History::new();
        let old = solo_leader(1, &["x"]);
        history.observe(&old).expect("x committed in t1");
        // A leader of term 2 whose log lacks x.
        let mut new = solo_leader(2, &[]);
        new.current_term = Term(2);
        new.voted_for = Some(NodeId(2));
        let err = check_leader_completeness(&[&new], &history).expect_err("x missing");
        assert_eq!(err.property, Property::LeaderCompleteness);
    }

    #[test]
    fn state_machine_safety_catches_different_entries_at_one_index() {
        let mut history = History::new();
        history
            .observe_applied(NodeId(1), &entry(1, 1, "x"))
            .expect("first apply");
        history
            .observe_applied(NodeId(2), &entry(1, 1, "x"))
            .expect("same entry");
        let err = history
            .observe_applied(NodeId(3), &entry(1, 2, "y"))
            .expect_err("different entry at 1");
        assert_eq!(err.property, Property::StateMachineSafety);
    }

    #[test]
    fn forgetting_keeps_what_a_snapshot_end_still_needs() {
        let mut history = History::new();
        for index in 1..=3 {
            history
                .observe_applied(NodeId(1), &entry(index, 1, "x"))
                .unwrap();
        }
        history.forget_before(LogIndex(2));
        // Index 1 is gone; 2 and 3 are still judged.
        history
            .observe_applied(NodeId(2), &entry(1, 1, "y"))
            .unwrap();
        for index in 2..=3 {
            let v = history
                .observe_applied(NodeId(2), &entry(index, 1, "y"))
                .unwrap_err();
            assert_eq!(v.property, Property::StateMachineSafety);
        }
    }

    #[test]
    fn committed_entries_never_change() {
        let mut history = History::new();
        history
            .observe(&solo_leader(1, &["x"]))
            .expect("x committed");
        let mut other = solo_leader(1, &["y"]);
        other.id = NodeId(2);
        other.role = Role::Follower;
        other.leader_id = None;
        let err = history.observe(&other).expect_err("y committed at 1 too");
        assert_eq!(err.property, Property::StateMachineSafety);
    }

    #[test]
    fn node_invariants_are_checked_on_observation() {
        let mut node = solo_leader(1, &["x"]);
        node.commit_index = LogIndex(5);
        let err = History::new().observe(&node).expect_err("commit past log");
        assert_eq!(err.property, Property::NodeInvariants);
    }

    #[test]
    fn durable_claims_are_checked_against_the_disk() {
        let node = solo_leader(1, &["x"]);
        assert_eq!(node.durable_index(), LogIndex(1));
        let mut stored = Stored::default();
        let err = check_durable(&node, &stored).expect_err("nothing on disk");
        assert_eq!(err.property, Property::DurableClaims);
        stored.entries.push(entry(1, 2, "y"));
        check_durable(&node, &stored).expect_err("another entry on disk");
        stored.entries[0] = entry(1, 1, "x");
        check_durable(&node, &stored).expect("the entry is on disk");
    }

    #[test]
    fn committed_entries_must_be_on_a_majority_of_disks() {
        let leader = solo_leader(1, &["x"]);
        assert_eq!(leader.commit_index(), LogIndex(1));
        let empty = Stored::default();
        let mut holding = Stored::default();
        holding.entries.push(entry(1, 1, "x"));
        check_committed_durable(&[&leader], &[&holding]).expect("its one disk holds it");
        let err = check_committed_durable(&[&leader], &[&empty]).expect_err("no disk holds it");
        assert_eq!(err.property, Property::CommittedIsDurable);
        check_committed_durable(&[&leader], &[&holding, &holding, &empty]).expect("two of three");
        check_committed_durable(&[&leader], &[&holding, &empty, &empty]).expect_err("one of three");
    }

    #[test]
    fn a_healthy_solo_cluster_passes_every_check() {
        let mut history = History::new();
        let node = solo_leader(1, &["x", "y"]);
        assert!(matches!(node.role(), Role::Leader { .. }));
        check_invariants(&[&node], &mut history).expect("healthy");
        assert_eq!(history.max_committed(), LogIndex(2));
    }
}
