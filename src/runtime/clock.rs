//! Time, behind a trait: the runtime reads the clock only through
//! [`Clock`], so tests (and the loom models) can inject their own.

use std::time::Instant;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant; never goes backwards.
    fn now(&self) -> Instant;
}

/// The operating system's monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to: for tests and the loom models,
/// which fire timers by advancing it and calling
/// [`crate::runtime::Ticker::fire_due`].
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    /// Nanoseconds advanced since `start`.
    elapsed: std::sync::atomic::AtomicU64,
}

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> ManualClock {
        ManualClock {
            start: Instant::now(),
            elapsed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed
            .fetch_add(nanos, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let nanos = self.elapsed.load(std::sync::atomic::Ordering::SeqCst);
        self.start + std::time::Duration::from_nanos(nanos)
    }
}
