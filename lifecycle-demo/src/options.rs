//! What a run of the rbee demo is told: the stand-in binary, the pace, where the hive runs.

use std::path::PathBuf;

use crate::HiveHost;

/// The options of [`rbee`](crate::rbee()). [`Options::new`] gives the defaults: normal pace,
/// the hive on this machine, the user's ssh configuration, state in a temporary directory.
///
/// ```
/// use lifecycle_demo::Options;
/// let mut options = Options::new("/usr/local/bin/rbee-stand-in".into());
/// options.fast = true;
/// options.hive_host = Some("rbee@gpu1:22".parse().unwrap());
/// assert!(options.ssh_config.is_none() && options.state_dir.is_none());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The binary every daemon runs: an executable that calls
    /// [`stand_in_if_asked`](crate::stand_in_if_asked) first thing. With the hive over SSH, the
    /// same path must hold it on the hive's host.
    pub stand_in: PathBuf,
    /// Shorter stand-in delays (models that load in 100 ms), for the tests.
    pub fast: bool,
    /// Where the hive runs: `None` for this machine (`127.0.0.1`, one of the hive spec's
    /// `local_hosts`); a host that is not one of them runs the hive over SSH.
    pub hive_host: Option<HiveHost>,
    /// An ssh client configuration file, for `ssh -F` (`DaemonManager::builder().ssh_config`);
    /// `None`: the user's own.
    pub ssh_config: Option<PathBuf>,
    /// The manager's state directory (records and logs); `None`: a temporary directory,
    /// removed at the end. It must be the user's own (see the library's rules).
    pub state_dir: Option<PathBuf>,
    /// The state directory on the hive's host (`remote_state_dir`); `None`: the library's
    /// default, under the remote user's `~/.local/state`.
    pub remote_state_dir: Option<String>,
}

impl Options {
    /// The defaults, with `stand_in` as every daemon's binary.
    ///
    /// ```
    /// let options = lifecycle_demo::Options::new(std::env::current_exe().unwrap());
    /// assert!(!options.fast && options.hive_host.is_none());
    /// ```
    pub fn new(stand_in: PathBuf) -> Options {
        Options {
            stand_in,
            fast: false,
            hive_host: None,
            ssh_config: None,
            state_dir: None,
            remote_state_dir: None,
        }
    }
}
