//! The owner's side of a daemon on another host: start (the helper spawns it under its lock
//! there and writes its record; readiness is probed from here, raced with the exit the keeper
//! reports), stop (the chain runs inside the host in one round trip; an HTTP step is sent from
//! here), and its exit. The remote record is the truth: a stop or status from a fresh process
//! reads it there.
//!
//! Not yet for remote daemons: restart policies (an exit is final), notify and log-line probes,
//! dependents markers, a stop while the start waits for readiness (it waits its turn).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal as NixSignal;

use crate::daemon::actor::{Actor, Phase, StartReply, StopReply};
use crate::daemon::chain::KILL_CONFIRM;
use crate::daemon::live::now_ms;
use crate::daemon::start::conflict;
use crate::daemon::{Mode, Until};
use crate::plan::{Place, Plan, ProbePlan, ReadinessPlan, StopPlan};
use crate::process::exit::Exit;
use crate::readiness::wait::{self, Listener, Outcome};
use crate::remote::connection::{Connection, Forward};
use crate::remote::install;
use crate::remote::ops::{self, StartRequest, Started, StopAnswer};
use crate::remote::{Destination, RemoteError};
use crate::store::record::{Record, RecordState};
use crate::store::state_dir::file_name;
use crate::{Event, Restart, Running, StartError, StopError, Stopped};

/// How much of a remote log an error quotes.
const TAIL_BYTES: u64 = 2048;

/// A daemon running on another host, owned or followed here.
#[derive(Debug)]
pub(crate) struct RemoteLive {
    pub(super) connection: Arc<Connection>,
    pub(super) plan: Arc<Plan>,
    pub(super) pid: u32,
    pub(super) start_time: u64,
    /// Its exit, as the keeper tells it (only for a process started over this connection).
    pub(super) exit: Option<tokio::sync::oneshot::Receiver<i32>>,
    pub(super) log: String,
}

/// Where `plan`'s daemon runs, if on another host.
pub(crate) fn destination(plan: &Plan) -> Option<Destination> {
    match &plan.place {
        Place::Local => None,
        Place::Ssh {
            host,
            user,
            port,
            accept_new,
            ..
        } => Some(Destination {
            host: host.clone(),
            user: user.clone(),
            port: *port,
            accept_new: *accept_new,
        }),
    }
}

/// `probe` as it runs for a daemon on the other end of `connection`: as it is, or, for a spec
/// that probes from the host, the same probe through a local forward to the address the host
/// sees — which lasts as long as the returned guard.
pub(crate) async fn probe_here(
    connection: &Connection,
    plan: &Plan,
    probe: &ProbePlan,
) -> Result<(ProbePlan, Option<Forward>), RemoteError> {
    let from_host = matches!(
        plan.place,
        Place::Ssh {
            probe_from_host: true,
            ..
        }
    );
    if !from_host {
        return Ok((probe.clone(), None));
    }
    match probe {
        ProbePlan::Http { url } => {
            let parsed = lifecycle_spec::parse_http_url(url).map_err(|e| RemoteError::Forward {
                destination: connection.shown().to_owned(),
                target: url.clone(),
                message: e.to_string(),
            })?;
            let forward = connection.forward(parsed.host, parsed.port).await?;
            let scheme = if parsed.tls { "https" } else { "http" };
            let url = format!("{scheme}://127.0.0.1:{}{}", forward.local, parsed.path);
            Ok((ProbePlan::Http { url }, Some(forward)))
        }
        ProbePlan::Tcp { host, port } => {
            let forward = connection.forward(host, *port).await?;
            let probe = ProbePlan::Tcp {
                host: "127.0.0.1".to_owned(),
                port: forward.local,
            };
            Ok((probe, Some(forward)))
        }
        other => Ok((other.clone(), None)),
    }
}

/// A shell's exit status as an [`Exit`]: above 128, the signal that killed it.
pub(crate) fn exit_of(status: i32) -> Exit {
    if status > 128
        && let Ok(signal) = NixSignal::try_from(status - 128)
    {
        return Exit {
            code: None,
            signal: Some(signal.as_str().to_owned()),
        };
    }
    Exit {
        code: Some(status),
        signal: None,
    }
}

