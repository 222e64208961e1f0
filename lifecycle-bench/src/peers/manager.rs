//! What the comparison asks of every manager, ours and the peers', through their own
//! interfaces.

use std::time::Duration;

use crate::peers::kind::Daemon;

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running manager with a set of daemons configured (not started).
pub(crate) trait Manager {
    /// Starts these daemons; returns when the manager reports them running.
    fn start(&mut self, names: &[&str]) -> Result<(), Error>;
    /// Starts every configured daemon; returns when the manager reports them all running.
    fn start_all(&mut self) -> Result<(), Error>;
    /// Stops these daemons; returns when the manager reports them stopped.
    fn stop(&mut self, names: &[&str]) -> Result<(), Error>;
    /// Stops every daemon; returns when the manager reports them all stopped.
    fn stop_all(&mut self) -> Result<(), Error>;
    /// The PID the manager knows for a running daemon.
    fn pid(&mut self, name: &str) -> Result<u32, Error>;
    /// The manager's own memory and CPU time so far (its processes, not the daemons).
    fn usage(&self) -> Result<Usage, Error>;
    /// Ends the manager and whatever it still runs.
    fn shutdown(self: Box<Self>) -> Result<(), Error>;
}

/// A manager, ready to be launched with a set of daemons.
pub(crate) trait Peer {
    /// Its name in the tables.
    fn name(&self) -> &'static str;
    /// Whether this is the library itself (the column the others are compared with).
    fn is_ours(&self) -> bool {
        false
    }
    /// How it is configured, in a few words, for the notes under the tables.
    fn configuration(&self) -> String;
    /// Launches the manager in `dir` with `daemons` configured, `grace` from SIGTERM to SIGKILL,
    /// started by running `binary`.
    fn launch(
        &self,
        binary: &str,
        dir: &std::path::Path,
        daemons: &[Daemon],
        grace: Duration,
    ) -> Result<Box<dyn Manager>, Error>;
}

/// A manager's resource use.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// Memory in KiB: peak RSS of the manager's process, or for a manager of many processes
    /// (s6) the sum of their proportional set sizes.
    pub(crate) memory_kib: u64,
    /// CPU time, user + system.
    pub(crate) cpu: Duration,
}
