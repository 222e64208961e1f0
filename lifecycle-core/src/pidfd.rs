//! Process file descriptors: a handle on one process that a reused PID cannot fool, whose
//! readiness is the process's exit. Waiting for an exit is awaiting this descriptor, never a
//! sleep.

// The two pidfd system calls have no wrapper in nix; this module is their safe wrapper.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::sys::signal::Signal;
use tokio::io::unix::AsyncFd;

/// A pidfd registered with the tokio reactor.
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: AsyncFd<OwnedFd>,
    pid: u32,
}

impl PidFd {
    /// Opens a pidfd for `pid`. Fails with `ESRCH` if no such process exists.
    pub(crate) fn open(pid: u32) -> io::Result<PidFd> {
        let raw_pid =
            libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, raw_pid, 0 as libc::c_uint) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        let raw = i32::try_from(ret)
            .map_err(|_| io::Error::other("pidfd_open returned an out-of-range descriptor"))?;
        // SAFETY: `raw` is a descriptor the kernel just created for us and nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(PidFd {
            fd: crate::async_fd::readable(owned)?,
            pid,
        })
    }

    /// The process's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Resolves when the process has exited (it may still be a zombie until reaped).
    pub(crate) async fn exited(&self) {
        // A pidfd turns readable when its process terminates and stays readable; an error
        // from the reactor also means there is nothing left to wait for.
        let _ = self.fd.readable().await;
    }

    /// Whether the process has exited, without waiting.
    pub(crate) fn has_exited(&self) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.fd.get_ref().as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
    }

    /// Sends `signal` to exactly this process (not a PID that may since have been reused).
    pub(crate) fn send_signal(&self, signal: Signal) -> io::Result<()> {
        self.raw_send(signal as libc::c_int, 0)
    }

    /// Sends `signal` (or, with `None`, checks for members) to the process group this process
    /// leads: the group the pidfd's PID names, even after the leader was reaped, since the
    /// pidfd keeps that PID from being reused. `Ok(false)`: the group is empty. Needs Linux 6.9
    /// (`PIDFD_SIGNAL_PROCESS_GROUP`); older kernels answer `EINVAL`.
    pub(crate) fn signal_group(&self, signal: Option<Signal>) -> io::Result<bool> {
        const PIDFD_SIGNAL_PROCESS_GROUP: libc::c_uint = 1 << 2;
        match self.raw_send(
            signal.map_or(0, |s| s as libc::c_int),
            PIDFD_SIGNAL_PROCESS_GROUP,
        ) {
            Ok(()) => Ok(true),
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn raw_send(&self, signal: libc::c_int, flags: libc::c_uint) -> io::Result<()> {
        // SAFETY: pidfd_send_signal(pidfd, sig, info = NULL, flags) reads no memory of ours.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.get_ref().as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                flags,
            )
        };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exit_is_an_event() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pidfd = PidFd::open(child.id()).unwrap();
        assert!(!pidfd.has_exited());
        pidfd.send_signal(Signal::SIGKILL).unwrap();
        pidfd.exited().await;
        assert!(pidfd.has_exited());
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn the_group_is_signalled_after_its_leader_is_reaped() {
        use std::os::unix::process::CommandExt;
        // A leader that forks a member and exits at once: the member stays in the group.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let pidfd = PidFd::open(leader.id()).unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let member: u32 = line.trim().parse().unwrap();
        leader.wait().unwrap();
        assert!(
            pidfd.signal_group(None).unwrap(),
            "the member keeps the group alive"
        );
        pidfd.signal_group(Some(Signal::SIGKILL)).unwrap();
        if let Ok(member_fd) = PidFd::open(member) {
            member_fd.exited().await;
        }
        assert!(
            crate::proc_stat::group_members(pidfd.pid()).is_empty(),
            "the member was killed"
        );
    }

    #[test]
    fn no_such_process() {
        // PIDs above the kernel's pid_max never exist.
        let err = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap()
            .block_on(async { PidFd::open(i32::MAX as u32).unwrap_err() });
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