/// The log path of `plan`'s daemon on its host.
fn remote_log(connection: &Connection, plan: &Plan) -> String {
    match &plan.log_dir {
        Some(dir) => format!("{}/{}.log", dir.display(), file_name(&plan.key)),
        None => format!("{}/logs/{}.log", connection.state_dir, file_name(&plan.key)),
    }
}

/// The remote log as the path errors show: `user@host:port:/path`.
fn shown_log(connection: &Connection, log: &str) -> PathBuf {
    PathBuf::from(format!("{}:{log}", connection.shown()))
}

/// The record a start writes there: the helper fills in PID, start time, boot, group, session.
fn template(plan: &Plan, log: &str, me: (u32, u64), manager: u64) -> Record {
    Record {
        key: plan.key.clone(),
        name: plan.name.clone(),
        state: RecordState::Starting,
        generation: 1,
        pid: 0,
        start_time: 0,
        boot_id: String::new(),
        pgid: 0,
        session: 0,
        started_at_ms: now_ms(),
        parent: me,
        manager,
        log: PathBuf::from(log),
        log_offset: 0,
        spec_file: plan.spec_file.clone(),
        probe: plan.readiness.as_ref().map(|r| r.probe.describe()),
        command: plan.command_line(),
        fingerprint: plan.fingerprint.clone(),
        restarts: 0,
        depends_on: plan
            .dependencies
            .iter()
            .map(|(d, _)| d.key.clone())
            .collect(),
        stop: plan.stop.iter().map(StopPlan::to_record_line).collect(),
    }
}

/// The remote chain for `steps`: signals by name; an HTTP step is sent from here first, and
/// its grace waited there.
fn remote_steps(steps: &[StopPlan]) -> Vec<ops::Step> {
    steps
        .iter()
        .map(|step| match step {
            StopPlan::Signal { signal, grace } => ops::Step {
                signal: Some(
                    crate::daemon::chain::to_nix(*signal)
                        .as_str()
                        .trim_start_matches("SIG"),
                ),
                grace: *grace,
            },
            StopPlan::HttpPost { grace, .. } => ops::Step {
                signal: None,
                grace: *grace,
            },
        })
        .collect()
}

impl Actor {
    fn remote_error(&self, source: RemoteError) -> StartError {
        StartError::Remote {
            daemon: self.key.clone(),
            source,
        }
    }

    /// An ensure of a daemon on another host.
    pub(super) async fn remote_ensure(
        &mut self,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
        reply: StartReply,
    ) {
        if let Phase::Remote(live) = &self.phase {
            let answer = if live.plan.fingerprint != plan.fingerprint {
                Err(conflict(&plan, live.pid, live.plan.command_line()))
            } else if mode == Mode::Start {
                Err(StartError::AlreadyRunning {
                    daemon: plan.key.clone(),
                    pid: live.pid,
                })
            } else {
                Ok(running(live, false, Duration::ZERO, 0))
            };
            let _ = reply.send(answer);
            return;
        }
        let answer = self.remote_start(plan, mode, until).await;
        let _ = reply.send(answer);
    }

