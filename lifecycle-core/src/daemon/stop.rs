//! Stopping a daemon: the process this owner runs or follows, or the one its record names.
//! The record says `stopping` — by this process, until its chain is over at the latest — under
//! the lock before the first signal, so that every other process knows; the chain runs with no
//! lock held; the callers have their answer, then the record goes (a removal owed even if this
//! owner goes first), only if it still names the process stopped. A stop another process began
//! is waited for while that process lives and its time lasts, then taken over. A pending restart
//! is cancelled by removing its record. A record whose process is gone is dropped, what is left
//! of its group swept (signals only); one of another boot, or whose PID is someone else's now,
//! is dropped and nothing signalled.

use std::sync::Arc;

use crate::daemon::actor::{Actor, Phase, StopOutcome, StopReply, Stopping};
use crate::daemon::live::{Live, now_ms, stopping};
use crate::daemon::{Context, chain};
use crate::events::Machine;
use crate::plan::{ChainOverride, StopPlan};
use crate::process::group::{Group, LocalGroup};
use crate::process::identity::{self, Liveness};
use crate::process::pidfd::PidFd;
use crate::state::Event;
use crate::store::Change;
use crate::store::record::{Record, RecordError, RecordState};
use crate::{StartError, State, StopError, Stopped};

impl Actor {
    pub(super) async fn on_stop(&mut self, steps: Option<ChainOverride>, reply: StopReply) {
        let work = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Remote(live) => {
                self.phase = Phase::Remote(live);
                self.remote_stop(None, steps, reply).await;
                return;
            }
            Phase::Stopping(mut stopping) => {
                // One stop at a time: this one ends with the one under way (and its chain).
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
            Phase::Backoff(backoff) => match self.cancel_restart(backoff.attempt).await {
                Ok(Some(stopped)) => {
                    let _ = reply.send(Ok(stopped));
                    return;
                }
                // The record names a process again (the restart came elsewhere): stop it.
                Ok(None) => stop_recorded(
                    self.ctx.clone(),
                    self.machine.clone(),
                    self.key.clone(),
                    steps,
                ),
                Err(err) => {
                    // Nothing changed: the restart is still pending.
                    self.phase = Phase::Backoff(backoff);
                    let _ = reply.send(Err(err));
                    return;
                }
            },
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
    /// stopped process goes (before the next command is taken; owed even if this owner goes).
    pub(super) async fn on_stopped(&mut self, outcome: StopOutcome) {
        let Phase::Stopping(stopping) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let owed = outcome.remove.map(|(pid, start_time)| {
            self.ctx.store.owe(&self.key, move |current| match current {
                Some(r) if r.names(pid, start_time) => Change::Remove,
                _ => Change::Keep,
            })
        });
        for waiter in stopping.waiters {
            let _ = waiter.send(match &outcome.result {
                Ok(stopped) => Ok(stopped.clone()),
                Err(err) => Err(err.duplicate()),
            });
        }
        self.publish_process();
        if let Some(owed) = owed
            && let Err(err) = owed.pay().await
        {
            tracing::warn!(parent: self.machine.span(), %err, "the daemon is stopped, but its record could not be removed; it will be found stale");
        }
    }

    /// Cancels this owner's pending restart: its record goes, and the daemon is stopped.
    /// `Ok(None)`: the record names a process again (the restart came elsewhere), which the
    /// stop is for; an error changes nothing.
    async fn cancel_restart(&mut self, attempt: u32) -> Result<Option<Stopped>, StopError> {
        let held = self.ctx.store.lock(&self.key).await?;
        let (names_process, _) = self
            .ctx
            .store
            .update(&self.key, held, |current| match current {
                Some(r) if r.state.names_a_process() => (Change::Keep, true),
                Some(_) => (Change::Remove, false),
                None => (Change::Keep, false),
            })
            .await
            .map_err(|source| StopError::Record {
                daemon: self.key.clone(),
                source,
            })?;
        if names_process {
            return Ok(None);
        }
        self.machine.apply(Event::Stop)?;
        self.publish_process();
        Ok(Some(Stopped::RestartCancelled {
            key: self.key.clone(),
            attempt,
        }))
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
    steps: Option<ChainOverride>,
) -> crate::daemon::actor::Boxed<StopOutcome> {
    Box::pin(async move {
        let mut live = live;
        let key = live.plan.key.clone();
        let (pid, start_time) = (live.pid, live.start_time);
        let steps = ChainOverride::apply(steps, live.plan.stop.clone());
        // Every other process is told; a stop of a process we hold goes on even if the record
        // cannot be written. When this process is its parent, nobody but this owner decides
        // about its exit, so the signals need not wait for the write: both go on at once (and
        // the write ends before the stop does: the removal that follows must not overtake it).
        let record = async {
            let written = ctx
                .store
                .change_if_names(&key, pid, start_time, with_state(stopping(ctx.me, &steps)))
                .await;
            if let Err(err) = written {
                tracing::warn!(parent: machine.span(), %err, "cannot record the stop; stopping anyway");
            }
        };
        let chain = run_chain(&ctx, Some(&machine), &key, &*live.group, &steps, pid);
        let result = if live.parent {
            tokio::join!(record, chain).1
        } else {
            record.await;
            chain.await
        };
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
    steps: Option<ChainOverride>,
) -> crate::daemon::actor::Boxed<StopOutcome> {
    Box::pin(async move {
        match stop_record(&ctx, &machine, &key, steps).await {
            Ok((stopped, remove)) => StopOutcome {
                result: Ok(stopped),
                remove,
            },
            Err(err) => StopOutcome {
                result: Err(err),
                remove: None,
            },
        }
    })
}

/// The work of [`stop_recorded`]: the outcome, and the process whose record goes after it.
async fn stop_record(
    ctx: &Arc<Context>,
    machine: &Arc<Machine>,
    key: &str,
    steps: Option<ChainOverride>,
) -> Result<(Stopped, Option<(u32, u64)>), StopError> {
    let not_running = || {
        if matches!(
            machine.state(),
            State::Failed { .. } | State::Backoff { .. }
        ) {
            let _ = machine.apply(Event::Stop);
        }
    };
    let held = ctx.store.lock(key).await?;
    let Some(record) = ctx.store.read(key).await.map_err(record_err(key))? else {
        not_running();
        return Ok((
            Stopped::NotRunning {
                key: key.to_owned(),
            },
            None,
        ));
    };
    let generation = record.generation;
    let remove = |held| {
        let ctx = ctx.clone();
        async move {
            ctx.store
                .change_if_generation(key, held, generation, Change::Remove)
                .await
                .map_err(record_err(key))
        }
    };
    match &record.state {
        RecordState::Exited { .. } => {
            remove(held).await?;
            not_running();
            return Ok((
                Stopped::NotRunning {
                    key: key.to_owned(),
                },
                None,
            ));
        }
        RecordState::Backoff { attempt, .. } => {
            let attempt = *attempt;
            remove(held).await?;
            not_running();
            return Ok((
                Stopped::RestartCancelled {
                    key: key.to_owned(),
                    attempt,
                },
                None,
            ));
        }
        RecordState::Starting | RecordState::Ready | RecordState::Stopping { .. } => {}
    }
    let liveness = ctx.liveness(&record).map_err(record_err(key))?;
    let recorded_steps = StopPlan::from_record(&record.stop);
    let stale = |reason: String| Stopped::StaleRecord {
        key: key.to_owned(),
        pid: record.pid,
        reason,
    };
    let pidfd = match liveness {
        Liveness::Alive(pidfd) => Arc::new(pidfd),
        Liveness::Exited(pidfd) => {
            // It exited (its parent has not reaped it yet): what it left in its group goes,
            // by signals only — no HTTP step to whoever answers on its port now.
            drop(held);
            let group = LocalGroup::adopted(Arc::new(pidfd), ctx.spawned_here(&record));
            let reason = sweep_reason(key, chain::sweep(&group, &recorded_steps).await)?;
            remove(ctx.store.lock(key).await?).await?;
            not_running();
            return Ok((
                stale(format!("the recorded process had exited{reason}")),
                None,
            ));
        }
        Liveness::Gone => {
            // Whatever the dead leader left in its group is still ours (its lineage, under the
            // rules of `LocalGroup`); nothing else is signalled.
            drop(held);
            let reason = sweep_reason(key, chain::sweep_left_by(&record).await)?;
            remove(ctx.store.lock(key).await?).await?;
            not_running();
            return Ok((stale(format!("the recorded process is gone{reason}")), None));
        }
        Liveness::OtherBoot => {
            remove(held).await?;
            not_running();
            return Ok((
                stale("the record is of another boot; nothing was signalled".to_owned()),
                None,
            ));
        }
        Liveness::Reused { found } => {
            tracing::warn!(
                pid = record.pid,
                key,
                "stale record: the PID belongs to another process now; not signalled"
            );
            remove(held).await?;
            not_running();
            return Ok((
                stale(format!(
                    "pid {} now belongs to another process (start time {found}, recorded {}); it was not signalled",
                    record.pid, record.start_time
                )),
                None,
            ));
        }
    };
    drop(held);
    if let RecordState::Stopping { by, until_ms } = record.state
        && identity::may_live(by, &record.boot_id)
        && now_ms() < until_ms
    {
        // Another process is stopping it: wait for its stop while it lives and its time
        // lasts; then take it over.
        let group = LocalGroup::adopted(pidfd.clone(), ctx.spawned_here(&record));
        let left = std::time::Duration::from_millis(until_ms.saturating_sub(now_ms()));
        let deadline = crate::deadline::deadline_in(left);
        let started = std::time::Instant::now();
        if matches!(group.gone(deadline).await, Ok(true)) {
            not_running();
            return Ok((
                Stopped::Stopped {
                    key: key.to_owned(),
                    pid: record.pid,
                    elapsed: started.elapsed(),
                    killed: false,
                },
                None,
            ));
        }
        tracing::warn!(
            pid = record.pid,
            key,
            "a stop another process began is not over in time: taking it over"
        );
    }
    // Taken over for the stop: the machine learns it runs.
    if !machine.state().is_running() {
        machine.apply(Event::Adopted { pid: record.pid })?;
    }
    machine.apply(Event::Stop)?;
    // The daemon as it was started: the record's chain, unless the caller gives one.
    let steps = ChainOverride::apply(steps, recorded_steps);
    let (result, remove) = stop_process(ctx, Some(machine), &record, pidfd, &steps).await;
    result.map(|stopped| (stopped, remove))
}

/// Stops the recorded process `record` (alive, pinned by `pidfd`) with `steps`: records the
/// stop (if the record still is what it was), runs the chain. Returns the outcome and, on
/// success, the process whose record goes.
pub(super) async fn stop_process(
    ctx: &Arc<Context>,
    machine: Option<&Arc<Machine>>,
    record: &Record,
    pidfd: Arc<PidFd>,
    steps: &[StopPlan],
) -> (Result<Stopped, StopError>, Option<(u32, u64)>) {
    let key = record.key.as_str();
    let mut stopping_record = record.clone();
    stopping_record.state = stopping(ctx.me, steps);
    stopping_record.generation += 1;
    let recorded = match ctx.store.lock(key).await {
        Ok(held) => ctx
            .store
            .change_if_generation(
                key,
                held,
                record.generation,
                Change::Write(Box::new(stopping_record)),
            )
            .await
            .map_err(record_err(key)),
        Err(err) => Err(err.into()),
    };
    if let Err(err) = recorded {
        // The process is pinned: the stop goes on; other processes will find it stale.
        tracing::warn!(key, %err, "cannot record the stop; stopping anyway");
    }
    let group = LocalGroup::adopted(pidfd, ctx.spawned_here(record));
    let result = run_chain(ctx, machine, key, &group, steps, record.pid).await;
    let remove = result.is_ok().then_some((record.pid, record.start_time));
    (result, remove)
}

/// What a sweep did, said after a stale record's reason; an error if processes outlived it
/// (the record is kept: they must not be forgotten).
fn sweep_reason(
    key: &str,
    swept: Result<Option<chain::Gone>, chain::StillAlive>,
) -> Result<String, StopError> {
    match swept {
        Ok(Some(_)) => Ok("; what was left of its group was stopped".to_owned()),
        Ok(None) => Ok(String::new()),
        Err(still) => Err(StopError::Leftovers {
            daemon: key.to_owned(),
            members: still.members,
            reason: still
                .error
                .unwrap_or_else(|| "they outlived SIGKILL".to_owned()),
        }),
    }
}

/// Runs the chain on `group`, publishing its steps; the outcome as a stop's.
async fn run_chain(
    ctx: &Context,
    machine: Option<&Arc<Machine>>,
    key: &str,
    group: &impl Group,
    steps: &[StopPlan],
    pid: u32,
) -> Result<Stopped, StopError> {
    let grace_machine = machine.cloned();
    let grace_expired = move |step| {
        if let Some(machine) = &grace_machine {
            let _ = machine.apply(Event::GraceExpired { step });
        }
    };
    let key = key.to_owned();
    match chain::run(group, steps, Some(&ctx.client), &grace_expired).await {
        Ok(gone) => {
            if let Some(machine) = machine {
                machine.apply(Event::Gone)?;
            }
            Ok(Stopped::Stopped {
                key,
                pid,
                elapsed: gone.elapsed,
                killed: gone.killed,
            })
        }
        Err(still) => {
            if let Some(machine) = machine {
                machine.apply(Event::KillFailed {
                    members: still.members.clone(),
                })?;
            }
            Err(StopError::StillAlive {
                daemon: key,
                pid,
                members: still.members,
            })
        }
    }
}

/// The change that sets a record's state (a new generation of it).
pub(super) fn with_state(state: RecordState) -> impl FnOnce(Record) -> Change + Send + 'static {
    move |mut record| {
        record.state = state;
        record.generation += 1;
        Change::Write(Box::new(record))
    }
}
