//! The lifecycle state machine: one transition table, in this file. Every change of state goes
//! through [`transition`]; a pair the table does not list is an [`IllegalTransition`] error.

use std::fmt;

/// Where a daemon is in its lifecycle.
///
/// ```
/// use lifecycle_core::{State, state::{Event, transition}};
/// let starting = transition(&State::Stopped, &Event::Start).unwrap();
/// assert_eq!(starting, State::Starting);
/// assert!(transition(&State::Stopped, &Event::ProbeOk).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Not running.
    Stopped,
    /// Spawned (or being spawned), not ready yet.
    Starting,
    /// Running and ready.
    Ready,
    /// Being stopped. `failure` is set when the stop cleans up a failed start, which then ends
    /// in `Failed` rather than `Stopped`.
    Stopping {
        /// Why the start failed, if this stop cleans one up.
        failure: Option<String>,
    },
    /// Not running, for the reason given.
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// Exited on its own; restart number `attempt` comes after the backoff delay.
    Backoff {
        /// The restart about to happen (1 for the first).
        attempt: u32,
    },
}

/// What happened to a daemon.
///
/// ```
/// use lifecycle_core::{State, state::{Event, transition}};
/// let state = transition(&State::Starting, &Event::Spawned { pid: 42 }).unwrap();
/// assert_eq!(transition(&state, &Event::ProbeOk).unwrap(), State::Ready);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A start was requested.
    Start,
    /// A running daemon recorded as ours was found healthy and taken over.
    Adopted {
        /// Its PID.
        pid: u32,
    },
    /// The process was spawned.
    Spawned {
        /// Its PID.
        pid: u32,
    },
    /// The spawn itself failed (binary, permissions, …).
    SpawnFailed {
        /// Why.
        error: String,
    },
    /// A readiness attempt failed.
    ProbeFailed {
        /// Why.
        error: String,
    },
    /// The readiness probe passed.
    ProbeOk,
    /// The readiness deadline passed.
    DeadlinePassed {
        /// The last probe error.
        last_error: String,
    },
    /// The readiness probe itself broke (the notify socket, the log file).
    ProbeError {
        /// Why.
        error: String,
    },
    /// The process exited.
    Exited {
        /// `exit code 3`, `killed by SIGTERM`, …
        status: String,
        /// Whether it exited with code 0.
        success: bool,
        /// What the restart policy decided.
        restart: RestartVerdict,
    },
    /// A stop was requested.
    Stop,
    /// A stop step's grace ran out.
    GraceExpired {
        /// The step (0-based) whose grace ran out.
        step: usize,
    },
    /// Everything in the daemon's process group is gone.
    Gone,
    /// The backoff delay before a restart has passed.
    RestartDue,
    /// A restart failed before the daemon was ready; restart number `attempt` comes next.
    RestartScheduled {
        /// The restart about to be tried.
        attempt: u32,
    },
    /// Processes of the group outlived SIGKILL.
    KillFailed {
        /// The processes still alive.
        members: Vec<u32>,
    },
}

/// The restart policy's verdict on an exit.
///
/// ```
/// assert_ne!(lifecycle_core::state::RestartVerdict::No, lifecycle_core::state::RestartVerdict::After(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartVerdict {
    /// Not restarted (policy `never`, or `on-failure` after a clean exit, or a requested stop).
    No,
    /// Restart number `n` after the backoff.
    After(u32),
    /// Not restarted: the policy's `max` restarts in a row were used up.
    LimitReached(u32),
}

/// An event the current state does not allow. The library reports it as an error; it never
/// ignores it. It means a bug in this library: please report it with the message.
///
/// ```
/// let err = lifecycle_core::state::transition(&lifecycle_core::State::Ready, &lifecycle_core::state::Event::Start).unwrap_err();
/// assert_eq!(err.to_string(), "illegal transition: event Start in state Ready (a bug in lifecycle: please report it)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}illegal transition: event {event:?} in state {from} (a bug in lifecycle: please report it)", daemon.as_ref().map(|d| format!("daemon `{d}`: ")).unwrap_or_default())]
pub struct IllegalTransition {
    /// The daemon, when known.
    pub daemon: Option<String>,
    /// The state.
    pub from: State,
    /// The event it does not allow.
    pub event: Event,
}

