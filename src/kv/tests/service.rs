//! The service's decisions, asserted on the effects it returns (as
//! openraft's engine tests assert emitted commands).

use crate::consensus::{LogIndex, NodeId, Term};
use crate::kv::protocol::{Command, Op, Output, Refusal, Reply, Request};
use crate::kv::service::{ApplyError, KvEffect, KvService, Proposal};
use crate::kv::state_machine::Store;

/// Clerk addresses are plain numbers here.
type Service = KvService<u32>;

fn service() -> Service {
    KvService::new(vec![NodeId(1), NodeId(2), NodeId(3)], None)
}

fn put(client: u64, seq: u64, value: &str) -> Command {
    Command {
        client,
        seq,
        op: Op::Put {
            key: "k".into(),
            value: value.into(),
        },
    }
}

fn get(client: u64, seq: u64) -> Command {
    Command {
        client,
        seq,
        op: Op::Get { key: "k".into() },
    }
}

fn reply(to: u32, command: &Command, result: Result<Output, Refusal>) -> KvEffect<u32> {
    KvEffect::Reply {
        to,
        reply: Reply {
            client: command.client,
            seq: command.seq,
            result,
        },
    }
}

fn wrong_leader(hint: Option<u64>) -> Result<Output, Refusal> {
    Err(Refusal::WrongLeader { hint })
}

/// A leader in `term` (server 1) that accepted `command` from clerk `to`
/// at `index`.
fn waiting(service: &mut Service, to: u32, command: &Command, index: u64, term: u64) {
    assert_eq!(
        service.leadership(Term(term), Some(NodeId(1)), true),
        Vec::new()
    );
    let effects = service.request(
        to,
        Request {
            command: command.clone(),
        },
    );
    assert_eq!(
        effects,
        vec![KvEffect::Propose {
            command: command.clone(),
            reply_to: to
        }]
    );
    let accepted = Proposal::Accepted {
        index: LogIndex(index),
        term: Term(term),
    };
    assert_eq!(service.proposed(to, command, accepted), Vec::new());
    assert_eq!(service.waiting(), 1);
}

fn apply(service: &mut Service, index: u64, term: u64, command: &Command) -> Vec<KvEffect<u32>> {
    service
        .applied(LogIndex(index), Term(term), &command.encode(), 0)
        .unwrap()
}

#[test]
fn a_request_is_answered_when_its_own_entry_is_applied() {
    let mut s = service();
    let c = put(7, 1, "a");
    waiting(&mut s, 9, &c, 1, 2);
    assert_eq!(
        apply(&mut s, 1, 2, &c),
        vec![reply(9, &c, Ok(Output::Done))]
    );
    assert_eq!(s.store().get("k"), "a");
    assert_eq!(s.waiting(), 0);
    assert_eq!(s.applied_index(), LogIndex(1));
}

#[test]
fn another_entry_at_the_index_refuses_the_request_with_the_leader_as_hint() {
    // §5.3: a deposed leader's uncommitted entry is overwritten.
    let mut s = service();
    let c = put(7, 1, "a");
    waiting(&mut s, 9, &c, 1, 2);
    assert_eq!(s.leadership(Term(3), Some(NodeId(3)), false).len(), 1);
    // The refusal above already went; a fresh wait for the same index:
    waiting(&mut s, 9, &c, 1, 4);
    let other = put(8, 1, "b");
    assert_eq!(
        apply(&mut s, 1, 4, &other),
        vec![reply(9, &c, wrong_leader(Some(0)))]
    );
    assert_eq!(s.store().get("k"), "b");
}

#[test]
fn the_same_command_applied_in_another_term_is_not_the_one_proposed() {
    let mut s = service();
    let c = put(7, 1, "a");
    waiting(&mut s, 9, &c, 1, 2);
    // The command itself applies (a retry through another leader, say),
    // but the request waited for the entry of term 2.
    let effects = apply(&mut s, 1, 3, &c);
    assert_eq!(effects, vec![reply(9, &c, wrong_leader(Some(0)))]);
    // Its retry is answered from the session table, without a proposal.
    let retry = s.request(10, Request { command: c.clone() });
    assert_eq!(retry, vec![reply(10, &c, Ok(Output::Done))]);
}

