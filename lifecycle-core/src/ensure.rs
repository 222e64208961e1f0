//! `ensure_running` and `start`: dependencies first, then under the daemon's lock: adopt a
//! healthy daemon recorded as ours, refuse a port held by a stranger, or spawn and wait for
//! readiness, racing the daemon's exit.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lifecycle_spec::WaitFor;

use crate::exit::{self, ExitWatch};
use crate::log_watch::LogWatch;
use crate::manager::{Daemon, Inner, Live, Stopping};
use crate::notify::NotifySocket;
use crate::plan::{Place, Plan, ProbePlan};
use crate::readiness::{self, Listener, Outcome};
use crate::record::{self, Liveness, Record};
use crate::state_dir::file_name;
use crate::stop::{self, Target};
use crate::{Event, Restart, Running, StartError, State, binary, log_file, probe, spawn};

/// How many lines of a failed daemon's log an error quotes.
const TAIL_LINES: usize = 20;

/// `ensure_running` adopts a running daemon; `start` refuses to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Ensure,
    Start,
}

type StartFuture = Pin<Box<dyn Future<Output = Result<Running, StartError>> + Send>>;

impl Live {
    pub(crate) fn running(&self, started: bool, elapsed: Duration, attempts: u32) -> Running {
        Running {
            key: self.plan.key.clone(),
            pid: self.pid,
            started,
            elapsed,
            attempts,
            probe: self.plan.readiness.as_ref().map(|r| r.probe.describe()),
            log: self.log.clone(),
        }
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Inner {
    pub(crate) fn ensure(self: Arc<Self>, plan: Arc<Plan>, mode: Mode) -> StartFuture {
        Box::pin(async move {
            for (dependency, wait) in &plan.dependencies {
                let dependency = Arc::new(dependency.clone());
                let result = match wait {
                    WaitFor::Healthy => self
                        .clone()
                        .ensure(dependency.clone(), Mode::Ensure)
                        .await
                        .map(drop),
                    WaitFor::Started => self.clone().ensure_spawned(dependency.clone()).await,
                };
                result.map_err(|source| StartError::Dependency {
                    daemon: plan.key.clone(),
                    dependency: dependency.key.clone(),
                    source: Box::new(source),
                })?;
            }
            self.ensure_one(plan, mode).await
        })
    }

    /// For `wait: started`: returns once the dependency runs (spawned here, or found running);
    /// its readiness goes on in the background.
    async fn ensure_spawned(self: Arc<Self>, plan: Arc<Plan>) -> Result<(), StartError> {
        let mut events = self.bus.subscribe();
        let key = plan.key.clone();
        let recorded_alive = || {
            record::read(&self.state.record(&key))
                .ok()
                .flatten()
                .is_some_and(|r| matches!(r.liveness(), Liveness::Alive(_)))
        };
        if self.known(&key).is_some_and(|d| d.running().is_some()) || recorded_alive() {
            return Ok(());
        }
        let mut task = tokio::spawn(self.clone().ensure(plan, Mode::Ensure));
        loop {
            tokio::select! {
                result = &mut task => {
                    return match result {
                        Ok(result) => result.map(drop),
                        Err(join) => Err(StartError::Task { daemon: key, message: join.to_string() }),
                    };
                }
                event = events.recv() => match event {
                    Ok(t) if t.daemon == key && matches!(t.event, Event::Spawned { .. } | Event::Adopted { .. }) => return Ok(()),
                    _ => {}
                },
            }
        }
    }

    async fn ensure_one(
        self: Arc<Self>,
        plan: Arc<Plan>,
        mode: Mode,
    ) -> Result<Running, StartError> {
        let daemon = self.daemon(&plan.key);
        let _lock = self.locks.acquire(&plan.key, plan.lock_patience()).await?;
        let record_path = self.state.record(&plan.key);
        let record_error = |source| StartError::Record {
            daemon: plan.key.clone(),
            source,
        };

        if let Some(dead) = daemon.settle_exit() {
            self.sweep(&mut dead.target(), &dead.plan.stop).await;
            if record::read(&record_path)
                .ok()
                .flatten()
                .is_some_and(|r| dead.is_recorded_by(&r))
            {
                record::remove(&record_path).map_err(record_error)?;
            }
        }
        if let Some(live) = daemon.running()
            && daemon.machine.state() == State::Ready
        {
            if live.plan.fingerprint != plan.fingerprint {
                return Err(conflict(&plan, live.pid, live.plan.command_line()));
            }
            if mode == Mode::Start {
                return Err(StartError::AlreadyRunning {
                    daemon: plan.key.clone(),
                    pid: live.pid,
                });
            }
            return Ok(live.running(false, Duration::ZERO, 0));
        }
        if let Place::Ssh { host, .. } = &plan.place {
            return Err(StartError::Remote {
                daemon: plan.key.clone(),
                host: host.clone(),
            });
        }

        if let Some(recorded) = record::read(&record_path).map_err(record_error)? {
            match recorded.liveness() {
                Liveness::Alive(pidfd) => {
                    if recorded.fingerprint != plan.fingerprint {
                        return Err(conflict(&plan, recorded.pid, recorded.command.clone()));
                    }
                    if mode == Mode::Start {
                        return Err(StartError::AlreadyRunning {
                            daemon: plan.key.clone(),
                            pid: recorded.pid,
                        });
                    }
                    let pidfd = Arc::new(pidfd);
                    let mut exit = exit::watch(pidfd.clone(), false);
                    match self
                        .recorded_readiness(&daemon, &plan, &recorded, &mut exit)
                        .await
                    {
                        Ok(()) => {
                            let live = Live {
                                pid: recorded.pid,
                                start_time: recorded.start_time,
                                pgid: recorded.pgid,
                                pidfd,
                                exit,
                                child: false,
                                log: recorded.log.clone(),
                                since: Instant::now(),
                                plan: plan.clone(),
                            };
                            daemon.set_live(Some(live.clone()));
                            daemon.machine.apply(Event::Adopted { pid: recorded.pid })?;
                            tracing::info!(parent: daemon.machine.span(), pid = recorded.pid, "adopted from its record");
                            self.supervise(daemon.clone(), live.clone(), 0);
                            return Ok(live.running(false, Duration::ZERO, 0));
                        }
                        Err(Some(last_error)) => {
                            return Err(StartError::Unhealthy {
                                daemon: plan.key.clone(),
                                pid: recorded.pid,
                                last_error,
                            });
                        }
                        // It exited while we waited: what it left is swept, then a fresh start.
                        Err(None) => {
                            let mut target = Target {
                                pid: recorded.pid,
                                pgid: recorded.pgid,
                                exit,
                                leader: Some(pidfd),
                            };
                            self.sweep(&mut target, &plan.stop).await;
                            record::remove(&record_path).map_err(record_error)?;
                        }
                    }
                }
                Liveness::Gone => {
                    tracing::warn!(parent: daemon.machine.span(), pid = recorded.pid, "stale record: the process is gone; removed");
                    self.sweep(&mut stop::orphans_of(&recorded), &plan.stop)
                        .await;
                    record::remove(&record_path).map_err(record_error)?;
                }
                Liveness::Reused { found } => {
                    tracing::warn!(
                        parent: daemon.machine.span(),
                        pid = recorded.pid,
                        recorded_start = recorded.start_time,
                        found_start = found,
                        "stale record: the PID now belongs to another process, which is left alone; removed"
                    );
                    record::remove(&record_path).map_err(record_error)?;
                }
            }
        }

        if let Some(r) = &plan.readiness
            && !r.probe.is_event()
            && probe::port_in_use(&r.probe, r.attempt_timeout.min(Duration::from_secs(1))).await
        {
            return Err(StartError::PortTaken {
                daemon: plan.key.clone(),
                probe: r.probe.describe(),
            });
        }
        // A restart was pending (Backoff): this start takes its place.
        self.launch(&daemon, plan, None).await
    }

    /// The blocking part of a start: opens (and rotates) the log, spawns, writes the record and
    /// the dependency markers. If the record cannot be written, the process is killed at once:
    /// without a record nobody could find it again.
    fn start_process(
        &self,
        plan: &Plan,
        binary: &Path,
        log_path: &Path,
        notify_env: Option<&str>,
        restarts: u32,
    ) -> Result<(spawn::Spawned, u64), StartError> {
        let spawn_error = |source| StartError::Spawn {
            daemon: plan.key.clone(),
            binary: binary.to_path_buf(),
            source,
        };
        let (log, offset) = log_file::open_for_start(log_path, plan.log_max_size, plan.log_keep)
            .map_err(spawn_error)?;
        let spawned = spawn::spawn(plan, binary, log, notify_env).map_err(spawn_error)?;
        let record = Record {
            key: plan.key.clone(),
            name: plan.name.clone(),
            pid: spawned.pid,
            start_time: spawned.start_time,
            boot_id: record::boot_id().to_owned(),
            pgid: spawned.pid,
            started_at_ms: now_ms(),
            log: log_path.to_path_buf(),
            spec_file: plan.spec_file.clone(),
            probe: plan.readiness.as_ref().map(|r| r.probe.describe()),
            command: plan.command_line(),
            fingerprint: plan.fingerprint.clone(),
            restarts,
            depends_on: plan
                .dependencies
                .iter()
                .map(|(d, _)| d.key.clone())
                .collect(),
            stop: plan.stop.iter().map(|s| s.to_record_line()).collect(),
        };
        if let Err(source) = record::write(&self.state.record(&plan.key), &record) {
            let _ = spawned
                .pidfd
                .signal_group(Some(nix::sys::signal::Signal::SIGKILL));
            exit::reap_child(spawned.pid);
            return Err(StartError::Record {
                daemon: plan.key.clone(),
                source,
            });
        }
        for (dependency, _) in &plan.dependencies {
            self.mark_dependent(&dependency.key, &plan.key);
        }
        Ok((spawned, offset))
    }

    /// Leaves a marker that `dependent` depends on `key`, for stops in any process.
    fn mark_dependent(&self, key: &str, dependent: &str) {
        let dir = self.state.dependents(key);
        let marker = dir.join(file_name(dependent));
        if let Err(err) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&marker, dependent))
        {
            tracing::warn!(key, dependent, %err, "cannot record the dependency; stopping {key} will not stop {dependent} first");
        }
    }

