//! Spawning a daemon: resolved binary, rendered arguments and environment, stdin from
//! `/dev/null`, stdout and stderr appended to its log, its own process group.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::pidfd::PidFd;
use crate::plan::Plan;
use crate::proc_stat;

/// A process just spawned.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    pub(crate) pidfd: PidFd,
}

/// Spawns `plan` with `binary` (resolved), output appended to `log`, `NOTIFY_SOCKET` set to
/// `notify` if given (and removed from the inherited environment otherwise).
pub(crate) fn spawn(
    plan: &Plan,
    binary: &Path,
    log: std::fs::File,
    notify: Option<&str>,
) -> io::Result<Spawned> {
    let mut command = Command::new(binary);
    command
        .args(&plan.args)
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a stop reaches the daemon and everything it forked, and a
        // Ctrl-C in the manager's terminal does not.
        .process_group(0);
    match notify {
        Some(socket) => command.env("NOTIFY_SOCKET", socket),
        None => command.env_remove("NOTIFY_SOCKET"),
    };
    // std's Child neither kills nor waits on drop: the pidfd watcher reaps the process.
    let child = command.spawn()?;
    let pid = child.id();
    // Not reaped yet, so the PID cannot have been reused: the pidfd is this child's.
    let pidfd = PidFd::open(pid)?;
    let start_time = proc_stat::read(pid)?.start_time;
    Ok(Spawned {
        pid,
        start_time,
        pidfd,
    })
}