    async fn remote_start(
        &mut self,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
    ) -> Result<Running, StartError> {
        let Some(destination) = destination(&plan) else {
            return Err(StartError::Task {
                daemon: plan.key.clone(),
                message: "not a remote daemon".to_owned(),
            });
        };
        if let Some(r) = &plan.readiness
            && r.probe.is_event()
        {
            return Err(self.remote_error(RemoteError::Helper {
                destination: destination.to_string(),
                message: format!(
                    "a {} probe cannot watch a daemon on another host yet: use an http or tcp probe",
                    r.probe.describe()
                ),
            }));
        }
        let connection = self
            .ctx
            .hosts
            .get(&destination)
            .await
            .map_err(|e| self.remote_error(e))?;
        if let Place::Ssh {
            install: Some(local),
            ..
        } = &plan.place
        {
            let installed = install::install(&connection, local, &plan.binary)
                .await
                .map_err(|e| self.remote_error(e))?;
            tracing::debug!(parent: self.machine.span(), ?installed, local, "binary on the host");
        }
        let log = remote_log(&connection, &plan);
        let record = template(&plan, &log, self.ctx.me, self.ctx.manager);
        let name = file_name(&plan.key);
        let request = StartRequest {
            name: &name,
            template: &record,
            log: &log,
            binary: &plan.binary,
            env: &plan.env,
            args: &plan.args,
        };
        let since = Instant::now();
        let started = ops::start(&connection, request)
            .await
            .map_err(|e| self.remote_error(e))?;
        let (pid, start_time, exit) = match started {
            Started::Exists(record) => {
                if record.fingerprint != plan.fingerprint {
                    return Err(conflict(&plan, record.pid, record.command));
                }
                if mode == Mode::Start {
                    return Err(StartError::AlreadyRunning {
                        daemon: plan.key.clone(),
                        pid: record.pid,
                    });
                }
                let _ = self.machine.apply(Event::Adopted { pid: record.pid });
                let live = RemoteLive {
                    connection,
                    plan,
                    pid: record.pid,
                    start_time: record.start_time,
                    exit: None,
                    log,
                };
                let answer = running(&live, false, Duration::ZERO, 0);
                self.phase = Phase::Remote(Box::new(live));
                self.publish_remote();
                return Ok(answer);
            }
            Started::Spawned {
                pid,
                start_time,
                exit,
            } => (pid, start_time, exit),
        };
        let _ = self.machine.apply(Event::Start);
        let _ = self.machine.apply(Event::Spawned { pid });
        let mut live = RemoteLive {
            connection,
            plan: plan.clone(),
            pid,
            start_time,
            exit: Some(exit),
            log,
        };
        // The forward of a probe from the host lives as long as the wait.
        let mut forward = None;
        let readiness = match &plan.readiness {
            Some(r) => match probe_here(&live.connection, &plan, &r.probe).await {
                Ok((probe, made)) => {
                    forward = made;
                    Some(ReadinessPlan { probe, ..r.clone() })
                }
                Err(err) => {
                    Actor::remote_kill(&live).await;
                    return Err(self.remote_error(err));
                }
            },
            None => None,
        };
        let (elapsed, attempts) = match (&readiness, until) {
            (Some(readiness), Until::Ready) => {
                let machine = self.machine.clone();
                let on_failure = move |error: &str| {
                    let _ = machine.apply(Event::ProbeFailed {
                        error: error.to_owned(),
                    });
                };
                let probe = wait::wait(
                    readiness,
                    &self.ctx.client,
                    pid,
                    Listener::Poll,
                    since,
                    &on_failure,
                );
                tokio::pin!(probe);
                let outcome = match live.exit.as_mut() {
                    Some(exit) => tokio::select! {
                        biased;
                        status = exit => match status {
                            Ok(status) => Err(status),
                            // The connection went, not the daemon: its readiness decides.
                            Err(_) => Ok(probe.await),
                        },
                        outcome = &mut probe => Ok(outcome),
                    },
                    None => Ok(probe.await),
                };
                match outcome {
                    Ok(Outcome::Ready { elapsed, attempts }) => (elapsed, attempts),
                    Ok(Outcome::TimedOut {
                        attempts,
                        last_error,
                    }) => {
                        let _ = self.machine.apply(Event::DeadlinePassed {
                            last_error: last_error.clone(),
                        });
                        let log_tail = Actor::remote_kill(&live).await;
                        return Err(StartError::TimedOut {
                            daemon: plan.key.clone(),
                            deadline: readiness.deadline,
                            attempts,
                            last_error,
                            log: shown_log(&live.connection, &live.log),
                            log_tail,
                        });
                    }
                    Ok(Outcome::Failed { error }) => {
                        let _ = Actor::remote_kill(&live).await;
                        return Err(StartError::Probe {
                            daemon: plan.key.clone(),
                            source: error,
                        });
                    }
                    Err(status) => {
                        let exit = exit_of(status);
                        let _ = self.machine.apply(Event::Exited {
                            status: exit.to_string(),
                            success: exit.success(),
                            restart: Restart::No,
                        });
                        let log_tail = tail_lines(&live).await;
                        let _ = ops::remove(&live.connection, &name, pid, start_time).await;
                        return Err(StartError::Exited {
                            daemon: plan.key.clone(),
                            exit,
                            log: shown_log(&live.connection, &live.log),
                            log_tail,
                        });
                    }
                }
            }
            _ => (since.elapsed(), 0),
        };
        // Ready: the probe's forward is cancelled (status makes its own for each check).
        drop(forward);
        let mut ready = record;
        ready.state = RecordState::Ready;
        ready.generation = 2;
        ready.pid = pid;
        ready.start_time = start_time;
        ready.pgid = pid;
        ready.session = pid;
        ready.boot_id = live.connection.boot_id.clone();
        if let Err(err) = ops::put(&live.connection, &name, 1, &ready).await {
            tracing::warn!(parent: self.machine.span(), %err, "the daemon is ready, but its remote record could not say so");
        }
        let _ = self.machine.apply(Event::ProbeOk);
        let answer = running(&live, true, elapsed, attempts);
        live.plan = plan;
        self.phase = Phase::Remote(Box::new(live));
        self.publish_remote();
        Ok(answer)
    }