    /// Whether a live daemon recorded as ours is ready: one probe, and if it fails, the spec's
    /// readiness wait, its deadline counted from the recorded start (a manager killed
    /// mid-start leaves a daemon still starting). `Err(Some(last probe error))` if it does not
    /// get ready, `Err(None)` if it exits meanwhile.
    async fn recorded_readiness(
        &self,
        daemon: &Daemon,
        plan: &Plan,
        recorded: &Record,
        exit: &mut ExitWatch,
    ) -> Result<(), Option<String>> {
        let Some(readiness) = plan.readiness.as_ref().filter(|r| !r.probe.is_event()) else {
            // No probe, or a one-time event (notify, log line): a live recorded daemon is taken
            // as ready (the event cannot be observed twice).
            return Ok(());
        };
        if probe::attempt(&self.client, &readiness.probe, readiness.attempt_timeout)
            .await
            .is_ok()
        {
            return Ok(());
        }
        let running_for = Duration::from_millis(now_ms().saturating_sub(recorded.started_at_ms));
        let started = Instant::now()
            .checked_sub(running_for)
            .unwrap_or_else(Instant::now);
        let on_failure = |error: &str| tracing::debug!(parent: daemon.machine.span(), error, "recorded daemon not ready yet");
        match readiness::wait(
            readiness,
            &self.client,
            recorded.pid,
            Listener::None,
            exit,
            started,
            &on_failure,
        )
        .await
        {
            Outcome::Ready { .. } => Ok(()),
            Outcome::TimedOut { last_error, .. } => Err(Some(last_error)),
            Outcome::Exited { .. } => Err(None),
        }
    }

