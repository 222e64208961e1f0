//! Readiness: the wait (first probe at once, then the spec's backoff, never past the deadline),
//! the polled probes (HTTP, TCP), and the event probes (sd_notify, a log line).

pub(crate) mod log_watch;
pub(crate) mod notify;
pub(crate) mod probe;
pub(crate) mod wait;
