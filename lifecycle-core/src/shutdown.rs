//! Stopping: the daemons that depend on this one first (each with its own dependents before
//! it), then this one, by what this process knows of it or by its record. A record whose PID
//! no longer names the recorded process is reported and removed; nothing is signalled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::exit;
use crate::manager::{Daemon, Inner, Stopping};
use crate::plan::StopPlan;
use crate::record::{self, Liveness};
use crate::stop::{self, Target};
use crate::{Event, State, StopError, Stopped};

/// How long a stop by key (no plan at hand) waits for the daemon's lock.
const STOP_PATIENCE: Duration = Duration::from_secs(600);

type StopFuture<'a> = Pin<Box<dyn Future<Output = Result<Stopped, StopError>> + Send + 'a>>;

impl Inner {
    /// The keys of the running daemons that depend on `key`: from this process's plans and from
    /// the markers every process leaves (a marker is believed only while its daemon's record
    /// still lists `key` as a dependency; a stale one is removed).
    fn dependents_of(&self, key: &str) -> Vec<String> {
        let mut keys = Vec::new();
        if let Ok(markers) = std::fs::read_dir(self.state.dependents(key)) {
            for marker in markers.filter_map(|m| m.ok()) {
                let Ok(dependent) = std::fs::read_to_string(marker.path()) else {
                    continue;
                };
                match record::read(&self.state.record(&dependent)) {
                    Ok(Some(r)) if r.depends_on.iter().any(|d| d == key) => keys.push(dependent),
                    Ok(_) => {
                        let _ = std::fs::remove_file(marker.path());
                    }
                    Err(_) => {}
                }
            }
        }
        for daemon in self.all_daemons() {
            if let Some(live) = daemon.running()
                && live.plan.dependencies.iter().any(|(d, _)| d.key == key)
                && !keys.contains(&daemon.key)
            {
                keys.push(daemon.key.clone());
            }
        }
        keys.sort();
        keys
    }

