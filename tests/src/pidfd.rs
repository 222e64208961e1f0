//! Processes the tests and the benchmark signal, pinned by a pidfd. A PID is only a number,
//! which another process may take once this one is reaped; a pidfd names one process for as
//! long as it is open. Every signal sent to a process found by number (in `/proc`, in a
//! file) goes through a pidfd opened first and checked after: the check then speaks of the
//! process the pidfd names (see [`open_if`]).
//!
//! ```
//! use std::time::Duration;
//! use lifecycle_tests::pidfd;
//! use nix::sys::signal::Signal;
//!
//! let mut child = std::process::Command::new("sleep").arg("60").spawn()?;
//! let pinned = pidfd::child_of(std::process::id(), child.id()).expect("our child");
//! pidfd::signal(&pinned, Signal::SIGKILL)?;
//! assert!(pidfd::wait_exit(&pinned, Duration::from_secs(10)));
//! child.wait()?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::signal::Signal;

/// `pidfd_send_signal`'s flag for the process group whose id is the pidfd's process's (Linux
/// 6.9+): found through the leader's `struct pid`, not its number, so a reused number is
/// never signalled.
const PIDFD_SIGNAL_PROCESS_GROUP: nix::libc::c_uint = 1 << 2;

/// Opens a pidfd on `pid`: readable once the process has exited, whoever its parent is.
///
/// ```
/// let me = lifecycle_tests::pidfd::open(std::process::id())?;
/// assert!(!lifecycle_tests::pidfd::wait_exit(&me, std::time::Duration::ZERO));
/// # Ok::<(), std::io::Error>(())
/// ```
#[allow(unsafe_code)]
pub fn open(pid: u32) -> std::io::Result<OwnedFd> {
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

/// A pidfd on `pid` if, once it is open, `pid` passes `check` (its parent, start time,
/// namespace…, read from `/proc` by number). A process keeps its number for life, so if the
/// check still holds after the pidfd is open, the pidfd names the process that was checked.
///
/// ```
/// use lifecycle_tests::{harness, pidfd};
/// let me = std::process::id();
/// let started = harness::start_time(me);
/// assert!(pidfd::open_if(me, |pid| harness::start_time(pid) == started).is_some());
/// assert!(pidfd::open_if(me, |_| false).is_none());
/// ```
pub fn open_if(pid: u32, check: impl FnOnce(u32) -> bool) -> Option<OwnedFd> {
    let pidfd = open(pid).ok()?;
    check(pid).then_some(pidfd)
}

/// A pidfd on `pid` if, once it is open, `pid` is a child of `parent`.
///
/// ```
/// let mut child = std::process::Command::new("true").spawn()?;
/// assert!(lifecycle_tests::pidfd::child_of(std::process::id(), child.id()).is_some());
/// assert!(lifecycle_tests::pidfd::child_of(std::process::id(), 1).is_none());
/// child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn child_of(parent: u32, pid: u32) -> Option<OwnedFd> {
    open_if(pid, |pid| parent_of(pid) == Some(parent))
}

/// The parent of `pid` (`/proc/PID/stat` field 4), if it still runs.
///
/// ```
/// let me = std::process::id();
/// assert_eq!(lifecycle_tests::pidfd::parent_of(me), Some(std::os::unix::process::parent_id()));
/// ```
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `signal` to the process of `pidfd` (an error once it has been reaped).
///
/// ```
/// use nix::sys::signal::Signal;
/// let mut child = std::process::Command::new("sleep").arg("60").spawn()?;
/// let pinned = lifecycle_tests::pidfd::open(child.id())?;
/// lifecycle_tests::pidfd::signal(&pinned, Signal::SIGKILL)?;
/// child.wait()?;
/// assert!(lifecycle_tests::pidfd::signal(&pinned, Signal::SIGKILL).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal(pidfd: &OwnedFd, signal: Signal) -> std::io::Result<()> {
    send(pidfd, signal, 0)
}

