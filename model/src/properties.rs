//! The properties the model checks, named as in the paper, and the
//! states past the bounds.

use super::*;

/// The properties, named as in the paper, with what each expects.
pub const PROPERTIES: [(Expectation, &str); 16] = [
    (Expectation::Always, ELECTION_SAFETY),
    (Expectation::Always, LEADER_APPEND_ONLY),
    (Expectation::Always, LOG_MATCHING),
    (Expectation::Always, LEADER_COMPLETENESS),
    (Expectation::Always, STATE_MACHINE_SAFETY),
    (Expectation::Always, NODE_INVARIANTS),
    (Expectation::Always, DURABLE_CLAIMS),
    (Expectation::Always, COMMITTED_IS_DURABLE),
    (Expectation::Always, STALE_MESSAGES_ARE_NO_OPS),
    (Expectation::Always, RESTARTS_AS_FORGOTTEN),
    (Expectation::Always, SERVERS_ARE_INTERCHANGEABLE),
    (Expectation::Sometimes, "a leader is elected"),
    (Expectation::Sometimes, "an entry commits"),
    (Expectation::Sometimes, "a leader is elected in term >= 2"),
    (
        Expectation::Sometimes,
        "a restarted server rejoins and applies",
    ),
    (
        Expectation::Sometimes,
        "a snapshot is installed by InstallSnapshot",
    ),
];

/// Name of the Election Safety property.
pub const ELECTION_SAFETY: &str = Invariant::ElectionSafety.name();
/// Name of the Leader Append-Only property.
pub const LEADER_APPEND_ONLY: &str = Invariant::LeaderAppendOnly.name();
/// Name of the Log Matching property.
pub const LOG_MATCHING: &str = Invariant::LogMatching.name();
/// Name of the Leader Completeness property.
pub const LEADER_COMPLETENESS: &str = Invariant::LeaderCompleteness.name();
/// Name of the State Machine Safety property.
pub const STATE_MACHINE_SAFETY: &str = Invariant::StateMachineSafety.name();
/// Name of the property that each server's own invariants hold.
pub const NODE_INVARIANTS: &str = Invariant::NodeInvariants.name();
/// Name of the property that what a server counts as durable is on its
/// disk ([`checked_raft::invariants::check_durable`]).
pub const DURABLE_CLAIMS: &str = Invariant::DurableClaims.name();
/// Name of the property that what a leader committed is on a majority of
/// disks ([`checked_raft::invariants::check_committed_durable`]).
pub const COMMITTED_IS_DURABLE: &str = Invariant::CommittedIsDurable.name();

/// The property `check` reports when it finds the catalogue bug `bug`: the
/// property of the paper it breaks, or, for a bug that breaks only a claim
/// the reductions rest on, the property named for that claim.
pub fn bug_property(bug: checked_raft::bugs::Bug) -> &'static str {
    use checked_raft::bugs::Bug;
    match (bug.breaks(), bug) {
        (Some(property), _) => property_name(property),
        (None, Bug::VotesByServerId | Bug::BootstrapByLowestId) => SERVERS_ARE_INTERCHANGEABLE,
        (None, _) => STALE_MESSAGES_ARE_NO_OPS,
    }
}

/// The property name the model uses for an invariant of the core crate:
/// the core's own ([`Invariant::name`]).
pub fn property_name(invariant: Invariant) -> &'static str {
    invariant.name()
}

/// Whether `invariant` holds in `state`: over every server's history
/// (crashed ones included) and the live servers' cores.
pub fn holds(state: &RaftState, invariant: Invariant) -> bool {
    let histories: Vec<&History> = state.actor_states.iter().map(|s| &s.disk.history).collect();
    check_property(invariant, &histories, &live_nodes(state)).is_ok()
}

/// The cores of the servers that are up.
pub fn live_nodes(state: &RaftState) -> Vec<&Node> {
    state
        .actor_states
        .iter()
        .zip(&state.crashed)
        .filter(|(_, crashed)| !**crashed)
        .map(|(s, _)| s.node.as_ref())
        .collect()
}