    /// Kills what a failed start left there and removes its record; the log's last lines.
    async fn remote_kill(live: &RemoteLive) -> Vec<String> {
        kill(live).await;
        tail_lines(live).await
    }

    /// Publishes the remote process (for status lookups).
    fn publish_remote(&self) {
        if let Phase::Remote(live) = &self.phase {
            self.machine.set_process(Some(live.pid), Vec::new());
        } else {
            self.machine.set_process(None, Vec::new());
        }
    }

    /// A stop of a daemon on another host: the one this owner runs, or the one the record
    /// there names (`plan` says where).
    pub(super) async fn remote_stop(
        &mut self,
        plan: Option<Arc<Plan>>,
        steps: Option<Vec<StopPlan>>,
        reply: StopReply,
    ) {
        let answer = self.remote_stop_work(plan, steps).await;
        let _ = reply.send(answer);
    }

    async fn remote_stop_work(
        &mut self,
        plan: Option<Arc<Plan>>,
        steps: Option<Vec<StopPlan>>,
    ) -> Result<Stopped, StopError> {
        let stop_error = |key: &str, source: RemoteError| StopError::Remote {
            daemon: key.to_owned(),
            source,
        };
        let (connection, pid, start_time, chain) =
            match std::mem::replace(&mut self.phase, Phase::Idle) {
                Phase::Remote(live) => {
                    let chain = steps.unwrap_or_else(|| live.plan.stop.clone());
                    (live.connection.clone(), live.pid, live.start_time, chain)
                }
                other => {
                    self.phase = other;
                    let Some(destination) = plan.as_deref().and_then(destination) else {
                        return Ok(Stopped::NotRunning {
                            key: self.key.clone(),
                        });
                    };
                    let connection = self
                        .ctx
                        .hosts
                        .get(&destination)
                        .await
                        .map_err(|e| stop_error(&self.key, e))?;
                    let name = file_name(&self.key);
                    let found = ops::status(&connection, &name)
                        .await
                        .map_err(|e| stop_error(&self.key, e))?;
                    match found {
                        None => {
                            return Ok(Stopped::NotRunning {
                                key: self.key.clone(),
                            });
                        }
                        Some((record, ops::Liveness::Live)) => {
                            let chain =
                                steps.unwrap_or_else(|| StopPlan::from_record(&record.stop));
                            (connection, record.pid, record.start_time, chain)
                        }
                        Some((record, liveness)) => {
                            let _ = ops::remove(&connection, &name, record.pid, record.start_time)
                                .await;
                            return Ok(Stopped::StaleRecord {
                                key: self.key.clone(),
                                pid: record.pid,
                                reason: match liveness {
                                    ops::Liveness::OtherBoot => {
                                        "the record is of another boot of the host".to_owned()
                                    }
                                    _ => "the recorded process is gone".to_owned(),
                                },
                            });
                        }
                    }
                }
            };
        let _ = self.machine.apply(Event::Stop);
        let begun = Instant::now();
        for step in &chain {
            if let StopPlan::HttpPost { url, grace } = step {
                let post = self.ctx.client.post(url).send();
                if let Ok(Err(err)) = tokio::time::timeout(*grace, post).await {
                    tracing::warn!(%url, %err, "shutdown request failed; going on with the next step");
                }
            }
        }
        let answer = ops::stop(
            &connection,
            pid,
            start_time,
            &remote_steps(&chain),
            KILL_CONFIRM,
        )
        .await
        .map_err(|e| stop_error(&self.key, e))?;
        let name = file_name(&self.key);
        match answer {
            StopAnswer::Gone { killed } => {
                let _ = self.machine.apply(Event::Gone);
                let _ = ops::remove(&connection, &name, pid, start_time).await;
                self.publish_remote();
                Ok(Stopped::Stopped {
                    key: self.key.clone(),
                    pid,
                    elapsed: begun.elapsed(),
                    killed,
                })
            }
            StopAnswer::NotOurs => {
                let _ = self.machine.apply(Event::Gone);
                let _ = ops::remove(&connection, &name, pid, start_time).await;
                self.publish_remote();
                Ok(Stopped::StaleRecord {
                    key: self.key.clone(),
                    pid,
                    reason:
                        "the recorded PID belongs to another process now; nothing was signalled"
                            .to_owned(),
                })
            }
            StopAnswer::Alive => {
                let _ = self.machine.apply(Event::KillFailed { members: vec![pid] });
                Err(StopError::StillAlive {
                    daemon: self.key.clone(),
                    pid,
                    members: vec![pid],
                })
            }
        }
    }

