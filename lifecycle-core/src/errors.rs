//! The errors of starting and stopping daemons: one enum per concern, each variant saying what
//! went wrong, with which daemon, and what to look at.

use std::path::PathBuf;
use std::time::Duration;

use lifecycle_spec::DisplayDuration;

use crate::Exit;
use crate::plan::PlanError;
use crate::process::binary::BinaryNotFound;
use crate::remote::RemoteError;
use crate::state::IllegalTransition;
use crate::store::lock::LockError;
use crate::store::record::RecordError;
use crate::store::state_dir::StateDirError;

/// A manager could not be made.
///
/// ```
/// let err = lifecycle_core::DaemonManager::builder().state_dir("/proc/no/such/dir").build().unwrap_err();
/// assert!(err.to_string().contains("/proc/no/such/dir"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The state directory is not usable.
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    /// The HTTP client for probes could not be built.
    #[error("cannot build the HTTP client for probes: {0}")]
    HttpClient(std::sync::Arc<reqwest::Error>),
    /// This process's own start time could not be read from `/proc/self/stat`.
    #[error("cannot read this process's identity from /proc: {0}")]
    Identity(std::io::Error),
}

/// A daemon could not be started (or ensured running).
///
/// ```
/// let err = lifecycle_core::StartError::PortTaken { daemon: "queen-rbee".into(), probe: "http://127.0.0.1:7833/health".into() };
/// assert!(err.to_string().contains("not ours"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The handle's values do not make a valid plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// No manager (the state directory is not usable); nothing was spawned.
    #[error(transparent)]
    Manager(#[from] ManagerError),
    /// The daemon's lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A state record could not be read or written.
    #[error("daemon `{daemon}`: {source}")]
    Record {
        /// The daemon.
        daemon: String,
        /// The record error.
        source: RecordError,
    },
    /// The binary was found nowhere.
    #[error(transparent)]
    BinaryNotFound(#[from] BinaryNotFound),
    /// The process could not be spawned.
    #[error("daemon `{daemon}`: cannot spawn {}: {source}", binary.display())]
    Spawn {
        /// The daemon.
        daemon: String,
        /// The binary.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something that is not this daemon answers its probe.
    #[error(
        "daemon `{daemon}`: {probe} already answers, but no daemon of ours is running there: the port is held by a process that is not ours; stop it or change the port"
    )]
    PortTaken {
        /// The daemon.
        daemon: String,
        /// The probe that answered.
        probe: String,
    },
    /// The daemon runs under this key with other values (another port, model, …) than the
    /// handle's: the key (name and `instance`) does not tell them apart.
    #[error(
        "daemon `{daemon}` is already running (pid {pid}) as `{running}`, but this handle wants `{wanted}`; stop it first, or give the spec an `instance:` that tells the two apart (such as \"{{port}}\")"
    )]
    Conflict {
        /// The daemon.
        daemon: String,
        /// Its PID.
        pid: u32,
        /// The command it runs.
        running: String,
        /// The command the handle asks for.
        wanted: String,
    },
    /// `start` found the daemon already running.
    #[error("daemon `{daemon}` is already running (pid {pid}); use ensure_running to adopt it")]
    AlreadyRunning {
        /// The daemon.
        daemon: String,
        /// Its PID.
        pid: u32,
    },
    /// The process exited before it was ready.
    #[error("daemon `{daemon}` exited before it was ready: {exit}; last lines of {}:\n{}", log.display(), tail_text(log_tail))]
    Exited {
        /// The daemon.
        daemon: String,
        /// How it ended.
        exit: Exit,
        /// Its log file.
        log: PathBuf,
        /// The last lines it wrote (at most 20).
        log_tail: Vec<String>,
    },
    /// The daemon was not ready within the deadline; it was stopped.
    #[error("daemon `{daemon}` was not ready within {} ({attempts} probe attempts); last probe: {last_error}; it was stopped. Last lines of {}:\n{}", DisplayDuration(*deadline), log.display(), tail_text(log_tail))]
    TimedOut {
        /// The daemon.
        daemon: String,
        /// The spec's deadline.
        deadline: Duration,
        /// Probe attempts made.
        attempts: u32,
        /// The last probe error.
        last_error: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines it wrote (at most 20).
        log_tail: Vec<String>,
    },
    /// A recorded daemon of ours is running but does not pass its probe.
    #[error(
        "daemon `{daemon}` (pid {pid}) is running but not healthy: {last_error}; stop it, or wait and retry"
    )]
    Unhealthy {
        /// The daemon.
        daemon: String,
        /// Its PID.
        pid: u32,
        /// The probe error.
        last_error: String,
    },
    /// A dependency could not be started.
    #[error("daemon `{daemon}`: dependency `{dependency}` did not start: {source}")]
    Dependency {
        /// The daemon.
        daemon: String,
        /// The dependency.
        dependency: String,
        /// Why.
        source: Box<StartError>,
    },
    /// The daemon's host could not be reached or used over SSH; nothing was left half-started.
    #[error("daemon `{daemon}`: {source}")]
    Remote {
        /// The daemon.
        daemon: String,
        /// What went wrong there.
        source: RemoteError,
    },
    /// The readiness probe could not be set up, or broke while it waited (the notify socket,
    /// the log file); the daemon was stopped.
    #[error("daemon `{daemon}`: its readiness probe failed: {source}")]
    Probe {
        /// The daemon.
        daemon: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The start was cut short: a stop was asked for, here or in another process.
    #[error("daemon `{daemon}`: the start was cut short: {reason}")]
    Cancelled {
        /// The daemon.
        daemon: String,
        /// What cut it short.
        reason: String,
    },
    /// Processes of the daemon's previous run outlived SIGKILL (stuck in the kernel): a second
    /// copy is not started beside them. Its record is kept.
    #[error(
        "daemon `{daemon}` is not started: {reason}; they are likely stuck in the kernel (state D: see /proc/<pid>/stack); once they are gone, start it again"
    )]
    Leftovers {
        /// The daemon.
        daemon: String,
        /// What is left, and why it could not be stopped.
        reason: String,
    },
    /// Other processes kept starting or stopping the daemon while this start waited for them.
    #[error(
        "daemon `{daemon}` is being started or stopped by other processes, again and again; nothing was spawned: try again"
    )]
    Busy {
        /// The daemon.
        daemon: String,
    },
    /// The state machine refused a transition.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The task running the operation failed (it panicked, or the runtime shut down).
    #[error("daemon `{daemon}`: the start did not finish: {message}")]
    Task {
        /// The daemon.
        daemon: String,
        /// What happened to the task.
        message: String,
    },
}

