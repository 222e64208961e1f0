//! Watching a daemon's process for its exit: the pidfd turns readable, the child is reaped at
//! once (no zombie), and the status goes to everyone waiting on it.

use std::fmt;
use std::sync::Arc;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::sync::watch;

use crate::pidfd::PidFd;

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
    /// Whether it exited with code 0.
    ///
    /// ```
    /// assert!(lifecycle_core::Exit { code: Some(0), signal: None }.success());
    /// ```
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "killed by {signal}"),
            // A process adopted from a record is not our child: its status is not ours to read.
            (None, None) => f.write_str("exited (status unknown: not a child of this process)"),
        }
    }
}

/// The receiving side: `None` while the process runs.
pub(crate) type ExitWatch = watch::Receiver<Option<Exit>>;

/// Waits until `watch` reports the exit.
pub(crate) async fn exited(watch: &mut ExitWatch) -> Exit {
    match watch.wait_for(Option::is_some).await {
        Ok(exit) => exit.clone().unwrap_or(Exit {
            code: None,
            signal: None,
        }),
        // The watcher is gone only if the runtime is shutting down.
        Err(_) => Exit {
            code: None,
            signal: None,
        },
    }
}

/// The watch of a process known to have exited.
pub(crate) fn already_exited() -> ExitWatch {
    watch::channel(Some(Exit {
        code: None,
        signal: None,
    }))
    .1
}

/// Watches a process. For a child of this process (`reap`), the status is read and the child
/// reaped as soon as it exits.
pub(crate) fn watch(pidfd: Arc<PidFd>, reap: bool) -> ExitWatch {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        pidfd.exited().await;
        let exit = if reap {
            reap_child(pidfd.pid())
        } else {
            Exit {
                code: None,
                signal: None,
            }
        };
        let _ = tx.send(Some(exit));
    });
    rx
}

/// Reaps a child that has exited and reads its status. Its pidfd said it exited, so the wait
/// returns at once.
pub(crate) fn reap_child(pid: u32) -> Exit {
    let unknown = Exit {
        code: None,
        signal: None,
    };
    let Ok(raw) = i32::try_from(pid) else {
        return unknown;
    };
    loop {
        match waitpid(Pid::from_raw(raw), None) {
            Ok(WaitStatus::Exited(_, code)) => {
                return Exit {
                    code: Some(code),
                    signal: None,
                };
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                return Exit {
                    code: None,
                    signal: Some(signal.as_str().to_owned()),
                };
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return unknown,
        }
    }
}
