//! A manager process the benchmark started: ended and reaped when dropped, whatever happened.

use std::process::Child;

use crate::peers::manager::Error;

/// A child process ended (SIGTERM, then SIGKILL after 30 s) and reaped on drop.
pub(crate) struct OwnedChild(pub(crate) Child);

impl OwnedChild {
    /// SIGTERM (a manager stops what it runs, then exits), then waits for its exit, at most
    /// 30 s before SIGKILL.
    pub(crate) fn terminate(&mut self) -> Result<(), Error> {
        if self.0.try_wait()?.is_some() {
            return Ok(());
        }
        // Our child, not yet reaped: its PID is still its own.
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.0.try_wait()?.is_none() {
            if std::time::Instant::now() > deadline {
                self.0.kill()?;
                self.0.wait()?;
                return Err(format!("pid {pid} ignored SIGTERM for 30 s").into());
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Ok(())
    }
}

impl Drop for OwnedChild {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}
