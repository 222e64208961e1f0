//! Spawning a daemon: resolved binary, rendered arguments, the environment the spec allows,
//! stdin from `/dev/null`, stdout and stderr appended to its log, its own process group.
//! Blocking (fork and exec): called on a blocking thread.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use lifecycle_spec::InheritEnv;

use crate::plan::Plan;
use crate::process::pidfd::PidFd;
use crate::process::proc_stat;

/// A process just spawned: a child of this process, pinned by its pidfd.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) start_time: u64,
    /// Its session (inherited from this process).
    pub(crate) session: u32,
    pub(crate) pidfd: PidFd,
}

/// Spawns `plan` with `binary` (resolved), output appended to `log`, `NOTIFY_SOCKET` set to
/// `notify` if given (and never inherited otherwise). If the spawned process cannot be pinned
/// (no descriptor left for its pidfd, `/proc` unreadable), it is killed and reaped before the
/// error is returned: nothing is left running that nobody could find.
pub(crate) fn spawn(
    plan: &Plan,
    binary: &Path,
    log: std::fs::File,
    notify: Option<&str>,
) -> io::Result<Spawned> {
    let mut command = Command::new(binary);
    command.args(&plan.args);
    if let InheritEnv::Only(names) = &plan.inherit_env {
        command.env_clear();
        for name in names.iter() {
            if let Some(value) = std::env::var_os(name.as_ref()) {
                command.env(name.as_ref(), value);
            }
        }
    }
    command
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
    let mut child = command.spawn()?;
    let pid = child.id();
    // Not reaped yet, so the PID cannot have been reused: the pidfd and the stat are this child's.
    let pinned = PidFd::open(pid).and_then(|pidfd| Ok((proc_stat::read(pid)?, pidfd)));
    match pinned {
        Ok((stat, pidfd)) => Ok(Spawned {
            start_time: stat.start_time,
            session: stat.session,
            pidfd,
        }),
        Err(err) => {
            // Our unreaped child: its PID is still its own. `wait` returns at once after SIGKILL.
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}
