//! What the lifecycle operations return.

use std::path::PathBuf;
use std::time::Duration;

use crate::State;

/// A daemon that is running and ready.
///
/// ```
/// # async fn demo(queen: &impl lifecycle_core::Lifecycle) -> Result<(), lifecycle_core::StartError> {
/// let running = lifecycle_core::DaemonManager::global()?.ensure_running(queen).await?;
/// println!("{} pid {} ready in {:?}", running.key, running.pid, running.elapsed);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Running {
    /// The daemon's key: its name, and `@instance` when the spec has an instance.
    pub key: String,
    /// Its PID (the leader of its process group).
    pub pid: u32,
    /// Whether this call spawned it (`false`: it was already running, or adopted from a record).
    pub started: bool,
    /// Spawn to ready, for a daemon this call started; zero otherwise.
    pub elapsed: Duration,
    /// Probe attempts until ready (0 when the spec has no readiness, or it was already running).
    pub attempts: u32,
    /// The rendered readiness probe (the health URL, …), if the spec has one.
    pub probe: Option<String>,
    /// Its log file.
    pub log: PathBuf,
}

/// What a stop did.
///
/// ```
/// let outcome = lifecycle_core::Stopped::NotRunning { key: "queen-rbee".into() };
/// assert!(!outcome.was_running());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It was running and is gone, with everything in its process group.
    Stopped {
        /// The daemon's key.
        key: String,
        /// Its PID.
        pid: u32,
        /// How long the stop took.
        elapsed: Duration,
        /// Whether SIGKILL was needed.
        killed: bool,
    },
    /// Nothing of ours was running under that key.
    NotRunning {
        /// The daemon's key.
        key: String,
    },
    /// A restart was pending (the daemon had exited and was to be restarted after its backoff):
    /// it is cancelled, and nothing runs.
    RestartCancelled {
        /// The daemon's key.
        key: String,
        /// The restart that will not come.
        attempt: u32,
    },
    /// A record named a process that is gone (what was left of its group was stopped), a PID
    /// that now belongs to another process (its start time differs: not signalled), or a
    /// process of another boot (not signalled). The record was removed.
    StaleRecord {
        /// The daemon's key.
        key: String,
        /// The recorded PID.
        pid: u32,
        /// What was found.
        reason: String,
    },
}

impl Stopped {
    /// Whether a running daemon was stopped.
    ///
    /// ```
    /// let stopped = lifecycle_core::Stopped::Stopped { key: "q".into(), pid: 7, elapsed: std::time::Duration::ZERO, killed: false };
    /// assert!(stopped.was_running());
    /// ```
    pub fn was_running(&self) -> bool {
        matches!(self, Stopped::Stopped { .. })
    }
}

/// What is known of a daemon now.
///
/// ```
/// let status = lifecycle_core::Status { key: "q".into(), state: lifecycle_core::State::Stopped, pid: None, healthy: None, stale: None };
/// assert!(!status.state.is_running());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The daemon's key.
    pub key: String,
    /// Its state: this process's view if it manages the daemon, else read from its record.
    pub state: State,
    /// Its PID, if running.
    pub pid: Option<u32>,
    /// Whether its probe passes now (`None`: not running, or no probe).
    pub healthy: Option<bool>,
    /// A stale record found (and left in place: status changes nothing).
    pub stale: Option<String>,
}
