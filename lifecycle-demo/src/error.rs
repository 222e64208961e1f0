//! Why the rbee demo stopped short.

use std::path::PathBuf;
use std::time::Duration;

use lifecycle_core::error::{ManagerError, PlanError};
use lifecycle_core::{StartError, StopError};

/// Why [`rbee`](crate::rbee()) failed. Each variant names what it was doing; a daemon's start
/// or stop error carries the library's own error (with the daemon's log tail, where there is
/// one).
///
/// ```
/// let err = lifecycle_demo::DemoError::LeftRunning { pids: vec![4242] };
/// assert_eq!(err.to_string(), "processes left running after the stops: [4242]");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The stand-in binary's path is not UTF-8: a handle's `binary` field is text.
    #[error("the stand-in binary's path is not UTF-8: {0}")]
    NonUtf8Path(PathBuf),
    /// A file or directory of the demo's own (its scratch directory, the stand-in's model
    /// files) could not be made.
    #[error("{what}: {source}")]
    Io {
        /// What the demo was doing.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Writing the demo's output failed.
    #[error("cannot write the demo's output: {0}")]
    Output(#[source] std::io::Error),
    /// The daemon manager could not be built (its state directory, typically).
    #[error("cannot build the daemon manager: {0}")]
    Manager(#[source] ManagerError),
    /// A daemon did not come up.
    #[error("{daemon} did not start: {source}")]
    Start {
        /// The daemon (its spec's name, or its key when known).
        daemon: String,
        /// The library's error.
        source: StartError,
    },
    /// A daemon could not be stopped.
    #[error("{daemon} could not be stopped: {source}")]
    Stop {
        /// The daemon's key.
        daemon: String,
        /// The library's error.
        source: StopError,
    },
    /// A daemon's status could not be asked.
    #[error("cannot ask for the status of {daemon}: {source}")]
    Status {
        /// The daemon (its spec's name).
        daemon: String,
        /// The library's error.
        source: PlanError,
    },
    /// An awaited transition did not come in time.
    #[error("{what}: nothing after {after:?}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the demo waited.
        after: Duration,
    },
    /// The manager's event stream ended (the manager is gone).
    #[error("the manager's event stream ended")]
    EventsClosed,
    /// A daemon went somewhere the demo did not expect.
    #[error("unexpected: {0}")]
    Unexpected(String),
    /// Processes the demo started outlived their stops.
    #[error("processes left running after the stops: {pids:?}")]
    LeftRunning {
        /// Their PIDs.
        pids: Vec<u32>,
    },
}

impl DemoError {
    /// A [`DemoError::Io`] saying what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
        let what = what.into();
        move |source| DemoError::Io { what, source }
    }
}
