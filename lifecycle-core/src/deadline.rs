//! Deadlines as tokio instants, saturating: a duration too long to add (a grace of
//! `Duration::MAX`) is a deadline far in the future, never an overflow.

use std::time::{Duration, Instant};

/// The instant `started + deadline` (far ahead when that overflows).
pub(crate) fn deadline_of(started: Instant, deadline: Duration) -> tokio::time::Instant {
    match started.checked_add(deadline) {
        Some(at) => tokio::time::Instant::from_std(at),
        None => far_future(),
    }
}

/// `now + duration`, or far in the future when that overflows (a grace of `Duration::MAX`).
pub(crate) fn deadline_in(duration: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(duration).unwrap_or_else(far_future)
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}
