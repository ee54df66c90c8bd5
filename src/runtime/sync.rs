//! Every lock, condition variable, atomic, thread and channel the runtime
//! uses comes from here, so that the loom build can swap them all for
//! loom's model-checked versions in one place.

pub use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
pub use std::sync::mpsc;
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};
pub use std::thread;

/// Locks `mutex`, recovering the data if a thread panicked while holding
/// it: every critical section of the runtime leaves its data consistent at
/// each step, so a poisoned lock holds nothing half-done.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `condvar`, recovering from poisoning as [`lock`] does.
pub fn wait<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar
        .wait(guard)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `condvar` for at most `timeout`, recovering from poisoning as
/// [`lock`] does.
pub fn wait_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    match condvar.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}
