//! Declare, check and run the lifecycle of daemons.
//!
//! Lifecycles are YAML spec files (see the README for the language), compiled by
//! `#[derive(Lifecycle)]` into typed handles; the whole spec is validated when the crate builds,
//! and the handle holds it as constants. A [`DaemonManager`] runs handles: it spawns each daemon
//! in its own process group with its output in a log file, waits until it is ready (HTTP, TCP,
//! sd_notify or a log line; backoff bounded by a deadline; racing the daemon's exit), adopts a
//! daemon recorded as ours, and stops it (the spec's signal chain, SIGKILL to the group, done
//! when nothing of it is left). Every change of state goes through one transition table and is
//! published.
//!
//! ```
//! use lifecycle_core::Lifecycle;
//!
//! #[derive(Lifecycle)]
//! #[lifecycle(spec = "../specs/queen.yaml")]
//! struct QueenHandle {
//!     port: u16,
//! }
//!
//! let queen = QueenHandle { port: 9000 };
//! assert_eq!(queen.spec().name, "queen-rbee");
//! assert_eq!(queen.render(&queen.spec().command.args[1]).unwrap(), "9000");
//! ```

mod async_fd;
mod binary;
mod compat;
mod ensure;
mod errors;
mod events;
mod exit;
mod handle;
mod lock;
mod log_file;
mod log_watch;
mod manager;
mod notify;
mod outcome;
mod pidfd;
mod plan;
mod probe;
mod proc_stat;
mod readiness;
mod record;
mod shutdown;
mod spawn;
mod stable_hash;
mod state;
mod state_dir;
mod status;
mod stop;
mod supervise;
mod unknown_kind;

pub use binary::BinaryNotFound;
pub use compat::{
    ensure_daemon_running, graceful_shutdown, graceful_shutdown_by_pid, is_daemon_healthy,
    poll_until_healthy, spawn_daemon,
};
pub use errors::{PollError, StartError, StopError};
pub use events::Transition;
pub use exit::Exit;
pub use handle::{Lifecycle, StatusError, VarError};
pub use lifecycle_macros::Lifecycle;
pub use lock::LockError;
pub use manager::{DaemonManager, ManagerBuilder, ManagerError};
pub use outcome::{Running, Status, Stopped};
pub use plan::PlanError;
pub use record::{Record, RecordError};
pub use state::{Event, IllegalTransition, Restart, State, transition};
pub use state_dir::StateDirError;
pub use unknown_kind::UnknownKind;

/// The spec model (re-exported from `lifecycle-spec`): what a derived handle holds.
pub use lifecycle_spec as spec;
