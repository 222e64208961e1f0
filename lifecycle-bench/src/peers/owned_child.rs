//! A manager process the benchmark started: ended and reaped when dropped, whatever happened.

use std::os::fd::OwnedFd;
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::peers::manager::Error;
use lifecycle_tests::pidfd;

/// How long a manager may take to end after it is told to.
const PATIENCE: Duration = Duration::from_secs(30);

/// A child process, signalled through a pidfd opened while it was our unreaped child, and
/// ended (SIGTERM, then SIGKILL after [`PATIENCE`]) and reaped on drop.
pub(crate) struct OwnedChild {
    child: Child,
    pidfd: OwnedFd,
}

impl OwnedChild {
    /// Takes `child`, just spawned (not reaped, so its PID is still its own).
    pub(crate) fn new(child: Child) -> Result<OwnedChild, Error> {
        let pidfd = pidfd::open(child.id())?;
        Ok(OwnedChild { child, pidfd })
    }

    /// Its PID (valid until it is reaped, which only this value does).
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for its exit, at most [`PATIENCE`] (it was told to end by other means), then
    /// SIGKILL; reaps it. An error if it had to be killed.
    pub(crate) fn end(&mut self) -> Result<(), Error> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let exited = pidfd::wait_exit(&self.pidfd, PATIENCE);
        if !exited {
            pidfd::signal(&self.pidfd, Signal::SIGKILL)?;
        }
        self.child.wait()?;
        if exited {
            Ok(())
        } else {
            Err(format!("pid {} did not end within {PATIENCE:?}: killed", self.id()).into())
        }
    }

    /// SIGTERM (a manager stops what it runs, then exits), then [`OwnedChild::end`].
    pub(crate) fn terminate(&mut self) -> Result<(), Error> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        pidfd::signal(&self.pidfd, Signal::SIGTERM)?;
        self.end()
    }
}

impl Drop for OwnedChild {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}
