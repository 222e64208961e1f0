//! Waiting for a daemon to become ready: the first probe at once, then the spec's backoff, never
//! past the deadline, always racing the daemon's exit. Event probes (notify, log line) are
//! awaited, not polled.

use std::time::{Duration, Instant};

use crate::exit::{Exit, ExitWatch, exited};
use crate::log_watch::LogWatch;
use crate::notify::NotifySocket;
use crate::plan::ReadinessPlan;
use crate::probe;

/// How a wait for readiness ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Ready { elapsed: Duration, attempts: u32 },
    TimedOut { attempts: u32, last_error: String },
    Exited { exit: Exit },
}

/// The event source of an event probe, prepared before the spawn.
pub(crate) enum Listener {
    None,
    Notify(NotifySocket),
    Log(LogWatch, regex_lite::Regex),
}

/// Waits for `pid` to become ready per `plan`, from `started`. `on_failure` sees each failed
/// attempt (to publish it).
pub(crate) async fn wait(
    plan: &ReadinessPlan,
    client: &reqwest::Client,
    pid: u32,
    listener: Listener,
    exit: &mut ExitWatch,
    started: Instant,
    on_failure: &(dyn Fn(&str) + Send + Sync),
) -> Outcome {
    let deadline = match started.checked_add(plan.deadline) {
        Some(at) => tokio::time::Instant::from_std(at),
        None => crate::stop::deadline_in(plan.deadline),
    };
    match listener {
        Listener::Notify(socket) => {
            let event = async {
                socket
                    .ready_from(pid)
                    .await
                    .map_err(|e| format!("notify socket: {e}"))
            };
            await_event(
                event,
                format!("no READY=1 from pid {pid}"),
                deadline,
                exit,
                started,
            )
            .await
        }
        Listener::Log(mut watch, regex) => {
            let event = async {
                watch
                    .matching_line(&regex)
                    .await
                    .map(drop)
                    .map_err(|e| format!("log: {e}"))
            };
            await_event(
                event,
                format!("no log line matched /{regex}/"),
                deadline,
                exit,
                started,
            )
            .await
        }
        Listener::None => poll(plan, client, deadline, exit, started, on_failure).await,
    }
}

async fn await_event(
    event: impl Future<Output = Result<(), String>>,
    silence: String,
    deadline: tokio::time::Instant,
    exit: &mut ExitWatch,
    started: Instant,
) -> Outcome {
    tokio::select! {
        biased;
        exit = exited(exit) => Outcome::Exited { exit },
        result = event => match result {
            Ok(()) => Outcome::Ready { elapsed: started.elapsed(), attempts: 1 },
            Err(last_error) => Outcome::TimedOut { attempts: 1, last_error },
        },
        () = tokio::time::sleep_until(deadline) => Outcome::TimedOut { attempts: 1, last_error: silence },
    }
}

async fn poll(
    plan: &ReadinessPlan,
    client: &reqwest::Client,
    deadline: tokio::time::Instant,
    exit: &mut ExitWatch,
    started: Instant,
    on_failure: &(dyn Fn(&str) + Send + Sync),
) -> Outcome {
    let mut attempts: u32 = 0;
    let mut last_error = String::from("no attempt fitted before the deadline");
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return Outcome::TimedOut {
                attempts,
                last_error,
            };
        }
        attempts += 1;
        let timeout = plan.attempt_timeout.min(remaining);
        let result = tokio::select! {
            biased;
            exit = exited(exit) => return Outcome::Exited { exit },
            result = probe::attempt(client, &plan.probe, timeout) => result,
        };
        match result {
            Ok(()) => {
                return Outcome::Ready {
                    elapsed: started.elapsed(),
                    attempts,
                };
            }
            // An attempt cut short by the deadline says less than the full attempts before it.
            Err(error) if timeout < plan.attempt_timeout && attempts > 1 => {
                tracing::debug!(error, "last attempt cut short by the deadline")
            }
            Err(error) => last_error = error,
        }
        on_failure(&last_error);
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Outcome::TimedOut {
                attempts,
                last_error,
            };
        }
        let delay = plan.backoff.delay(attempts - 1).min(deadline - now);
        tokio::select! {
            biased;
            exit = exited(exit) => return Outcome::Exited { exit },
            () = tokio::time::sleep(delay) => {}
        }
    }
}