/// The transition table.
///
/// ```
/// use lifecycle_core::{State, state::{Event, transition}};
/// assert_eq!(transition(&State::Ready, &Event::Stop), Ok(State::Stopping { failure: None }));
/// ```
#[rustfmt::skip] // one line per transition: the table reads as a table
pub fn transition(from: &State, event: &Event) -> Result<State, IllegalTransition> {
    use Event as E;
    use State as S;
    let to = match (from, event) {
        (S::Stopped | S::Failed { .. }, E::Start) => S::Starting,
        (S::Stopped | S::Failed { .. } | S::Backoff { .. }, E::Adopted { .. }) => S::Ready,
        (S::Starting, E::Spawned { .. } | E::ProbeFailed { .. }) => S::Starting,
        (S::Starting, E::SpawnFailed { error }) => S::Failed { reason: error.clone() },
        (S::Starting, E::ProbeOk) => S::Ready,
        (S::Starting, E::Exited { status, .. }) => S::Failed { reason: format!("exited before it was ready: {status}") },
        (S::Starting, E::DeadlinePassed { last_error }) => S::Stopping { failure: Some(format!("not ready within the deadline; last probe: {last_error}")) },
        (S::Starting, E::ProbeError { error }) => S::Stopping { failure: Some(format!("its readiness probe failed: {error}")) },
        (S::Starting | S::Ready, E::Stop) => S::Stopping { failure: None },
        (S::Ready, E::Exited { restart: RestartVerdict::After(attempt), .. }) => S::Backoff { attempt: *attempt },
        (S::Ready, E::Exited { success: true, restart: RestartVerdict::No, .. }) => S::Stopped,
        (S::Ready, E::Exited { status, restart: RestartVerdict::No, .. }) => S::Failed { reason: format!("exited on its own: {status}") },
        (S::Ready, E::Exited { status, restart: RestartVerdict::LimitReached(max), .. }) => S::Failed { reason: format!("exited on its own: {status}; gave up after {max} restarts") },
        (S::Stopping { .. }, E::GraceExpired { .. } | E::Exited { .. }) => from.clone(),
        (S::Stopping { failure: None }, E::Gone) => S::Stopped,
        (S::Stopping { failure: Some(reason) }, E::Gone) => S::Failed { reason: reason.clone() },
        (S::Stopping { .. }, E::KillFailed { members }) => S::Failed { reason: format!("processes {members:?} of its group outlived SIGKILL") },
        // A restart that comes now: when due, or asked for during the backoff.
        (S::Backoff { .. }, E::RestartDue | E::Start) => S::Starting,
        (S::Failed { .. }, E::RestartScheduled { attempt }) => S::Backoff { attempt: *attempt },
        (S::Backoff { .. } | S::Failed { .. }, E::Stop) => S::Stopped,
        // A restart pending elsewhere ended there: the exit of the process it would replace, as that process's supervisor decided.
        (S::Backoff { .. }, E::Exited { success: true, restart: RestartVerdict::No, .. }) => S::Stopped,
        (S::Backoff { .. }, E::Exited { status, restart: RestartVerdict::No, .. }) => S::Failed { reason: format!("exited on its own: {status}") },
        (S::Backoff { .. }, E::Exited { status, restart: RestartVerdict::LimitReached(max), .. }) => S::Failed { reason: format!("exited on its own: {status}; gave up after {max} restarts") },
        _ => return Err(IllegalTransition { daemon: None, from: from.clone(), event: event.clone() }),
    };
    Ok(to)
}

impl State {
    /// Whether a process may be running in this state.
    ///
    /// ```
    /// assert!(lifecycle_core::State::Ready.is_running());
    /// assert!(!lifecycle_core::State::Stopped.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        matches!(
            self,
            State::Starting | State::Ready | State::Stopping { .. }
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Stopped => f.write_str("Stopped"),
            State::Starting => f.write_str("Starting"),
            State::Ready => f.write_str("Ready"),
            State::Stopping { .. } => f.write_str("Stopping"),
            State::Failed { reason } => write!(f, "Failed ({reason})"),
            State::Backoff { attempt } => write!(f, "Backoff (restart {attempt})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(success: bool, restart: RestartVerdict) -> Event {
        Event::Exited {
            status: "exit code 1".into(),
            success,
            restart,
        }
    }

    fn run(events: &[Event]) -> Result<State, IllegalTransition> {
        events
            .iter()
            .try_fold(State::Stopped, |s, e| transition(&s, e))
    }

    #[test]
    fn a_clean_life() {
        let end = run(&[
            Event::Start,
            Event::Spawned { pid: 1 },
            Event::ProbeFailed {
                error: "503".into(),
            },
            Event::ProbeOk,
            Event::Stop,
            Event::GraceExpired { step: 0 },
            Event::Exited {
                status: "killed by SIGKILL".into(),
                success: false,
                restart: RestartVerdict::No,
            },
            Event::Gone,
        ]);
        assert_eq!(end, Ok(State::Stopped));
    }

    #[test]
    fn a_crash_before_ready_fails_the_start() {
        let end = run(&[
            Event::Start,
            Event::Spawned { pid: 1 },
            exited(false, RestartVerdict::No),
        ])
        .unwrap();
        assert!(
            matches!(end, State::Failed { ref reason } if reason.starts_with("exited before it was ready"))
        );
    }

    #[test]
    fn a_deadline_stops_then_fails() {
        let end = run(&[
            Event::Start,
            Event::Spawned { pid: 1 },
            Event::DeadlinePassed {
                last_error: "503".into(),
            },
            Event::Gone,
        ])
        .unwrap();
        assert!(matches!(end, State::Failed { ref reason } if reason.contains("last probe: 503")));
    }

    #[test]
    fn restarts_go_through_backoff() {
        let ready = [Event::Start, Event::Spawned { pid: 1 }, Event::ProbeOk];
        let mut events = ready.to_vec();
        events.push(exited(false, RestartVerdict::After(1)));
        assert_eq!(run(&events), Ok(State::Backoff { attempt: 1 }));
        events.push(Event::RestartDue);
        assert_eq!(run(&events), Ok(State::Starting));
        let mut limit = ready.to_vec();
        limit.push(exited(false, RestartVerdict::LimitReached(3)));
        assert!(
            matches!(run(&limit), Ok(State::Failed { ref reason }) if reason.contains("gave up after 3 restarts"))
        );
        let mut clean = ready.to_vec();
        clean.push(exited(true, RestartVerdict::No));
        assert_eq!(run(&clean), Ok(State::Stopped));
    }

    #[test]
    fn illegal_pairs_are_errors() {
        for (state, event) in [
            (State::Stopped, Event::ProbeOk),
            (State::Stopped, Event::Stop),
            (State::Ready, Event::Start),
            (State::Ready, Event::Spawned { pid: 1 }),
            (State::Stopping { failure: None }, Event::Start),
            (State::Backoff { attempt: 1 }, Event::ProbeOk),
        ] {
            assert!(transition(&state, &event).is_err(), "{state:?} + {event:?}");
        }
    }
}
