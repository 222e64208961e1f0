//! Ensuring a daemon runs: what this owner already has answers at once; otherwise, under the
//! daemon's lock, the record decides — adopt a process of ours that runs (another file), wait
//! for another process's stop (or take it over), claim a pending restart, drop a stale record
//! (signalling nothing but what is provably left of our own group), or spawn a fresh process and
//! record it as starting. The lock guards the reading and writing of the record only; the
//! readiness wait and every sweep run without it. The owner races the readiness wait against
//! the process's exit, answers, and records the outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::daemon::actor::{Actor, Phase, StartReply, Starting};
use crate::daemon::adopt::Pending;
use crate::daemon::live::{Facts, Live, now_ms};
use crate::daemon::{Mode, Until, chain, record_error, stop};
use crate::events::Machine;
use crate::plan::{Plan, ProbePlan, StopPlan};
use crate::process::group::{Group, LocalGroup};
use crate::process::identity::{self, Liveness};
use crate::process::pidfd::PidFd;
use crate::process::{binary, spawn};
use crate::readiness::log_watch::LogWatch;
use crate::readiness::notify::NotifySocket;
use crate::readiness::probe;
use crate::readiness::wait::{self, Listener, Outcome};
use crate::state::Event;
use crate::store::lock::Held;
use crate::store::record::{Record, RecordState};
use crate::store::state_dir::file_name;
use crate::store::{Change, log_file};
use crate::{Running, StartError};

/// How many lines of a failed daemon's log an error quotes.
pub(super) const TAIL_LINES: usize = 20;

/// How many times a start reads the record again after waiting for another process (its stop,
/// its verdict on an exit), or after taking a stop over, before giving up.
const ROUNDS: usize = 4;

/// The error of a handle whose values differ from those of the daemon running under its key.
pub(super) fn conflict(plan: &Plan, pid: u32, running: String) -> StartError {
    StartError::Conflict {
        daemon: plan.key.clone(),
        pid,
        running,
        wanted: plan.command_line(),
    }
}

/// What the record said, under the lock, that a start must do.
enum Next {
    /// Spawn a fresh process; `previous` is the record it replaces, `restarts` its count.
    Spawn {
        previous: Option<Box<Record>>,
        restarts: u32,
    },
    /// Done: the reply was sent (adopted, or waiting for another process's start).
    Answered,
    /// Wait (lock released) for another process to finish with the daemon, then read again.
    WaitFor(Pending),
    /// A record whose process is gone (or not ours any more): sweep, drop, read again.
    Stale(Box<Record>, Liveness),
    /// A stop another process began and did not finish (it is gone, or its time is up): run it
    /// here, then read again.
    TakeOver(Box<Record>, Arc<PidFd>),
}

impl Actor {
    pub(super) async fn on_ensure(
        &mut self,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
        reply: StartReply,
    ) {
        match &mut self.phase {
            // The same key on another host (a handle whose host now means this machine).
            Phase::Remote(live) => {
                let _ = reply.send(Err(conflict(&plan, live.pid, live.plan.command_line())));
            }
            Phase::Up(live) => {
                let _ = reply.send(if live.plan.fingerprint != plan.fingerprint {
                    Err(conflict(&plan, live.pid, live.plan.command_line()))
                } else if mode == Mode::Start {
                    Err(StartError::AlreadyRunning {
                        daemon: plan.key.clone(),
                        pid: live.pid,
                    })
                } else {
                    Ok(live.running(false, Duration::ZERO, 0))
                });
            }
            Phase::Starting(s) => {
                if s.live.plan.fingerprint != plan.fingerprint {
                    let _ =
                        reply.send(Err(conflict(&plan, s.live.pid, s.live.plan.command_line())));
                } else if mode == Mode::Start {
                    let _ = reply.send(Err(StartError::AlreadyRunning {
                        daemon: plan.key.clone(),
                        pid: s.live.pid,
                    }));
                } else if until == Until::Spawned {
                    let _ = reply.send(Ok(s.live.running(false, Duration::ZERO, 0)));
                } else {
                    s.waiters.push(reply);
                }
            }
            Phase::Stopping(_) => self.deferred.push_back(crate::daemon::Command::Ensure {
                plan,
                mode,
                until,
                reply,
            }),
            // An ensure during a restart's backoff restarts it now.
            Phase::Backoff(_) | Phase::Idle => self.start(plan, mode, until, reply).await,
        }
    }

