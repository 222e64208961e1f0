//! The exit of a daemon's process, and the restart policy. The parent (the process that spawned
//! it) reads the exit status; it sweeps what the dead leader left in its group (signals only)
//! and records its verdict: a restart pending (the record says `backoff`, with the count of
//! restarts in a row, which every supervisor shares) or the exit. An adopter cannot read the
//! status: it defers to the parent while the parent lives, and decides itself only when the
//! parent is gone (an unknown status counts as a failure). Whoever wrote the `backoff` record
//! restarts the daemon when it is due; the others follow, and claim the restart only if it has
//! not come by then.

use std::sync::Arc;
use std::time::Duration;

use lifecycle_spec::RestartPolicy;

use crate::daemon::actor::{Actor, Backoff, Phase, Starting};
use crate::daemon::live::{Live, now_ms};
use crate::daemon::start::{log_tail, next_restart};
use crate::daemon::{Context, Mode, Until, chain};
use crate::plan::Plan;
use crate::process::group::Group;
use crate::process::identity::{self, Liveness};
use crate::store::Change;
use crate::store::record::{Record, RecordState};
use crate::store::record_watch::RecordWatch;
use crate::{Event, Exit, Restart, StartError};

/// How long an adopter waits, each time, for the parent's verdict on an exit.
const VERDICT_PATIENCE: Duration = Duration::from_secs(5);
/// How many times an adopter waits for it before deciding itself.
const VERDICT_ROUNDS: usize = 3;
/// How long after a restart was due a follower waits for its owner before claiming it.
const FOLLOW_MARGIN: Duration = Duration::from_secs(1);

/// What becomes of a daemon whose process exited.
enum Verdict {
    /// Another process is stopping it, or stopped it.
    StoppedElsewhere,
    /// This owner decided: the restart policy's verdict, recorded.
    Decided { exit: Exit, restart: Restart },
    /// The parent (another process) decided, or replaced the process: its record.
    Follow(Box<Record>),
}

/// The restart policy's verdict on an exit after `in_a_row` restarts in a row. An unknown
/// status (the daemon was not our child, and its parent is gone) counts as a failure.
pub(super) fn decide(restart: &lifecycle_spec::Restart, exit: &Exit, in_a_row: u32) -> Restart {
    match restart.policy {
        RestartPolicy::Never => Restart::No,
        RestartPolicy::OnFailure if exit.success() => Restart::No,
        _ if in_a_row >= restart.max => Restart::LimitReached(restart.max),
        _ => Restart::After(in_a_row + 1),
    }
}

/// Why an exit with `restart` is a failure, if it is one (for the record).
fn failure_of(exit: &Exit, restart: Restart, before_ready: bool) -> Option<String> {
    match restart {
        Restart::LimitReached(max) => Some(format!(
            "exited on its own: {exit}; gave up after {max} restarts"
        )),
        _ if before_ready => Some(format!("exited before it was ready: {exit}")),
        _ if exit.success() => None,
        _ => Some(format!("exited on its own: {exit}")),
    }
}

/// The record of an exited process: a restart pending, or the exit.
fn exit_record(
    current: &Record,
    exit: &Exit,
    restart: Restart,
    failure: Option<String>,
    backoff: &lifecycle_spec::Backoff,
    in_a_row: u32,
) -> Record {
    let mut next = current.clone();
    next.generation += 1;
    next.restarts = in_a_row;
    next.state = match restart {
        Restart::After(attempt) => RecordState::Backoff {
            attempt,
            due_ms: now_ms().saturating_add(
                u64::try_from(backoff.delay(attempt - 1).as_millis()).unwrap_or(u64::MAX),
            ),
            exit: exit.clone(),
        },
        _ => RecordState::Exited {
            exit: exit.clone(),
            failure,
        },
    };
    next
}

impl Actor {
    /// The process this owner runs or follows exited.
    pub(super) async fn on_exit(&mut self, exit: Exit) {
        let (mut live, starting) = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Starting(s) => {
                let Starting {
                    live,
                    waiters,
                    restart,
                    adopting,
                    ..
                } = *s;
                (live, Some((waiters, restart, adopting)))
            }
            Phase::Up(live) => (*live, None),
            other => {
                self.phase = other;
                return;
            }
        };
        live.disarm();
        let plan = live.plan.clone();
        let before_ready = starting.as_ref().map(|(_, restart, _)| *restart);
        let verdict = self.verdict(&live, exit.clone(), before_ready).await;
        self.publish_process();