    /// The readiness listener of an event probe, set up once the log offset is known.
    fn listener(
        plan: &Plan,
        notify: Option<NotifySocket>,
        log_path: &Path,
        offset: u64,
    ) -> std::io::Result<Listener> {
        Ok(match (notify, plan.readiness.as_ref().map(|r| &r.probe)) {
            (Some(socket), _) => Listener::Notify(socket),
            (None, Some(ProbePlan::Log { pattern })) => {
                // Lines from `offset` on count, so a line written before the watch is not missed.
                let regex = regex_lite::Regex::new(pattern)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                Listener::Log(LogWatch::new(log_path, offset)?, regex)
            }
            _ => Listener::None,
        })
    }

    /// Spawns the daemon and waits for readiness. `restart`: `Some(n)` for restart number `n`
    /// after a backoff (the state machine is already in `Starting`).
    pub(crate) async fn launch(
        self: &Arc<Self>,
        daemon: &Arc<Daemon>,
        plan: Arc<Plan>,
        restart: Option<u32>,
    ) -> Result<Running, StartError> {
        if restart.is_none() {
            daemon.machine.apply(Event::Start)?;
        }
        let restarts = restart.unwrap_or(0);
        let fail = |err: StartError| {
            let _ = daemon.machine.apply(Event::SpawnFailed {
                error: err.to_string(),
            });
            err
        };
        let probe_error = |source| StartError::Probe {
            daemon: plan.key.clone(),
            source,
        };
        let binary = binary::resolve(&plan.key, &plan.binary).map_err(|e| fail(e.into()))?;
        let log_path = plan
            .log_dir
            .clone()
            .unwrap_or_else(|| self.state.logs())
            .join(format!("{}.log", file_name(&plan.key)));
        let notify = match plan.readiness.as_ref().map(|r| &r.probe) {
            Some(ProbePlan::Notify) => {
                Some(NotifySocket::bind().map_err(|e| fail(probe_error(e)))?)
            }
            _ => None,
        };
        let notify_env = notify.as_ref().map(|socket| socket.env_value().to_owned());

        let started = Instant::now();
        let (spawned, offset) = self
            .start_process(&plan, &binary, &log_path, notify_env.as_deref(), restarts)
            .map_err(fail)?;
        let pid = spawned.pid;
        let pidfd = Arc::new(spawned.pidfd);
        let exit = exit::watch(pidfd.clone(), true);
        let live = Live {
            pid,
            start_time: spawned.start_time,
            pgid: pid,
            pidfd,
            exit,
            child: true,
            log: log_path.clone(),
            since: started,
            plan: plan.clone(),
        };
        daemon.set_live(Some(live.clone()));
        daemon.machine.apply(Event::Spawned { pid })?;
        let listener = match Inner::listener(&plan, notify, &log_path, offset) {
            Ok(listener) => listener,
            Err(e) => {
                self.abandon(daemon, &live).await;
                return Err(probe_error(e));
            }
        };

        let Some(readiness) = &plan.readiness else {
            daemon.machine.apply(Event::ProbeOk)?;
            self.supervise(daemon.clone(), live.clone(), restarts);
            return Ok(live.running(true, started.elapsed(), 0));
        };
        let on_failure = |error: &str| {
            let _ = daemon.machine.apply(Event::ProbeFailed {
                error: error.to_owned(),
            });
        };
        let mut exit_for_wait = live.exit.clone();
        match readiness::wait(
            readiness,
            &self.client,
            pid,
            listener,
            &mut exit_for_wait,
            started,
            &on_failure,
        )
        .await
        {
            Outcome::Ready { elapsed, attempts } => {
                daemon.machine.apply(Event::ProbeOk)?;
                self.supervise(daemon.clone(), live.clone(), restarts);
                Ok(live.running(true, elapsed, attempts))
            }
            Outcome::Exited { exit } => {
                daemon.machine.apply(Event::Exited {
                    status: exit.to_string(),
                    success: exit.success(),
                    restart: Restart::No,
                })?;
                // What it forked before dying goes with it.
                self.sweep(&mut live.target(), &plan.stop).await;
                daemon.set_live(None);
                let _ = record::remove(&self.state.record(&plan.key));
                Err(StartError::Exited {
                    daemon: plan.key.clone(),
                    exit,
                    log_tail: log_file::tail(&log_path, offset, TAIL_LINES),
                    log: log_path,
                })
            }
            Outcome::TimedOut {
                attempts,
                last_error,
            } => {
                daemon.machine.apply(Event::DeadlinePassed {
                    last_error: last_error.clone(),
                })?;
                let stopping = Stopping::begin(&daemon.stopping);
                let grace_expired = |step| {
                    let _ = daemon.machine.apply(Event::GraceExpired { step });
                };
                let mut last_error = last_error;
                match stop::run(&mut live.target(), &plan.stop, &self.client, &grace_expired).await
                {
                    Ok(_) => {
                        daemon.machine.apply(Event::Gone)?;
                        daemon.set_live(None);
                        let _ = record::remove(&self.state.record(&plan.key));
                    }
                    Err(still) => {
                        last_error.push_str(&format!(
                            "; and processes {:?} outlived SIGKILL",
                            still.members
                        ));
                        daemon.machine.apply(Event::KillFailed {
                            members: still.members,
                        })?;
                    }
                }
                drop(stopping);
                Err(StartError::TimedOut {
                    daemon: plan.key.clone(),
                    deadline: readiness.deadline,
                    attempts,
                    last_error,
                    log_tail: log_file::tail(&log_path, offset, TAIL_LINES),
                    log: log_path,
                })
            }
        }
    }

