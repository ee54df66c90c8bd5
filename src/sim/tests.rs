//! [`Servers`] on its own, under a minimal driver: what it checks is
//! caught, and what it promises a driver holds.

use crate::consensus::{Config, Entry, LogIndex, Message, NodeId, Snapshot};
use crate::invariants::Property;
use crate::sim::queue::EventQueue;
use crate::sim::servers::{
    AppEffect, Application, Driver, FailureReason, Servers, Step, StorageInfo, Timer,
};
use bytes::Bytes;

/// An application that snapshots after every entry, with data that names
/// its server when `diverge` is set (a broken state machine: servers at
/// one index hold different states).
#[derive(Clone, Debug)]
struct Echo {
    server: usize,
    diverge: bool,
    applied: LogIndex,
}

impl Application for Echo {
    type Output = (usize, LogIndex);

    fn apply(
        &mut self,
        entry: &Entry,
        _: StorageInfo,
    ) -> Result<Vec<AppEffect<Self::Output>>, String> {
        if entry.index != self.applied.next() {
            return Err(format!("{} after {}", entry.index, self.applied));
        }
        self.applied = entry.index;
        let data = match self.diverge {
            true => Bytes::from(vec![self.server as u8]),
            false => Bytes::from_static(b"same"),
        };
        Ok(vec![
            AppEffect::Output((self.server, entry.index)),
            AppEffect::Snapshot {
                index: entry.index,
                data,
            },
        ])
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<Vec<AppEffect<Self::Output>>, String> {
        self.applied = snapshot.meta.last_included_index;
        Ok(Vec::new())
    }
}

enum Ev {
    Deliver(usize, usize, Message),
    Timer(usize, Timer, u64),
}

/// A perfect network: every message takes 1 unit; election timeouts
/// differ per server so that server 1 (position 0) wins.
#[derive(Default)]
struct Net {
    queue: EventQueue<Ev>,
    outputs: Vec<(usize, LogIndex)>,
    crash_next: bool,
}

impl Driver<(usize, LogIndex)> for Net {
    fn send(&mut self, from: usize, to: usize, message: Message) {
        self.queue.schedule(1, Ev::Deliver(from, to, message));
    }

    fn arm(&mut self, server: usize, timer: Timer, generation: u64) {
        let after = match timer {
            Timer::Election => 10 + 10 * server as u64,
            Timer::Heartbeat => 3,
            Timer::Write => 2,
        };
        self.queue
            .schedule(after, Ev::Timer(server, timer, generation));
    }

    fn crash_before_effect(&mut self, _server: usize) -> bool {
        std::mem::take(&mut self.crash_next)
    }

    fn output(&mut self, _server: usize, output: (usize, LogIndex)) {
        self.outputs.push(output);
    }
}

fn cluster(diverge: bool) -> (Servers<Echo>, Net) {
    let config = Config::new(NodeId(0), Vec::new());
    let mut servers = Servers::new(3, config, move |server| Echo {
        server,
        diverge,
        applied: LogIndex(0),
    });
    let mut net = Net::default();
    for s in 0..3 {
        servers.start(s, &mut net).unwrap();
    }
    (servers, net)
}

/// Runs events until `until`.
fn run(servers: &mut Servers<Echo>, net: &mut Net, until: u64) -> Step {
    while net.queue.next_time().is_some_and(|t| t <= until) {
        match net.queue.pop().unwrap() {
            Ev::Deliver(from, to, message) => {
                servers.deliver(from, to, message, net)?;
            }
            Ev::Timer(server, timer, generation) => servers.fire(server, timer, generation, net)?,
        }
    }
    Ok(())
}

#[test]
fn servers_have_ids_one_to_n_and_apply_what_commits() {
    let (mut servers, mut net) = cluster(false);
    run(&mut servers, &mut net, 30).unwrap();
    assert_eq!(servers.node(0).map(|n| n.id()), Some(NodeId(1)));
    assert!(servers.node(0).unwrap().is_leader());
    let proposed = servers.propose(0, [Bytes::from("x")], &mut net).unwrap();
    assert!(matches!(proposed, Some(Ok(_))));
    run(&mut servers, &mut net, 60).unwrap();
    // Every server applied the entry and told the driver; each then
    // snapshotted through it.
    let applied = |net: &Net, index| {
        net.outputs
            .iter()
            .filter(|o| o.1 == LogIndex(index))
            .count()
    };
    assert_eq!(applied(&net, 1), 3);
    assert!(servers.stats().snapshots_taken >= 3);
    // A follower is asked: it names the leader.
    let refused = servers.propose(1, [Bytes::from("y")], &mut net).unwrap();
    assert!(matches!(refused, Some(Err(e)) if e.leader_hint == Some(NodeId(1))));
}

#[test]
fn applications_that_diverge_break_state_machine_safety() {
    let (mut servers, mut net) = cluster(true);
    run(&mut servers, &mut net, 30).unwrap();
    servers.propose(0, [Bytes::from("x")], &mut net).unwrap();
    let error = run(&mut servers, &mut net, 60).unwrap_err();
    match error {
        FailureReason::Violation(v) => {
            assert_eq!(v.property, Property::StateMachineSafety, "{v}");
            let at = format!("snapshot at {}", LogIndex(1));
            assert!(v.detail.contains(&at), "{v}");
        }
        other => panic!("expected a violation, got {other}"),
    }
}

#[test]
fn a_crash_between_effects_leaves_only_what_was_stored() {
    let (mut servers, mut net) = cluster(false);
    run(&mut servers, &mut net, 30).unwrap();
    // The leader crashes before the first effect of the proposal (its
    // persist): nothing of it reaches storage.
    net.crash_next = true;
    let before = servers.stored(0).last_index();
    servers.propose(0, [Bytes::from("x")], &mut net).unwrap();
    assert!(!servers.is_up(0));
    assert_eq!(servers.stored(0).last_index(), before);
    assert_eq!(servers.stats().crashes_mid_step, 1);
    // Its old timers do not fire; it restarts from storage and rejoins.
    servers.start(0, &mut net).unwrap();
    assert_eq!(servers.stats().restarts, 1);
    run(&mut servers, &mut net, 200).unwrap();
    assert!(servers.nodes().iter().any(|n| n.is_leader()));
}

#[test]
fn the_audit_catches_a_narrowed_check_that_loses_history() {
    let (mut servers, mut net) = cluster(false);
    servers.audit_narrowed_checks();
    run(&mut servers, &mut net, 30).unwrap();
    servers.propose(0, [Bytes::from("x")], &mut net).unwrap();
    run(&mut servers, &mut net, 60).unwrap();
    // A narrowed check that forgot what it saw (here: all of it) no longer
    // leaves the full check's history: the next steps say so.
    *servers.history_mut() = crate::invariants::History::new();
    match run(&mut servers, &mut net, 200) {
        Err(FailureReason::NarrowedCheck(detail)) => {
            assert!(detail.contains("histories differ"), "{detail}")
        }
        other => panic!("expected the audit to fail, got {other:?}"),
    }
}
