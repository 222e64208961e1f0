//! Adopting a daemon another owner started: a ready one is taken over at once (after one
//! probe); a starting one is awaited with its deadline counted from its recorded start — by
//! its probe, by its log from where its output begins, or, for `notify`, by its record turning
//! ready (the `READY=1` goes to the process that spawned it). A daemon whose parent is this very
//! process (its owner here is gone: a runtime that shut down) is adopted as a child: reaped here,
//! its status read. And waiting for another process that is stopping the daemon, or deciding
//! about its exit, before reading the record again.

use std::sync::Arc;
use std::time::Duration;

use crate::StartError;
use crate::daemon::actor::{Actor, Boxed, Phase, StartReply, Starting};
use crate::daemon::live::{Facts, Live, now_ms, recorded_start};
use crate::daemon::{Context, Until, record_error};
use crate::deadline::{deadline_in, deadline_of};
use crate::plan::{Plan, ProbePlan};
use crate::process::group::{Group, LocalGroup};
use crate::process::identity::{self, Liveness};
use crate::process::pidfd::PidFd;
use crate::readiness::log_watch::LogWatch;
use crate::readiness::probe;
use crate::readiness::wait::{self, Listener, Outcome};
use crate::state::Event;
use crate::store::record::{Record, RecordState};
use crate::store::record_watch::RecordWatch;

/// How long a start waits for the parent of an exited daemon to decide what comes next.
const VERDICT_PATIENCE: Duration = Duration::from_secs(2);

/// Something another process is doing with the daemon, to wait for before reading its record
/// again (without its lock).
pub(super) enum Pending {
    /// A stop: until nothing of the group is left, or the stop's recorded time is up.
    Stop {
        group: LocalGroup,
        deadline: tokio::time::Instant,
    },
    /// An exit its parent has not reaped and decided about yet: the watch is made before the
    /// lock is let go, so a verdict written in between is not missed.
    Verdict {
        watch: Option<RecordWatch>,
        pidfd: Arc<PidFd>,
    },
}

impl Pending {
    /// The stop `record` says is under way (its `until_ms`, and a second).
    pub(super) fn stop(pidfd: Arc<PidFd>, ctx: &Context, record: &Record) -> Pending {
        let until_ms = match record.state {
            RecordState::Stopping { until_ms, .. } => until_ms,
            _ => now_ms(),
        };
        let left = Duration::from_millis(until_ms.saturating_sub(now_ms()));
        Pending::Stop {
            group: LocalGroup::adopted(pidfd, ctx.spawned_here(record)),
            deadline: deadline_in(left + Duration::from_secs(1)),
        }
    }

    pub(super) fn verdict(ctx: &Context, key: &str, pidfd: Arc<PidFd>) -> Pending {
        Pending::Verdict {
            watch: RecordWatch::new(ctx.store.dir(), key).ok(),
            pidfd,
        }
    }

    pub(super) async fn wait(self) {
        match self {
            Pending::Stop { group, deadline } => {
                let _ = group.gone(deadline).await;
            }
            Pending::Verdict { watch, pidfd } => {
                let deadline = deadline_in(VERDICT_PATIENCE);
                pidfd.reaped(deadline).await;
                match watch {
                    Some(watch) => {
                        let _ = tokio::time::timeout_at(deadline, watch.changed()).await;
                    }
                    None => tokio::time::sleep_until(deadline).await,
                }
            }
        }
    }
}

