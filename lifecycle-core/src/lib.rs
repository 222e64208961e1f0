//! Declare, check and run the lifecycle of daemons.
//!
//! Lifecycles are YAML spec files (see the README for the language), compiled by
//! `#[derive(Lifecycle)]` into typed handles; the whole spec is validated when the crate builds,
//! and the handle holds it as constants. A [`DaemonManager`] runs handles.
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
//!
//! # Theory of operation
//!
//! **One owner per daemon.** A manager runs one task per daemon key (its *owner*), made on
//! first use. The owner holds the daemon's process (a pidfd on it), its state and its
//! supervision, and takes commands — ensure, stop — from a channel; nothing else touches the
//! daemon. Its state changes go through one transition table ([`state::transition`]; an illegal pair
//! is an error) and are published to [`DaemonManager::subscribe`] and traced. A caller that
//! stops waiting (a timeout, a dropped future) only stops waiting: the owner finishes the start
//! or the stop. When the manager is dropped, its owners end; what it spawned runs on (and is
//! reaped, its status recorded, when it exits), or is killed with `stop_on_drop(true)`.
//!
//! **One truth across processes: the record.** `<state dir>/daemons/<key>.record` says what
//! runs under the key (PID, start time, boot id, process group, session, the process that
//! spawned it), in which state (`starting`, `ready`, `stopping` with who stops it and until
//! when, `backoff` with the restart to come, `exited` with how), and carries a generation. Every
//! write happens under the daemon's lock (a byte-range lock on `<state dir>/lock`, held for a
//! read-decide-write — with at most one bounded probe — never across a readiness wait, a sweep
//! or a stop chain) after checking that the record is still the generation the writer read; a
//! record is removed only by whoever still finds in it the process they expect. Where a caller
//! is told before the record follows (a start's `ready`, a stop's removal), the write is owed:
//! made even if the owner goes first. A PID read from a record
//! is a claim: it names the recorded process only if the boot is this one and the process
//! behind it, pinned by a pidfd, has the recorded start time. Only `ESRCH` means a process is
//! gone; any other error (`EMFILE`) is an error, and nothing is concluded from it.
//!
//! **A start** (`ensure_running`): the dependencies first. Then, if the owner runs the daemon
//! already, the answer is at once. Otherwise, under the lock, the record decides: a ready
//! process of ours is adopted (one probe first); a starting one, started by another process,
//! is awaited with its deadline counted from its recorded start (its probe; its log from where
//! its output begins; for `notify`, its record turning ready); one being stopped is waited for
//! while its stopper lives and its time lasts, then the stop is taken over; a pending restart is
//! claimed; a record of another boot, or whose PID is someone else's now,
//! is dropped and nothing signalled; one whose process is gone is dropped after what is left of
//! its group is swept — and if that outlives SIGKILL, the start is refused (`Leftovers`): no
//! second copy beside processes stuck in the kernel. A handle whose values differ from the running daemon's is a
//! `Conflict`; a port that answers while nothing of ours runs there is `PortTaken`. Else a fresh
//! process: binary resolved (absolute path, `$PATH`, the workspace's `target/`), spawned on a
//! blocking thread with stdin from `/dev/null`, output appended to its log (rotated at start once
//! it reaches `logs.max_size`, and while it runs), in a process group of its own, with the
//! environment the spec allows and no inherited `NOTIFY_SOCKET`; recorded `starting`; the lock
//! released. The readiness wait (first probe at once, then the spec's backoff, never past the
//! deadline; or the notify/log event) races the process's exit: a crash fails the start at once
//! with its status and the last lines of its log. Ready is recorded; a daemon never ready is
//! stopped by its chain and recorded as failed, with the last probe's error.
//!
//! **A stop**: the daemons that depend on this one first (found through markers every process
//! leaves, each confirmed by its dependent's record; independent ones concurrently). Then the
//! record says `stopping` (by this process, until its chain is over at the latest), and the
//! chain runs with no lock held: each step's signal goes to the process group, followed by
//! SIGCONT (a stopped process handles it then), or the HTTP shutdown POST (one nobody answers
//! moves on at once); each wait is the group's end bounded by the step's grace; SIGKILL to the
//! group after the last; it returns when no process of the group is left, and the record goes.
//! The chain is the one the daemon was started with (its record's). A pending restart is
//! cancelled by removing its record (a restart that came meanwhile is stopped).
//!
//! **Signals** reach only what this library started. A group signal goes through a pidfd on the
//! leader (`PIDFD_SIGNAL_PROCESS_GROUP`, Linux 6.9+): the kernel finds the group through the
//! pidfd's own process, which no reuse of the number can fool. On older kernels each member is
//! signalled through a pidfd of its own, after checking its group, and only while the group is
//! provably ours: its leader pinned and not reaped, or — for what a dead leader left — no
//! process holding the PID equal to the group ID (a group ID can be re-created only by a
//! process with that PID) and only its members of the recorded leader's session started after
//! it (a stranger that took the number over and left a group of its own behind is of another
//! session) — and never, on any path, the manager's own group. Cleaning up after a crash or a
//! stale record is a *sweep*: the chain's signals to what is left of our group, never its HTTP
//! step, and nothing at all when the group is empty. Waiting for a group's end is an event: the
//! leader's pidfd, the reap (a hang-up on the pidfd), the group's emptiness asked through the
//! pidfd; `/proc` is scanned only when the group outlives its leader.
//!
//! **Exits and restarts.** The daemon's parent (the process that spawned it) reaps it at once
//! and reads its status; it sweeps what the leader left in its group and records its verdict
//! under the `restart` policy: `backoff` with the count of restarts in a row (shared by every
//! supervisor; reset after `reset_after` of running; a restart that fails before it runs, or
//! before it is ready, counts as one), or `exited`. If what the leader left outlives SIGKILL,
//! nothing is restarted and the record stays `stopping`. An adopter, which cannot read
//! the status, defers to the parent while it lives and decides itself only when the parent is
//! gone (an unknown status counts as a failure). Whoever wrote `backoff` restarts the daemon when
//! it is due; other supervisors follow, and claim the restart only if it does not come in time.
//! A manager that outlives the runtime an owner ran on makes a new owner at the next call, which
//! adopts a daemon this process spawned as its child (and reaps it).
//!
//! **Threads.** Nothing blocks the runtime's workers: file work, spawns and `/proc` reads go
//! into a queue per runtime, run by at most one of its blocking threads per CPU (2 to 8), which
//! take work until the queue is empty and then end (a log rotation, long, gets a thread of its
//! own). Owners are tasks on the caller's runtime.
//!
//! **Remote daemons.** A daemon whose location renders to another host has the same owner
//! task; its process and its record are on that host. The manager keeps one `ssh` master per
//! (user, host, port) whose session runs a fixed POSIX sh helper answering framed requests (one
//! round trip per operation; no value is ever part of a shell line). The helper starts a daemon
//! under the daemon's lock there (`flock`, released by the kernel if its holder dies), writes
//! its record (the manager's text with the process's identity filled in, renamed into place),
//! and leaves a keeper as the daemon's parent that reports its exit at once; it runs a stop
//! chain there in one round trip, polling the group every 10 ms. Only the helper's loop writes
//! to the session (keepers and stops hand it their lines through a FIFO), so the session ends
//! with the manager's connection. Without a pidfd in sh, a signal there goes to the recorded
//! group right after checking that the recorded PID still has its recorded start time: a window
//! of microseconds, not the local guarantee. A lost connection loses the exit watch, not the
//! daemon (unless the manager stops what it starts when it goes): the record there stays the
//! truth, an ensure asks the host before it answers, and the next operation reconnects.
//!
//! **The state directory** (`$LIFECYCLE_STATE_DIR`, else `$XDG_STATE_HOME/lifecycle`, else
//! `$HOME/.local/state/lifecycle`; never a shared directory) must be the user's own: it and its
//! parents up to the home directory or a root-owned directory owned by the effective user and
//! not writable by group or others. It is opened without following links and everything in it
//! is reached relative to it; records not owned by the user are ignored. Log files are opened
//! without following links and rotated files created anew.

