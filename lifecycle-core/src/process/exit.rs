//! How a daemon's process ended, and reaping a child: only once its pidfd says it exited, and
//! never with a blocking wait.

use std::fmt;

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How a daemon's process ended.
///
/// ```
/// let exit = lifecycle_core::Exit { code: Some(3), signal: None };
/// assert_eq!(exit.to_string(), "exit code 3");
/// assert!(!exit.success());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it (`SIGKILL`), if one did.
    pub signal: Option<String>,
}

impl Exit {
    /// The exit of a process that is not a child of this process: its status is its parent's.
    ///
    /// ```
    /// assert!(lifecycle_core::Exit::UNKNOWN.is_unknown());
    /// ```
    pub const UNKNOWN: Exit = Exit {
        code: None,
        signal: None,
    };

    /// Whether it exited with code 0.
    ///
    /// ```
    /// assert!(lifecycle_core::Exit { code: Some(0), signal: None }.success());
    /// ```
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Whether the status is unknown (see [`Exit::UNKNOWN`]).
    ///
    /// ```
    /// assert!(!lifecycle_core::Exit { code: Some(0), signal: None }.is_unknown());
    /// ```
    pub fn is_unknown(&self) -> bool {
        self.code.is_none() && self.signal.is_none()
    }

    /// Reads back what [`Display`](fmt::Display) wrote (in records).
    pub(crate) fn parse(text: &str) -> Exit {
        if let Some(code) = text.strip_prefix("exit code ").and_then(|c| c.parse().ok()) {
            return Exit {
                code: Some(code),
                signal: None,
            };
        }
        match text.strip_prefix("killed by ") {
            Some(signal) => Exit {
                code: None,
                signal: Some(signal.to_owned()),
            },
            None => Exit::UNKNOWN,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "killed by {signal}"),
            (None, None) => f.write_str("exited (status unknown: not a child of this process)"),
        }
    }
}

/// Reaps child `pid` if it has exited, without blocking: `None` while it runs. A child that is
/// not (or no longer) ours to wait for reads as [`Exit::UNKNOWN`].
pub(crate) fn try_reap(pid: u32) -> Option<Exit> {
    let Ok(raw) = i32::try_from(pid) else {
        return Some(Exit::UNKNOWN);
    };
    loop {
        return match waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => None,
            Ok(WaitStatus::Exited(_, code)) => Some(Exit {
                code: Some(code),
                signal: None,
            }),
            Ok(WaitStatus::Signaled(_, signal, _)) => Some(Exit {
                code: None,
                signal: Some(signal.as_str().to_owned()),
            }),
            // Stopped, continued: not an exit.
            Ok(_) => None,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => Some(Exit::UNKNOWN),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back() {
        for exit in [
            Exit {
                code: Some(3),
                signal: None,
            },
            Exit {
                code: None,
                signal: Some("SIGKILL".into()),
            },
            Exit::UNKNOWN,
        ] {
            assert_eq!(Exit::parse(&exit.to_string()), exit);
        }
    }

    #[test]
    fn a_running_child_is_not_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert_eq!(try_reap(child.id()), None);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