    /// Stops the daemon `key`, its dependents first. `steps`: the stop chain to use, if the
    /// caller has one (else the chain this process knows, or the record's). `path`: the keys
    /// being stopped above this one (a cycle of markers stops there).
    pub(crate) fn stop_key<'a>(
        self: &'a Arc<Self>,
        key: &'a str,
        steps: Option<Vec<StopPlan>>,
        path: &'a [String],
    ) -> StopFuture<'a> {
        Box::pin(async move {
            let mut below: Vec<String> = path.to_vec();
            below.push(key.to_owned());
            // Reverse order: whatever depends on this daemon goes first.
            for dependent in self.dependents_of(key) {
                if below.contains(&dependent) {
                    continue;
                }
                self.stop_key(&dependent, None, &below)
                    .await
                    .map_err(|source| StopError::Dependent {
                        daemon: key.to_owned(),
                        dependent: dependent.clone(),
                        source: Box::new(source),
                    })?;
            }
            self.stop_one(key, steps).await
        })
    }

    async fn stop_one(
        self: &Arc<Self>,
        key: &str,
        steps: Option<Vec<StopPlan>>,
    ) -> Result<Stopped, StopError> {
        let daemon = self.daemon(key);
        let patience = daemon
            .live()
            .map_or(STOP_PATIENCE, |l| l.plan.lock_patience());
        let _lock = self.locks.acquire(key, patience).await?;
        let record_path = self.state.record(key);
        let record_error = |source| StopError::Record {
            daemon: key.to_owned(),
            source,
        };

        if let Some(dead) = daemon.settle_exit() {
            let chain = steps.clone().unwrap_or_else(|| dead.plan.stop.clone());
            self.sweep(&mut dead.target(), &chain).await;
            if record::read(&record_path)
                .ok()
                .flatten()
                .is_some_and(|r| dead.is_recorded_by(&r))
            {
                record::remove(&record_path).map_err(record_error)?;
            }
        }
        let (target, steps) = if let Some(live) = daemon.running() {
            let steps = steps.unwrap_or_else(|| live.plan.stop.clone());
            (live.target(), steps)
        } else {
            // A restart may be pending (Backoff), or the daemon failed: nothing of this
            // process runs, but the state must say it was stopped.
            if matches!(
                daemon.machine.state(),
                State::Backoff { .. } | State::Failed { .. }
            ) {
                daemon.machine.apply(Event::Stop)?;
            }
            let Some(recorded) = record::read(&record_path).map_err(record_error)? else {
                return Ok(Stopped::NotRunning {
                    key: key.to_owned(),
                });
            };
            let steps = steps.unwrap_or_else(|| {
                recorded
                    .stop
                    .iter()
                    .filter_map(|l| StopPlan::from_record_line(l))
                    .collect()
            });
            match recorded.liveness() {
                Liveness::Alive(pidfd) => {
                    // Adopted for the stop: the state machine learns it runs.
                    if !daemon.machine.state().is_running() {
                        daemon.machine.apply(Event::Adopted { pid: recorded.pid })?;
                    }
                    let pidfd = Arc::new(pidfd);
                    let exit = exit::watch(pidfd.clone(), false);
                    (
                        Target {
                            pid: recorded.pid,
                            pgid: recorded.pgid,
                            exit,
                            leader: Some(pidfd),
                        },
                        steps,
                    )
                }
                Liveness::Gone => {
                    // Whatever the dead leader left in its group is still ours.
                    let left = crate::proc_stat::group_members(recorded.pgid).len();
                    self.sweep(&mut stop::orphans_of(&recorded), &steps).await;
                    record::remove(&record_path).map_err(record_error)?;
                    let mut reason = "the recorded process is gone".to_owned();
                    if left > 0 {
                        reason.push_str(&format!(
                            "; {left} processes left in its group were stopped"
                        ));
                    }
                    return Ok(Stopped::StaleRecord {
                        key: key.to_owned(),
                        pid: recorded.pid,
                        reason,
                    });
                }
                Liveness::Reused { found } => {
                    tracing::warn!(
                        pid = recorded.pid,
                        key,
                        "stale record: the PID belongs to another process now; not signalled"
                    );
                    record::remove(&record_path).map_err(record_error)?;
                    return Ok(Stopped::StaleRecord {
                        key: key.to_owned(),
                        pid: recorded.pid,
                        reason: format!(
                            "pid {} now belongs to another process (start time {found}, recorded {}); it was not signalled",
                            recorded.pid, recorded.start_time
                        ),
                    });
                }
            }
        };

        let stopping = Stopping::begin(&daemon.stopping);
        let stopped = self.run_chain(&daemon, target, &steps).await;
        drop(stopping);
        let stopped = stopped?;
        daemon.set_live(None);
        record::remove(&record_path).map_err(record_error)?;
        Ok(stopped)
    }

    async fn run_chain(
        &self,
        daemon: &Daemon,
        mut target: Target,
        steps: &[StopPlan],
    ) -> Result<Stopped, StopError> {
        if daemon.machine.state().is_running()
            && !matches!(daemon.machine.state(), State::Stopping { .. })
        {
            daemon.machine.apply(Event::Stop)?;
        }
        let grace_expired = |step| {
            let _ = daemon.machine.apply(Event::GraceExpired { step });
        };
        match stop::run(&mut target, steps, &self.client, &grace_expired).await {
            Ok(gone) => {
                daemon.machine.apply(Event::Gone)?;
                Ok(Stopped::Stopped {
                    key: daemon.key.clone(),
                    pid: target.pid,
                    elapsed: gone.elapsed,
                    killed: gone.killed,
                })
            }
            Err(still) => {
                daemon.machine.apply(Event::KillFailed {
                    members: still.members.clone(),
                })?;
                Err(StopError::StillAlive {
                    daemon: daemon.key.clone(),
                    pid: target.pid,
                    members: still.members,
                })
            }
        }
    }
}
