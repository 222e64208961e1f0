//! The stop chain over a [`Group`]: each step's signal to the group (or the HTTP shutdown POST),
//! each wait the group's end bounded by the step's grace; SIGKILL to the group after the last
//! grace; done when nothing of the group is left. A sweep is the chain's signals alone, for what
//! is left of a group whose leader is gone: it never sends the HTTP step (whoever answers on the
//! daemon's port now is not the daemon), and does nothing to an empty group.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal as NixSignal;

use crate::deadline::deadline_in;
use crate::plan::StopPlan;
use crate::process::group::{Group, Lineage, LocalGroup};
use crate::store::record::Record;

/// How long SIGKILL may take to end the group before the stop is reported as failed.
pub(crate) const KILL_CONFIRM: Duration = Duration::from_secs(5);

/// How a chain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gone {
    pub(crate) elapsed: Duration,
    /// Whether SIGKILL was sent.
    pub(crate) killed: bool,
}

/// The group outlived SIGKILL (a process stuck in uninterruptible sleep, for one), or could not
/// be signalled or awaited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StillAlive {
    pub(crate) members: Vec<u32>,
    /// Why, when it is an error rather than a process that would not die.
    pub(crate) error: Option<String>,
}

pub(crate) fn to_nix(signal: lifecycle_spec::Signal) -> NixSignal {
    match signal {
        lifecycle_spec::Signal::Hup => NixSignal::SIGHUP,
        lifecycle_spec::Signal::Int => NixSignal::SIGINT,
        lifecycle_spec::Signal::Quit => NixSignal::SIGQUIT,
        lifecycle_spec::Signal::Term => NixSignal::SIGTERM,
        lifecycle_spec::Signal::Usr1 => NixSignal::SIGUSR1,
        lifecycle_spec::Signal::Usr2 => NixSignal::SIGUSR2,
    }
}

/// The most a chain can take: every grace, then the SIGKILL confirmation.
pub(crate) fn longest(steps: &[StopPlan]) -> Duration {
    steps
        .iter()
        .map(StopPlan::grace)
        .fold(KILL_CONFIRM, Duration::saturating_add)
}

/// Runs the chain on the daemon's group. `client`: for the HTTP step (`None` skips it).
/// `on_grace_expired(step)` is told when a step's grace runs out.
pub(crate) async fn run(
    group: &impl Group,
    steps: &[StopPlan],
    client: Option<&reqwest::Client>,
    on_grace_expired: &(dyn Fn(usize) + Send + Sync),
) -> Result<Gone, StillAlive> {
    let started = Instant::now();
    let failed = |error: std::io::Error| StillAlive {
        members: Vec::new(),
        error: Some(error.to_string()),
    };
    for (i, step) in steps.iter().enumerate() {
        let deadline = deadline_in(step.grace());
        match step {
            StopPlan::Signal { signal, .. } => {
                group.signal(to_nix(*signal)).await.map_err(failed)?;
                // A stopped (or traced) process handles the signal only once continued.
                group.signal(NixSignal::SIGCONT).await.map_err(failed)?;
            }
            StopPlan::HttpPost { url, .. } => {
                let Some(client) = client else { continue };
                let post = client.post(url).send();
                if let Ok(Err(err)) = tokio::time::timeout_at(deadline, post).await {
                    // Nobody heard the request: waiting its grace would only delay the next step.
                    tracing::warn!(%url, %err, "shutdown request failed; going on with the next step");
                    continue;
                }
            }
        }
        if group.gone(deadline).await.map_err(failed)? {
            return Ok(Gone {
                elapsed: started.elapsed(),
                killed: false,
            });
        }
        on_grace_expired(i);
    }
    group.signal(NixSignal::SIGKILL).await.map_err(failed)?;
    if group
        .gone(deadline_in(KILL_CONFIRM))
        .await
        .map_err(failed)?
    {
        Ok(Gone {
            elapsed: started.elapsed(),
            killed: true,
        })
    } else {
        Err(StillAlive {
            members: group.survivors().await,
            error: None,
        })
    }
}

/// Sweeps what the dead leader named by `record` left in its group, with the record's chain:
/// only members of its lineage (see [`LocalGroup::leaderless`]), never anyone else.
pub(crate) async fn sweep_left_by(record: &Record) -> Result<Option<Gone>, StillAlive> {
    let lineage = Lineage {
        session: record.session,
        since: record.start_time,
    };
    let group = LocalGroup::leaderless(record.pgid, lineage);
    sweep(&group, &StopPlan::from_record(&record.stop)).await
}

/// Stops what is left of a group whose leader has exited: the chain's signals only (no HTTP
/// step), and nothing at all when the group is empty. `Ok(None)`: there was nothing to stop.
pub(crate) async fn sweep(
    group: &impl Group,
    steps: &[StopPlan],
) -> Result<Option<Gone>, StillAlive> {
    match group.is_empty().await {
        Ok(true) => return Ok(None),
        Ok(false) => {}
        Err(error) => {
            return Err(StillAlive {
                members: Vec::new(),
                error: Some(error.to_string()),
            });
        }
    }
    run(group, &StopPlan::signals_of(steps), None, &|_| {})
        .await
        .map(Some)
}