/// Sends `signal` to the process group the process of `pidfd` leads, even once that leader
/// has exited or been reaped: the kernel finds the group through the pidfd. On a kernel
/// older than 6.9 (`EINVAL` to the flag), `killpg` by number instead, and only while the
/// leader has not exited (while it runs, its number is its group's and no one else's).
///
/// ```
/// use std::os::unix::process::CommandExt;
/// use nix::sys::signal::Signal;
/// let mut leader = std::process::Command::new("sleep").arg("60").process_group(0).spawn()?;
/// let pinned = lifecycle_tests::pidfd::open(leader.id())?;
/// lifecycle_tests::pidfd::signal_group(&pinned, Signal::SIGKILL)?;
/// leader.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn signal_group(pidfd: &OwnedFd, signal: Signal) -> std::io::Result<()> {
    match send(pidfd, signal, PIDFD_SIGNAL_PROCESS_GROUP) {
        Err(err) if err.raw_os_error() == Some(nix::libc::EINVAL) => {
            let pid = pid_of(pidfd)?;
            if wait_exit(pidfd, Duration::ZERO) {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal)
                .map_err(std::io::Error::from)
        }
        other => other,
    }
}

/// Waits, at most `timeout`, for the process of `pidfd` to exit (a zombie has exited);
/// whether it did. An event on the pidfd, not a poll of `/proc`.
///
/// ```
/// let me = lifecycle_tests::pidfd::open(std::process::id())?;
/// assert!(!lifecycle_tests::pidfd::wait_exit(&me, std::time::Duration::from_millis(1)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_exit(pidfd: &OwnedFd, timeout: Duration) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        pidfd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    matches!(nix::poll::poll(&mut fds, millis), Ok(n) if n > 0)
}

#[allow(unsafe_code)]
fn send(pidfd: &OwnedFd, signal: Signal, flags: nix::libc::c_uint) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal(pidfd, sig, info = NULL, flags) reads no memory of ours.
    let ret = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as i32,
            std::ptr::null::<nix::libc::siginfo_t>(),
            flags,
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The PID the process of `pidfd` has (its `Pid:` line in `/proc/self/fdinfo`).
fn pid_of(pidfd: &OwnedFd) -> std::io::Result<i32> {
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("Pid:"))
        .and_then(|pid| pid.trim().parse::<i32>().ok())
        .filter(|&pid| pid > 0)
        .ok_or_else(|| std::io::Error::from_raw_os_error(nix::libc::ESRCH))
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn a_group_is_signalled_through_its_leader_even_once_the_leader_is_reaped()
    -> std::io::Result<()> {
        // The leader forks a member into its group, prints the member's PID, and exits; the
        // orphaned member is this process's to reap (PID 1 may reap nobody).
        nix::sys::prctl::set_child_subreaper(true)?;
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 60 >/dev/null & echo $!"])
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let pinned = open(leader.id())?;
        // One line: the member does not hold the pipe, so this is the leader's whole output.
        let mut output = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().expect("piped")),
            &mut output,
        )?;
        leader.wait()?;
        let member: u32 = output.trim().parse().map_err(std::io::Error::other)?;
        let member_fd = open(member)?;
        assert!(!wait_exit(&member_fd, Duration::ZERO), "the member runs");
        signal_group(&pinned, Signal::SIGKILL)?;
        assert!(
            wait_exit(&member_fd, Duration::from_secs(10)),
            "the member of the reaped leader's group was killed"
        );
        let member =
            nix::unistd::Pid::from_raw(i32::try_from(member).map_err(std::io::Error::other)?);
        nix::sys::wait::waitpid(member, None)?;
        Ok(())
    }

    #[test]
    fn a_reaped_child_cannot_be_signalled_through_its_pidfd() -> std::io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("60").spawn()?;
        let pinned = child_of(std::process::id(), child.id())
            .ok_or_else(|| std::io::Error::other("a child of ours not recognised as one"))?;
        assert!(!wait_exit(&pinned, Duration::ZERO));
        signal(&pinned, Signal::SIGKILL)?;
        assert!(wait_exit(&pinned, Duration::from_secs(10)));
        child.wait()?;
        assert!(
            signal(&pinned, Signal::SIGKILL).is_err(),
            "reaped: nothing left"
        );
        Ok(())
    }
}