/// A daemon could not be stopped.
///
/// ```
/// let err = lifecycle_core::StopError::StillAlive { daemon: "w".into(), pid: 7, members: vec![9] };
/// assert!(err.to_string().contains("still alive"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StopError {
    /// The handle's values do not make a valid plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// No manager (the state directory is not usable).
    #[error(transparent)]
    Manager(#[from] ManagerError),
    /// The daemon's lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A state record could not be read or removed.
    #[error("daemon `{daemon}`: {source}")]
    Record {
        /// The daemon.
        daemon: String,
        /// The record error.
        source: RecordError,
    },
    /// Its process group outlived SIGKILL.
    #[error(
        "daemon `{daemon}` (pid {pid}): processes {members:?} of its group are still alive after SIGKILL; they are likely stuck in the kernel (state D: see /proc/<pid>/stack); the daemon is marked Failed and its record kept"
    )]
    StillAlive {
        /// The daemon.
        daemon: String,
        /// Its PID.
        pid: u32,
        /// The group members still alive.
        members: Vec<u32>,
    },
    /// What a daemon whose process is gone left in its group outlived SIGKILL (stuck in the
    /// kernel); its record is kept so that they are not forgotten.
    #[error(
        "daemon `{daemon}`: processes {members:?} left in its group could not be stopped: {reason}; they are likely stuck in the kernel (state D: see /proc/<pid>/stack); its record is kept"
    )]
    Leftovers {
        /// The daemon.
        daemon: String,
        /// The processes left.
        members: Vec<u32>,
        /// Why.
        reason: String,
    },
    /// The daemon's host could not be reached or used over SSH.
    #[error("daemon `{daemon}`: {source}")]
    Remote {
        /// The daemon.
        daemon: String,
        /// What went wrong there.
        source: RemoteError,
    },
    /// A daemon that depends on it could not be stopped first.
    #[error("daemon `{daemon}`: its dependent `{dependent}` did not stop: {source}")]
    Dependent {
        /// The daemon.
        daemon: String,
        /// The dependent.
        dependent: String,
        /// Why.
        source: Box<StopError>,
    },
    /// No record of this library names the daemon (stop by name never falls back to process names).
    #[error("no daemon named `{daemon}` was started by this library (no record in {}); nothing was signalled", records.display())]
    Unknown {
        /// The name asked for.
        daemon: String,
        /// Where records are kept.
        records: PathBuf,
    },
    /// The process to stop by PID does not exist.
    #[error("no process with pid {pid}")]
    NoSuchProcess {
        /// The PID.
        pid: u32,
    },
    /// A signal could not be sent.
    #[error("cannot signal pid {pid}: {source}")]
    Signal {
        /// The PID.
        pid: u32,
        /// The OS error.
        source: std::io::Error,
    },
    /// The state machine refused a transition.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The task running the operation failed (it panicked, or the runtime shut down).
    #[error("daemon `{daemon}`: the stop did not finish: {message}")]
    Task {
        /// The daemon.
        daemon: String,
        /// What happened to the task.
        message: String,
    },
}

