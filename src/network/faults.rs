//! The fault model: what becomes of one message, decided once, when it is
//! sent, from the network's knobs and its seeded random number generator.
//!
//! The numbers are labrpc's (`labrpc.go`, `processReq`), translated to
//! one-way messages as the module documentation explains.

use super::wire::Wire;
use rand::Rng;
use std::time::Duration;

/// Largest extra delay of a message on an unreliable network, in ms
/// (labrpc: `rand.Int() % 27`).
pub(super) const SHORT_DELAY_MAX_MS: u64 = 26;

/// Chance, out of [`PER_MILLE`], that an unreliable network drops a message
/// (labrpc: `rand.Int() % 1000 < 100`, once for the request and once for
/// the reply).
pub(super) const DROP_PER_MILLE: u32 = 100;

/// The denominator of [`DROP_PER_MILLE`].
pub(super) const PER_MILLE: u32 = 1000;

/// Long reordering holds a reply with chance [`REORDER_NUMERATOR`] out of
/// [`REORDER_DENOMINATOR`] (labrpc: `rand.Intn(900) < 600`).
pub(super) const REORDER_NUMERATOR: u32 = 600;

/// The denominator of [`REORDER_NUMERATOR`].
pub(super) const REORDER_DENOMINATOR: u32 = 900;

/// A held reply waits at least this long, in ms (labrpc: `200 + ...`).
pub(super) const REORDER_BASE_MS: u64 = 200;

/// ... plus `rand(0..=rand(0..REORDER_SPREAD_MS))` ms (labrpc:
/// `rand.Intn(1 + rand.Intn(2000))`).
pub(super) const REORDER_SPREAD_MS: u64 = 2000;

/// How long an undeliverable message is held before it is counted as
/// dropped, with long delays on (labrpc: `rand.Int() % 7000` ms).
pub(super) const LONG_TIMEOUT_MS: u64 = 7000;

/// ... and with long delays off (labrpc: `rand.Int() % 100` ms).
pub(super) const SHORT_TIMEOUT_MS: u64 = 100;

/// The network's fault knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Faults {
    /// Off: every request is delayed 0..=26 ms and 10% of messages are dropped.
    pub(super) reliable: bool,
    /// On: two replies in three are held 200..=2199 ms.
    pub(super) long_reordering: bool,
    /// On: an undeliverable message is held up to 7 s instead of 100 ms
    /// before it is counted as dropped.
    pub(super) long_delays: bool,
}

impl Default for Faults {
    /// Reliable, no long reordering, no long delays (labrpc's defaults).
    fn default() -> Faults {
        Faults {
            reliable: true,
            long_reordering: false,
            long_delays: false,
        }
    }
}

/// What one message is: labrpc's request (the call) or reply (the answer),
/// as its [`Wire::is_reply`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A call: for Raft, RequestVote, AppendEntries, InstallSnapshot.
    Request,
    /// The answer to one.
    Reply,
}

impl Kind {
    /// Which kind `message` is.
    pub(super) fn of<M: Wire>(message: &M) -> Kind {
        if message.is_reply() {
            Kind::Reply
        } else {
            Kind::Request
        }
    }
}

/// What becomes of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Delivered after this delay, if its link and both ends are still up
    /// then.
    Deliver(Duration),
    /// Dropped now.
    Drop,
    /// Held this long, then dropped: labrpc's "no reply and eventual
    /// timeout" for a call to a disconnected or missing server.
    DropAfter(Duration),
}

impl Faults {
    /// The fate of a message of kind `kind` whose link is enabled and whose
    /// sender and receiver are live when it is sent.
    pub(super) fn fate<R: Rng>(&self, kind: Kind, rng: &mut R) -> Fate {
        let mut delay_ms = 0;
        if !self.reliable {
            // labrpc delays the call once, before the handler runs; its
            // reply travels back at once (unless long reordering holds it).
            if kind == Kind::Request {
                delay_ms = rng.random_range(0..=SHORT_DELAY_MAX_MS);
            }
            if rng.random_range(0..PER_MILLE) < DROP_PER_MILLE {
                return Fate::Drop;
            }
        }
        if kind == Kind::Reply
            && self.long_reordering
            && rng.random_range(0..REORDER_DENOMINATOR) < REORDER_NUMERATOR
        {
            let spread = rng.random_range(0..REORDER_SPREAD_MS);
            delay_ms += REORDER_BASE_MS + rng.random_range(0..=spread);
        }
        Fate::Deliver(Duration::from_millis(delay_ms))
    }

