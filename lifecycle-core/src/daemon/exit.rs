//! The exit of a daemon's process, and the restart policy. The parent (the process that spawned
//! it) reads the exit status; it sweeps what the dead leader left in its group (signals only)
//! and records its verdict: a restart pending (the record says `backoff`, with the count of
//! restarts in a row, which every supervisor shares) or the exit. An adopter cannot read the
//! status: it defers to the parent while the parent lives, and decides itself only when the
//! parent is gone (an unknown status counts as a failure). Whoever wrote the `backoff` record
//! restarts the daemon when it is due; the others follow, and claim the restart only if it has
//! not come by then. What outlives SIGKILL (a process stuck in the kernel) stops it all: the
//! record stays `stopping` and nothing is restarted beside it.

use std::sync::Arc;
use std::time::Duration;

use lifecycle_spec::RestartPolicy;

use crate::daemon::actor::{Actor, Backoff, Phase, Starting};
use crate::daemon::live::{Live, ms_from_now, now_ms, stuck};
use crate::daemon::start::log_tail;
use crate::daemon::{Mode, Until, chain};
use crate::plan::Plan;
use crate::process::identity;
use crate::state::{Event, RestartVerdict};
use crate::store::Change;
use crate::store::record::{Record, RecordState};
use crate::store::record_watch::RecordWatch;
use crate::{Exit, StartError};

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
    Decided { exit: Exit, restart: RestartVerdict },
    /// What the dead leader left in its group outlived SIGKILL: recorded as a stop under way,
    /// nothing restarted.
    Leftovers { exit: Exit, members: Vec<u32> },
    /// The parent (another process) decided, or replaced the process: its record.
    Follow(Box<Record>),
}

/// The restart policy's verdict on an exit after `in_a_row` restarts in a row. An unknown
/// status (the daemon was not our child, and its parent is gone) counts as a failure.
pub(super) fn decide(
    restart: &lifecycle_spec::Restart,
    exit: &Exit,
    in_a_row: u32,
) -> RestartVerdict {
    match restart.policy {
        RestartPolicy::Never => RestartVerdict::No,
        RestartPolicy::OnFailure if exit.success() => RestartVerdict::No,
        _ if in_a_row >= restart.max => RestartVerdict::LimitReached(restart.max),
        _ => RestartVerdict::After(in_a_row + 1),
    }
}

/// The restart after restart attempt `restart` failed, if the policy allows one more.
pub(super) fn next_restart(plan: &Plan, restart: Option<u32>) -> Option<u32> {
    restart
        .filter(|&attempt| attempt < plan.restart.max)
        .map(|attempt| attempt + 1)
}