/// The properties the model checks, named as in [`PROPERTIES`].
pub(crate) fn properties() -> Vec<Property<RaftModel>> {
    vec![
        Property::always(ELECTION_SAFETY, |_, s: &RaftState| {
            holds(s, Invariant::ElectionSafety)
        }),
        Property::always(LEADER_APPEND_ONLY, |_, s: &RaftState| {
            holds(s, Invariant::LeaderAppendOnly)
        }),
        Property::always(LOG_MATCHING, |_, s: &RaftState| {
            holds(s, Invariant::LogMatching)
        }),
        Property::always(LEADER_COMPLETENESS, |_, s: &RaftState| {
            holds(s, Invariant::LeaderCompleteness)
        }),
        Property::always(STATE_MACHINE_SAFETY, |_, s: &RaftState| {
            holds(s, Invariant::StateMachineSafety)
        }),
        Property::always(NODE_INVARIANTS, |_, s: &RaftState| {
            holds(s, Invariant::NodeInvariants)
        }),
        Property::always(DURABLE_CLAIMS, |_, s: &RaftState| {
            holds(s, Invariant::DurableClaims)
        }),
        Property::always(COMMITTED_IS_DURABLE, |_, s: &RaftState| {
            let disks: Vec<&Stored> = s.actor_states.iter().map(|a| &a.disk.stored).collect();
            check_committed_durable(&live_nodes(s), &disks).is_ok()
        }),
        Property::always(STALE_MESSAGES_ARE_NO_OPS, |_, s: &RaftState| {
            s.history.holds(audit::Claim::StaleIsNoOp)
        }),
        Property::always(RESTARTS_AS_FORGOTTEN, |_, s: &RaftState| {
            s.history.holds(audit::Claim::RestartsAsForgotten)
        }),
        // Checked on steps, not states: a breach is reported after the
        // search (`RaftModel::final_audit`).
        Property::always(SERVERS_ARE_INTERCHANGEABLE, |_, _| true),
        Property::sometimes("a leader is elected", |_, s: &RaftState| {
            live_nodes(s).iter().any(|n| n.is_leader())
        }),
        Property::sometimes("an entry commits", |_, s: &RaftState| {
            live_nodes(s)
                .iter()
                .any(|n| n.commit_index() >= LogIndex(1))
        }),
        Property::sometimes("a leader is elected in term >= 2", |_, s: &RaftState| {
            live_nodes(s)
                .iter()
                .any(|n| n.is_leader() && n.current_term() >= Term(2))
        }),
        Property::sometimes(
            "a restarted server rejoins and applies",
            |_, s: &RaftState| {
                s.actor_states
                    .iter()
                    .zip(&s.crashed)
                    .any(|(server, crashed)| !crashed && server.applied_after_restart)
            },
        ),
        Property::sometimes(
            "a snapshot is installed by InstallSnapshot",
            |_, s: &RaftState| {
                s.actor_states
                    .iter()
                    .any(|server| server.installed_snapshot)
            },
        ),
    ]
}

/// States past the bounds are not explored.
pub(crate) fn within_boundary(bounds: &Bounds, state: &RaftState) -> bool {
    let servers_within = state.actor_states.iter().all(|s| {
        s.node.current_term() <= Term(bounds.max_term)
            && s.node.log().last_index() <= LogIndex(bounds.max_log)
            && pending_within(&s.pending, bounds.max_copies)
    });
    servers_within && network_within(&state.network, bounds.max_copies)
}

/// With asynchronous writes, at most `max` copies of any one effect
/// waiting for a server's write: the same bound as the network's, for the
/// same reason (heartbeats answered while a write is pending would
/// otherwise queue replies without end).
fn pending_within(pending: &[Effect], max: usize) -> bool {
    pending
        .iter()
        .all(|e| pending.iter().filter(|other| *other == e).count() <= max)
}

/// At most `max` copies of any one message in flight (the constraint TLC
/// models of raft.tla use). Without it, heartbeats would grow the ordered and
/// unordered networks without end; the duplicating network is a set.
fn network_within(network: &Network<Msg>, max: usize) -> bool {
    match network {
        Network::UnorderedDuplicating(..) => true,
        Network::UnorderedNonDuplicating(counts) => counts.values().all(|&n| n <= max),
        Network::Ordered(channels) => channels.values().all(|queue| {
            queue
                .iter()
                .all(|m| queue.iter().filter(|other| *other == m).count() <= max)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model's lists are the core's one list ([`Invariant::ALL`]) and
    /// the model's own properties after it, in the same order, so that no
    /// list can drift from another.
    #[test]
    fn the_lists_of_properties_agree() {
        let checked: Vec<&str> = properties().iter().map(|p| p.name).collect();
        let listed: Vec<&str> = PROPERTIES.iter().map(|(_, name)| *name).collect();
        assert_eq!(checked, listed, "properties() and PROPERTIES");
        let core: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        assert_eq!(
            &listed[..core.len()],
            &core[..],
            "the core's properties first"
        );
        for (i, (expectation, _)) in PROPERTIES.iter().enumerate() {
            assert_eq!(*expectation, properties()[i].expectation, "{}", listed[i]);
        }
    }
}
