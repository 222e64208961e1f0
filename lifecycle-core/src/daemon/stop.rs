//! Stopping a daemon: the process this owner runs or follows, or the one its record names.
//! The record says `stopping` (under the lock) before the first signal, so that every other
//! process knows; the chain runs with no lock held; the record is removed at the end only if
//! it still names the process stopped. A pending restart is cancelled by removing its record.
//! A record whose process is gone is dropped, what is left of its group swept (signals only);
//! one of another boot, or whose PID is someone else's now, is dropped and nothing signalled.

use std::sync::Arc;

use crate::daemon::actor::{Actor, Phase, StopOutcome, StopReply, Stopping};
use crate::daemon::live::Live;
use crate::daemon::{Context, chain};
use crate::events::Machine;
use crate::plan::StopPlan;
use crate::process::group::{Group, LocalGroup};
use crate::process::identity::{self, Liveness};
use crate::store::Change;
use crate::store::record::{RecordError, RecordState};
use crate::{Event, StartError, State, StopError, Stopped};

impl Actor {
    pub(super) async fn on_stop(&mut self, steps: Option<Vec<StopPlan>>, reply: StopReply) {
        let work = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Stopping(mut stopping) => {
                // One stop at a time: this one ends with the one under way.
                stopping.waiters.push(reply);
                self.phase = Phase::Stopping(stopping);
                return;
            }
            Phase::Starting(starting) => {
                let crate::daemon::actor::Starting {
                    live,
                    waiters,
                    adopting,
                    ..
                } = *starting;
                self.fail_waiters(
                    waiters,
                    StartError::Cancelled {
                        daemon: self.key.clone(),
                        reason: "a stop was asked for while it started".to_owned(),
                    },
                );
                if adopting {
                    // Followed, not owned: the machine learns it runs, then stops it.
                    let _ = self.machine.apply(Event::Adopted { pid: live.pid });
                }
                let _ = self.machine.apply(Event::Stop);
                stop_live(self.ctx.clone(), self.machine.clone(), live, steps)
            }
            Phase::Up(live) => {
                let _ = self.machine.apply(Event::Stop);
                stop_live(self.ctx.clone(), self.machine.clone(), *live, steps)
            }
            Phase::Backoff(backoff) => {
                let attempt = backoff.attempt;
                let result = self.cancel_restart(attempt).await;
                let _ = reply.send(result);
                return;
            }
            Phase::Idle => stop_recorded(
                self.ctx.clone(),
                self.machine.clone(),
                self.key.clone(),
                steps,
            ),
        };
        self.phase = Phase::Stopping(Box::new(Stopping {
            work,
            waiters: vec![reply],
        }));
    }

    /// A stop ended: every caller waiting for it gets its outcome, then the record of the
    /// stopped process goes (before the next command is taken).
    pub(super) async fn on_stopped(&mut self, outcome: StopOutcome) {
        let Phase::Stopping(stopping) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        for waiter in stopping.waiters {
            let _ = waiter.send(match &outcome.result {
                Ok(stopped) => Ok(stopped.clone()),
                Err(err) => Err(err.duplicate()),
            });
        }
        self.publish_process();
        if let Some((pid, start_time)) = outcome.remove {
            remove_if_names(&self.ctx, &self.key, pid, start_time, &self.machine).await;
        }
    }

    /// Cancels this owner's pending restart: its record goes, and the daemon is stopped.
    async fn cancel_restart(&mut self, attempt: u32) -> Result<Stopped, StopError> {
        let held = self.ctx.store.lock(&self.key).await?;
        let removed = self
            .ctx
            .store
            .update(&self.key, |current| match current {
                Some(r) if matches!(r.state, RecordState::Backoff { .. }) => (Change::Remove, true),
                _ => (Change::Keep, false),
            })
            .await
            .map_err(|source| StopError::Record {
                daemon: self.key.clone(),
                source,
            })?;
        drop(held);
        self.machine.apply(Event::Stop)?;
        self.publish_process();
        if !removed {
            tracing::debug!(parent: self.machine.span(), "the pending restart's record was already gone");
        }
        Ok(Stopped::RestartCancelled {
            key: self.key.clone(),
            attempt,
        })
    }
}

fn record_err(key: &str) -> impl Fn(RecordError) -> StopError + '_ {
    move |source| StopError::Record {
        daemon: key.to_owned(),
        source,
    }
}

