//! Stopping a daemon: the spec's chain, each step's signal to the process group, each wait an
//! event (the exit, then the rest of the group) bounded by the step's grace; SIGKILL to the
//! group after the last grace; done when nothing of the group is left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal as NixSignal, killpg};
use nix::unistd::Pid;

use crate::exit::{ExitWatch, exited};
use crate::pidfd::PidFd;
use crate::plan::StopPlan;
use crate::proc_stat;

/// How long SIGKILL may take to end the group before the stop is reported as failed.
const KILL_CONFIRM: Duration = Duration::from_secs(5);

/// A daemon to stop: its PID, its process group, its exit, and a pidfd on its leader (none
/// when only the rest of a group whose leader is long gone is left).
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) pid: u32,
    pub(crate) pgid: u32,
    pub(crate) exit: ExitWatch,
    pub(crate) leader: Option<Arc<PidFd>>,
}

/// What is left of the group of a recorded daemon whose leader is gone: no pidfd on the leader,
/// the members are found by their group ID (which cannot be reused while it has members).
pub(crate) fn orphans_of(record: &crate::Record) -> Target {
    Target {
        pid: record.pid,
        pgid: record.pgid,
        exit: crate::exit::already_exited(),
        leader: None,
    }
}

/// `now + duration`, or far in the future when that overflows (a grace of `Duration::MAX`).
pub(crate) fn deadline_in(duration: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// How a stop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gone {
    pub(crate) elapsed: Duration,
    /// Whether SIGKILL was needed.
    pub(crate) killed: bool,
}

/// The group outlived SIGKILL (a process stuck in uninterruptible sleep, for one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StillAlive {
    pub(crate) members: Vec<u32>,
}

pub(crate) fn to_nix(signal: lifecycle_spec::Signal) -> NixSignal {
    match signal {
        lifecycle_spec::Signal::Hup => NixSignal::SIGHUP,
        lifecycle_spec::Signal::Int => NixSignal::SIGINT,
        lifecycle_spec::Signal::Quit => NixSignal::SIGQUIT,
        lifecycle_spec::Signal::Term => NixSignal::SIGTERM,
        lifecycle_spec::Signal::Usr1 => NixSignal::SIGUSR1,
        lifecycle_spec::Signal::Usr2 => NixSignal::SIGUSR2,
    }
}

/// Runs the chain. `on_grace_expired(step)` is told when a step's grace runs out.
pub(crate) async fn run(
    target: &mut Target,
    steps: &[StopPlan],
    client: &reqwest::Client,
    on_grace_expired: &(dyn Fn(usize) + Send + Sync),
) -> Result<Gone, StillAlive> {
    let started = Instant::now();
    for (i, step) in steps.iter().enumerate() {
        let deadline = deadline_in(step.grace());
        match step {
            StopPlan::Signal { signal, .. } => signal_group(target, to_nix(*signal)),
            StopPlan::HttpPost { url, .. } => {
                let post = client.post(url).send();
                if let Ok(Err(err)) = tokio::time::timeout_at(deadline, post).await {
                    // Nobody heard the request: waiting its grace would only delay the next step.
                    tracing::warn!(%url, %err, "shutdown request failed; going on with the next step");
                    continue;
                }
            }
        }
        if wait_gone(target, deadline).await {
            return Ok(Gone {
                elapsed: started.elapsed(),
                killed: false,
            });
        }
        on_grace_expired(i);
    }
    signal_group(target, NixSignal::SIGKILL);
    if wait_gone(target, deadline_in(KILL_CONFIRM)).await {
        Ok(Gone {
            elapsed: started.elapsed(),
            killed: true,
        })
    } else {
        Err(StillAlive {
            members: proc_stat::group_members(target.pgid),
        })
    }
}

/// Signals the daemon's process group. Through the leader's pidfd when there is one: the
/// kernel signals the group that PID names, and the pidfd keeps the PID (so the group ID) from
/// being reused, even after the leader exited and was reaped. Without one (or on kernels older
/// than 6.9), each live member is signalled through its own pidfd, after checking it is in the
/// group: a group ID cannot be reused while the group has members.
pub(crate) fn signal_group(target: &Target, signal: NixSignal) {
    if let Some(leader) = &target.leader {
        match leader.signal_group(Some(signal)) {
            Ok(_) => return,
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {}
            Err(err) => {
                tracing::warn!(pgid = target.pgid, %err, ?signal, "cannot signal the process group");
                return;
            }
        }
    }
    for pid in proc_stat::group_members(target.pgid) {
        let Ok(pidfd) = PidFd::open(pid) else {
            continue;
        };
        // The pidfd pins the process; if it is (still) in the group, this signal is for it.
        if proc_stat::read(pid).is_ok_and(|s| s.pgrp == target.pgid) {
            let _ = pidfd.send_signal(signal);
        }
    }
}

/// Whether any process (zombies included) is left in the group.
fn group_has_members(target: &Target) -> bool {
    if let Some(leader) = &target.leader
        && let Ok(members) = leader.signal_group(None)
    {
        return members;
    }
    let Ok(pgid) = i32::try_from(target.pgid) else {
        return false;
    };
    killpg(Pid::from_raw(pgid), None) != Err(Errno::ESRCH)
}

/// Waits until the leader has exited and no live process is left in its group, or `deadline`.
async fn wait_gone(target: &mut Target, deadline: tokio::time::Instant) -> bool {
    if tokio::time::timeout_at(deadline, exited(&mut target.exit))
        .await
        .is_err()
    {
        return false;
    }
    loop {
        // The common case: the group died with its leader.
        if !group_has_members(target) {
            return true;
        }
        let members: Vec<PidFd> = proc_stat::group_members(target.pgid)
            .into_iter()
            .filter_map(|pid| PidFd::open(pid).ok())
            .collect();
        if members.is_empty() {
            // Only zombies are left: dead, waiting for their parent to reap them.
            return true;
        }
        let all_exited = async {
            for member in &members {
                member.exited().await;
            }
        };
        if tokio::time::timeout_at(deadline, all_exited).await.is_err() {
            return false;
        }
    }
}
