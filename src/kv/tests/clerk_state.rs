//! The clerk's decisions, asserted on the effects it returns.

use crate::kv::clerk::{ClerkConfig, Indeterminate};
use crate::kv::clerk_state::{ClerkEffect, ClerkState};
use crate::kv::protocol::{Op, Output, Refusal, Reply};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> ClerkConfig {
    ClerkConfig {
        attempt_timeout: ms(100),
        min_backoff: ms(10),
        max_backoff: ms(25),
    }
}

fn get() -> Op {
    Op::Get { key: "k".into() }
}

/// The server and attempt of a `Send`, and its timeout.
fn sent(effect: &ClerkEffect) -> (usize, u64, Duration) {
    match effect {
        ClerkEffect::Send {
            server,
            attempt,
            timeout_at,
            ..
        } => (*server, *attempt, *timeout_at),
        other => panic!("expected a send, got {other:?}"),
    }
}

fn answer(clerk: &ClerkState, seq: u64, result: Result<Output, Refusal>) -> Reply {
    Reply {
        client: clerk.id(),
        seq,
        result,
    }
}

#[test]
fn an_answer_ends_the_operation() {
    let mut c = ClerkState::new(5, 3, 1, config());
    let first = c.invoke(get(), ms(0), None);
    assert_eq!(sent(&first), (1, 1, ms(100)));
    let ClerkEffect::Send { request, .. } = first else {
        unreachable!()
    };
    assert_eq!((request.command.client, request.command.seq), (5, 1));
    let ok = answer(&c, 1, Ok(Output::Value("v".into())));
    assert_eq!(
        c.replied(ok, Some(1), ms(3)),
        Some(ClerkEffect::Done(Ok(Output::Value("v".into()))))
    );
    assert_eq!(c.in_flight(), None);
    // The next operation has the next sequence number.
    let ClerkEffect::Send { request, .. } = c.invoke(get(), ms(4), None) else {
        panic!()
    };
    assert_eq!(request.command.seq, 2);
}

#[test]
fn a_refusal_follows_the_hint_else_the_next_server_and_a_round_backs_off() {
    let mut c = ClerkState::new(5, 3, 0, config());
    c.invoke(get(), ms(0), None);
    let refused = |c: &ClerkState, hint| answer(c, 1, Err(Refusal::WrongLeader { hint }));
    let next = c.replied(refused(&c, Some(2)), None, ms(1)).unwrap();
    assert_eq!(sent(&next), (2, 2, ms(101)));
    let next = c.replied(refused(&c, None), None, ms(2)).unwrap();
    assert_eq!(sent(&next), (0, 3, ms(102)));
    // The third server of the round is silent: back off 10 ms.
    assert_eq!(
        c.timed_out(3, ms(200)),
        Some(ClerkEffect::Wait {
            attempt: 4,
            until: ms(210)
        })
    );
    assert_eq!(sent(&c.resume(4, ms(210)).unwrap()), (1, 4, ms(310)));
    // Back-off doubles, up to max_backoff.
    for attempt in 4..6 {
        c.timed_out(attempt, ms(400));
    }
    assert_eq!(
        c.timed_out(6, ms(400)),
        Some(ClerkEffect::Wait {
            attempt: 7,
            until: ms(420)
        })
    );
    c.resume(7, ms(420));
    for attempt in 7..9 {
        c.timed_out(attempt, ms(500));
    }
    assert_eq!(
        c.timed_out(9, ms(500)),
        Some(ClerkEffect::Wait {
            attempt: 10,
            until: ms(525)
        })
    );
}

#[test]
fn stale_replies_and_timers_are_ignored_but_any_attempts_answer_counts() {
    let mut c = ClerkState::new(5, 3, 0, config());
    c.invoke(get(), ms(0), None);
    c.timed_out(1, ms(100));
    // A late refusal of attempt 1, and attempt 1's timer again: nothing.
    let refusal = answer(&c, 1, Err(Refusal::WrongLeader { hint: None }));
    assert_eq!(c.replied(refusal, Some(1), ms(101)), None);
    assert_eq!(c.timed_out(1, ms(102)), None);
    // A reply to another operation or client: nothing.
    assert_eq!(
        c.replied(answer(&c, 7, Ok(Output::Done)), None, ms(103)),
        None
    );
    let other = Reply {
        client: 6,
        ..answer(&c, 1, Ok(Output::Done))
    };
    assert_eq!(c.replied(other, None, ms(103)), None);
    // An output of the wrong kind cannot come from applying a get: the
    // clerk tries another server.
    let wrong = answer(&c, 1, Ok(Output::Done));
    assert_eq!(sent(&c.replied(wrong, Some(2), ms(104)).unwrap()).1, 3);
    // attempt 1's late answer is the operation's.
    let late = answer(&c, 1, Ok(Output::Value("v".into())));
    assert_eq!(
        c.replied(late, Some(1), ms(105)),
        Some(ClerkEffect::Done(Ok(Output::Value("v".into()))))
    );
}

#[test]
fn the_deadline_ends_the_operation_as_indeterminate() {
    let mut c = ClerkState::new(5, 1, 0, config());
    // The attempt's timeout is cut to the deadline.
    assert_eq!(sent(&c.invoke(get(), ms(0), Some(ms(60)))), (0, 1, ms(60)));
    assert_eq!(
        c.timed_out(1, ms(60)),
        Some(ClerkEffect::Done(Err(Indeterminate)))
    );
    assert_eq!(c.in_flight(), None);
    // Already past it: over at once.
    assert_eq!(
        c.invoke(get(), ms(70), Some(ms(70))),
        ClerkEffect::Done(Err(Indeterminate))
    );
}