#[test]
fn losing_the_term_or_the_office_refuses_every_waiting_request_at_once() {
    let mut s = service();
    let c = put(7, 1, "a");
    waiting(&mut s, 9, &c, 1, 2);
    // The same report again changes nothing.
    assert_eq!(s.leadership(Term(2), Some(NodeId(1)), true), Vec::new());
    assert_eq!(
        s.leadership(Term(3), Some(NodeId(2)), false),
        vec![reply(9, &c, wrong_leader(Some(1)))]
    );
    assert_eq!(s.waiting(), 0);
    // A proposal reported after its term ended is refused at once.
    let late = Proposal::Accepted {
        index: LogIndex(2),
        term: Term(2),
    };
    assert_eq!(
        s.proposed(9, &c, late),
        vec![reply(9, &c, wrong_leader(Some(1)))]
    );
}

#[test]
fn a_proposal_reported_after_its_entry_applied_is_answered_from_what_was_applied() {
    // A one-server cluster commits and applies within the propose, before
    // the driver reports it.
    let mut s = service();
    let (w, r, lost) = (put(7, 1, "a"), get(7, 2), put(8, 1, "b"));
    s.leadership(Term(1), Some(NodeId(1)), true);
    for c in [&w, &r, &lost] {
        let effects = s.request(9, Request { command: c.clone() });
        assert!(matches!(effects[..], [KvEffect::Propose { .. }]));
    }
    apply(&mut s, 1, 1, &w);
    apply(&mut s, 2, 1, &r);
    // At index 3 a new leader's entry replaced the one proposed there.
    apply(&mut s, 3, 2, &put(5, 1, "c"));
    let at = |index, term| Proposal::Accepted {
        index: LogIndex(index),
        term: Term(term),
    };
    assert_eq!(
        s.proposed(9, &w, at(1, 1)),
        vec![reply(9, &w, Ok(Output::Done))]
    );
    assert_eq!(
        s.proposed(9, &r, at(2, 1)),
        vec![reply(9, &r, Ok(Output::Value("a".into())))]
    );
    assert_eq!(
        s.proposed(9, &lost, at(3, 1)),
        vec![reply(9, &lost, wrong_leader(Some(0)))]
    );
    assert_eq!(s.waiting(), 0);
}

#[test]
fn without_a_record_of_the_entry_the_session_table_answers() {
    // Reported after a snapshot covered it: a write's session answers; a
    // read, not recorded there, is retried by its clerk.
    let mut s = service();
    let (w, r) = (put(7, 1, "a"), get(7, 2));
    let mut store = Store::new();
    store.apply(&w);
    s.snapshot_installed(LogIndex(2), &store.encode()).unwrap();
    let at = |index| Proposal::Accepted {
        index: LogIndex(index),
        term: Term(1),
    };
    assert_eq!(
        s.proposed(9, &w, at(1)),
        vec![reply(9, &w, Ok(Output::Done))]
    );
    assert_eq!(
        s.proposed(9, &r, at(2)),
        vec![reply(9, &r, wrong_leader(None))]
    );
}

#[test]
fn refusals_of_a_proposal_name_the_leader_by_its_position() {
    let mut s = service();
    let c = put(7, 1, "a");
    let not_leader = |id| Proposal::NotLeader {
        leader_hint: Some(NodeId(id)),
    };
    assert_eq!(
        s.proposed(4, &c, not_leader(3)),
        vec![reply(4, &c, wrong_leader(Some(2)))]
    );
    // An id that is not a member gives no hint.
    assert_eq!(
        s.proposed(4, &c, not_leader(9)),
        vec![reply(4, &c, wrong_leader(None))]
    );
    assert_eq!(
        s.proposed(4, &c, Proposal::Stopped),
        vec![reply(4, &c, Err(Refusal::ShuttingDown))]
    );
}