    /// Ensures from the record (this owner has no process of the daemon).
    async fn start(&mut self, plan: Arc<Plan>, mode: Mode, until: Until, reply: StartReply) {
        let mut reply = Some(reply);
        for _ in 0..ROUNDS {
            let held = match self.ctx.store.lock(&plan.key).await {
                Ok(held) => held,
                Err(err) => return answer(&mut reply, Err(err.into())),
            };
            let next = match self.decide(&plan, mode, until, &mut reply).await {
                Ok(next) => next,
                Err(err) => return answer(&mut reply, Err(err)),
            };
            match next {
                Next::Answered => return,
                Next::Spawn { previous, restarts } => {
                    let restart = match &self.phase {
                        Phase::Backoff(b) => Some(b.attempt),
                        _ => None,
                    };
                    let waiter = reply.take();
                    let previous = previous.map(|p| *p);
                    self.spawn_fresh(held, plan, previous, restarts, restart, until, waiter)
                        .await;
                    return;
                }
                Next::WaitFor(pending) => {
                    drop(held);
                    pending.wait().await;
                }
                Next::Stale(record, liveness) => {
                    drop(held);
                    if let Err(err) = self.drop_stale(&plan, *record, liveness).await {
                        return answer(&mut reply, Err(err));
                    }
                }
                Next::TakeOver(record, pidfd) => {
                    drop(held);
                    let steps = StopPlan::from_record(&record.stop);
                    tracing::warn!(parent: self.machine.span(), pid = record.pid, "a stop another process began is not over in time (or that process is gone): taking it over");
                    let (result, remove) =
                        stop::stop_process(&self.ctx, None, &record, pidfd, &steps).await;
                    if let Some((pid, start_time)) = remove {
                        self.ctx
                            .remove_if_names(&plan.key, pid, start_time, &self.machine)
                            .await;
                    }
                    if let Err(err) = result {
                        return answer(
                            &mut reply,
                            Err(StartError::Leftovers {
                                daemon: plan.key.clone(),
                                reason: err.to_string(),
                            }),
                        );
                    }
                }
            }
        }
        answer(
            &mut reply,
            Err(StartError::Busy {
                daemon: plan.key.clone(),
            }),
        );
    }

    /// Reads the record under the lock and decides.
    async fn decide(
        &mut self,
        plan: &Arc<Plan>,
        mode: Mode,
        until: Until,
        reply: &mut Option<StartReply>,
    ) -> Result<Next, StartError> {
        let ctx = self.ctx.clone();
        let current = ctx
            .store
            .read(&plan.key)
            .await
            .map_err(record_error(plan))?;
        let Some(record) = current else {
            return Ok(Next::Spawn {
                previous: None,
                restarts: 0,
            });
        };
        let record = Box::new(record);
        match &record.state {
            RecordState::Exited { .. } => {
                return Ok(Next::Spawn {
                    previous: Some(record),
                    restarts: 0,
                });
            }
            // A restart is pending (ours or another process's): this start is that restart.
            RecordState::Backoff { attempt, .. } => {
                let restarts = *attempt;
                return Ok(Next::Spawn {
                    previous: Some(record),
                    restarts,
                });
            }
            RecordState::Starting | RecordState::Ready | RecordState::Stopping { .. } => {}
        }
        let liveness = ctx.liveness(&record).map_err(record_error(plan))?;
        let pidfd = match liveness {
            Liveness::Alive(pidfd) => Arc::new(pidfd),
            Liveness::Exited(_) if ctx.spawned_here(&record) => {
                // Exited, and this process is its parent (its owner here is gone): reap it; its
                // record is a stale one now.
                let _ = crate::process::exit::try_reap(record.pid);
                return Ok(Next::Stale(record, Liveness::Gone));
            }
            Liveness::Exited(pidfd) => {
                // Exited, not yet reaped: its parent is about to decide what comes next.
                return Ok(Next::WaitFor(Pending::verdict(
                    &ctx,
                    &plan.key,
                    Arc::new(pidfd),
                )));
            }
            stale => return Ok(Next::Stale(record, stale)),
        };
        if let RecordState::Stopping { by, until_ms } = record.state {
            // Another process is stopping it: wait for it while it lives and has time left;
            // then take its stop over.
            return Ok(
                if identity::may_live(by, &record.boot_id) && now_ms() < until_ms {
                    Next::WaitFor(Pending::stop(pidfd, &ctx, &record))
                } else {
                    Next::TakeOver(record, pidfd)
                },
            );
        }
        if record.fingerprint != plan.fingerprint {
            return Err(conflict(plan, record.pid, record.command.clone()));
        }
        if mode == Mode::Start {
            return Err(StartError::AlreadyRunning {
                daemon: plan.key.clone(),
                pid: record.pid,
            });
        }
        self.adopt(plan.clone(), *record, pidfd, until, reply)
            .await?;
        Ok(Next::Answered)
    }

