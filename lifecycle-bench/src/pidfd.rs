//! Processes the benchmark signals, pinned by a pidfd: a PID is only a number, which another
//! process may take once this one is reaped; a pidfd names one process for as long as it is
//! open. Every signal the benchmark sends goes through one, opened while the process was
//! known to be the one meant (our unreaped child, or a process whose parent is ours).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::Signal;

/// Opens a pidfd on `pid`: readable once the process has exited, whoever its parent is.
#[allow(unsafe_code)]
pub(crate) fn open(pid: u32) -> std::io::Result<OwnedFd> {
    let raw = i32::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, raw, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(std::io::Error::other)?;
    // SAFETY: the kernel just made this descriptor for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to the process of `pidfd` (an error once it has been reaped).
#[allow(unsafe_code)]
pub(crate) fn signal(pidfd: &OwnedFd, signal: Signal) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal(pidfd, sig, info = NULL, flags = 0) reads no memory of ours.
    let ret = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as i32,
            std::ptr::null::<nix::libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Waits, at most `timeout`, for the process of `pidfd` to exit; whether it did.
pub(crate) fn wait_exit(pidfd: &OwnedFd, timeout: Duration) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        pidfd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    matches!(nix::poll::poll(&mut fds, millis), Ok(n) if n > 0)
}

/// The parent of `pid` (`/proc/PID/stat` field 4), if it still runs.
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// A pidfd on `pid` if, once it is open, `pid` is a child of `parent`: the process the pidfd
/// names is then that child, whatever later happens to the number.
pub(crate) fn child_of(parent: u32, pid: u32) -> Option<OwnedFd> {
    let pidfd = open(pid).ok()?;
    (parent_of(pid) == Some(parent)).then_some(pidfd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_signalled_and_seen_to_exit_through_its_pidfd() -> std::io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("60").spawn()?;
        let pidfd = child_of(std::process::id(), child.id())
            .ok_or_else(|| std::io::Error::other("a child of ours not recognised as one"))?;
        assert!(!wait_exit(&pidfd, Duration::ZERO));
        signal(&pidfd, Signal::SIGKILL)?;
        assert!(wait_exit(&pidfd, Duration::from_secs(10)));
        child.wait()?;
        assert!(
            signal(&pidfd, Signal::SIGKILL).is_err(),
            "reaped: no process left to signal"
        );
        assert!(child_of(std::process::id(), 1).is_none());
        Ok(())
    }
}
