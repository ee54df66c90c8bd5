//! The scenarios `check` explores when no bound is given, and which bounds
//! put which `Sometimes` property within reach.
//!
//! No single configuration exercises every property and finishes in about a
//! minute on two cores: "a leader is elected in term >= 2" needs a second
//! term, "a restarted server rejoins and applies" a crash and a committed
//! entry, and "a snapshot is installed by InstallSnapshot" snapshots and
//! three servers; three servers with all of that (`--max-term 2 --crashes 1
//! --snapshots`) ran past 90 s with millions of unique states and still
//! growing on the ordered network and on the unordered one searched
//! itself, and on a duplicating network (which the unordered one's route
//! searches, `model/src/route.rs`), where reduction 4 makes it finish
//! (`model/src/subsume.rs`), it takes about 85 s
//! (docs/model-checking.md). So the
//! default run is a few exhaustive searches that between them reach every
//! `Sometimes` property and check every `Always` one, each under different
//! faults, like TLC's several configurations of one spec. Any bound on the
//! command line (or `--bug`) runs that one configuration instead.

use crate::{Bounds, NetworkKind, PROPERTIES};
use stateright::Expectation;

/// One configuration of the default run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name on the command line (`check --scenario NAME`).
    pub name: &'static str,
    /// What it is for, in a line.
    pub about: &'static str,
    /// The bounds it explores.
    pub bounds: Bounds,
}

/// The scenarios of the default run (30-40 s in all with two threads on
/// this project's 2-core machine; docs/model-checking.md lists each run).
/// The two on an unordered network take the duplicating route
/// ([`crate::route`]).
pub fn scenarios() -> Vec<Scenario> {
    let base = Bounds::default();
    vec![
        Scenario {
            name: "replication",
            about: "TLC's raft.tla bounds with a second election term (its currentTerm <= 3): \
                    logs of two entries, an unordered network",
            bounds: Bounds {
                max_term: 2,
                max_log: 2,
                ..base.clone()
            },
        },
        Scenario {
            name: "elections",
            about: "two election terms and an entry, with a server crashing and \
                    restarting from its storage at any moment",
            bounds: Bounds {
                max_term: 2,
                max_log: 1,
                crashes: 1,
                ..base.clone()
            },
        },
        Scenario {
            name: "faults",
            about: "a crash, a network that loses and duplicates, snapshots and \
                    InstallSnapshot",
            bounds: Bounds {
                max_term: 1,
                max_log: 1,
                crashes: 1,
                network: NetworkKind::Duplicating,
                lossy: true,
                snapshots: true,
                ..base.clone()
            },
        },
        Scenario {
            name: "two-servers",
            about: "two servers through two terms with entries, a crash, a lossy \
                    duplicating network and snapshots",
            bounds: Bounds {
                servers: 2,
                max_term: 2,
                max_log: 2,
                crashes: 1,
                network: NetworkKind::Duplicating,
                lossy: true,
                snapshots: true,
                ..base
            },
        },
    ]
}

/// The scenario named `name`.
pub fn scenario(name: &str) -> Option<Scenario> {
    scenarios().into_iter().find(|s| s.name == name)
}

/// Why a `Sometimes` property cannot be reached within `bounds` whatever the
/// core does, if it cannot: such a property is reported but does not fail
/// the check (a run without crashes cannot see a restart, for instance).
pub fn out_of_reach(bounds: &Bounds, name: &str) -> Option<&'static str> {
    let elects = bounds.max_term >= 1;
    let commits = elects && bounds.values >= 1 && bounds.max_log >= 1;
    match name {
        "a leader is elected" if !elects => Some("needs --max-term >= 1"),
        "an entry commits" if !commits => {
            Some("needs --max-term >= 1, --values >= 1 and --max-log >= 1")
        }
        "a leader is elected in term >= 2" if bounds.max_term < 2 => Some("needs --max-term >= 2"),
        "a restarted server rejoins and applies" if bounds.crashes == 0 || !commits => {
            Some("needs --crashes >= 1 and entries to commit")
        }
        // A leader sends InstallSnapshot only to a follower that lacks
        // entries it has compacted, which are committed; with two servers a
        // majority is both, so every committed entry is on both (logs are
        // persisted before they are acknowledged).
        "a snapshot is installed by InstallSnapshot"
            if !bounds.snapshots || bounds.servers < 3 || !commits =>
        {
            Some("needs --snapshots, 3 servers or more and entries to commit")
        }
        _ => None,
    }
}

/// The `Sometimes` properties that no scenario puts within reach (empty:
/// the default run exercises every property).
pub fn unexercised() -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .filter(|(expectation, _)| *expectation == Expectation::Sometimes)
        .map(|(_, name)| *name)
        .filter(|name| {
            scenarios()
                .iter()
                .all(|s| out_of_reach(&s.bounds, name).is_some())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_run_puts_every_sometimes_property_within_reach() {
        assert_eq!(unexercised(), Vec::<&str>::new());
    }

    #[test]
    fn each_scenario_adds_a_fault_or_a_property_the_others_lack() {
        // Names are unique, so `--scenario NAME` is unambiguous.
        let names: std::collections::BTreeSet<_> = scenarios().iter().map(|s| s.name).collect();
        assert_eq!(names.len(), scenarios().len());
        // Some scenario crashes servers, one loses and duplicates, one has
        // snapshots, one has two terms, and one is raft.tla's bounds.
        let all = scenarios();
        assert!(all.iter().any(|s| s.bounds.crashes >= 1));
        assert!(all.iter().any(|s| s.bounds.lossy
            && s.bounds.network == NetworkKind::Duplicating
            && s.bounds.snapshots
            && s.bounds.crashes >= 1
            && s.bounds.servers >= 3));
        assert!(all.iter().any(|s| s.bounds.max_term >= 2));
        assert!(
            all.iter()
                .any(|s| s.bounds.max_log >= 2 && s.bounds.servers == 3)
        );
    }

    #[test]
    fn out_of_reach_names_what_is_missing() {
        let base = Bounds::default();
        assert_eq!(
            out_of_reach(&base, "a leader is elected in term >= 2"),
            Some("needs --max-term >= 2")
        );
        assert_eq!(out_of_reach(&base, "an entry commits"), None);
        assert!(out_of_reach(&base, "a snapshot is installed by InstallSnapshot").is_some());
        assert_eq!(out_of_reach(&base, "Election Safety"), None);
    }
}