    /// Takes down a process just spawned whose start cannot go on.
    async fn abandon(&self, daemon: &Daemon, live: &Live) {
        let _ = live
            .pidfd
            .signal_group(Some(nix::sys::signal::Signal::SIGKILL));
        let mut exit = live.exit.clone();
        exit::exited(&mut exit).await;
        let _ = daemon.machine.apply(Event::Exited {
            status: "killed: its start could not go on".into(),
            success: false,
            restart: Restart::No,
        });
        daemon.set_live(None);
        let _ = record::remove(&self.state.record(&live.plan.key));
    }

    /// Stops what an exited leader left in its group (its forks), with the daemon's stop chain:
    /// nothing of a daemon outlives it unseen. Immediate when the group died with its leader.
    pub(crate) async fn sweep(&self, target: &mut Target, steps: &[crate::plan::StopPlan]) {
        match stop::run(target, steps, &self.client, &|_| {}).await {
            Ok(_) => {}
            Err(still) => {
                tracing::warn!(pgid = target.pgid, members = ?still.members, "processes of an exited daemon's group outlived SIGKILL")
            }
        }
    }
}

/// The error of a handle whose values differ from those of the daemon running under its key.
fn conflict(plan: &Plan, pid: u32, running: String) -> StartError {
    StartError::Conflict {
        daemon: plan.key.clone(),
        pid,
        running,
        wanted: plan.command_line(),
    }
}
