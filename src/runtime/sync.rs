//! Every lock, condition variable, atomic, thread and channel the runtime
//! uses comes from here, so that the loom build (feature `loom`) swaps them
//! all for loom's model-checked versions in one place.
//!
//! Under the feature, the runtime can only run inside `loom::model`: the
//! models in `loom-tests/` drive it there. Trait-object handles
//! (`Arc<dyn Persister>`, `Arc<dyn Transport>`, `Arc<dyn Clock>`) stay
//! `std::sync::Arc` in both builds: they are shared, never synchronised on,
//! and loom's `Arc` cannot hold an unsized value.

#[cfg(not(feature = "loom"))]
pub use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(feature = "loom"))]
pub use std::sync::mpsc;
#[cfg(not(feature = "loom"))]
pub use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(feature = "loom"))]
pub use std::thread;

#[cfg(feature = "loom")]
pub use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(feature = "loom")]
pub use loom::sync::mpsc;
#[cfg(feature = "loom")]
pub use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(feature = "loom")]
pub use loom::thread;

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
/// [`lock`] does. Under loom it never times out (loom has no time): it
/// returns when notified, which the models do explicitly.
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