impl Actor {
    /// Takes over a live daemon of ours that another owner started (`record`, its process
    /// pinned by `pidfd`): now if it is ready, else once it is.
    pub(super) async fn adopt(
        &mut self,
        plan: Arc<Plan>,
        record: Record,
        pidfd: Arc<PidFd>,
        until: Until,
        reply: &mut Option<StartReply>,
    ) -> Result<(), StartError> {
        let live = self.adopted(&plan, &record, pidfd);
        if record.state == RecordState::Ready {
            if let Some(r) = plan.readiness.as_ref().filter(|r| !r.probe.is_event())
                && let Err(last_error) =
                    probe::attempt(&self.ctx.client, &r.probe, r.attempt_timeout).await
            {
                return Err(StartError::Unhealthy {
                    daemon: plan.key.clone(),
                    pid: record.pid,
                    last_error,
                });
            }
            self.machine.apply(Event::Adopted { pid: record.pid })?;
            tracing::info!(parent: self.machine.span(), pid = record.pid, "adopted from its record");
            if let Some(reply) = reply.take() {
                let _ = reply.send(Ok(live.running(false, Duration::ZERO, 0)));
            }
            self.phase = Phase::Up(Box::new(live));
            self.publish_process();
            return Ok(());
        }
        // Starting under another owner: await its readiness here.
        let mut waiters = Vec::new();
        if let Some(reply) = reply.take() {
            if until == Until::Spawned {
                let _ = reply.send(Ok(live.running(false, Duration::ZERO, 0)));
            } else {
                waiters.push(reply);
            }
        }
        let ready = adoption_wait(self.ctx.clone(), plan, record);
        self.phase = Phase::Starting(Box::new(Starting {
            live,
            ready,
            waiters,
            first_spawned: false,
            restart: None,
            adopting: true,
        }));
        self.publish_process();
        Ok(())
    }

    /// The `Live` of a process of ours that another owner spawned; a child of this process if
    /// its record says this process is its parent.
    fn adopted(&self, plan: &Arc<Plan>, record: &Record, pidfd: Arc<PidFd>) -> Live {
        let child = self.ctx.spawned_here(record);
        let facts = Facts {
            start_time: record.start_time,
            session: record.session,
            log: record.log.clone(),
            log_offset: record.log_offset,
            since: recorded_start(record),
            restarts: record.restarts,
            generation: record.generation,
        };
        Live::new(
            Arc::new(LocalGroup::adopted(pidfd, child)),
            plan.clone(),
            facts,
            child,
            false,
        )
    }

    /// The wait for a daemon another owner started ended.
    pub(super) fn adopted_readiness(&mut self, starting: Starting, outcome: Outcome) {
        let Starting { live, waiters, .. } = starting;
        match outcome {
            Outcome::Ready { .. } => match self.machine.apply(Event::Adopted { pid: live.pid }) {
                Ok(_) => {
                    tracing::info!(parent: self.machine.span(), pid = live.pid, "adopted once ready");
                    for waiter in waiters {
                        let _ = waiter.send(Ok(live.running(false, Duration::ZERO, 0)));
                    }
                    self.phase = Phase::Up(Box::new(live));
                }
                Err(err) => self.fail_waiters(waiters, err.into()),
            },
            Outcome::TimedOut { last_error, .. } => self.fail_waiters(
                waiters,
                StartError::Unhealthy {
                    daemon: live.plan.key.clone(),
                    pid: live.pid,
                    last_error,
                },
            ),
            Outcome::Failed { error } => self.fail_waiters(
                waiters,
                StartError::Unhealthy {
                    daemon: live.plan.key.clone(),
                    pid: live.pid,
                    last_error: error.to_string(),
                },
            ),
        }
        self.publish_process();
    }

    /// Follows what the record names now (another process restarted or replaced the daemon):
    /// adopts it if it runs. Whether it did.
    pub(super) async fn follow(&mut self, plan: &Arc<Plan>, record: Record) -> bool {
        if !matches!(record.state, RecordState::Starting | RecordState::Ready)
            || record.fingerprint != plan.fingerprint
        {
            return false;
        }
        let pidfd = match identity::check(record.pid, record.start_time, &record.boot_id) {
            Ok(Liveness::Alive(pidfd)) => pidfd,
            Ok(_) => return false,
            Err(err) => {
                tracing::warn!(parent: self.machine.span(), %err, pid = record.pid, "cannot check the process another process started in the daemon's place; not following it");
                return false;
            }
        };
        let mut none = None;
        match self
            .adopt(
                plan.clone(),
                record,
                Arc::new(pidfd),
                Until::Ready,
                &mut none,
            )
            .await
        {
            Ok(()) => true,
            Err(err) => {
                tracing::info!(parent: self.machine.span(), %err, "not following the daemon another process restarted");
                false
            }
        }
    }

