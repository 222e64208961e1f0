//! The stop chain: each step asks the daemon to go, then waits up to its grace.

use std::time::Duration;

use crate::{Signal, Template};

/// One step of a stop chain. After the last step's grace, SIGKILL goes to the process group.
///
/// ```
/// use lifecycle_spec::StopStep;
/// let step = StopStep::DEFAULT;
/// assert_eq!(step.grace(), std::time::Duration::from_secs(5));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopStep {
    /// Send `signal` to the daemon's process group, wait up to `grace` for it to exit.
    #[non_exhaustive]
    Signal {
        /// The signal.
        signal: Signal,
        /// How long to wait for the exit before the next step.
        grace: Duration,
    },
    /// POST to `url` (a shutdown endpoint), wait up to `grace`. Only as the first step.
    #[non_exhaustive]
    HttpPost {
        /// The shutdown URL, used exactly as written.
        url: Template,
        /// How long to wait for the exit before the next step.
        grace: Duration,
    },
}

impl StopStep {
    /// `{ signal, grace }`.
    ///
    /// ```
    /// use lifecycle_spec::{Signal, StopStep};
    /// let step = StopStep::signal(Signal::Int, std::time::Duration::ZERO);
    /// assert!(step.grace().is_zero());
    /// ```
    pub const fn signal(signal: Signal, grace: Duration) -> StopStep {
        StopStep::Signal { signal, grace }
    }

    /// `{ http_post: url, grace }`.
    ///
    /// ```
    /// use lifecycle_spec::{StopStep, Template};
    /// let step = StopStep::http_post(Template::literal("http://127.0.0.1:1/stop"), std::time::Duration::ZERO);
    /// assert!(step.grace().is_zero());
    /// ```
    pub const fn http_post(url: Template, grace: Duration) -> StopStep {
        StopStep::HttpPost { url, grace }
    }

    /// `grace` when a step gives none: 5s.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::StopStep::DEFAULT_GRACE.as_secs(), 5);
    /// ```
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// The chain of a spec without `stop:` is this one step: SIGTERM, 5s.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::StopStep::DEFAULT.grace().as_secs(), 5);
    /// ```
    pub const DEFAULT: StopStep = StopStep::Signal {
        signal: Signal::Term,
        grace: StopStep::DEFAULT_GRACE,
    };

    /// How long this step waits for the exit.
    pub const fn grace(&self) -> Duration {
        match self {
            StopStep::Signal { grace, .. } | StopStep::HttpPost { grace, .. } => *grace,
        }
    }
}