/// Stops a process this owner runs or follows, with `steps` or the chain it was started with.
fn stop_live(
    ctx: Arc<Context>,
    machine: Arc<Machine>,
    live: Live,
    steps: Option<Vec<StopPlan>>,
) -> crate::daemon::actor::Boxed<StopOutcome> {
    Box::pin(async move {
        let mut live = live;
        let key = live.plan.key.clone();
        let (pid, start_time) = (live.pid, live.start_time);
        // Tell every other process first; a stop goes on even if the record cannot be written.
        match ctx.store.lock(&key).await {
            Ok(held) => {
                let template = live.record(RecordState::Stopping, None, ctx.me);
                let written = ctx
                    .store
                    .update(&key, move |current| match current {
                        Some(r) if r.names(pid, start_time) => {
                            let mut stopping = r.clone();
                            stopping.state = RecordState::Stopping;
                            stopping.generation = r.generation + 1;
                            (Change::Write(Box::new(stopping)), ())
                        }
                        None => (Change::Write(Box::new(template)), ()),
                        _ => (Change::Keep, ()),
                    })
                    .await;
                drop(held);
                if let Err(err) = written {
                    tracing::warn!(parent: machine.span(), %err, "cannot record the stop; stopping anyway");
                }
            }
            Err(err) => {
                tracing::warn!(parent: machine.span(), %err, "cannot take the lock to record the stop; stopping anyway");
            }
        }
        let steps = steps.unwrap_or_else(|| live.plan.stop.clone());
        let result = run_chain(&ctx, &machine, &*live.group, &steps, pid).await;
        live.disarm();
        let remove = result.is_ok().then_some((pid, start_time));
        StopOutcome { result, remove }
    })
}

/// Stops the daemon its record names (this owner has no process of it).
fn stop_recorded(
    ctx: Arc<Context>,
    machine: Arc<Machine>,
    key: String,
    steps: Option<Vec<StopPlan>>,
) -> crate::daemon::actor::Boxed<StopOutcome> {
    Box::pin(async move {
        let mut remove = None;
        let result = stop_record(&ctx, &machine, key, steps, &mut remove).await;
        StopOutcome { result, remove }
    })
}

