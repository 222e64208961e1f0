//! What the integration tests share: ports, managers in temporary state directories, and
//! checks on processes read from `/proc`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use lifecycle_core::DaemonManager;

/// A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range (so that no
/// outgoing connection, such as a probe's, can take it before its daemon binds it), distinct
/// from every other port this process got here.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let low = 10_000u32;
    let span = ephemeral_start.saturating_sub(low).max(1);
    // Processes start at different places: parallel test binaries rarely meet.
    let _ = NEXT.compare_exchange(
        0,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let port = low + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        if let Ok(port) = u16::try_from(port)
            && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        {
            return port;
        }
    }
    0
}

/// A manager whose state directory is `dir`, killing what it started when dropped.
pub fn manager_in(dir: &Path) -> DaemonManager {
    match DaemonManager::builder()
        .state_dir(dir)
        .stop_on_drop(true)
        .build()
    {
        Ok(manager) => manager,
        Err(err) => {
            eprintln!("cannot build a manager in {}: {err}", dir.display());
            std::process::abort()
        }
    }
}

/// Field `n` (1-based, as `proc(5)` counts them, `n` ≥ 3) of `/proc/<pid>/stat`, counted after
/// the command name, which may itself hold spaces and parentheses.
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n - 3)
        .map(str::to_owned)
}

/// The process state letter of `pid` (`R`, `S`, `Z`, …), or `None` if there is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    stat_field(pid, 3)?.chars().next()
}

/// Whether `pid` is a live process (not a zombie).
pub fn is_alive(pid: u32) -> bool {
    process_state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// The children of this process that are zombies (exited, not reaped).
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            process_state(pid) == Some('Z') && stat_field(pid, 4).as_deref() == Some(me.as_str())
        })
        .collect()
}

/// Waits, for at most `timeout`, until `pid` has exited (a zombie counts as exited): an event
/// on a pidfd, not a poll. Whether it did; `true` if there is no such process.
#[allow(unsafe_code)]
pub fn wait_exit(pid: u32, timeout: std::time::Duration) -> bool {
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};
    let Ok(raw_pid) = i32::try_from(pid) else {
        return true;
    };
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, raw_pid, 0) };
    if fd < 0 {
        return true;
    }
    let Ok(fd) = i32::try_from(fd) else {
        return true;
    };
    // SAFETY: the kernel just made this descriptor for us; nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut fds = [nix::poll::PollFd::new(pidfd.as_fd(), nix::poll::PollFlags::POLLIN)];
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    matches!(nix::poll::poll(&mut fds, millis), Ok(n) if n > 0)
}

/// The start time of `pid` (`/proc/<pid>/stat` field 22), which tells a PID's process from a
/// later one that reuses the number.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_field(pid, 22)?.parse().ok()
}

/// Kills a test daemon's whole process group when dropped, if that process is still the one
/// it was (same start time): a failing test leaves nothing behind, and a reused PID is safe.
#[derive(Debug)]
pub struct KillOnDrop {
    pid: u32,
    start_time: Option<u64>,
}

impl KillOnDrop {
    /// Watches `pid` from now.
    pub fn new(pid: u32) -> KillOnDrop {
        KillOnDrop {
            pid,
            start_time: start_time(pid),
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.pid)
            && self.start_time.is_some()
            && start_time(self.pid) == self.start_time
            && is_alive(self.pid)
        {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