mod async_fd;
mod blocking;
pub mod compat;
#[cfg(feature = "ssh")]
mod compat_remote;
mod daemon;
mod deadline;
mod errors;
mod events;
mod fleet;
mod handle;
mod listing;
mod manager;
mod outcome;
mod plan;
mod process;
mod random;
mod readiness;
mod remote;
mod stable_hash;
pub mod state;
mod store;
mod unknown_kind;

pub use errors::{ManagerError, StartError, StopError};
pub use events::Transition;
pub use handle::{Lifecycle, StatusError};
pub use lifecycle_macros::Lifecycle;
pub use listing::Listed;
pub use manager::{DaemonManager, ManagerBuilder};
pub use outcome::{Running, Status, Stopped};
pub use process::exit::Exit;
pub use state::State;

/// The spec model: what a derived handle holds (`Lifecycle::spec`), as `lifecycle-spec` defines
/// it. Its structs, and the enums that will grow (`Probe`, `StopStep`, `Location`), are
/// `#[non_exhaustive]`: their fields are public to read (and to set), and a field or a kind of
/// probe added to the spec language breaks no crate. The word sets (`Signal`, `RestartPolicy`,
/// `WaitFor`, `HostKeys`, `ProbeFrom`, `InheritEnv`, `Part`) are closed: match them
/// exhaustively; a new word would be a new major version.
///
/// ```
/// use lifecycle_core::Lifecycle;
/// use lifecycle_core::spec::{Probe, StopStep};
///
/// #[derive(Lifecycle)]
/// #[lifecycle(spec = "../specs/queen.yaml")]
/// struct QueenHandle {
///     port: u16,
/// }
///
/// let spec = QueenHandle { port: 9000 }.spec();
/// assert!(matches!(spec.readiness.as_ref().map(|r| &r.probe), Some(Probe::Http { .. })));
/// assert!(matches!(spec.stop[0], StopStep::Signal { .. }));
/// ```
pub mod spec {
    pub use lifecycle_spec::{
        Backoff, Command, Dependency, DisplayDuration, EnvVar, HostKeys, InheritEnv, List,
        Location, Logs, MAX_DURATION, Part, Pos, Probe, ProbeFrom, Readiness, RenderError, Restart,
        RestartPolicy, Signal, Spec, Ssh, StopStep, Str, Template, TemplateError, VarBinding,
        VarDefault, WaitFor,
    };
}