    /// Reads the record of `plan` without its lock (for following).
    pub(super) async fn peek(&mut self, plan: &Plan) -> Result<Option<Record>, StartError> {
        self.ctx
            .store
            .read(&plan.key)
            .await
            .map_err(record_error(plan))
    }
}

/// Waits for a daemon another owner started to become ready, its deadline counted from its
/// recorded start.
fn adoption_wait(ctx: Arc<Context>, plan: Arc<Plan>, record: Record) -> Boxed<Outcome> {
    Box::pin(async move {
        let started = recorded_start(&record);
        let Some(readiness) = &plan.readiness else {
            return Outcome::Ready {
                elapsed: started.elapsed(),
                attempts: 0,
            };
        };
        match &readiness.probe {
            ProbePlan::Http { .. } | ProbePlan::Tcp { .. } => {
                let deadline = deadline_of(started, readiness.deadline);
                wait::poll(readiness, &ctx.client, deadline, started, &|_| {}).await
            }
            ProbePlan::Log { pattern } => {
                let listener = regex_lite::Regex::new(pattern)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
                    .and_then(|regex| Ok((LogWatch::new(&record.log, record.log_offset)?, regex)));
                match listener {
                    Ok((watch, regex)) => {
                        wait::wait(
                            readiness,
                            &ctx.client,
                            record.pid,
                            Listener::Log(watch, regex),
                            started,
                            &|_| {},
                        )
                        .await
                    }
                    Err(error) => Outcome::Failed { error },
                }
            }
            ProbePlan::Notify => {
                record_turns_ready(
                    &ctx,
                    &plan,
                    &record,
                    deadline_of(started, readiness.deadline),
                )
                .await
            }
        }
    })
}

/// For a `notify` daemon started by another owner: its `READY=1` goes to the process that
/// spawned it, which records it. Waits for the record to say ready, while that process lives.
async fn record_turns_ready(
    ctx: &Context,
    plan: &Plan,
    record: &Record,
    deadline: tokio::time::Instant,
) -> Outcome {
    let started = recorded_start(record);
    let watch = match RecordWatch::new(ctx.store.dir(), &plan.key) {
        Ok(watch) => watch,
        Err(error) => return Outcome::Failed { error },
    };
    loop {
        match ctx.store.read(&plan.key).await {
            Ok(Some(now)) if now.names(record.pid, record.start_time) => match now.state {
                RecordState::Ready => {
                    return Outcome::Ready {
                        elapsed: started.elapsed(),
                        attempts: 1,
                    };
                }
                RecordState::Starting => {}
                _ => {
                    return Outcome::TimedOut {
                        attempts: 1,
                        last_error: "its record no longer says it is starting".to_owned(),
                    };
                }
            },
            Ok(_) => {
                return Outcome::TimedOut {
                    attempts: 1,
                    last_error: "its record no longer names it".to_owned(),
                };
            }
            Err(error) => {
                return Outcome::Failed {
                    error: std::io::Error::other(error.to_string()),
                };
            }
        }
        let (parent, _) = record.parent;
        // Gone for sure: nobody will record its READY=1. (An error checking it is no proof.)
        // Spawned by this very manager: its owner then was another task, gone now (its runtime
        // ended), and its notify socket with it.
        if !identity::may_live(record.parent, &record.boot_id) || ctx.spawned_here(record) {
            return Outcome::TimedOut {
                attempts: 1,
                last_error: format!(
                    "its READY=1 goes to the process that started it (pid {parent}), which is gone: its readiness cannot be observed; stop it and start it again"
                ),
            };
        }
        match tokio::time::timeout_at(deadline, watch.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Outcome::Failed { error },
            Err(_) => {
                return Outcome::TimedOut {
                    attempts: 1,
                    last_error: format!(
                        "no READY=1 from pid {} recorded by the process that started it",
                        record.pid
                    ),
                };
            }
        }
    }
}