    /// A record whose process is gone (or of another boot, or whose PID is someone else's now):
    /// what is left of our group is swept (signals only, its lineage only: see [`LocalGroup`]);
    /// the record is removed (if no one changed it meanwhile); nobody else is signalled. If
    /// what was left outlives SIGKILL, the record stays and the start is refused: a second copy
    /// beside processes that will not die is what this library exists to prevent.
    async fn drop_stale(
        &mut self,
        plan: &Plan,
        record: Record,
        liveness: Liveness,
    ) -> Result<(), StartError> {
        match liveness {
            Liveness::Gone => {
                tracing::warn!(parent: self.machine.span(), pid = record.pid, "stale record: the process is gone; what is left of its group is stopped, the record removed");
                if let Err(still) = chain::sweep_left_by(&record).await {
                    return Err(StartError::Leftovers {
                        daemon: plan.key.clone(),
                        reason: format!(
                            "processes {:?} of its previous run outlived SIGKILL{}",
                            still.members,
                            still.error.map(|e| format!(" ({e})")).unwrap_or_default()
                        ),
                    });
                }
            }
            Liveness::OtherBoot => {
                tracing::warn!(parent: self.machine.span(), pid = record.pid, "stale record of another boot: removed, nothing signalled");
            }
            Liveness::Reused { found } => {
                tracing::warn!(parent: self.machine.span(), pid = record.pid, recorded_start = record.start_time, found_start = found, "stale record: the PID now belongs to another process, which is left alone; removed");
            }
            Liveness::Alive(_) | Liveness::Exited(_) => return Ok(()),
        }
        let held = self.ctx.store.lock(&plan.key).await?;
        self.ctx
            .store
            .change_if_generation(&plan.key, held, record.generation, Change::Remove)
            .await
            .map_err(record_error(plan))
    }