/// Every error type of the crate: the four a caller of handles meets most
/// ([`StartError`], [`StopError`], [`StatusError`], [`ManagerError`], also at the root) and
/// the ones they carry.
///
/// ```
/// use lifecycle_core::error::{PlanError, VarError};
/// fn describe(err: &PlanError) -> String {
///     match err {
///         PlanError::Var(VarError { var, .. }) => format!("no value for `{var}`"),
///         other => other.to_string(),
///     }
/// }
/// # let _ = describe;
/// ```
pub mod error {
    pub use crate::errors::{ManagerError, PollError, StartError, StopError};
    pub use crate::handle::StatusError;
    pub use crate::plan::{PlanError, VarError};
    pub use crate::process::binary::BinaryNotFound;
    pub use crate::remote::RemoteError;
    pub use crate::store::lock::LockError;
    pub use crate::store::record::RecordError;
    pub use crate::store::state_dir::StateDirError;
    pub use crate::unknown_kind::UnknownKind;
}

/// The record a daemon leaves in the state directory: what runs under its key, in which
/// state; the one truth every process shares (see "Theory of operation").
pub mod record {
    pub use crate::store::record::{Record, RecordError, RecordState};
}

/// Not part of the API: what the code `#[derive(Lifecycle)]` generates reaches (through
/// `use lifecycle_core::__private as __lc;` in its block), and hooks for this workspace's tests
/// and benchmarks. They may change or go in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::Lifecycle;
    pub use crate::unknown_kind::UnknownKind;
    pub use lifecycle_spec::__private::*;
    pub use lifecycle_spec::{
        HostKeys, InheritEnv, ProbeFrom, RestartPolicy, Signal, Spec, WaitFor,
    };

    /// What a handle's field must be to fill a spec's `{variable}` (`V`, a marker type the
    /// derive names after the variable): `Display`.
    #[diagnostic::on_unimplemented(
        message = "the field of type `{Self}` cannot fill the spec's `{{{V}}}`: it does not implement `Display`",
        label = "fills `{{{V}}}` in the spec, rendered with `Display`",
        note = "give the field a type that implements `std::fmt::Display` (a number, a `String`, …), or keep a rendered copy in a field of its own"
    )]
    pub trait FillsVariable<V> {
        /// The value as the spec's templates get it.
        fn render(&self) -> String;
    }

    impl<V, T: std::fmt::Display + ?Sized> FillsVariable<V> for T {
        fn render(&self) -> String {
            self.to_string()
        }
    }

    /// Renders `value` for variable `V` (the derive's call, so that a field without `Display`
    /// is reported as what it is).
    pub fn fill<V, T: FillsVariable<V> + ?Sized>(value: &T) -> String {
        value.render()
    }

    /// Makes every process-group signal in this process take the path of kernels older than
    /// 6.9 (one pidfd per member), so that the tests cover it on any kernel.
    pub fn force_group_signal_fallback(on: bool) {
        crate::process::group::force_fallback(on);
    }

    /// The byte of `<state dir>/lock` that stands for daemon `key` (for tests that hold a
    /// daemon's lock from another process).
    pub fn lock_offset(key: &str) -> i64 {
        crate::store::lock::offset_of(key)
    }
}
