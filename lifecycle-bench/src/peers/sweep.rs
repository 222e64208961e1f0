//! What a manager leaves running: during the comparison this process is a child subreaper, so
//! every process a manager started (and everything those forked) that outlives its parent is
//! reparented here; after each manager's turn, whatever is left among this process's children
//! is killed and reaped — and counted, as a figure of that manager.

use std::sync::Mutex;

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::peers::manager::Error;
use crate::peers::proc_usage;
use lifecycle_tests::pidfd;

/// Processes left behind, per manager.
static LEFT: Mutex<Vec<(&'static str, usize)>> = Mutex::new(Vec::new());

/// This process as the child subreaper of everything started from now on, until [`end`].
pub(crate) fn begin() -> Result<(), Error> {
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(())
}

/// No longer a subreaper.
pub(crate) fn end() {
    let _ = nix::sys::prctl::set_child_subreaper(false);
}

/// Kills and reaps every child of this process (called when none of its own should be left:
/// each manager, its driver and its commands have ended and been reaped), and counts those
/// still running (not the ones already dead, waiting to be reaped) for `manager`. Each is
/// signalled through a pidfd opened while it was seen to be our child.
pub(crate) fn after(manager: &'static str) -> Result<usize, Error> {
    let me = std::process::id();
    let children: Vec<(u32, OwnedFd)> = proc_usage::children(me)?
        .into_iter()
        .filter_map(|pid| Some((pid, pidfd::child_of(me, pid)?)))
        .collect();
    // A manager's own processes may still be on their way out (pm2's daemon exits after it
    // answers the request to): a second for each to end by itself.
    let deadline = Instant::now() + Duration::from_secs(1);
    let running = children
        .iter()
        .filter(|(_, pidfd)| {
            !pidfd::wait_exit(pidfd, deadline.saturating_duration_since(Instant::now()))
        })
        .count();
    for (pid, pidfd) in &children {
        let _ = pidfd::signal(pidfd, Signal::SIGKILL);
        // Our child, not reaped until here: the number is still its own.
        let _ = waitpid(Pid::from_raw(i32::try_from(*pid)?), None);
    }
    let mut left = LEFT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match left.iter_mut().find(|(name, _)| *name == manager) {
        Some((_, count)) => *count += running,
        None => left.push((manager, running)),
    }
    Ok(running)
}

/// The counts so far, per manager.
pub(crate) fn left() -> Vec<(&'static str, usize)> {
    LEFT.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}
