//! The simulated network's faults: loss, duplication, long delays
//! (reordering) and partitions.

use rand::Rng;
use rand::rngs::StdRng;

/// Which faults the network and the nemesis inject while chaos lasts.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message takes a long delay (and so is reordered).
    pub long_delay: f64,
    /// The nemesis partitions the network (random halves, isolated nodes).
    pub partitions: bool,
    /// The nemesis crashes servers and restarts them from stable storage.
    pub crashes: bool,
    /// Probability, per effect executed, that the server crashes right
    /// before it: only a prefix of a handler's effects reaches storage and
    /// the network. Needs `crashes`.
    pub crash_mid_step: f64,
}

impl Faults {
    /// A perfect network and no nemesis.
    pub fn none() -> Faults {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            long_delay: 0.0,
            partitions: false,
            crashes: false,
            crash_mid_step: 0.0,
        }
    }

    /// Every fault on, at rates that still let the cluster make progress.
    pub fn all() -> Faults {
        Faults {
            loss: 0.1,
            duplicate: 0.1,
            long_delay: 0.05,
            partitions: true,
            crashes: true,
            crash_mid_step: 0.002,
        }
    }
}

/// Message delays in virtual milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delays {
    /// Normal delivery takes `1..=normal_ms`.
    pub normal_ms: u64,
    /// A long delay takes up to this many milliseconds.
    pub long_ms: u64,
}

/// What can happen to a message in flight: the one message model both
/// simulators use (`simulate` builds it from [`Faults`] and [`Delays`],
/// jepsen-lite from its nemesis's `unreliable` and `reorder` faults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MessageFaults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that it is delivered twice (each copy delayed on its
    /// own).
    pub duplicate: f64,
    /// Every message takes `delay.0..=delay.1`.
    pub delay: (u64, u64),
    /// Plus `0..=jitter` more.
    pub jitter: u64,
    /// Probability that it is held back `long.0..=long.1` more (and so
    /// overtaken by later messages).
    pub long_delay: f64,
    /// The range of a long delay.
    pub long: (u64, u64),
}

impl MessageFaults {
    /// A perfect network whose messages take `delay.0..=delay.1`.
    pub fn reliable(delay: (u64, u64)) -> MessageFaults {
        MessageFaults {
            loss: 0.0,
            duplicate: 0.0,
            delay,
            jitter: 0,
            long_delay: 0.0,
            long: (0, 0),
        }
    }

    /// `simulate`'s network: `faults` while chaos lasts (`faulty`), a
    /// perfect one after; normal delays of `1..=normal_ms`, long ones of
    /// `1..=long_ms` more.
    pub fn of(faults: &Faults, delays: Delays, faulty: bool) -> MessageFaults {
        let reliable = MessageFaults::reliable((1, delays.normal_ms.max(1)));
        if !faulty {
            return reliable;
        }
        MessageFaults {
            loss: faults.loss,
            duplicate: faults.duplicate,
            long_delay: faults.long_delay,
            long: (1, delays.long_ms.max(1)),
            ..reliable
        }
    }
}

/// What happens to one message sent on the simulated network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Lost in transit.
    Lost,
    /// Delivered after each of these delays (two for a duplicate).
    Delivered(Vec<u64>),
}

/// Decides a message's fate. Draws from `rng` only for the faults that
/// are on, so that turning one off changes no other draw.
pub fn fate(rng: &mut StdRng, faults: &MessageFaults) -> Fate {
    if faults.loss > 0.0 && rng.random_bool(faults.loss) {
        return Fate::Lost;
    }
    let delay = |rng: &mut StdRng| {
        let mut delay = rng.random_range(faults.delay.0..=faults.delay.1.max(faults.delay.0));
        if faults.jitter > 0 {
            delay += rng.random_range(0..=faults.jitter);
        }
        if faults.long_delay > 0.0 && rng.random_bool(faults.long_delay) {
            delay += rng.random_range(faults.long.0..=faults.long.1.max(faults.long.0));
        }
        delay
    };
    let mut delivered = vec![delay(rng)];
    if faults.duplicate > 0.0 && rng.random_bool(faults.duplicate) {
        delivered.push(delay(rng));
    }
    Fate::Delivered(delivered)
}

/// Which side of a partition each server is on; servers on different sides
/// cannot exchange messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    side: Vec<u8>,
}

impl Partition {
    /// Everyone can reach everyone.
    pub fn healed(servers: usize) -> Partition {
        Partition {
            side: vec![0; servers],
        }
    }

    /// A random split: random halves, or one server isolated.
    pub fn random(rng: &mut StdRng, servers: usize) -> Partition {
        let mut side = vec![0; servers];
        if rng.random_bool(0.5) {
            side[rng.random_range(0..servers)] = 1;
        } else {
            for s in side.iter_mut() {
                *s = u8::from(rng.random_bool(0.5));
            }
        }
        Partition { side }
    }

    /// Whether servers `a` and `b` (by position) can exchange messages.
    pub fn connected(&self, a: usize, b: usize) -> bool {
        self.side.get(a) == self.side.get(b)
    }

    /// Whether no server is cut off.
    pub fn is_healed(&self) -> bool {
        self.side.iter().all(|&s| s == self.side[0])
    }
}