    /// Spawns a fresh process and records it as starting (under the lock `held`), then awaits
    /// its readiness in the `Starting` phase. `restart`: the restart number, if this is one.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn spawn_fresh(
        &mut self,
        held: Held,
        plan: Arc<Plan>,
        previous: Option<Record>,
        restarts: u32,
        restart: Option<u32>,
        until: Until,
        reply: Option<StartReply>,
    ) {
        let mut waiters: Vec<StartReply> = reply.into_iter().collect();
        let event = match (&self.phase, restart) {
            (Phase::Backoff(b), Some(_)) if b.due <= tokio::time::Instant::now() => {
                Event::RestartDue
            }
            _ => Event::Start,
        };
        if let Err(err) = self.machine.apply(event) {
            drop(held);
            self.phase = Phase::Idle;
            self.restart_failed(&plan, restart, &err.to_string()).await;
            self.fail_waiters(waiters, err.into());
            return;
        }
        let launched = match port_free(&plan).await {
            Ok(()) => self.launch(held, &plan, previous, restarts).await,
            Err(err) => {
                drop(held);
                Err(err)
            }
        };
        let (live, listener) = match launched {
            Ok(launched) => launched,
            Err(err) => {
                let _ = self.machine.apply(Event::SpawnFailed {
                    error: err.to_string(),
                });
                self.phase = Phase::Idle;
                self.publish_process();
                self.restart_failed(&plan, restart, &err.to_string()).await;
                self.fail_waiters(waiters, err);
                return;
            }
        };
        let _ = self.machine.apply(Event::Spawned { pid: live.pid });
        if until == Until::Spawned {
            for waiter in waiters.drain(..) {
                let _ = waiter.send(Ok(live.running(true, Duration::ZERO, 0)));
            }
        }
        let first_spawned = !waiters.is_empty();
        let ready = readiness(
            plan.clone(),
            self.ctx.client.clone(),
            self.machine.clone(),
            live.pid,
            listener,
            live.since,
        );
        self.phase = Phase::Starting(Box::new(Starting {
            live,
            ready,
            waiters,
            first_spawned,
            restart,
            adopting: false,
        }));
        self.publish_process();
    }

    /// The blocking part of a start, on a blocking thread that holds the daemon's lock until it
    /// is done: resolves the binary, opens (and rotates) the log, spawns, writes the record
    /// (starting) and the dependents markers. A process whose record cannot be written is
    /// killed and reaped at once: nobody could find it again.
    async fn launch(
        &mut self,
        held: Held,
        plan: &Arc<Plan>,
        previous: Option<Record>,
        restarts: u32,
    ) -> Result<(Live, Listener), StartError> {
        let probe_error = |source| StartError::Probe {
            daemon: plan.key.clone(),
            source,
        };
        let notify = match plan.readiness.as_ref().map(|r| &r.probe) {
            Some(ProbePlan::Notify) => Some(NotifySocket::bind().map_err(probe_error)?),
            _ => None,
        };
        let notify_env = notify.as_ref().map(|socket| socket.env_value().to_owned());
        let log_path = plan
            .log_dir
            .clone()
            .unwrap_or_else(|| self.ctx.store.dir().logs())
            .join(format!("{}.log", file_name(&plan.key)));
        let dir = self.ctx.store.dir().clone();
        let (me, manager, stop_on_drop) = (self.ctx.me, self.ctx.manager, self.ctx.stop_on_drop);
        let task_plan = plan.clone();
        let task_log = log_path.clone();
        let spawned = crate::blocking::run(move || -> Result<_, StartError> {
            let plan = task_plan;
            let binary = binary::resolve(&plan.key, &plan.binary)?;
            let spawn_error = |source| StartError::Spawn {
                daemon: plan.key.clone(),
                binary: binary.clone(),
                source,
            };
            let (log, offset) =
                log_file::open_for_start(&task_log, plan.log_max_size, plan.log_keep)
                    .map_err(spawn_error)?;
            // The start's clock: the readiness deadline counts from the spawn.
            let since = Instant::now();
            let spawned =
                spawn::spawn(&plan, &binary, log, notify_env.as_deref()).map_err(spawn_error)?;
            let group = Arc::new(LocalGroup::of_child(Arc::new(spawned.pidfd)));
            let facts = Facts {
                start_time: spawned.start_time,
                session: spawned.session,
                log: task_log,
                log_offset: offset,
                since,
                restarts,
                generation: previous.as_ref().map_or(1, |r| r.generation + 1),
            };
            let mut live = Live::new(group, plan.clone(), facts, true, stop_on_drop);
            let record = live.record(RecordState::Starting, previous.as_ref(), me, manager);
            if let Err(source) = dir.write_record(&record) {
                kill_and_reap(&mut live);
                return Err(StartError::Record {
                    daemon: plan.key.clone(),
                    source,
                });
            }
            for (dependency, _) in &plan.dependencies {
                dir.mark_dependent(&dependency.key, &plan.key);
            }
            drop(held);
            Ok((live, offset))
        })
        .await
        .map_err(|e| StartError::Task {
            daemon: plan.key.clone(),
            message: e.to_string(),
        })?;
        let (live, offset) = spawned?;
        let listener = match (notify, plan.readiness.as_ref().map(|r| &r.probe)) {
            (Some(socket), _) => Listener::Notify(socket),
            (None, Some(ProbePlan::Log { pattern })) => {
                // Lines from `offset` on count, so a line written before the watch is not missed.
                match regex_lite::Regex::new(pattern)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
                    .and_then(|regex| Ok((LogWatch::new(&log_path, offset)?, regex)))
                {
                    Ok((watch, regex)) => Listener::Log(watch, regex),
                    Err(e) => {
                        self.abandon(live).await;
                        return Err(probe_error(e));
                    }
                }
            }
            _ => Listener::Poll,
        };
        Ok((live, listener))
    }

    /// Takes down a process just spawned whose start cannot go on (the readiness listener
    /// could not be set up): SIGKILL to its group, reaped; its record removed only once nothing
    /// of it is left (else it stays, for the process to be found and stopped).
    async fn abandon(&mut self, mut live: Live) {
        live.disarm();
        let deadline = crate::deadline::deadline_in(chain::KILL_CONFIRM);
        let gone = match live.group.signal(nix::sys::signal::Signal::SIGKILL).await {
            Ok(()) => matches!(live.group.gone(deadline).await, Ok(true)),
            Err(_) => false,
        };
        if !gone {
            tracing::warn!(parent: self.machine.span(), pid = live.pid, "a start that could not go on left its process running: its record says so");
            self.record_stuck(&live).await;
            return;
        }
        self.ctx
            .remove_if_names(&self.key, live.pid, live.start_time, &self.machine)
            .await;
    }

    /// The readiness wait of a process this owner started (or awaited) ended.
    pub(super) async fn on_readiness(&mut self, outcome: Outcome) {
        let Phase::Starting(starting) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        if starting.adopting {
            self.adopted_readiness(*starting, outcome);
            return;
        }
        let Starting {
            mut live,
            waiters,
            first_spawned,
            restart,
            ..
        } = *starting;
        match outcome {
            Outcome::Ready { elapsed, attempts } => {
                // The callers are told first; the record says ready one write later — a write
                // owed even if this owner goes before it is made (the runtime shut down right
                // after a caller had its answer: a command-line `up`).
                let owed = self.owe_ready(&live);
                let _ = self.machine.apply(Event::ProbeOk);
                let running = live.running(true, elapsed, attempts);
                for (i, waiter) in waiters.into_iter().enumerate() {
                    // Only the caller that spawned it started it; the others joined.
                    let _ = waiter.send(Ok(Running {
                        started: i == 0 && first_spawned,
                        ..running.clone()
                    }));
                }
                match owed.pay().await {
                    Ok(true) => live.generation += 1,
                    Ok(false) => {
                        tracing::info!(parent: self.machine.span(), "another process took the daemon over (a stop) while it got ready")
                    }
                    Err(err) => {
                        tracing::warn!(parent: self.machine.span(), %err, "the daemon is ready, but its record could not say so")
                    }
                }
                self.phase = Phase::Up(Box::new(live));
                self.publish_process();
            }
            Outcome::TimedOut {
                attempts,
                last_error,
            } => {
                let deadline = live.plan.readiness_deadline();
                let failure = format!("not ready within the deadline; last probe: {last_error}");
                let (log, offset) = (live.log.clone(), live.log_offset);
                let daemon = live.plan.key.clone();
                let mut last = last_error.clone();
                let _ = self.machine.apply(Event::DeadlinePassed { last_error });
                if let Some(still) = self.stop_failed_start(live, failure, restart).await {
                    last.push_str(&format!("; and processes {still:?} outlived SIGKILL"));
                }
                let error = StartError::TimedOut {
                    daemon,
                    deadline,
                    attempts,
                    last_error: last,
                    log_tail: log_tail(&log, offset).await,
                    log,
                };
                self.fail_waiters(waiters, error);
            }
            Outcome::Failed { error } => {
                let failure = format!("its readiness probe failed: {error}");
                let _ = self.machine.apply(Event::ProbeError {
                    error: error.to_string(),
                });
                let err = StartError::Probe {
                    daemon: live.plan.key.clone(),
                    source: error,
                };
                self.stop_failed_start(live, failure, restart).await;
                self.fail_waiters(waiters, err);
            }
        }
    }

    /// The ready record of `live`, owed: written only if the record still names the process at
    /// the generation this owner wrote (else another process has taken over: a stop).
    fn owe_ready(&self, live: &Live) -> crate::store::Owed {
        let ready = live.record(RecordState::Ready, None, self.ctx.me, self.ctx.manager);
        let (pid, start_time, generation) = (live.pid, live.start_time, live.generation);
        self.ctx
            .store
            .owe(&live.plan.key, move |current| match current {
                Some(r) if r.names(pid, start_time) && r.generation == generation => {
                    let mut ready = ready;
                    ready.generation = r.generation + 1;
                    ready.started_at_ms = r.started_at_ms;
                    ready.parent = r.parent;
                    ready.manager = r.manager;
                    Change::Write(Box::new(ready))
                }
                _ => Change::Keep,
            })
    }

    /// Stops a process whose start failed (deadline, broken probe) with its chain — the record
    /// says so first — then records the failure (or, for a restart with restarts left, the
    /// next backoff). If processes outlive SIGKILL, the record stays `stopping` and nothing is
    /// restarted: a second copy must not join processes that will not die. Returns those.
    async fn stop_failed_start(
        &mut self,
        mut live: Live,
        failure: String,
        restart: Option<u32>,
    ) -> Option<Vec<u32>> {
        live.disarm();
        self.record_stopping(&live).await;
        let machine = self.machine.clone();
        let grace_expired = move |step| {
            let _ = machine.apply(Event::GraceExpired { step });
        };
        let stopped = chain::run(
            &*live.group,
            &live.plan.stop,
            Some(&self.ctx.client),
            &grace_expired,
        )
        .await;
        let still = match stopped {
            Ok(_) => {
                let _ = self.machine.apply(Event::Gone);
                None
            }
            Err(still) => {
                let _ = self.machine.apply(Event::KillFailed {
                    members: still.members.clone(),
                });
                self.record_stuck(&live).await;
                self.publish_process();
                return Some(still.members);
            }
        };
        let exit = live.group.exit().unwrap_or(crate::Exit::UNKNOWN);
        self.record_exit(&live, exit, Some(failure), restart).await;
        self.retry_restart(&live.plan, restart);
        if self.live().is_none() {
            self.publish_process();
        }
        still
    }

    /// Records that this owner stops `live` (if its record names it), so that other processes
    /// know; the stop goes on whatever happens to the record.
    async fn record_stopping(&mut self, live: &Live) {
        let state = crate::daemon::live::stopping(self.ctx.me, &live.plan.stop);
        self.record_state(live, state).await;
    }

    /// Records that `live` could not be stopped by this owner (it outlived SIGKILL): a stop
    /// another process takes over at once.
    async fn record_stuck(&mut self, live: &Live) {
        self.record_state(live, crate::daemon::live::stuck(self.ctx.me))
            .await;
    }

    /// Writes `state` into `live`'s record, if it names `live`.
    async fn record_state(&mut self, live: &Live, state: RecordState) {
        let written = self
            .ctx
            .store
            .change_if_names(
                &self.key,
                live.pid,
                live.start_time,
                stop::with_state(state),
            )
            .await;
        if let Err(err) = written {
            tracing::warn!(parent: self.machine.span(), %err, "cannot record it; going on");
        }
    }

    pub(super) fn fail_waiters(&self, waiters: Vec<StartReply>, error: StartError) {
        for waiter in waiters {
            let _ = waiter.send(Err(error.duplicate()));
        }
    }
}

