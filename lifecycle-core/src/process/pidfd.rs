//! Process file descriptors: a handle on one process that a reused PID cannot fool. The
//! descriptor turns readable when its process exits, and (on kernels that say so, such as 6.18)
//! reports a hang-up when the process has been reaped: both are events, never sleeps.

// The two pidfd system calls have no wrapper in nix; this module is their safe wrapper.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::unix::AsyncFd;

/// A pidfd registered with the tokio reactor.
#[derive(Debug)]
pub(crate) struct PidFd {
    fd: AsyncFd<OwnedFd>,
    pid: u32,
    /// Set once the exit was seen (it is for good).
    exited: AtomicBool,
}

impl PidFd {
    /// Opens a pidfd for `pid`. Fails with `ESRCH` if no such process exists; any other error
    /// (`EMFILE` first of all) says nothing about the process.
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
            exited: AtomicBool::new(false),
        })
    }

    /// The process's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Resolves when the process has exited (it may still be a zombie until reaped). Awaiting
    /// it costs no system call until the reactor says the descriptor is readable.
    pub(crate) async fn exited(&self) {
        while !self.exited.load(Ordering::Acquire) {
            match self.fd.readable().await {
                Ok(mut guard) => {
                    if !self.has_exited() {
                        guard.clear_ready();
                    }
                }
                // An error from the reactor means there is nothing left to wait for.
                Err(_) => return,
            }
        }
    }

    /// Whether the process has exited, without waiting.
    pub(crate) fn has_exited(&self) -> bool {
        if self.exited.load(Ordering::Acquire) {
            return true;
        }
        let mut fds = [nix::poll::PollFd::new(
            self.fd.get_ref().as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let exited =
            matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0);
        if exited {
            self.exited.store(true, Ordering::Release);
        }
        exited
    }

    /// Waits on this (blocking) thread, up to `timeout`, for the process's exit; whether it
    /// came. For code that cannot await (a blocking thread, a destructor).
    pub(crate) fn wait_exit_blocking(&self, timeout: Duration) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.fd.get_ref().as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        matches!(nix::poll::poll(&mut fds, millis), Ok(n) if n > 0)
    }

    /// Whether the process is gone for good: exited and reaped by its parent (a zombie is not
    /// reaped yet).
    pub(crate) fn is_reaped(&self) -> bool {
        matches!(self.raw_send(0, 0), Err(e) if e.raw_os_error() == Some(libc::ESRCH))
    }

    /// Waits until the process has been reaped by its parent, up to `deadline`; whether it was.
    /// Call it once the process has exited (it takes the reactor's readiness for itself).
    /// The reap is an event on kernels that report it (a hang-up on the pidfd); elsewhere it is
    /// checked at growing intervals (1 ms doubling to 16 ms), which is what makes this bounded.
    pub(crate) async fn reaped(&self, deadline: tokio::time::Instant) -> bool {
        let hang_up = async {
            loop {
                let Ok(mut guard) = self.fd.readable().await else {
                    return;
                };
                if guard.ready().is_read_closed() {
                    return;
                }
                guard.clear_ready();
            }
        };
        let checks = async {
            let mut delay = Duration::from_millis(1);
            while !self.is_reaped() {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(16));
            }
        };
        let reaped = async {
            tokio::select! {
                () = hang_up => {},
                () = checks => {},
            }
        };
        tokio::time::timeout_at(deadline, reaped).await.is_ok() || self.is_reaped()
    }

    /// Sends `signal` to exactly this process (not a PID that may since have been reused).
    pub(crate) fn send_signal(&self, signal: Signal) -> io::Result<()> {
        self.raw_send(signal as libc::c_int, 0)
    }

    /// Sends `signal` (or, with `None`, checks for members) to the process group this process
    /// leads: the group whose ID is the pidfd's PID. The kernel looks the group up through the
    /// pidfd's own `struct pid`, not through the number: once the group is gone and the number
    /// reused, the call finds nobody. `Ok(false)`: the group is empty. Needs Linux 6.9
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
        assert!(!pidfd.is_reaped(), "a zombie until its parent reaps it");
        child.wait().unwrap();
        assert!(pidfd.is_reaped());
        let soon = tokio::time::Instant::now() + Duration::from_secs(5);
        assert!(pidfd.reaped(soon).await);
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