    /// The fate of a message that cannot be delivered when it is sent (its
    /// link is disabled, its sender's endpoint is dead, or its receiver is
    /// not registered).
    pub(super) fn unreachable<R: Rng>(&self, rng: &mut R) -> Fate {
        let bound = if self.long_delays {
            LONG_TIMEOUT_MS
        } else {
            SHORT_TIMEOUT_MS
        };
        Fate::DropAfter(Duration::from_millis(rng.random_range(0..bound)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Message, RequestVote, RequestVoteReply, Term};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn fates(faults: Faults, kind: Kind, n: usize) -> Vec<Fate> {
        let mut rng = StdRng::seed_from_u64(42);
        (0..n).map(|_| faults.fate(kind, &mut rng)).collect()
    }

    fn drops(fates: &[Fate]) -> usize {
        fates.iter().filter(|f| **f == Fate::Drop).count()
    }

    fn delays(fates: &[Fate]) -> Vec<Duration> {
        fates
            .iter()
            .filter_map(|f| match f {
                Fate::Deliver(d) => Some(*d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn kinds_follow_labrpc_calls_and_answers() {
        let request = Message::RequestVote(RequestVote {
            term: Term(1),
            last_log_index: crate::LogIndex(0),
            last_log_term: Term(0),
        });
        let reply = Message::RequestVoteReply(RequestVoteReply {
            term: Term(1),
            vote_granted: true,
        });
        assert_eq!(Kind::of(&request), Kind::Request);
        assert_eq!(Kind::of(&reply), Kind::Reply);
    }

    #[test]
    fn reliable_network_delivers_everything_at_once() {
        for kind in [Kind::Request, Kind::Reply] {
            let fates = fates(Faults::default(), kind, 1000);
            assert!(fates.iter().all(|f| *f == Fate::Deliver(Duration::ZERO)));
        }
    }

    #[test]
    fn unreliable_network_drops_a_tenth_and_delays_requests_at_most_26_ms() {
        let faults = Faults {
            reliable: false,
            ..Faults::default()
        };
        for kind in [Kind::Request, Kind::Reply] {
            let fates = fates(faults, kind, 10_000);
            let dropped = drops(&fates);
            assert!((800..=1200).contains(&dropped), "{dropped} dropped");
            let delays = delays(&fates);
            if kind == Kind::Reply {
                assert!(delays.iter().all(|d| d.is_zero()));
                continue;
            }
            assert!(
                delays
                    .iter()
                    .all(|d| *d <= Duration::from_millis(SHORT_DELAY_MAX_MS))
            );
            assert!(delays.contains(&Duration::ZERO));
            assert!(delays.contains(&Duration::from_millis(SHORT_DELAY_MAX_MS)));
        }
    }

    #[test]
    fn long_reordering_holds_two_thirds_of_replies_and_no_requests() {
        let faults = Faults {
            long_reordering: true,
            ..Faults::default()
        };
        let requests = fates(faults, Kind::Request, 1000);
        assert!(requests.iter().all(|f| *f == Fate::Deliver(Duration::ZERO)));
        let replies = delays(&fates(faults, Kind::Reply, 9000));
        assert_eq!(replies.len(), 9000);
        let held: Vec<_> = replies.iter().filter(|d| !d.is_zero()).collect();
        assert!((5600..=6400).contains(&held.len()), "{} held", held.len());
        let min = Duration::from_millis(REORDER_BASE_MS);
        let max = Duration::from_millis(REORDER_BASE_MS + REORDER_SPREAD_MS - 1);
        assert!(held.iter().all(|d| (min..=max).contains(*d)));
    }

    #[test]
    fn unreachable_messages_are_held_then_dropped() {
        let mut rng = StdRng::seed_from_u64(1);
        let short = Faults::default();
        let long = Faults {
            long_delays: true,
            ..Faults::default()
        };
        let mut longest = Duration::ZERO;
        for _ in 0..1000 {
            match short.unreachable(&mut rng) {
                Fate::DropAfter(d) => assert!(d < Duration::from_millis(SHORT_TIMEOUT_MS)),
                other => panic!("{other:?}"),
            }
            match long.unreachable(&mut rng) {
                Fate::DropAfter(d) => {
                    assert!(d < Duration::from_millis(LONG_TIMEOUT_MS));
                    longest = longest.max(d);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(longest > Duration::from_millis(SHORT_TIMEOUT_MS));
    }
}
