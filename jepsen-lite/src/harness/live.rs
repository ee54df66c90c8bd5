//! What the two real-time backends (`threads`, `process`) share: the
//! history's recorder and each client's pacing. (The simulator records in
//! virtual time and paces with its event queue.)

use crate::harness::RunOptions;
use crate::harness::event::{self, Event, Kind, Process};
use crate::harness::generator::ClientOp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a paced client sleeps at most before it looks at the stop
/// flag again.
const NAP: Duration = Duration::from_millis(50);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The history being recorded: events get their index and time under one
/// lock, so the file is in time order.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
    ops: AtomicU64,
    ok: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
            ops: AtomicU64::new(0),
            ok: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the run began (the history's clock).
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Time since the run began.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Client operations completed so far, and of which `ok`.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.ops.load(Ordering::Relaxed),
            self.ok.load(Ordering::Relaxed),
        )
    }

    /// Appends `event`, giving it its index and time (its own are ignored).
    pub fn push(&self, mut event: Event) {
        let mut events = lock(&self.events);
        event.index = events.len() as u64;
        event.time = event::next_time(events.last().map(|e| e.time), self.now());
        if event.process != Process::Nemesis && event.kind != Kind::Invoke {
            self.ops.fetch_add(1, Ordering::Relaxed);
            if event.kind == Kind::Ok {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
        }
        events.push(event);
    }

    /// A nemesis event: `start-<fault>` with its description, or
    /// `stop-<fault>`.
    pub fn nemesis(&self, f: String, value: Json) {
        self.push(Event {
            index: 0,
            process: Process::Nemesis,
            kind: Kind::Info,
            f,
            key: None,
            value,
            time: 0,
            error: None,
            node: None,
        });
    }

    /// An event of client operation `op` by `process`; `node` is the
    /// server that answered, when known.
    pub fn client(
        &self,
        process: u64,
        kind: Kind,
        op: &ClientOp,
        value: Json,
        error: Option<String>,
        node: Option<u64>,
    ) {
        self.push(Event {
            index: 0,
            process: Process::Client(process),
            kind,
            f: op.f.to_string(),
            key: op.key.clone(),
            value,
            time: 0,
            error,
            node,
        });
    }

    /// The history recorded.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }
}

/// One client's pace: at its share of `--rate`, pauses uniform in `[0, 2 ×
/// clients / rate]` (the mean rate, without lockstep) from the previous
/// start; after an operation that overran its pause the next starts at
/// once, without catching up.
#[derive(Debug)]
pub struct Pacer {
    mean_gap: Option<Duration>,
    next: Instant,
    rng: StdRng,
}

impl Pacer {
    /// The pace of one of `options.clients` clients, drawn from `seed`.
    pub fn new(options: &RunOptions, seed: u64) -> Pacer {
        Pacer {
            mean_gap: options
                .rate
                .map(|rate| Duration::from_secs_f64(options.clients as f64 / rate)),
            next: Instant::now(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Waits until the next operation is due; false if `stop` was set
    /// meanwhile (or before).
    pub fn wait(&mut self, stop: &AtomicBool) -> bool {
        let Some(gap) = self.mean_gap else {
            return !stop.load(Ordering::Relaxed);
        };
        self.next += gap.mul_f64(self.rng.random_range(0.0..2.0));
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= self.next {
                // More than a nap late: the last operation overran its
                // pause; start from now rather than catch up.
                if now - self.next > NAP {
                    self.next = now;
                }
                return true;
            }
            std::thread::sleep((self.next - now).min(NAP));
        }
    }
}

/// What the nemesis does next ([`Schedule::due`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Nothing yet.
    Wait,
    /// Start a fault.
    Start,
    /// Stop the fault that is on.
    Stop,
}

/// When the nemesis switches: the first fault after `--nemesis-off`, each
/// lasting `--nemesis-on` with `--nemesis-off` between them; a fault
/// starts only if it ends before the clients stop (`--time`), so no window
/// falls after them.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    next_switch: Duration,
    on: Duration,
    off: Duration,
    time: Duration,
    idle: bool,
}

impl Schedule {
    /// The schedule of `options` (never due without a nemesis).
    pub fn new(options: &RunOptions) -> Schedule {
        Schedule {
            next_switch: options.nemesis_off,
            on: options.nemesis_on,
            off: options.nemesis_off,
            time: options.time,
            idle: options.nemesis.is_empty(),
        }
    }

    /// What is due at `elapsed` (since the clients started), given whether
    /// a fault is on now.
    pub fn due(&mut self, elapsed: Duration, fault_on: bool) -> Due {
        if self.idle || elapsed < self.next_switch {
            return Due::Wait;
        }
        if fault_on {
            self.next_switch += self.off;
            return Due::Stop;
        }
        if self.next_switch + self.on > self.time {
            self.idle = true;
            return Due::Wait;
        }
        self.next_switch += self.on;
        Due::Start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_alternate_and_none_starts_that_would_outlast_the_clients() {
        let options = RunOptions {
            time: Duration::from_secs(9),
            nemesis_on: Duration::from_secs(2),
            nemesis_off: Duration::from_secs(1),
            ..RunOptions::default()
        };
        let mut schedule = Schedule::new(&options);
        let mut on = false;
        let mut switches = Vec::new();
        for tenth in 0..=90 {
            let at = Duration::from_millis(100 * tenth);
            match schedule.due(at, on) {
                Due::Wait => {}
                Due::Start => {
                    on = true;
                    switches.push(("start", tenth));
                }
                Due::Stop => {
                    on = false;
                    switches.push(("stop", tenth));
                }
            }
        }
        // Starts at 1 s and 4 s; one at 7 s would end at 9 s, and does.
        // None at 10 s.
        assert_eq!(
            switches,
            [
                ("start", 10),
                ("stop", 30),
                ("start", 40),
                ("stop", 60),
                ("start", 70),
                ("stop", 90)
            ]
        );
        let quiet = RunOptions {
            nemesis: Vec::new(),
            ..options
        };
        assert_eq!(
            Schedule::new(&quiet).due(Duration::from_secs(5), false),
            Due::Wait
        );
    }
}
