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
