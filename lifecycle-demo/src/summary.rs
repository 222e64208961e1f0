//! What a run of the rbee demo did, for its callers to check.

use std::time::Duration;

/// What [`rbee`](crate::rbee()) did: every process it saw spawned, where the hive ran, the
/// crash and its restart. When it returns, every one of those processes is gone (it checked).
///
/// ```
/// # async fn demo() -> Result<(), lifecycle_demo::DemoError> {
/// let mut options = lifecycle_demo::Options::new("/usr/local/bin/rbee-stand-in".into());
/// options.fast = true;
/// let summary = lifecycle_demo::rbee(options, &mut std::io::sink()).await?;
/// assert_ne!(summary.crash.old_pid, summary.crash.new_pid);
/// println!("{} processes, all gone", summary.local_pids.len() + summary.remote_pids.len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The processes spawned on this machine: daemon key and PID, in spawn order.
    pub local_pids: Vec<(String, u32)>,
    /// The processes spawned on the hive's host when it runs over SSH (PIDs there).
    pub remote_pids: Vec<(String, u32)>,
    /// Where the hive ran: `local`, or `user@host:port`.
    pub hive_location: String,
    /// The worker crash and its restart.
    pub crash: Crash,
    /// The whole run.
    pub elapsed: Duration,
}

/// A worker's crash and its restart, as the manager's events told them.
///
/// ```
/// let crash = lifecycle_demo::Crash {
///     key: "vllm@8080".into(), status: "exit code 1".into(), old_pid: 100, new_pid: 200,
///     attempt: 1,
/// };
/// assert_eq!(crash.attempt, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// The worker's key.
    pub key: String,
    /// How its process ended (`exit code 1`).
    pub status: String,
    /// The process that crashed.
    pub old_pid: u32,
    /// The process of its restart.
    pub new_pid: u32,
    /// The restart's number (1 for the first).
    pub attempt: u32,
}