        // A start another process made, awaited here, ended with its exit: ensure again.
        if let Some((waiters, _, true)) = starting {
            for waiter in waiters {
                self.on_ensure(plan.clone(), Mode::Ensure, Until::Ready, waiter)
                    .await;
            }
            if let Verdict::Follow(record) = verdict
                && matches!(self.phase, Phase::Idle)
            {
                self.follow(&plan, *record).await;
            }
            return;
        }

        let status = exit.to_string();
        if let Some((waiters, _, _)) = starting {
            // A start of ours ended with the process's exit.
            let error = match &verdict {
                Verdict::StoppedElsewhere => StartError::Cancelled {
                    daemon: plan.key.clone(),
                    reason: "another process stopped it while it started".to_owned(),
                },
                _ => StartError::Exited {
                    daemon: plan.key.clone(),
                    exit: exit.clone(),
                    log_tail: log_tail(&live.log, live.log_offset).await,
                    log: live.log.clone(),
                },
            };
            match &verdict {
                Verdict::StoppedElsewhere => {
                    let _ = self.machine.apply(Event::Stop);
                    let _ = self.machine.apply(Event::Gone);
                }
                _ => {
                    let _ = self.machine.apply(Event::Exited {
                        status,
                        success: exit.success(),
                        restart: Restart::No,
                    });
                }
            }
            self.fail_waiters(waiters, error);
            match verdict {
                Verdict::Decided {
                    restart: Restart::After(attempt),
                    ..
                } => {
                    let _ = self.machine.apply(Event::RestartScheduled { attempt });
                    self.schedule(&plan, attempt, true, None);
                }
                Verdict::Follow(record) => {
                    self.follow_verdict(&plan, *record).await;
                }
                _ => {}
            }
            return;
        }