/// The work of [`stop_recorded`]; `remove` learns the process whose record goes after it.
async fn stop_record(
    ctx: &Arc<Context>,
    machine: &Arc<Machine>,
    key: String,
    steps: Option<Vec<StopPlan>>,
    remove_after: &mut Option<(u32, u64)>,
) -> Result<Stopped, StopError> {
    {
        let held = ctx.store.lock(&key).await?;
        let record = ctx.store.read(&key).await.map_err(record_err(&key))?;
        let not_running = |machine: &Machine| {
            if matches!(
                machine.state(),
                State::Failed { .. } | State::Backoff { .. }
            ) {
                let _ = machine.apply(Event::Stop);
            }
        };
        let Some(record) = record else {
            not_running(machine);
            return Ok(Stopped::NotRunning { key });
        };
        let remove = |generation: u64| {
            let ctx = ctx.clone();
            let key = key.clone();
            async move {
                ctx.store
                    .update(&key, move |current| match current {
                        Some(r) if r.generation == generation => (Change::Remove, ()),
                        _ => (Change::Keep, ()),
                    })
                    .await
                    .map_err(record_err(&key))
            }
        };
        match &record.state {
            RecordState::Exited { .. } => {
                remove(record.generation).await?;
                not_running(machine);
                return Ok(Stopped::NotRunning { key });
            }
            RecordState::Backoff { attempt, .. } => {
                let attempt = *attempt;
                remove(record.generation).await?;
                not_running(machine);
                return Ok(Stopped::RestartCancelled { key, attempt });
            }
            RecordState::Starting | RecordState::Ready | RecordState::Stopping => {}
        }
        let path = ctx.store.dir().record_path(&key);
        let liveness =
            identity::check(record.pid, record.start_time, &record.boot_id).map_err(|source| {
                record_err(&key)(RecordError::Check {
                    path,
                    pid: record.pid,
                    source,
                })
            })?;
        let recorded_steps = StopPlan::from_record(&record.stop);
        let pidfd = match liveness {
            Liveness::Alive(pidfd) | Liveness::Exited(pidfd) => Arc::new(pidfd),
            Liveness::Gone => {
                // Whatever the dead leader left in its group is still ours (the rules of
                // `LocalGroup`); nothing else is signalled.
                let group = LocalGroup::leaderless(record.pgid);
                let swept = chain::sweep(&group, &recorded_steps).await;
                remove(record.generation).await?;
                not_running(machine);
                let mut reason = "the recorded process is gone".to_owned();
                match swept {
                    Ok(Some(_)) => reason.push_str("; what was left of its group was stopped"),
                    Ok(None) => {}
                    Err(still) => reason.push_str(&format!(
                        "; processes {:?} left in its group outlived SIGKILL",
                        still.members
                    )),
                }
                return Ok(Stopped::StaleRecord {
                    key,
                    pid: record.pid,
                    reason,
                });
            }
            Liveness::OtherBoot => {
                remove(record.generation).await?;
                not_running(machine);
                return Ok(Stopped::StaleRecord {
                    key,
                    pid: record.pid,
                    reason: "the record is of another boot; nothing was signalled".to_owned(),
                });
            }
            Liveness::Reused { found } => {
                tracing::warn!(
                    pid = record.pid,
                    key,
                    "stale record: the PID belongs to another process now; not signalled"
                );
                remove(record.generation).await?;
                not_running(machine);
                return Ok(Stopped::StaleRecord {
                    key,
                    pid: record.pid,
                    reason: format!(
                        "pid {} now belongs to another process (start time {found}, recorded {}); it was not signalled",
                        record.pid, record.start_time
                    ),
                });
            }
        };
        let group = LocalGroup::adopted(pidfd);
        // The daemon as it was started: the record's chain, unless the caller gives one.
        let steps = steps.unwrap_or(recorded_steps);
        if record.state == RecordState::Stopping {
            // Another process is stopping it: wait for that stop.
            drop(held);
            let deadline = crate::readiness::wait::deadline_in(chain::longest(&steps));
            let started = std::time::Instant::now();
            return match group.gone(deadline).await {
                Ok(true) => Ok(Stopped::Stopped {
                    key,
                    pid: record.pid,
                    elapsed: started.elapsed(),
                    killed: false,
                }),
                _ => Err(StopError::StillAlive {
                    daemon: key,
                    pid: record.pid,
                    members: group.survivors(),
                }),
            };
        }
        let mut stopping = record.clone();
        stopping.state = RecordState::Stopping;
        stopping.generation += 1;
        let generation = record.generation;
        ctx.store
            .update(&key, move |current| match current {
                Some(r) if r.generation == generation => (Change::Write(Box::new(stopping)), ()),
                _ => (Change::Keep, ()),
            })
            .await
            .map_err(record_err(&key))?;
        drop(held);
        // Taken over for the stop: the machine learns it runs.
        if !machine.state().is_running() {
            machine.apply(Event::Adopted { pid: record.pid })?;
        }
        machine.apply(Event::Stop)?;
        let result = run_chain(ctx, machine, &group, &steps, record.pid).await;
        if result.is_ok() {
            *remove_after = Some((record.pid, record.start_time));
        }
        result
    }
}

/// Runs the chain on `group`, publishing its steps; the outcome as a stop's.
async fn run_chain(
    ctx: &Context,
    machine: &Arc<Machine>,
    group: &impl Group,
    steps: &[StopPlan],
    pid: u32,
) -> Result<Stopped, StopError> {
    let grace_machine = machine.clone();
    let grace_expired = move |step| {
        let _ = grace_machine.apply(Event::GraceExpired { step });
    };
    match chain::run(group, steps, Some(&ctx.client), &grace_expired).await {
        Ok(gone) => {
            machine.apply(Event::Gone)?;
            Ok(Stopped::Stopped {
                key: machine.key().to_owned(),
                pid,
                elapsed: gone.elapsed,
                killed: gone.killed,
            })
        }
        Err(still) => {
            machine.apply(Event::KillFailed {
                members: still.members.clone(),
            })?;
            Err(StopError::StillAlive {
                daemon: machine.key().to_owned(),
                pid,
                members: still.members,
            })
        }
    }
}

/// Removes the record after a stop, if it still names the process stopped.
async fn remove_if_names(ctx: &Context, key: &str, pid: u32, start_time: u64, machine: &Machine) {
    let removed = match ctx.store.lock(key).await {
        Ok(_held) => ctx
            .store
            .update(key, move |current| match current {
                Some(r) if r.names(pid, start_time) => (Change::Remove, ()),
                _ => (Change::Keep, ()),
            })
            .await
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    if let Err(err) = removed {
        tracing::warn!(parent: machine.span(), %err, "the daemon is stopped, but its record could not be removed; it will be found stale");
    }
}
