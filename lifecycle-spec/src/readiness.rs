//! How a daemon shows it is ready.

use std::time::Duration;

use crate::{Backoff, Str, Template};

/// The readiness check of a spec: one probe, retried with backoff until a deadline.
///
/// ```
/// use lifecycle_spec::{Probe, Readiness};
/// let r = Readiness::new(Probe::Notify);
/// assert_eq!(r.deadline, Readiness::DEFAULT_DEADLINE);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Readiness {
    /// The one probe.
    pub probe: Probe,
    /// The whole start (spawn to ready) may take no longer.
    pub deadline: Duration,
    /// One probe attempt may take no longer.
    pub attempt_timeout: Duration,
    /// Delays between attempts; the first attempt is immediate.
    pub backoff: Backoff,
}

impl Readiness {
    /// `deadline` when the spec gives none: 30s.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Readiness::DEFAULT_DEADLINE.as_secs(), 30);
    /// ```
    pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
    /// `attempt_timeout` when the spec gives none: 2s.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Readiness::DEFAULT_ATTEMPT_TIMEOUT.as_secs(), 2);
    /// ```
    pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

    /// `probe` with the default deadline, attempt timeout and backoff.
    ///
    /// ```
    /// let r = lifecycle_spec::Readiness::new(lifecycle_spec::Probe::Notify);
    /// assert_eq!(r.backoff, lifecycle_spec::Backoff::READINESS);
    /// ```
    pub const fn new(probe: Probe) -> Readiness {
        Readiness {
            probe,
            deadline: Readiness::DEFAULT_DEADLINE,
            attempt_timeout: Readiness::DEFAULT_ATTEMPT_TIMEOUT,
            backoff: Backoff::READINESS,
        }
    }
}

/// A readiness probe.
///
/// ```
/// use lifecycle_spec::{Probe, Template};
/// let probe = Probe::http(Template::parse("http://127.0.0.1:{port}/health").unwrap());
/// assert_eq!(probe.kind(), "http");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// A GET on the URL answers 2xx. The URL is used exactly as written.
    #[non_exhaustive]
    Http {
        /// The full probe URL.
        url: Template,
    },
    /// A TCP connect to `host:port` succeeds.
    #[non_exhaustive]
    Tcp {
        /// `host:port`.
        addr: Template,
    },
    /// The daemon sends `READY=1` on `$NOTIFY_SOCKET` (sd_notify).
    Notify,
    /// A line of the daemon's output matches the regex.
    #[non_exhaustive]
    Log {
        /// The regex (not a template: braces are regex syntax here).
        pattern: Str,
    },
}

impl Probe {
    /// `{ http: url }`.
    ///
    /// ```
    /// use lifecycle_spec::{Probe, Template};
    /// assert_eq!(Probe::http(Template::literal("http://127.0.0.1:1/")).kind(), "http");
    /// ```
    pub const fn http(url: Template) -> Probe {
        Probe::Http { url }
    }

    /// `{ tcp: addr }`.
    ///
    /// ```
    /// use lifecycle_spec::{Probe, Template};
    /// assert_eq!(Probe::tcp(Template::literal("127.0.0.1:1")).kind(), "tcp");
    /// ```
    pub const fn tcp(addr: Template) -> Probe {
        Probe::Tcp { addr }
    }

    /// `{ log: pattern }`.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Probe::log("listening").kind(), "log");
    /// ```
    pub fn log(pattern: impl Into<Str>) -> Probe {
        Probe::Log {
            pattern: pattern.into(),
        }
    }

    /// The probe's key in a spec: `http`, `tcp`, `notify`, `log`.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Probe::Notify.kind(), "notify");
    /// ```
    pub const fn kind(&self) -> &'static str {
        match self {
            Probe::Http { .. } => "http",
            Probe::Tcp { .. } => "tcp",
            Probe::Notify => "notify",
            Probe::Log { .. } => "log",
        }
    }
}