        match verdict {
            Verdict::StoppedElsewhere => {
                let _ = self.machine.apply(Event::Stop);
                let _ = self.machine.apply(Event::Gone);
            }
            Verdict::Decided { exit, restart } => {
                let _ = self.machine.apply(Event::Exited {
                    status: exit.to_string(),
                    success: exit.success(),
                    restart,
                });
                if let Restart::After(attempt) = restart {
                    self.schedule(&plan, attempt, true, None);
                }
            }
            Verdict::Follow(record) => {
                let restart = match &record.state {
                    RecordState::Backoff { attempt, .. } => Restart::After(*attempt),
                    _ => Restart::No,
                };
                let (status, success) = match &record.state {
                    RecordState::Backoff { exit, .. } | RecordState::Exited { exit, .. } => {
                        (exit.to_string(), exit.success())
                    }
                    _ => (status, exit.success()),
                };
                let _ = self.machine.apply(Event::Exited {
                    status,
                    success,
                    restart,
                });
                self.follow_verdict(&plan, *record).await;
            }
        }
    }

    /// Follows another process's verdict: its pending restart (claimed here if it does not come
    /// in time), or the process it started in the dead one's place.
    async fn follow_verdict(&mut self, plan: &Arc<Plan>, record: Record) {
        match &record.state {
            RecordState::Backoff {
                attempt, due_ms, ..
            } => {
                let due = *due_ms;
                self.schedule(plan, *attempt, false, Some(due));
            }
            _ => {
                self.follow(plan, record).await;
            }
        }
    }

    /// Enters the backoff before restart `attempt`: due after the policy's delay (this owner's
    /// restart), or at `due_ms` and a margin (another process's, followed).
    pub(super) fn schedule(
        &mut self,
        plan: &Arc<Plan>,
        attempt: u32,
        owner: bool,
        due_ms: Option<u64>,
    ) {
        let delay = match due_ms {
            Some(due_ms) => Duration::from_millis(due_ms.saturating_sub(now_ms())) + FOLLOW_MARGIN,
            None => plan.restart.backoff.delay(attempt.saturating_sub(1)),
        };
        self.phase = Phase::Backoff(Box::new(Backoff {
            attempt,
            due: crate::readiness::wait::deadline_in(delay),
            plan: plan.clone(),
            owner,
        }));
    }

    /// Decides (or learns) what becomes of the daemon whose process `live` exited with `exit`.
    /// `before_ready`: the exit ended a start (`Some(restart number)` for a restart's).
    async fn verdict(
        &mut self,
        live: &Live,
        exit: Exit,
        before_ready: Option<Option<u32>>,
    ) -> Verdict {
        // The parent knows it decides: what the dead leader left in its group goes first,
        // before the lock is taken (a sweep may wait out graces).
        if live.parent {
            self.sweep(live).await;
        }
        let mut rounds = 0;
        loop {
            // Watching before reading: a verdict written in between is not missed.
            let watch = (!live.parent)
                .then(|| RecordWatch::new(self.ctx.store.dir(), &self.key).ok())
                .flatten();
            let held = match self.ctx.store.lock(&self.key).await {
                Ok(held) => held,
                Err(err) => {
                    tracing::warn!(parent: self.machine.span(), %err, "cannot record the exit; no restart");
                    return Verdict::Decided {
                        exit,
                        restart: Restart::No,
                    };
                }
            };
            let current = match self.ctx.store.read(&self.key).await {
                Ok(current) => current,
                Err(err) => {
                    tracing::warn!(parent: self.machine.span(), %err, "cannot read the record after the exit; no restart");
                    return Verdict::Decided {
                        exit,
                        restart: Restart::No,
                    };
                }
            };
            let Some(record) = current else {
                return Verdict::StoppedElsewhere;
            };
            if !live.is_recorded_by(&record) {
                return Verdict::Follow(Box::new(record));
            }
            match record.state {
                RecordState::Stopping => return Verdict::StoppedElsewhere,
                RecordState::Backoff { .. } | RecordState::Exited { .. } => {
                    return Verdict::Follow(Box::new(record));
                }
                RecordState::Starting | RecordState::Ready => {}
            }
            if !live.parent && rounds < VERDICT_ROUNDS && parent_lives(&record) {
                // The parent reads the status and decides: wait for its record.
                rounds += 1;
                drop(held);
                if let Some(watch) = watch {
                    let _ = tokio::time::timeout(VERDICT_PATIENCE, watch.changed()).await;
                }
                continue;
            }
            // This owner decides: first what the dead leader left in its group goes.
            if !live.parent {
                self.sweep(live).await;
            }
            let plan = &live.plan;
            let in_a_row = if live.since.elapsed() >= plan.restart.reset_after {
                0
            } else {
                record.restarts.max(live.restarts)
            };
            let restart = match before_ready {
                // A first start that failed is the caller's to retry; a restart that failed
                // counts as one more in a row.
                Some(None) => Restart::No,
                Some(Some(attempt)) => match next_restart(plan, Some(attempt)) {
                    Some(next) => Restart::After(next),
                    None => Restart::LimitReached(plan.restart.max),
                },
                None => decide(&plan.restart, &exit, in_a_row),
            };
            let failure = failure_of(&exit, restart, before_ready.is_some());
            let next = exit_record(
                &record,
                &exit,
                restart,
                failure,
                &plan.restart.backoff,
                in_a_row.max(before_ready.flatten().unwrap_or(0)),
            );
            let generation = record.generation;
            let written = self
                .ctx
                .store
                .update(&self.key, move |current| match current {
                    Some(r) if r.generation == generation => (Change::Write(Box::new(next)), ()),
                    _ => (Change::Keep, ()),
                })
                .await;
            if let Err(err) = written {
                tracing::warn!(parent: self.machine.span(), %err, "cannot record the exit");
            }
            drop(held);
            return Verdict::Decided { exit, restart };
        }
    }

    /// Stops what an exited leader left in its group (the chain's signals only).
    async fn sweep(&mut self, live: &Live) {
        if let Err(still) = chain::sweep(&*live.group, &live.plan.stop).await {
            tracing::warn!(parent: self.machine.span(), members = ?still.members, error = ?still.error, "what the exited daemon left in its group outlived SIGKILL");
        }
    }

    /// Records how a process this owner started ended when its start failed (deadline, broken
    /// probe): the next restart pending (for a restart with restarts left), else the exit.
    pub(super) async fn record_exit(
        &mut self,
        live: &Live,
        exit: Exit,
        failure: Option<String>,
        restart: Option<u32>,
    ) {
        let Ok(_held) = self.ctx.store.lock(&self.key).await else {
            return;
        };
        let (pid, start_time) = (live.pid, live.start_time);
        let next = next_restart(&live.plan, restart);
        let backoff = live.plan.restart.backoff;
        let in_a_row = restart.unwrap_or(0);
        let written = self
            .ctx
            .store
            .update(&self.key, move |current| match current {
                Some(r) if r.names(pid, start_time) => {
                    let restart = next.map_or(Restart::No, Restart::After);
                    (
                        Change::Write(Box::new(exit_record(
                            &r, &exit, restart, failure, &backoff, in_a_row,
                        ))),
                        (),
                    )
                }
                _ => (Change::Keep, ()),
            })
            .await;
        if let Err(err) = written {
            tracing::warn!(parent: self.machine.span(), %err, "cannot record the failed start");
        }
    }

    /// After a restart whose spawn failed: the pending restart's record moves on to `next`.
    pub(super) async fn bump_backoff_record(&mut self, plan: &Plan, next: u32) {
        let Ok(_held) = self.ctx.store.lock(&self.key).await else {
            return;
        };
        let due_ms = now_ms().saturating_add(
            u64::try_from(plan.restart.backoff.delay(next - 1).as_millis()).unwrap_or(u64::MAX),
        );
        let _ = self
            .ctx
            .store
            .update(&self.key, move |current| match current {
                Some(mut r) => match r.state {
                    RecordState::Backoff { exit, .. } => {
                        r.state = RecordState::Backoff {
                            attempt: next,
                            due_ms,
                            exit,
                        };
                        r.generation += 1;
                        (Change::Write(Box::new(r)), ())
                    }
                    _ => (Change::Keep, ()),
                },
                None => (Change::Keep, ()),
            })
            .await;
    }

    /// The restart is due: this owner's (it restarts the daemon), or another process's that
    /// did not come in time (this owner claims it). Either way the record decides.
    pub(super) async fn on_restart_due(&mut self) {
        let Phase::Backoff(backoff) = &self.phase else {
            return;
        };
        let (plan, attempt, owner) = (backoff.plan.clone(), backoff.attempt, backoff.owner);
        let held = match self.ctx.store.lock(&plan.key).await {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!(parent: self.machine.span(), %err, "cannot take the lock for the restart; trying again later");
                self.schedule(&plan, attempt, owner, None);
                return;
            }
        };
        let current = match self.peek(&plan).await {
            Ok(current) => current,
            Err(err) => {
                tracing::warn!(parent: self.machine.span(), %err, "cannot read the record for the restart; giving up");
                let _ = self.machine.apply(Event::Stop);
                self.phase = Phase::Idle;
                return;
            }
        };
        match current {
            Some(record) => match &record.state {
                RecordState::Backoff {
                    attempt: recorded,
                    due_ms,
                    ..
                } => {
                    if *due_ms > now_ms() {
                        // Not due yet (another process's restart, or one moved on): follow.
                        let (recorded, due) = (*recorded, *due_ms);
                        drop(held);
                        self.schedule(&plan, recorded, false, Some(due));
                        return;
                    }
                    let restarts = *recorded;
                    self.spawn_fresh(
                        held,
                        plan,
                        Some(record),
                        restarts,
                        Some(restarts),
                        Until::Ready,
                        None,
                    )
                    .await;
                }
                RecordState::Exited { exit, failure } => {
                    drop(held);
                    let restart = match failure {
                        Some(f) if f.contains("gave up") => Restart::LimitReached(plan.restart.max),
                        _ => Restart::No,
                    };
                    let _ = self.machine.apply(Event::Exited {
                        status: exit.to_string(),
                        success: failure.is_none(),
                        restart,
                    });
                    self.phase = Phase::Idle;
                }
                _ => {
                    drop(held);
                    // Another process restarted it: follow that process.
                    if !self.follow(&plan, record).await {
                        let _ = self.machine.apply(Event::Stop);
                        self.phase = Phase::Idle;
                    }
                }
            },
            None => {
                // Stopped by another process meanwhile: the restart is cancelled.
                drop(held);
                let _ = self.machine.apply(Event::Stop);
                self.phase = Phase::Idle;
            }
        }
        self.publish_process();
    }
}

/// Whether the process that spawned the recorded daemon still runs.
fn parent_lives(record: &Record) -> bool {
    let (pid, start_time) = record.parent;
    matches!(
        identity::check(pid, start_time, &record.boot_id),
        Ok(Liveness::Alive(_))
    )
}

/// A daemon whose manager was dropped (without `stop_on_drop`) runs on; when it exits, this
/// process, its parent, reaps it and records its status (nobody restarts it).
pub(super) async fn reap_when_it_exits(ctx: Arc<Context>, live: Live) {
    let exit = live.group.leader_exit().await;
    let Ok(_held) = ctx.store.lock(&live.plan.key).await else {
        return;
    };
    let (pid, start_time) = (live.pid, live.start_time);
    let _ = ctx
        .store
        .update(&live.plan.key, move |current| match current {
            Some(r)
                if r.names(pid, start_time)
                    && matches!(r.state, RecordState::Starting | RecordState::Ready) =>
            {
                let failure = failure_of(&exit, Restart::No, false);
                let mut next = r.clone();
                next.generation += 1;
                next.state = RecordState::Exited { exit, failure };
                (Change::Write(Box::new(next)), ())
            }
            _ => (Change::Keep, ()),
        })
        .await;
}
