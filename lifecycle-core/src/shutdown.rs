//! Stopping: the daemons that depend on this one first (each with its own dependents before
//! it), then this one, by what this process knows of it or by its record. A record whose PID
//! no longer names the recorded process is reported and removed; nothing is signalled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::exit;
use crate::manager::Inner;
use crate::plan::StopPlan;
use crate::record::{self, Liveness};
use crate::stop::{self, Target};
use crate::{Event, State, StopError, Stopped};

type StopFuture<'a> = Pin<Box<dyn Future<Output = Result<Stopped, StopError>> + Send + 'a>>;

impl Inner {
    /// The keys of the running daemons that depend on `key`: from this process's plans and from
    /// the markers every process leaves (a marker whose daemon has no record is removed).
    fn dependents_of(&self, key: &str) -> Vec<String> {
        let mut keys = Vec::new();
        if let Ok(markers) = std::fs::read_dir(self.state.dependents(key)) {
            for marker in markers.filter_map(|m| m.ok()) {
                let Ok(dependent) = std::fs::read_to_string(marker.path()) else {
                    continue;
                };
                if self.state.record(&dependent).exists() {
                    keys.push(dependent);
                } else {
                    let _ = std::fs::remove_file(marker.path());
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
    /// caller has one (else the chain this process knows, or the record's).
    pub(crate) fn stop_key<'a>(
        self: &'a Arc<Self>,
        key: &'a str,
        steps: Option<Vec<StopPlan>>,
    ) -> StopFuture<'a> {
        Box::pin(async move {
            // Reverse order: whatever depends on this daemon goes first.
            for dependent in self.dependents_of(key) {
                self.stop_key(&dependent, None)
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
        let _lock = self.locks.acquire(key).await?;
        daemon.settle_exit();
        let record_path = self.state.record(key);
        let record_error = |source| StopError::Record {
            daemon: key.to_owned(),
            source,
        };

        let (target, steps) = if let Some(live) = daemon.running() {
            let steps = steps.unwrap_or_else(|| live.plan.stop.clone());
            (
                Target {
                    pid: live.pid,
                    pgid: live.pgid,
                    exit: live.exit.clone(),
                },
                steps,
            )
        } else {
            // A restart may be pending (Backoff) or the daemon failed: nothing runs, but the
            // state must say it was stopped.
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
            match recorded.liveness() {
                Liveness::Alive(pidfd) => {
                    let steps = steps.unwrap_or_else(|| {
                        recorded
                            .stop
                            .iter()
                            .filter_map(|l| StopPlan::from_record_line(l))
                            .collect()
                    });
                    // Adopted for the stop: the state machine learns it runs.
                    if !daemon.machine.state().is_running() {
                        daemon.machine.apply(Event::Adopted { pid: recorded.pid })?;
                    }
                    (
                        Target {
                            pid: recorded.pid,
                            pgid: recorded.pgid,
                            exit: exit::watch(pidfd, false),
                        },
                        steps,
                    )
                }
                Liveness::Gone => {
                    record::remove(&record_path).map_err(record_error)?;
                    return Ok(Stopped::StaleRecord {
                        key: key.to_owned(),
                        pid: recorded.pid,
                        reason: "the recorded process is gone".to_owned(),
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

        daemon.stopping.store(true, Ordering::SeqCst);
        let result = self.run_chain(&daemon, target, &steps).await;
        daemon.stopping.store(false, Ordering::SeqCst);
        let stopped = result?;
        daemon.set_live(None);
        record::remove(&record_path).map_err(record_error)?;
        Ok(stopped)
    }

    async fn run_chain(
        &self,
        daemon: &crate::manager::Daemon,
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
            Err(still) => Err(StopError::StillAlive {
                daemon: daemon.key.clone(),
                pid: target.pid,
                members: still.members,
            }),
        }
    }
}