/// Readiness polling (`poll_until_healthy`) gave up.
///
/// ```
/// let err = lifecycle_core::error::PollError { url: "http://127.0.0.1:1/health".into(), timeout: std::time::Duration::from_secs(1), attempts: 4, last_error: "refused".into() };
/// assert!(err.to_string().contains("4 attempts"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{url} was not healthy within {} ({attempts} attempts); last: {last_error}", DisplayDuration(*timeout))]
pub struct PollError {
    /// The URL probed.
    pub url: String,
    /// The overall timeout.
    pub timeout: Duration,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub last_error: String,
}

/// The same I/O error again (`io::Error` is not `Clone`): its kind and message.
fn io_again(err: &std::io::Error) -> std::io::Error {
    std::io::Error::new(err.kind(), err.to_string())
}

impl RecordError {
    /// The same error again, for a second caller waiting on one operation.
    pub(crate) fn duplicate(&self) -> RecordError {
        match self {
            RecordError::Io { path, source } => RecordError::Io {
                path: path.clone(),
                source: io_again(source),
            },
            RecordError::Malformed(what) => RecordError::Malformed(what.clone()),
            RecordError::UnknownVersion { path, version } => RecordError::UnknownVersion {
                path: path.clone(),
                version: version.clone(),
            },
            RecordError::Check { path, pid, source } => RecordError::Check {
                path: path.clone(),
                pid: *pid,
                source: io_again(source),
            },
        }
    }
}

impl LockError {
    /// The same error again, for a second caller waiting on one operation.
    pub(crate) fn duplicate(&self) -> LockError {
        LockError {
            path: self.path.clone(),
            key: self.key.clone(),
            source: io_again(&self.source),
        }
    }
}

impl ManagerError {
    /// The same error again.
    pub(crate) fn duplicate(&self) -> ManagerError {
        match self {
            ManagerError::StateDir(e) => {
                ManagerError::StateDir(crate::store::state_dir::StateDirError {
                    path: e.path.clone(),
                    source: io_again(&e.source),
                })
            }
            ManagerError::HttpClient(e) => ManagerError::HttpClient(e.clone()),
            ManagerError::Identity(e) => ManagerError::Identity(io_again(e)),
        }
    }
}

