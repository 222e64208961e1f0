//! What happens when a daemon exits without being asked to.

use std::time::Duration;

use crate::Backoff;

/// The restart policy of a spec.
///
/// ```
/// use lifecycle_spec::{Restart, RestartPolicy};
/// assert_eq!(Restart::NEVER.policy, RestartPolicy::Never);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Restart {
    /// When to restart.
    pub policy: RestartPolicy,
    /// At most this many restarts in a row (a stable period resets the count), then Failed.
    pub max: u32,
    /// Delays between restarts.
    pub backoff: Backoff,
    /// Running this long without exiting resets the restart count and the backoff.
    pub reset_after: Duration,
}

/// When a daemon that exited on its own is restarted.
///
/// ```
/// assert_eq!("on-failure".parse(), Ok(lifecycle_spec::RestartPolicy::OnFailure));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// Never: an exit is final.
    Never,
    /// After a non-zero exit status or a death by signal.
    OnFailure,
    /// After any exit.
    Always,
}

impl Restart {
    /// `max` when the spec gives none.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Restart::DEFAULT_MAX, 5);
    /// ```
    pub const DEFAULT_MAX: u32 = 5;
    /// `reset_after` when the spec gives none.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Restart::DEFAULT_RESET_AFTER.as_secs(), 60);
    /// ```
    pub const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(60);
    /// No restarts: the default.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Restart::NEVER.policy, lifecycle_spec::RestartPolicy::Never);
    /// ```
    pub const NEVER: Restart = Restart {
        policy: RestartPolicy::Never,
        max: Restart::DEFAULT_MAX,
        backoff: Backoff::RESTART,
        reset_after: Restart::DEFAULT_RESET_AFTER,
    };
}

impl RestartPolicy {
    /// The spellings a spec may use.
    ///
    /// ```
    /// assert!(lifecycle_spec::RestartPolicy::NAMES.contains(&"on-failure"));
    /// ```
    pub const NAMES: [&'static str; 3] = ["never", "on-failure", "always"];
}

impl std::str::FromStr for RestartPolicy {
    type Err = ();

    fn from_str(text: &str) -> Result<RestartPolicy, ()> {
        match text {
            "never" => Ok(RestartPolicy::Never),
            "on-failure" => Ok(RestartPolicy::OnFailure),
            "always" => Ok(RestartPolicy::Always),
            _ => Err(()),
        }
    }
}
