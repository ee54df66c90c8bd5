//! Virtual time and the queue of events waiting for it.
//!
//! Events are ordered by (time, order of scheduling): two events at the
//! same instant run in the order they were scheduled, so a run depends on
//! nothing but its seed. Time is a plain count whose unit the driver
//! picks (milliseconds for `simulate`, nanoseconds for jepsen-lite).

use std::collections::BTreeMap;

/// A clock and the events scheduled on it.
#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), E>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> EventQueue<E> {
        EventQueue {
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
        }
    }

    /// The current time: that of the last event taken.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Schedules `event` `after` units from now.
    pub fn schedule(&mut self, after: u64, event: E) {
        self.schedule_at(self.now.saturating_add(after), event);
    }

    /// Schedules `event` at time `at` (now, if `at` has passed).
    pub fn schedule_at(&mut self, at: u64, event: E) {
        self.seq += 1;
        self.events.insert((at.max(self.now), self.seq), event);
    }

    /// When the next event is due.
    pub fn next_time(&self) -> Option<u64> {
        self.events.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Takes the next event, advancing the clock to its time.
    pub fn pop(&mut self) -> Option<E> {
        let ((at, _), event) = self.events.pop_first()?;
        self.now = at;
        Some(event)
    }

    /// Moves the clock forward to `to` (never back) without taking events.
    pub fn advance_to(&mut self, to: u64) {
        self.now = self.now.max(to);
    }

    /// How many events wait.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_run_in_time_order_then_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.schedule(5, "b");
        q.schedule(1, "a");
        q.schedule(5, "c");
        assert_eq!(q.next_time(), Some(1));
        assert_eq!((q.pop(), q.now()), (Some("a"), 1));
        // Scheduled in the past: runs now.
        q.schedule_at(0, "d");
        assert_eq!((q.pop(), q.now()), (Some("d"), 1));
        assert_eq!([q.pop(), q.pop(), q.pop()], [Some("b"), Some("c"), None]);
        assert_eq!(q.now(), 5);
        q.advance_to(3);
        assert_eq!(q.now(), 5);
    }
}
