//! The bug catalogue: classic Raft bugs the core can reintroduce, to prove
//! that the model checker and the simulator catch them.
//!
//! This list (names, what each bug does, the property it breaks) is plain
//! data and always available. The switches that reintroduce a bug exist only
//! when the crate is built with the non-default `bug-catalogue` feature,
//! which adds [`crate::Config`]`::bug`; a normal build has no switch at all.

use crate::invariants::Property;

/// A classic Raft bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// A voter replies to RequestVote without persisting its vote (§5.2,
    /// Figure 2 "updated on stable storage before responding").
    VoteNotPersisted,
    /// A candidate does not persist its new term (or its vote for itself)
    /// before asking for votes.
    TermNotPersisted,
    /// Votes are granted whatever the candidate's log (no §5.4.1 election
    /// restriction).
    NoElectionRestriction,
    /// A leader commits an entry of an earlier term by counting replicas
    /// (Figure 8, against §5.4.2).
    CommitPreviousTermByCounting,
    /// A follower truncates its log after `prev_log_index` on every
    /// AppendEntries, even a stale one whose entries it already holds (§5.3).
    TruncateOnStaleAppend,
    /// A server grants a vote to every up-to-date candidate of its term, even
    /// after voting for another (§5.2 one vote per term).
    TwoVotesPerTerm,
    /// A leader replaces its own uncommitted last entry with a new proposal
    /// instead of appending (Leader Append-Only, §5.3).
    LeaderOverwritesOwnEntries,
    /// A follower installs a snapshot that covers less than it has already
    /// committed, moving its state machine backwards (§7).
    SnapshotMovesStateMachineBack,
    /// A follower sets `commit_index` to `leader_commit`, past the entries the
    /// leader sent (Figure 2, AppendEntries rule 5 takes the minimum with the
    /// index of the last new entry).
    CommitPastSentEntries,
    /// A candidate counts a granted vote from an earlier term of its own,
    /// as if it were for its current election (§5.2: votes are per term).
    /// The core still calls such a reply stale ([`crate::Node::is_stale`]),
    /// so this is also the bug a checker that trusts that predicate misses.
    StaleVoteCounted,
    /// A leader that probes a follower again on a heartbeat (entries are
    /// unacknowledged) forgets how far the follower's log matches its own
    /// (`match_index` goes back to 0; etcd's `Progress.Match` never
    /// decreases). No safety property of the
    /// paper breaks, but a reply the core once called stale is fresh again,
    /// which is what the model checker's stale-message reduction must not
    /// trust: its audit reports it.
    MatchIndexRegresses,
    /// A server votes only for candidates with a higher id than its own (a
    /// "priority" rule some systems add). No safety property of the paper
    /// breaks, but servers are no longer interchangeable, which the model
    /// checker's symmetry reduction must not trust: its audit reports it.
    VotesByServerId,
    /// The server with the lowest id starts an election as soon as it
    /// starts with empty storage (a bootstrap rule some systems add: one
    /// chosen server forms the cluster). No safety property of the paper
    /// breaks, but a start from storage no longer treats servers alike,
    /// which the model checker's symmetry reduction must not trust: its
    /// audit of restarts reports it.
    BootstrapByLowestId,
    /// A leader that writes its log in parallel with replicating it (thesis
    /// §10.2.1) counts its own entries toward a commit majority before its
    /// write is durable; a crash then loses a committed entry.
    LeaderCountsUnpersisted,
    /// A server takes a report that its write is durable by index alone,
    /// after a truncation replaced the entry written (etcd's
    /// `async_storage_writes_append_aba_race`): it believes durable an
    /// entry that is not.
    DurableByIndexOnly,
}

impl Bug {
    /// Every bug in the catalogue.
    pub const ALL: [Bug; 15] = [
        Bug::VoteNotPersisted,
        Bug::TermNotPersisted,
        Bug::NoElectionRestriction,
        Bug::CommitPreviousTermByCounting,
        Bug::TruncateOnStaleAppend,
        Bug::TwoVotesPerTerm,
        Bug::LeaderOverwritesOwnEntries,
        Bug::SnapshotMovesStateMachineBack,
        Bug::CommitPastSentEntries,
        Bug::StaleVoteCounted,
        Bug::MatchIndexRegresses,
        Bug::VotesByServerId,
        Bug::BootstrapByLowestId,
        Bug::LeaderCountsUnpersisted,
        Bug::DurableByIndexOnly,
    ];