/// Why an exit with `restart` is a failure, if it is one (for the record).
pub(super) fn failure_of(
    exit: &Exit,
    restart: RestartVerdict,
    before_ready: bool,
) -> Option<String> {
    match restart {
        RestartVerdict::LimitReached(max) => Some(format!(
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
    restart: RestartVerdict,
    failure: Option<String>,
    backoff: &lifecycle_spec::Backoff,
    in_a_row: u32,
) -> Record {
    let mut next = current.clone();
    next.generation += 1;
    next.restarts = in_a_row;
    next.state = match restart {
        RestartVerdict::After(attempt) => RecordState::Backoff {
            attempt,
            due_ms: ms_from_now(backoff.delay(attempt - 1)),
            exit: exit.clone(),
        },
        _ => RecordState::Exited {
            exit: exit.clone(),
            failure,
        },
    };
    next
}

/// The restart verdict a recorded exit stands for (for a follower's state machine).
fn recorded_restart(plan: &Plan, record: &Record) -> RestartVerdict {
    match &record.state {
        RecordState::Backoff { attempt, .. } => RestartVerdict::After(*attempt),
        RecordState::Exited {
            failure: Some(_), ..
        } if record.restarts >= plan.restart.max && plan.restart.policy != RestartPolicy::Never => {
            RestartVerdict::LimitReached(plan.restart.max)
        }
        _ => RestartVerdict::No,
    }
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

        // A start another owner made, awaited here, ended with its exit: ensure again.
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
            if matches!(verdict, Verdict::StoppedElsewhere) {
                let _ = self.machine.apply(Event::Stop);
                let _ = self.machine.apply(Event::Gone);
            } else {
                let _ = self.machine.apply(Event::Exited {
                    status: exit.to_string(),
                    success: exit.success(),
                    restart: RestartVerdict::No,
                });
            }
            self.fail_waiters(waiters, error);
            match verdict {
                Verdict::Decided {
                    restart: RestartVerdict::After(attempt),
                    ..
                } => {
                    let _ = self.machine.apply(Event::RestartScheduled { attempt });
                    self.schedule(&plan, attempt, true, None);
                }
                Verdict::Follow(record) => {
                    if let RecordState::Backoff { attempt, .. } = record.state {
                        let _ = self.machine.apply(Event::RestartScheduled { attempt });
                    }
                    self.follow_verdict(&plan, *record).await;
                }
                Verdict::Leftovers { members, .. } => {
                    tracing::warn!(parent: self.machine.span(), ?members, "processes of the daemon's group outlived SIGKILL: nothing is restarted beside them");
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
                if let RestartVerdict::After(attempt) = restart {
                    self.schedule(&plan, attempt, true, None);
                }
            }
            Verdict::Leftovers { exit, members } => {
                let _ = self.machine.apply(Event::Exited {
                    status: format!("{exit}; processes {members:?} of its group outlived SIGKILL"),
                    success: false,
                    restart: RestartVerdict::No,
                });
            }
            Verdict::Follow(record) => {
                let restart = recorded_restart(&plan, &record);
                let (status, success) = match &record.state {
                    RecordState::Backoff { exit, .. } | RecordState::Exited { exit, .. } => {
                        (exit.to_string(), exit.success())
                    }
                    _ => (exit.to_string(), exit.success()),
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
    /// restart), or at `due_ms` and a margin (another process's, followed; never later than the
    /// policy's longest delay and the margin from now, whatever the record says).
    pub(super) fn schedule(
        &mut self,
        plan: &Arc<Plan>,
        attempt: u32,
        owner: bool,
        due_ms: Option<u64>,
    ) {
        let delay = match due_ms {
            Some(due_ms) => Duration::from_millis(due_ms.saturating_sub(now_ms()))
                .min(plan.restart.backoff.max)
                .saturating_add(FOLLOW_MARGIN),
            None => plan.restart.backoff.delay(attempt.saturating_sub(1)),
        };
        self.phase = Phase::Backoff(Box::new(Backoff {
            attempt,
            due: crate::deadline::deadline_in(delay),
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
        let mut leftovers = if live.parent {
            self.sweep(live).await
        } else {
            None
        };
        let mut rounds = 0;
        let mut adopter_swept = false;
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
                        restart: RestartVerdict::No,
                    };
                }
            };
            let current = match self.ctx.store.read(&self.key).await {
                Ok(current) => current,
                Err(err) => {
                    tracing::warn!(parent: self.machine.span(), %err, "cannot read the record after the exit; no restart");
                    return Verdict::Decided {
                        exit,
                        restart: RestartVerdict::No,
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
                RecordState::Stopping { .. } => return Verdict::StoppedElsewhere,
                RecordState::Backoff { .. } | RecordState::Exited { .. } => {
                    return Verdict::Follow(Box::new(record));
                }
                RecordState::Starting | RecordState::Ready => {}
            }
            // The parent reads the status and decides, while it may live (an error checking it
            // is no proof it is gone): wait for its record.
            if !live.parent
                && !adopter_swept
                && rounds < VERDICT_ROUNDS
                && identity::may_live(record.parent, &record.boot_id)
            {
                rounds += 1;
                drop(held);
                match watch {
                    Some(watch) => {
                        let _ = tokio::time::timeout(VERDICT_PATIENCE, watch.changed()).await;
                    }
                    None => tokio::time::sleep(VERDICT_PATIENCE / 5).await,
                }
                continue;
            }
            if !live.parent && !adopter_swept {
                // This owner decides after all: what the dead leader left goes first, without
                // the lock; then the record is read again.
                drop(held);
                leftovers = self.sweep(live).await;
                adopter_swept = true;
                continue;
            }
            let generation = record.generation;
            if let Some(members) = leftovers.take() {
                // A stop under way that nobody can finish: no second copy beside what remains.
                let mut stuck_record = record.clone();
                stuck_record.state = stuck(self.ctx.me);
                stuck_record.generation += 1;
                let written = self
                    .ctx
                    .store
                    .change_if_generation(
                        &self.key,
                        held,
                        generation,
                        Change::Write(Box::new(stuck_record)),
                    )
                    .await;
                if let Err(err) = written {
                    tracing::warn!(parent: self.machine.span(), %err, "cannot record the exit");
                }
                return Verdict::Leftovers { exit, members };
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
                Some(None) => RestartVerdict::No,
                Some(Some(attempt)) => match next_restart(plan, Some(attempt)) {
                    Some(next) => RestartVerdict::After(next),
                    None => RestartVerdict::LimitReached(plan.restart.max),
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
            let written = self
                .ctx
                .store
                .change_if_generation(&self.key, held, generation, Change::Write(Box::new(next)))
                .await;
            if let Err(err) = written {
                tracing::warn!(parent: self.machine.span(), %err, "cannot record the exit");
            }
            return Verdict::Decided { exit, restart };
        }
    }

    /// Stops what an exited leader left in its group (the chain's signals only); the members
    /// that outlived SIGKILL, if any.
    async fn sweep(&mut self, live: &Live) -> Option<Vec<u32>> {
        match chain::sweep(&*live.group, &live.plan.stop).await {
            Ok(_) => None,
            Err(still) => {
                tracing::warn!(parent: self.machine.span(), members = ?still.members, error = ?still.error, "what the exited daemon left in its group outlived SIGKILL");
                Some(still.members)
            }
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
        let Ok(held) = self.ctx.store.lock(&self.key).await else {
            return;
        };
        let (pid, start_time) = (live.pid, live.start_time);
        let restart = match (restart, next_restart(&live.plan, restart)) {
            (_, Some(next)) => RestartVerdict::After(next),
            (Some(_), None) => RestartVerdict::LimitReached(live.plan.restart.max),
            (None, None) => RestartVerdict::No,
        };
        let backoff = live.plan.restart.backoff;
        let in_a_row = live.restarts;
        let written = self
            .ctx
            .store
            .update(&self.key, held, move |current| match current {
                Some(r) if r.names(pid, start_time) => (
                    Change::Write(Box::new(exit_record(
                        &r, &exit, restart, failure, &backoff, in_a_row,
                    ))),
                    (),
                ),
                _ => (Change::Keep, ()),
            })
            .await;
        if let Err(err) = written {
            tracing::warn!(parent: self.machine.span(), %err, "cannot record the failed start");
        }
    }

    /// After a restart attempt that failed before it was ready: the next one, if the policy
    /// allows; the machine and the phase say so.
    pub(super) fn retry_restart(&mut self, plan: &Arc<Plan>, restart: Option<u32>) {
        let Some(next) = next_restart(plan, restart) else {
            return;
        };
        if self
            .machine
            .apply(Event::RestartScheduled { attempt: next })
            .is_ok()
        {
            self.schedule(plan, next, true, None);
        }
    }

    /// A restart attempt failed before a process ran (the binary, the port, the spawn): the
    /// pending restart's record moves on to the next attempt, or, with none left, says the
    /// daemon gave up — so that no other process claims a restart that will not come.
    pub(super) async fn restart_failed(
        &mut self,
        plan: &Arc<Plan>,
        restart: Option<u32>,
        why: &str,
    ) {
        let Some(attempt) = restart else { return };
        let next = next_restart(plan, Some(attempt));
        let Ok(held) = self.ctx.store.lock(&self.key).await else {
            tracing::warn!(parent: self.machine.span(), "cannot take the lock to record a failed restart");
            self.retry_restart(plan, Some(attempt));
            return;
        };
        let due_ms = next.map(|n| ms_from_now(plan.restart.backoff.delay(n - 1)));
        let failure = format!(
            "restart {attempt} failed: {why}; gave up after {} restarts",
            plan.restart.max
        );
        let _ = self
            .ctx
            .store
            .update(&self.key, held, move |current| match current {
                Some(mut r) => match (r.state, next, due_ms) {
                    (RecordState::Backoff { exit, .. }, Some(attempt), Some(due_ms)) => {
                        r.state = RecordState::Backoff {
                            attempt,
                            due_ms,
                            exit,
                        };
                        r.generation += 1;
                        (Change::Write(Box::new(r)), ())
                    }
                    (RecordState::Backoff { exit, .. }, _, _) => {
                        r.state = RecordState::Exited {
                            exit,
                            failure: Some(failure),
                        };
                        r.restarts = attempt;
                        r.generation += 1;
                        (Change::Write(Box::new(r)), ())
                    }
                    _ => (Change::Keep, ()),
                },
                None => (Change::Keep, ()),
            })
            .await;
        self.retry_restart(plan, Some(attempt));
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
                    let _ = self.machine.apply(Event::Exited {
                        status: exit.to_string(),
                        success: failure.is_none(),
                        restart: recorded_restart(&plan, &record),
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