/// A port that answers while nothing of ours runs there is someone else's.
async fn port_free(plan: &Plan) -> Result<(), StartError> {
    if let Some(r) = &plan.readiness
        && !r.probe.is_event()
        && probe::port_in_use(&r.probe, r.attempt_timeout.min(Duration::from_secs(1))).await
    {
        return Err(StartError::PortTaken {
            daemon: plan.key.clone(),
            probe: r.probe.describe(),
        });
    }
    Ok(())
}

fn answer(reply: &mut Option<StartReply>, result: Result<Running, StartError>) {
    if let Some(reply) = reply.take() {
        let _ = reply.send(result);
    }
}

/// Kills a child just spawned whose start cannot go on, and reaps it, on this (blocking)
/// thread: SIGKILL cannot be caught, so the wait is short; it is bounded all the same.
fn kill_and_reap(live: &mut Live) {
    live.disarm();
    let _ = live.group.signal_now(nix::sys::signal::Signal::SIGKILL);
    if live.group.wait_exit_blocking(chain::KILL_CONFIRM) {
        live.group.try_exit();
    }
}

/// The readiness wait of a process this owner spawned, as a future the owner polls beside the
/// process's exit; each failed attempt is published.
fn readiness(
    plan: Arc<Plan>,
    client: reqwest::Client,
    machine: Arc<Machine>,
    pid: u32,
    listener: Listener,
    started: Instant,
) -> crate::daemon::actor::Boxed<Outcome> {
    Box::pin(async move {
        let Some(readiness) = &plan.readiness else {
            return Outcome::Ready {
                elapsed: started.elapsed(),
                attempts: 0,
            };
        };
        let on_failure = |error: &str| {
            let _ = machine.apply(Event::ProbeFailed {
                error: error.to_owned(),
            });
        };
        wait::wait(readiness, &client, pid, listener, started, &on_failure).await
    })
}

/// The last lines of a log from `offset` on, read on a blocking thread.
pub(super) async fn log_tail(log: &std::path::Path, offset: u64) -> Vec<String> {
    let log = log.to_path_buf();
    crate::blocking::run(move || log_file::tail(&log, offset, TAIL_LINES))
        .await
        .unwrap_or_default()
}