    /// The bug's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::VoteNotPersisted => "vote-not-persisted",
            Bug::TermNotPersisted => "term-not-persisted",
            Bug::NoElectionRestriction => "no-election-restriction",
            Bug::CommitPreviousTermByCounting => "commit-previous-term",
            Bug::TruncateOnStaleAppend => "truncate-on-stale-append",
            Bug::TwoVotesPerTerm => "two-votes-per-term",
            Bug::LeaderOverwritesOwnEntries => "leader-overwrites-entries",
            Bug::SnapshotMovesStateMachineBack => "snapshot-moves-back",
            Bug::CommitPastSentEntries => "commit-past-sent-entries",
            Bug::StaleVoteCounted => "count-stale-votes",
            Bug::MatchIndexRegresses => "match-index-regresses",
            Bug::VotesByServerId => "votes-by-server-id",
            Bug::BootstrapByLowestId => "bootstrap-by-lowest-id",
            Bug::LeaderCountsUnpersisted => "leader-counts-unpersisted",
            Bug::DurableByIndexOnly => "durable-by-index-only",
        }
    }

    /// The bug named `name`, if any.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The property of the paper a checker reports when it finds this bug;
    /// `None` for a bug that breaks only a claim the model checker's
    /// reductions rest on ([`Bug::MatchIndexRegresses`],
    /// [`Bug::VotesByServerId`], [`Bug::BootstrapByLowestId`]), which the
    /// simulator, having no
    /// reductions, does not look for.
    pub fn breaks(self) -> Option<Property> {
        Some(match self {
            Bug::VoteNotPersisted
            | Bug::TermNotPersisted
            | Bug::TwoVotesPerTerm
            | Bug::StaleVoteCounted => Property::ElectionSafety,
            Bug::NoElectionRestriction
            | Bug::CommitPreviousTermByCounting
            | Bug::TruncateOnStaleAppend => Property::LeaderCompleteness,
            // It commits what only a minority has written; a crash then
            // loses it (and Leader Completeness breaks later).
            Bug::LeaderCountsUnpersisted => Property::CommittedIsDurable,
            Bug::LeaderOverwritesOwnEntries => Property::LeaderAppendOnly,
            Bug::SnapshotMovesStateMachineBack => Property::StateMachineSafety,
            // The follower believes in entries it does not hold.
            Bug::CommitPastSentEntries => Property::NodeInvariants,
            Bug::DurableByIndexOnly => Property::DurableClaims,
            Bug::MatchIndexRegresses | Bug::VotesByServerId | Bug::BootstrapByLowestId => {
                return None;
            }
        })
    }

    /// Whether the bug shows only when a server's writes complete after
    /// the step that made them (a leader's AppendEntries leave first,
    /// thesis §10.2.1; a report arrives after a truncation): the model
    /// checker looks for it with `check --async-writes`, the simulator
    /// with `SimConfig::write_ms`.
    pub fn needs_asynchronous_writes(self) -> bool {
        matches!(self, Bug::LeaderCountsUnpersisted | Bug::DurableByIndexOnly)
    }

    /// One line on what the bug does.
    pub fn description(self) -> &'static str {
        match self {
            Bug::VoteNotPersisted => "a voter replies before persisting its vote",
            Bug::TermNotPersisted => "a candidate asks for votes before persisting its new term",
            Bug::NoElectionRestriction => {
                "votes are granted whatever the candidate's log (no 5.4.1)"
            }
            Bug::CommitPreviousTermByCounting => {
                "a leader commits an earlier term's entry by counting replicas (Figure 8)"
            }
            Bug::TruncateOnStaleAppend => "a follower truncates its log on a stale AppendEntries",
            Bug::TwoVotesPerTerm => "a server votes for two candidates in one term",
            Bug::LeaderOverwritesOwnEntries => "a leader overwrites its own uncommitted entry",
            Bug::SnapshotMovesStateMachineBack => {
                "a follower installs a snapshot older than its commit index"
            }
            Bug::CommitPastSentEntries => {
                "a follower takes leader_commit as its commit index, past the entries it was sent"
            }
            Bug::StaleVoteCounted => "a candidate counts a vote granted in an earlier term",
            Bug::MatchIndexRegresses => {
                "a leader probing a follower again resets the follower's match index"
            }
            Bug::VotesByServerId => "a server votes only for candidates with a higher id",
            Bug::BootstrapByLowestId => {
                "the server with the lowest id campaigns as soon as it starts with empty storage"
            }
            Bug::LeaderCountsUnpersisted => {
                "a leader counts its own entries toward a commit before its write is durable"
            }
            Bug::DurableByIndexOnly => {
                "a write's durability report is taken by index after a truncation replaced it"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for bug in Bug::ALL {
            assert_eq!(Bug::from_name(bug.name()), Some(bug));
        }
        assert_eq!(Bug::from_name("no-such-bug"), None);
    }
}
