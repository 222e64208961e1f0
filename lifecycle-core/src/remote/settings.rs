//! How connections to remote hosts are made: the manager's SSH options.

use std::path::PathBuf;
use std::time::Duration;

/// How a connection is made.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The `ssh` program.
    pub(crate) program: PathBuf,
    /// `ssh -F`: a client configuration instead of `~/.ssh/config`.
    pub(crate) config_file: Option<PathBuf>,
    /// `ConnectTimeout`, and the bound of the helper's first answer beyond it.
    pub(crate) connect_timeout: Duration,
    /// The state directory on remote hosts (`~/` is the remote home; `{machine}` that host's
    /// machine id, so that homes shared between hosts keep each host's records apart).
    pub(crate) state_dir: String,
    /// `StrictHostKeyChecking=accept-new` instead of `yes`.
    pub(crate) accept_new: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            program: PathBuf::from("ssh"),
            config_file: None,
            connect_timeout: Duration::from_secs(10),
            state_dir: "~/.local/state/lifecycle-remote/{machine}".to_owned(),
            accept_new: false,
        }
    }
}
