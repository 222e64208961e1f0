//! Handles over the test specs in `tests/specs/`, all running the test daemon. Each test names
//! its own instance (`test`), so tests in parallel never share a daemon, a record or a lock.

use lifecycle_core::Lifecycle;

/// The test daemon behind an HTTP probe (`specs/http.yaml`); `flags` go to the daemon.
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/http.yaml")]
pub struct HttpDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// Like [`HttpDaemon`] with a 1.5 s deadline and a 1 s grace (`specs/short.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/short.yaml")]
pub struct ShortDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon behind a TCP probe, binding late (`specs/tcp.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/tcp.yaml")]
pub struct TcpDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon ready by sd_notify (`specs/notify.yaml`); `flags` default to `--notify`.
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/notify.yaml")]
pub struct NotifyDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Daemon flags (`--notify`, `--notify-from-child`, …).
    pub flags: String,
}

/// The test daemon ready when it prints `listening on port 7` (`specs/log.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/log.yaml")]
pub struct LogDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon with no probe, restarted on failure twice (`specs/plain.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/plain.yaml")]
pub struct PlainDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon stopped by `POST /shutdown` (`specs/shutdown_url.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/shutdown_url.yaml")]
pub struct ShutdownUrlDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
}

/// A worker that depends on an [`HttpDaemon`] queen (`specs/worker.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/worker.yaml")]
pub struct Worker {
    /// The test daemon's path.
    pub binary: String,
    /// The worker's port.
    pub port: u16,
    /// The queen's port.
    pub queen_port: u16,
    /// The instance: the test's name (the queen's is `<test>-queen`).
    pub test: String,
}

/// The test daemon with no probe, restarted on failure after 300ms (`specs/slow_restart.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/slow_restart.yaml")]
pub struct SlowRestartDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon with small rotated logs (`specs/logs.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/logs.yaml")]
pub struct LogsDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon restarted always, once in a row, the count reset after 100ms of running
/// (`specs/reset.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/reset.yaml")]
pub struct ResetDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// A daemon that needs an [`HttpDaemon`] only spawned, not ready (`specs/after_started.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/after_started.yaml")]
pub struct AfterStarted {
    /// The test daemon's path.
    pub binary: String,
    /// The dependency's port.
    pub dep_port: u16,
    /// The instance: the test's name (the dependency's is `<test>-dep`).
    pub test: String,
}

/// Ready once it has forked its grandchild, no restarts, a 200ms grace (`specs/crash_group.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/crash_group.yaml")]
pub struct CrashGroupDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// HTTP probe, restarted on failure three times in a row at most (`specs/retry.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/retry.yaml")]
pub struct RetryDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// A spec without `instance`: one daemon of its name at a time (`specs/single.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/single.yaml")]
pub struct SingleDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
}

/// A two-step stop chain, SIGINT then SIGTERM (`specs/chain.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/chain.yaml")]
pub struct ChainDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// Stopped by `POST` to `stop_port` first, then SIGTERM (`specs/post_stop.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/post_stop.yaml")]
pub struct PostStopDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// Where its stop chain posts.
    pub stop_port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// Restarted on failure with a growing backoff: 100ms, 200ms, 400ms (`specs/growth.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/growth.yaml")]
pub struct GrowthDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// Inherits PATH alone from the manager (`specs/inherit.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/inherit.yaml")]
pub struct InheritDaemon {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// A worker with flags that needs an [`HttpDaemon`] queen (`specs/drain_worker.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/drain_worker.yaml")]
pub struct DrainWorker {
    /// The test daemon's path.
    pub binary: String,
    /// The instance: the test's name.
    pub test: String,
    /// The queen's port.
    pub queen_port: u16,
    /// The queen's instance.
    pub queen: String,
    /// Extra daemon flags.
    pub flags: String,
}

/// The test daemon on another host, over SSH (`specs/remote.yaml`); `host`, `user` and
/// `ssh_port` name the test harness's sshd.
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote.yaml")]
pub struct RemoteDaemon {
    /// The test daemon's path (on the remote host: the same machine).
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
    /// The SSH host.
    pub host: String,
    /// The SSH user.
    pub user: String,
    /// The SSH port.
    pub ssh_port: u16,
}

/// A remote `/bin/sh -c SCRIPT argv0 A1…A6` (`specs/remote_argv.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_argv.yaml")]
pub struct RemoteArgv {
    /// The script.
    pub script: String,
    /// Arguments 1 to 6.
    pub a1: String,
    /// Argument 2.
    pub a2: String,
    /// Argument 3.
    pub a3: String,
    /// Argument 4.
    pub a4: String,
    /// Argument 5.
    pub a5: String,
    /// Argument 6.
    pub a6: String,
    /// The instance: the test's name.
    pub test: String,
    /// The SSH host.
    pub host: String,
    /// The SSH user.
    pub user: String,
    /// The SSH port.
    pub ssh_port: u16,
}

/// [`RemoteDaemon`] whose spec trusts a host key seen for the first time
/// (`specs/remote_accept_new.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_accept_new.yaml")]
pub struct RemoteAcceptNew {
    /// The test daemon's path (on the remote host: the same machine).
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
    /// The SSH host.
    pub host: String,
    /// The SSH user.
    pub user: String,
    /// The SSH port.
    pub ssh_port: u16,
}

/// The test daemon installed on the remote host from `local` as `target` before it starts
/// (`specs/remote_install.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_install.yaml")]
pub struct RemoteInstall {
    /// The file here.
    pub local: String,
    /// Where it goes there (absolute).
    pub target: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// The SSH host.
    pub host: String,
    /// The SSH user.
    pub user: String,
    /// The SSH port.
    pub ssh_port: u16,
}

/// [`RemoteDaemon`] with a 1.5 s readiness deadline (`specs/remote_short.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_short.yaml")]
pub struct RemoteShort {
    /// The test daemon's path (on the remote host: the same machine).
    pub binary: String,
    /// Its HTTP port.
    pub port: u16,
    /// The instance: the test's name.
    pub test: String,
    /// Extra daemon flags.
    pub flags: String,
    /// The SSH host.
    pub host: String,
    /// The SSH user.
    pub user: String,
    /// The SSH port.
    pub ssh_port: u16,
}

/// A worker on another host that depends on a local [`HttpDaemon`] queen
/// (`specs/remote_worker.yaml`).
#[derive(Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_worker.yaml")]
pub struct RemoteWorker {
    /// The test daemon's path.
    pub binary: String,
    /// The worker's port.
    pub port: u16,
    /// The queen's port.
    pub queen_port: u16,
    /// The instance: the test's name (the queen's is `<test>-queen`).
    pub test: String,
    /// The SSH host.
    pub host: String,
    /// The SSH user.
    pub user: String,
    /// The SSH port.
    pub ssh_port: u16,
}
