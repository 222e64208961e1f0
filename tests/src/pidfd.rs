//! Processes the tests and the benchmark signal, pinned by a pidfd. A PID is only a number,
//! which another process may take once this one is reaped; a pidfd names one process for as
//! long as it is open. Every signal sent to a process found by number (in `/proc`, in a
//! file) goes through a pidfd opened first and checked after: the check then speaks of the
//! process the pidfd names (see [`open_if`]).
//!
//! ```
//! use std::time::{Duration, Instant};
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
use std::time::{Duration, Instant};

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
/// namespace…, read from `/proc` by number) and the pinned process is still unreaped after
/// the check. A process keeps its number until it is reaped, so the check then spoke of the
/// process the pidfd names.
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
    (check(pid) && unreaped(&pidfd)).then_some(pidfd)
}

/// Whether the process of `pidfd` still holds its number: running, or a zombie.
fn unreaped(pidfd: &OwnedFd) -> bool {
    send(pidfd, 0, 0).is_ok()
}

/// A pidfd on every process but this one that passes `check`, each checked once pinned (see
/// [`open_if`]).
///
/// ```
/// let parent = std::os::unix::process::parent_id();
/// assert_eq!(lifecycle_tests::pidfd::pin_every(|pid| pid == parent).len(), 1);
/// ```
pub fn pin_every(check: impl Fn(u32) -> bool) -> Vec<OwnedFd> {
    let me = std::process::id();
    crate::harness::pids()
        .filter(|&pid| pid != me)
        .filter_map(|pid| open_if(pid, &check))
        .collect()
}

/// SIGKILLs every process but this one that passes `check` (pinned, then checked), until none
/// is left: a few rounds, as one may fork while it is killed, each waiting at most 5 s for
/// what it killed to exit. How many were signalled.
///
/// ```
/// let mut child = std::process::Command::new("sleep").arg("60").spawn()?;
/// let id = child.id();
/// assert_eq!(lifecycle_tests::pidfd::kill_every(|pid| pid == id && lifecycle_tests::harness::is_alive(pid)), 1);
/// child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn kill_every(check: impl Fn(u32) -> bool) -> usize {
    let mut killed = 0;
    for _ in 0..20 {
        let left = pin_every(&check);
        if left.is_empty() {
            break;
        }
        for pinned in &left {
            killed += usize::from(signal(pinned, Signal::SIGKILL).is_ok());
        }
        for pinned in &left {
            wait_exit(pinned, Duration::from_secs(5));
        }
    }
    killed
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
    send(pidfd, signal as i32, 0)
}

/// Sends `signal` to the process group the process of `pidfd` leads, even once that leader
/// has exited or been reaped: the kernel finds the group through the pidfd (`ESRCH` if the
/// process leads no group). On a kernel older than 6.9 (`EINVAL` to the flag), `killpg` by
/// number instead, and only while the leader is unreaped (until then its number is its
/// group's and no one else's; a reap between that check and the `killpg`, with the group
/// empty and the number taken again, is the window left there); a reaped leader's group is
/// then not signalled (`ESRCH`).
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
    match send(pidfd, signal as i32, PIDFD_SIGNAL_PROCESS_GROUP) {
        Err(err) if err.raw_os_error() == Some(nix::libc::EINVAL) => {
            let pid = pid_of(pidfd)?;
            if !unreaped(pidfd) {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal)
                .map_err(std::io::Error::from)
        }
        other => other,
    }
}

/// Waits, at most `timeout`, for the process of `pidfd` to exit (a zombie has exited);
/// whether it did. An event on the pidfd, not a poll of `/proc`; a signal caught meanwhile
/// (a `SIGCHLD` handler's) does not cut the wait short.
///
/// ```
/// let me = lifecycle_tests::pidfd::open(std::process::id())?;
/// assert!(!lifecycle_tests::pidfd::wait_exit(&me, std::time::Duration::from_millis(1)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_exit(pidfd: &OwnedFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Whole milliseconds, rounded up: a wait of 0.4 ms is not a wait of none.
        let millis = u16::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(
            pidfd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, millis) {
            Ok(0) if Instant::now() < deadline => {}
            Ok(ready) => return ready > 0,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}

/// Whether this kernel signals a group through its leader's pidfd
/// (`PIDFD_SIGNAL_PROCESS_GROUP`, Linux 6.9+). Asked with signal 0 through this process's
/// own pidfd, which sends nothing: a kernel without the flag refuses it (`EINVAL`) before it
/// looks for the group.
///
/// ```
/// // Linux 6.9 and later: true.
/// let _supported: bool = lifecycle_tests::pidfd::signals_groups();
/// ```
pub fn signals_groups() -> bool {
    open(std::process::id()).is_ok_and(|me| {
        !matches!(send(&me, 0, PIDFD_SIGNAL_PROCESS_GROUP),
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL))
    })
}

#[allow(unsafe_code)]
fn send(pidfd: &OwnedFd, signal: i32, flags: nix::libc::c_uint) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal(pidfd, sig, info = NULL, flags) reads no memory of ours.
    let ret = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
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
        if !signals_groups() {
            eprintln!(
                "skipped: this kernel has no PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9+), and a \
                 reaped leader's group is then not signalled"
            );
            return Ok(());
        }
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
    #[allow(unsafe_code)]
    fn a_caught_signal_does_not_cut_the_wait_short() -> std::io::Result<()> {
        use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
        extern "C" fn nothing(_: nix::libc::c_int) {}
        let action = SigAction::new(
            SigHandler::Handler(nothing),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler does nothing, so it is async-signal-safe.
        unsafe { sigaction(Signal::SIGUSR1, &action) }?;
        let mut child = std::process::Command::new("sleep").arg("60").spawn()?;
        let pinned = open(child.id())?;
        let (started, thread) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            let _ = started.send(unsafe { nix::libc::pthread_self() });
            let began = Instant::now();
            (
                wait_exit(&pinned, Duration::from_millis(500)),
                began.elapsed(),
            )
        });
        let thread = thread.recv().map_err(std::io::Error::other)?;
        // Interrupted again and again while it waits: each signal ends a `poll` with EINTR.
        for _ in 0..8 {
            std::thread::sleep(Duration::from_millis(40));
            // SAFETY: `thread` is joined only after the last signal: its id is valid until then.
            let err = unsafe { nix::libc::pthread_kill(thread, nix::libc::SIGUSR1) };
            if err != 0 {
                return Err(std::io::Error::from_raw_os_error(err));
            }
        }
        let (exited, waited) = waiter
            .join()
            .map_err(|_| std::io::Error::other("panicked"))?;
        child.kill()?;
        child.wait()?;
        assert!(!exited, "the child runs");
        assert!(
            waited >= Duration::from_millis(500),
            "cut short after {waited:?}"
        );
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