    /// The remote daemon exited on its own (`Some`), or its connection went (`None`: its exit
    /// can no longer be told from here; the record there stays the truth).
    pub(super) async fn on_remote_exit(&mut self, status: Option<i32>) {
        let Phase::Remote(live) = &mut self.phase else {
            return;
        };
        let Some(status) = status else {
            live.exit = None;
            tracing::warn!(parent: self.machine.span(), "the connection to the daemon's host was lost; its exit is no longer watched");
            return;
        };
        let exit = exit_of(status);
        let _ = self.machine.apply(Event::Exited {
            status: exit.to_string(),
            success: exit.success(),
            restart: Restart::No,
        });
        let (connection, pid, start_time) = (live.connection.clone(), live.pid, live.start_time);
        self.phase = Phase::Idle;
        self.publish_remote();
        let name = file_name(&self.key);
        if let Err(err) = ops::remove(&connection, &name, pid, start_time).await {
            tracing::warn!(parent: self.machine.span(), %err, "the daemon exited, but its remote record could not be removed; it will be found stale");
        }
    }
}

/// SIGKILL to the remote daemon's group (nothing else, and only while the recorded process is
/// it), then its record goes.
pub(super) async fn kill(live: &RemoteLive) {
    let killed = ops::stop(
        &live.connection,
        live.pid,
        live.start_time,
        &[],
        KILL_CONFIRM,
    )
    .await;
    if matches!(killed, Ok(StopAnswer::Gone { .. } | StopAnswer::NotOurs)) {
        let name = file_name(&live.plan.key);
        let _ = ops::remove(&live.connection, &name, live.pid, live.start_time).await;
    }
}

/// The outcome of an ensure for a remote daemon.
fn running(live: &RemoteLive, started: bool, elapsed: Duration, attempts: u32) -> Running {
    Running {
        key: live.plan.key.clone(),
        pid: live.pid,
        started,
        elapsed,
        attempts,
        probe: live.plan.readiness.as_ref().map(|r| r.probe.describe()),
        log: shown_log(&live.connection, &live.log),
    }
}

/// The last lines of the daemon's remote log (at most 20).
async fn tail_lines(live: &RemoteLive) -> Vec<String> {
    match ops::tail(&live.connection, &live.log, TAIL_BYTES).await {
        Ok(text) => {
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let from = lines.len().saturating_sub(20);
            lines[from..].to_vec()
        }
        Err(err) => vec![format!("(the remote log could not be read: {err})")],
    }
}
