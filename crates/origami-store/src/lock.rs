//! The one poison-recovering `Mutex::lock` of the crate.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering the guard if a thread panicked while holding it.
///
/// Every mutex in this crate guards state that a panic cannot leave half-updated (counters, flags,
/// maps updated in one statement), so refusing to serve after a panic elsewhere would only turn
/// one failed request into an outage.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
