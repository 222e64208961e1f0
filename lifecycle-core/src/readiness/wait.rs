//! Waiting for a daemon to become ready: the first probe at once, then the spec's backoff, never
//! past the deadline. Event probes (notify, a log line) are awaited, not polled. The daemon's
//! exit is raced by the caller, which owns the process.

use std::io;
use std::time::{Duration, Instant};

use crate::deadline::deadline_of;
use crate::plan::ReadinessPlan;
use crate::readiness::log_watch::LogWatch;
use crate::readiness::notify::NotifySocket;
use crate::readiness::probe;

/// How a wait for readiness ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Ready after `attempts` probes.
    Ready { elapsed: Duration, attempts: u32 },
    /// The deadline passed; the last probe's error.
    TimedOut { attempts: u32, last_error: String },
    /// The probe itself broke (the notify socket, the log file): waiting longer would not help.
    Failed { error: io::Error },
}

/// The event source of an event probe, set up before the spawn.
pub(crate) enum Listener {
    /// A polled probe (HTTP, TCP).
    Poll,
    Notify(NotifySocket),
    Log(LogWatch, regex_lite::Regex),
}

/// Waits for `pid` to become ready per `plan`, the deadline counted from `started`.
/// `on_failure` sees each failed attempt (to publish it).
pub(crate) async fn wait(
    plan: &ReadinessPlan,
    client: &reqwest::Client,
    pid: u32,
    listener: Listener,
    started: Instant,
    on_failure: &(dyn Fn(&str) + Send + Sync),
) -> Outcome {
    let deadline = deadline_of(started, plan.deadline);
    match listener {
        Listener::Notify(socket) => {
            await_event(
                socket.ready_from(pid),
                format!("no READY=1 from pid {pid}"),
                deadline,
                started,
            )
            .await
        }
        Listener::Log(mut watch, regex) => {
            let silence = format!("no log line matched /{regex}/");
            await_event(
                async { watch.matching_line(&regex).await.map(drop) },
                silence,
                deadline,
                started,
            )
            .await
        }
        Listener::Poll => poll(plan, client, deadline, started, on_failure).await,
    }
}

async fn await_event(
    event: impl Future<Output = io::Result<()>>,
    silence: String,
    deadline: tokio::time::Instant,
    started: Instant,
) -> Outcome {
    match tokio::time::timeout_at(deadline, event).await {
        Ok(Ok(())) => Outcome::Ready {
            elapsed: started.elapsed(),
            attempts: 1,
        },
        Ok(Err(error)) => Outcome::Failed { error },
        Err(_) => Outcome::TimedOut {
            attempts: 1,
            last_error: silence,
        },
    }
}

/// Polls the probe: one attempt at once, whatever the time left (so that even a wait that
/// starts late reports what the probe says), then the backoff's delays, never past `deadline`.
pub(crate) async fn poll(
    plan: &ReadinessPlan,
    client: &reqwest::Client,
    deadline: tokio::time::Instant,
    started: Instant,
    on_failure: &(dyn Fn(&str) + Send + Sync),
) -> Outcome {
    let mut attempts: u32 = 0;
    let mut last_error: Option<String> = None;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let timeout = if attempts == 0 {
            plan.attempt_timeout
        } else {
            plan.attempt_timeout.min(remaining)
        };
        attempts += 1;
        match probe::attempt(client, &plan.probe, timeout).await {
            Ok(()) => {
                return Outcome::Ready {
                    elapsed: started.elapsed(),
                    attempts,
                };
            }
            // An attempt cut short by the deadline says less than a full one before it.
            Err(error) if timeout < plan.attempt_timeout && last_error.is_some() => {
                tracing::debug!(error, "last attempt cut short by the deadline")
            }
            Err(error) => last_error = Some(error),
        }
        let error = last_error.clone().unwrap_or_default();
        on_failure(&error);
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Outcome::TimedOut {
                attempts,
                last_error: error,
            };
        }
        let delay = plan.backoff.delay(attempts - 1).min(deadline - now);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_spec::Backoff;

    use super::*;
    use crate::plan::ProbePlan;

    fn closed_port_plan(deadline: Duration) -> ReadinessPlan {
        // Port 1 on loopback: nothing listens, the connect is refused at once.
        ReadinessPlan {
            probe: ProbePlan::Tcp {
                host: "127.0.0.1".into(),
                port: 1,
            },
            deadline,
            attempt_timeout: Duration::from_millis(200),
            backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(40), 2.0),
        }
    }

    #[tokio::test]
    async fn a_wait_that_starts_past_its_deadline_still_reports_a_probe() {
        let plan = closed_port_plan(Duration::from_millis(100));
        let long_ago = Instant::now() - Duration::from_secs(10);
        let outcome = wait(
            &plan,
            &reqwest::Client::new(),
            0,
            Listener::Poll,
            long_ago,
            &|_| {},
        )
        .await;
        let Outcome::TimedOut {
            attempts,
            last_error,
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(attempts, 1);
        assert!(last_error.contains("connect 127.0.0.1:1"), "{last_error}");
    }

    #[tokio::test]
    async fn the_schedule_follows_the_backoff_and_the_deadline_bounds_it() {
        let plan = closed_port_plan(Duration::from_millis(300));
        let failures = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        let outcome = wait(
            &plan,
            &reqwest::Client::new(),
            0,
            Listener::Poll,
            started,
            &|_| failures.lock().unwrap().push(started.elapsed()),
        )
        .await;
        let elapsed = started.elapsed();
        assert!(matches!(outcome, Outcome::TimedOut { .. }), "{outcome:?}");
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
        // Delays of 20, 40, 40, … ms between refused attempts; the last one is cut to the deadline.
        let at = failures.into_inner().unwrap();
        let gaps: Vec<Duration> = at.windows(2).map(|pair| pair[1] - pair[0]).collect();
        for (i, gap) in gaps.iter().enumerate().take(gaps.len().saturating_sub(1)) {
            let nominal = plan.backoff.delay(u32::try_from(i).unwrap());
            assert!(
                *gap >= nominal,
                "attempt {} came early: {gap:?} < {nominal:?}",
                i + 2
            );
            assert!(
                *gap < nominal + Duration::from_millis(150),
                "attempt {} came late: {gap:?}",
                i + 2
            );
        }
        assert!(at.len() >= 4, "{at:?}");
    }
}