#[test]
fn a_snapshot_replaces_the_store_and_settles_the_requests_it_covers() {
    let mut s = service();
    let (done, lost) = (put(7, 1, "a"), put(8, 1, "b"));
    waiting(&mut s, 1, &done, 1, 2);
    s.proposed(
        2,
        &lost,
        Proposal::Accepted {
            index: LogIndex(2),
            term: Term(2),
        },
    );
    let later = put(9, 1, "c");
    s.proposed(
        3,
        &later,
        Proposal::Accepted {
            index: LogIndex(5),
            term: Term(2),
        },
    );
    // A leader's snapshot through 3 in which client 7's write took
    // effect, and client 8's did not.
    let mut store = Store::new();
    store.apply(&done);
    let effects = s.snapshot_installed(LogIndex(3), &store.encode()).unwrap();
    assert_eq!(
        effects,
        vec![
            reply(1, &done, Ok(Output::Done)),
            reply(2, &lost, wrong_leader(Some(0)))
        ]
    );
    assert_eq!(
        (s.store(), s.applied_index(), s.waiting()),
        (&store, LogIndex(3), 1)
    );
    // Never backwards, and bytes that are not a store change nothing.
    assert!(matches!(
        s.snapshot_installed(LogIndex(3), &store.encode()),
        Err(ApplyError::Behind { .. })
    ));
    assert!(matches!(
        s.snapshot_installed(LogIndex(4), &[0xff; 3]),
        Err(ApplyError::Undecodable { .. })
    ));
    assert_eq!(s.applied_index(), LogIndex(3));
}

#[test]
fn entries_must_come_in_order_and_undecodable_ones_are_counted() {
    let mut s = service();
    let c = put(7, 1, "a");
    assert!(matches!(
        s.applied(LogIndex(2), Term(1), &c.encode(), 0),
        Err(ApplyError::Gap { .. })
    ));
    waiting(&mut s, 9, &c, 1, 1);
    let effects = s.applied(LogIndex(1), Term(1), b"\xff\xff", 0).unwrap();
    assert_eq!(effects, vec![reply(9, &c, wrong_leader(Some(0)))]);
    assert_eq!(
        (s.undecodable_entries(), s.applied_index()),
        (1, LogIndex(1))
    );
    assert!(matches!(
        s.applied(LogIndex(1), Term(1), &c.encode(), 0),
        Err(ApplyError::Behind { .. })
    ));
}

#[test]
fn the_persisted_state_reaching_max_raft_state_asks_for_a_snapshot() {
    let mut s: Service = KvService::new(vec![NodeId(1)], Some(100));
    let c = put(7, 1, "a");
    assert_eq!(
        s.applied(LogIndex(1), Term(1), &c.encode(), 99).unwrap(),
        Vec::new()
    );
    let c2 = put(7, 2, "b");
    let effects = s.applied(LogIndex(2), Term(1), &c2.encode(), 100).unwrap();
    let [KvEffect::Snapshot { index, data }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(*index, LogIndex(2));
    let store = Store::decode(data).unwrap();
    assert_eq!(
        (store.get("k"), store.applied_output(7, 2)),
        ("b", Some(&Output::Done))
    );
}

/// Bug catalogue: the broken service answers a read from its own copy,
/// without the log.
#[cfg(feature = "bug-catalogue")]
#[test]
fn local_reads_answer_without_the_log() {
    let mut s = service();
    s.serve_local_reads();
    let r = get(7, 1);
    assert_eq!(
        s.request(1, Request { command: r.clone() }),
        vec![reply(1, &r, Ok(Output::Value(String::new())))]
    );
    // A transaction of reads too; one that writes still goes through the log.
    use crate::kv::protocol::{TxnOp, TxnResult};
    let reads = Command {
        client: 7,
        seq: 2,
        op: Op::Txn {
            ops: vec![TxnOp::Read { key: "k".into() }],
        },
    };
    assert_eq!(
        s.request(
            1,
            Request {
                command: reads.clone()
            }
        ),
        vec![reply(
            1,
            &reads,
            Ok(Output::Txn(vec![TxnResult::Read(None)]))
        )]
    );
    let writes = Command {
        client: 7,
        seq: 3,
        op: Op::Txn {
            ops: vec![TxnOp::Append {
                key: "k".into(),
                value: "1 ".into(),
            }],
        },
    };
    assert!(matches!(
        s.request(1, Request { command: writes })[..],
        [KvEffect::Propose { .. }]
    ));
}
