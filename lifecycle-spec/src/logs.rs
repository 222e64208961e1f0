//! Where a daemon's output goes.

use crate::Template;

/// Per-daemon log files: stdout and stderr go to `<dir>/<name>.log`, rotated at `max_size`,
/// `keep` old files kept.
///
/// ```
/// let logs = lifecycle_spec::Logs::DEFAULT;
/// assert_eq!(logs.max_size, 10 * 1024 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Logs {
    /// The directory; `None`: `logs/` in the state directory.
    pub dir: Option<Template>,
    /// Rotate when the current file reaches this many bytes.
    pub max_size: u64,
    /// Rotated files kept.
    pub keep: u32,
}

impl Logs {
    /// Logs when the spec gives no `logs:`: state dir, 10MiB, 3 kept.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Logs::DEFAULT.keep, 3);
    /// ```
    pub const DEFAULT: Logs = Logs {
        dir: None,
        max_size: 10 * 1024 * 1024,
        keep: 3,
    };
}