impl StartError {
    /// The same error again, for every caller waiting on one start.
    pub(crate) fn duplicate(&self) -> StartError {
        match self {
            StartError::Plan(e) => StartError::Plan(e.clone()),
            StartError::Manager(e) => StartError::Manager(e.duplicate()),
            StartError::Lock(e) => StartError::Lock(e.duplicate()),
            StartError::Record { daemon, source } => StartError::Record {
                daemon: daemon.clone(),
                source: source.duplicate(),
            },
            StartError::BinaryNotFound(e) => StartError::BinaryNotFound(e.clone()),
            StartError::Spawn {
                daemon,
                binary,
                source,
            } => StartError::Spawn {
                daemon: daemon.clone(),
                binary: binary.clone(),
                source: io_again(source),
            },
            StartError::PortTaken { daemon, probe } => StartError::PortTaken {
                daemon: daemon.clone(),
                probe: probe.clone(),
            },
            StartError::Conflict {
                daemon,
                pid,
                running,
                wanted,
            } => StartError::Conflict {
                daemon: daemon.clone(),
                pid: *pid,
                running: running.clone(),
                wanted: wanted.clone(),
            },
            StartError::AlreadyRunning { daemon, pid } => StartError::AlreadyRunning {
                daemon: daemon.clone(),
                pid: *pid,
            },
            StartError::Exited {
                daemon,
                exit,
                log,
                log_tail,
            } => StartError::Exited {
                daemon: daemon.clone(),
                exit: exit.clone(),
                log: log.clone(),
                log_tail: log_tail.clone(),
            },
            StartError::TimedOut {
                daemon,
                deadline,
                attempts,
                last_error,
                log,
                log_tail,
            } => StartError::TimedOut {
                daemon: daemon.clone(),
                deadline: *deadline,
                attempts: *attempts,
                last_error: last_error.clone(),
                log: log.clone(),
                log_tail: log_tail.clone(),
            },
            StartError::Unhealthy {
                daemon,
                pid,
                last_error,
            } => StartError::Unhealthy {
                daemon: daemon.clone(),
                pid: *pid,
                last_error: last_error.clone(),
            },
            StartError::Dependency {
                daemon,
                dependency,
                source,
            } => StartError::Dependency {
                daemon: daemon.clone(),
                dependency: dependency.clone(),
                source: Box::new(source.duplicate()),
            },
            StartError::Remote { daemon, source } => StartError::Remote {
                daemon: daemon.clone(),
                source: source.clone(),
            },
            StartError::Probe { daemon, source } => StartError::Probe {
                daemon: daemon.clone(),
                source: io_again(source),
            },
            StartError::Cancelled { daemon, reason } => StartError::Cancelled {
                daemon: daemon.clone(),
                reason: reason.clone(),
            },
            StartError::Busy { daemon } => StartError::Busy {
                daemon: daemon.clone(),
            },
            StartError::Leftovers { daemon, reason } => StartError::Leftovers {
                daemon: daemon.clone(),
                reason: reason.clone(),
            },
            StartError::Illegal(e) => StartError::Illegal(e.clone()),
            StartError::Task { daemon, message } => StartError::Task {
                daemon: daemon.clone(),
                message: message.clone(),
            },
        }
    }
}

impl StopError {
    /// The same error again, for every caller waiting on one stop.
    pub(crate) fn duplicate(&self) -> StopError {
        match self {
            StopError::Plan(e) => StopError::Plan(e.clone()),
            StopError::Manager(e) => StopError::Manager(e.duplicate()),
            StopError::Lock(e) => StopError::Lock(e.duplicate()),
            StopError::Record { daemon, source } => StopError::Record {
                daemon: daemon.clone(),
                source: source.duplicate(),
            },
            StopError::Remote { daemon, source } => StopError::Remote {
                daemon: daemon.clone(),
                source: source.clone(),
            },
            StopError::StillAlive {
                daemon,
                pid,
                members,
            } => StopError::StillAlive {
                daemon: daemon.clone(),
                pid: *pid,
                members: members.clone(),
            },
            StopError::Dependent {
                daemon,
                dependent,
                source,
            } => StopError::Dependent {
                daemon: daemon.clone(),
                dependent: dependent.clone(),
                source: Box::new(source.duplicate()),
            },
            StopError::Leftovers {
                daemon,
                members,
                reason,
            } => StopError::Leftovers {
                daemon: daemon.clone(),
                members: members.clone(),
                reason: reason.clone(),
            },
            StopError::Unknown { daemon, records } => StopError::Unknown {
                daemon: daemon.clone(),
                records: records.clone(),
            },
            StopError::NoSuchProcess { pid } => StopError::NoSuchProcess { pid: *pid },
            StopError::Signal { pid, source } => StopError::Signal {
                pid: *pid,
                source: io_again(source),
            },
            StopError::Illegal(e) => StopError::Illegal(e.clone()),
            StopError::Task { daemon, message } => StopError::Task {
                daemon: daemon.clone(),
                message: message.clone(),
            },
        }
    }
}

fn tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        return "    (nothing)".to_owned();
    }
    lines
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
