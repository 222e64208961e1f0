//! The demo's view of the manager's event stream: every transition printed as it is received,
//! with its time since the demo began (as the manager stamped it), and kept, so that the demo can await one (a crash, a
//! restart) whether it came already or is still to come.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::time::{Duration, SystemTime};

use lifecycle_core::state::{Event, RestartVerdict};
use lifecycle_core::{State, Transition};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::DemoError;

/// The width of the daemon column of a printed transition.
const DAEMON_WIDTH: usize = 22;

/// A process the events told of.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// Its daemon's key.
    pub(crate) key: String,
    /// Its PID.
    pub(crate) pid: u32,
    /// Its start time (`/proc/<pid>/stat`), read when its event came, if it was still there:
    /// it tells the process from a later one with the same PID.
    pub(crate) start_time: Option<u64>,
}

/// The event stream, the transitions received so far, and what they told of processes.
#[derive(Debug)]
pub(crate) struct Progress {
    /// The manager's events.
    events: Receiver<Transition>,
    /// When the demo began.
    began: SystemTime,
    /// Every transition received, in order.
    history: Vec<Transition>,
    /// Every process spawned or adopted, in order.
    processes: Vec<Seen>,
    /// Per daemon: when its current process was spawned and the probes that failed since.
    current: HashMap<String, (SystemTime, u32)>,
}

impl Progress {
    /// Follows `events` (subscribed before anything starts), times counted from `began`.
    pub(crate) fn new(events: Receiver<Transition>, began: SystemTime) -> Progress {
        Progress {
            events,
            began,
            history: Vec::new(),
            processes: Vec::new(),
            current: HashMap::new(),
        }
    }

    /// `work`'s output, the transitions received meanwhile (and those published before it
    /// ended) printed.
    pub(crate) async fn during<F: Future>(
        &mut self,
        out: &mut impl Write,
        work: F,
    ) -> Result<F::Output, DemoError> {
        let mut work = std::pin::pin!(work);
        loop {
            let next = tokio::select! {
                biased;
                received = self.events.recv() => Err(received),
                output = &mut work => Ok(output),
            };
            match next {
                Err(received) => self.take(out, received)?,
                Ok(output) => {
                    self.drain(out)?;
                    return Ok(output);
                }
            }
        }
    }

    /// The first transition from index `from` of the history on that `wanted` accepts, and its
    /// index, awaited (every transition received meanwhile printed) for at most `timeout`.
    pub(crate) async fn wait_for(
        &mut self,
        out: &mut impl Write,
        from: usize,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&Transition) -> bool,
    ) -> Result<(usize, Transition), DemoError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut index = from;
        loop {
            while let Some(transition) = self.history.get(index) {
                if wanted(transition) {
                    return Ok((index, transition.clone()));
                }
                index += 1;
            }
            let received = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| DemoError::Timeout {
                    what: what.to_owned(),
                    after: timeout,
                })?;
            self.take(out, received)?;
        }
    }

    /// Every process spawned or adopted so far, in order.
    pub(crate) fn processes(&self) -> &[Seen] {
        &self.processes
    }

    /// How long ago the current process of `key` was spawned.
    pub(crate) fn uptime(&self, key: &str) -> Option<Duration> {
        self.current
            .get(key)
            .map(|(at, _)| since(*at, SystemTime::now()))
    }

    /// Prints the transitions received and not yet printed.
    fn drain(&mut self, out: &mut impl Write) -> Result<(), DemoError> {
        loop {
            match self.events.try_recv() {
                Ok(transition) => self.take(out, Ok(transition))?,
                Err(TryRecvError::Lagged(missed)) => {
                    self.take(out, Err(RecvError::Lagged(missed)))?
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return Ok(()),
            }
        }
    }

    /// Keeps and prints one received transition (or says how many were missed).
    fn take(
        &mut self,
        out: &mut impl Write,
        received: Result<Transition, RecvError>,
    ) -> Result<(), DemoError> {
        let transition = match received {
            Ok(transition) => transition,
            Err(RecvError::Lagged(missed)) => {
                return writeln!(out, "  ({missed} transitions missed)").map_err(DemoError::Output);
            }
            Err(RecvError::Closed) => return Err(DemoError::EventsClosed),
        };
        let line = self.describe(&transition);
        self.history.push(transition);
        let Some(what) = line else {
            return Ok(());
        };
        let transition = self.history.last().ok_or(DemoError::EventsClosed)?;
        writeln!(
            out,
            "  {:>+7} ms  {:<DAEMON_WIDTH$} {:<9} -> {:<9} {what}",
            since(self.began, transition.at).as_millis(),
            transition.daemon,
            short(&transition.from),
            short(&transition.to),
        )
        .map_err(DemoError::Output)
    }

    /// Notes what `transition` tells of processes, and says it in words; `None` for a failed
    /// probe (counted, not printed: they are many).
    fn describe(&mut self, transition: &Transition) -> Option<String> {
        let key = &transition.daemon;
        Some(match &transition.event {
            Event::Start => "start".to_owned(),
            Event::Spawned { pid } | Event::Adopted { pid } => {
                self.processes.push(Seen {
                    key: key.clone(),
                    pid: *pid,
                    start_time: lifecycle_tests::harness::start_time(*pid),
                });
                self.current.insert(key.clone(), (transition.at, 0));
                match transition.event {
                    Event::Spawned { .. } => format!("spawned, pid {pid}"),
                    _ => format!("adopted, pid {pid}"),
                }
            }
            Event::ProbeFailed { .. } => {
                if let Some((_, failed)) = self.current.get_mut(key) {
                    *failed += 1;
                }
                return None;
            }
            Event::ProbeOk => match self.current.get(key) {
                Some((at, failed)) => format!(
                    "ready, {} ms after its spawn (probe {})",
                    since(*at, transition.at).as_millis(),
                    failed + 1
                ),
                None => "ready".to_owned(),
            },
            Event::SpawnFailed { error } => format!("spawn failed: {error}"),
            Event::DeadlinePassed { last_error } => {
                format!("not ready within its deadline; last probe: {last_error}")
            }
            Event::ProbeError { error } => format!("its probe broke: {error}"),
            Event::Exited {
                status, restart, ..
            } => match restart {
                RestartVerdict::No => format!("exited: {status}"),
                RestartVerdict::After(attempt) => {
                    format!("exited: {status}; restart {attempt} after its backoff")
                }
                RestartVerdict::LimitReached(max) => {
                    format!("exited: {status}; no restart, {max} in a row already")
                }
            },
            Event::Stop => "stop".to_owned(),
            Event::GraceExpired { step } => format!("grace of stop step {} ran out", step + 1),
            Event::Gone => "gone, with its whole process group".to_owned(),
            Event::RestartDue => "backoff over: restarting".to_owned(),
            Event::RestartScheduled { attempt } => format!("restart {attempt} scheduled"),
            Event::KillFailed { members } => format!("processes outlived SIGKILL: {members:?}"),
        })
    }
}

/// The time from `earlier` to `later` (zero if the clock went back).
fn since(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

/// A state in a word (a failure's reason is told by its event).
fn short(state: &State) -> String {
    match state {
        State::Failed { .. } => "Failed".to_owned(),
        State::Stopping { .. } => "Stopping".to_owned(),
        State::Backoff { attempt } => format!("Backoff#{attempt}"),
        other => other.to_string(),
    }
}
