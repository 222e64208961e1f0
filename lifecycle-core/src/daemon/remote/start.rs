//! Ensuring a daemon runs on another host: the one this owner has (asked after on the host when
//! its exit is not watched), the one the record there names (adopted: waited for while it
//! starts, refused while it stops), or a fresh one (the binary installed first if the spec
//! says so; readiness raced with the exit the keeper reports; killed if it is never ready).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::daemon::actor::{Actor, Phase, StartReply};
use crate::daemon::live::recorded_start;
use crate::daemon::start::conflict;
use crate::daemon::{Mode, Until};
use crate::plan::{Place, Plan, ReadinessPlan};
use crate::process::exit::Exit;
use crate::readiness::wait::{self, Listener, Outcome};
use crate::remote::install;
use crate::remote::ops::{self, StartRequest, Started};
use crate::remote::{Destination, RemoteError};
use crate::state::{Event, RestartVerdict};
use crate::store::record::RecordState;
use crate::store::state_dir::file_name;
use crate::{Running, StartError};

use super::{
    RemoteLive, destination, exit_of, probe_here, remote_log, running, shown_log, tail_lines,
    template,
};

/// Where `plan`'s daemon runs: a plan routed here is remote.
fn remote_destination(plan: &Plan) -> Result<crate::remote::Destination, StartError> {
    destination(plan).ok_or_else(|| StartError::Task {
        daemon: plan.key.clone(),
        message: "not a remote daemon".to_owned(),
    })
}

/// Why a wait for a remote daemon's readiness ended without it.
enum NotReady {
    Exited(Exit),
    TimedOut { attempts: u32, last_error: String },
    Probe(std::io::Error),
    Remote(RemoteError),
}

impl Actor {
    fn remote_error(&self, source: RemoteError) -> StartError {
        StartError::Remote {
            daemon: self.key.clone(),
            source,
        }
    }

    /// An ensure of a daemon on another host.
    pub(in crate::daemon) async fn remote_ensure(
        &mut self,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
        reply: StartReply,
    ) {
        let answer = self.remote_ensure_work(plan, mode, until).await;
        let _ = reply.send(answer);
    }

    async fn remote_ensure_work(
        &mut self,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
    ) -> Result<Running, StartError> {
        let destination = remote_destination(&plan)?;
        let mut live = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Remote(live) => live,
            Phase::Idle => return self.remote_start(destination, plan, mode, until).await,
            other => {
                // A process of this key runs here (the handle's host meant this machine
                // before): another daemon under the same key.
                let pid = match &other {
                    Phase::Up(l) => l.pid,
                    Phase::Starting(s) => s.live.pid,
                    _ => 0,
                };
                self.phase = other;
                return Err(conflict(
                    &plan,
                    pid,
                    "a local process of the same key".to_owned(),
                ));
            }
        };
        if live.destination != destination || live.plan.fingerprint != plan.fingerprint {
            let running = format!("{} on {}", live.plan.command_line(), live.destination);
            let err = conflict(&plan, live.pid, running);
            self.phase = Phase::Remote(live);
            return Err(err);
        }
        if mode == Mode::Start {
            let pid = live.pid;
            self.phase = Phase::Remote(live);
            return Err(StartError::AlreadyRunning {
                daemon: plan.key.clone(),
                pid,
            });
        }
        if live.exit.is_none() || !live.kept {
            // Not watched, or watched only within a second: the host says whether it still
            // runs (and a watch is set again if it went with a connection).
            match self.rewatch(&mut live).await {
                Ok(true) => {}
                Ok(false) => {
                    self.note(Event::Exited {
                        status: Exit::UNKNOWN.to_string(),
                        success: false,
                        restart: RestartVerdict::No,
                    });
                    self.publish_remote();
                    return self.remote_start(destination, plan, mode, until).await;
                }
                Err(err) => {
                    self.phase = Phase::Remote(live);
                    return Err(self.remote_error(err));
                }
            }
        }
        if !live.ready && until == Until::Ready {
            match self.until_ready(&mut live).await {
                Ok((elapsed, attempts)) => {
                    self.mark_ready(&mut live).await;
                    let answer = running(&live, false, elapsed, attempts);
                    self.phase = Phase::Remote(live);
                    return Ok(answer);
                }
                Err(not_ready) => return Err(self.failed_start(*live, not_ready, true).await),
            }
        }
        let answer = running(&live, false, Duration::ZERO, 0);
        self.phase = Phase::Remote(live);
        Ok(answer)
    }

    /// Asks the host whether `live` still runs; if so, watches its exit again (over the
    /// connection there is now).
    pub(super) async fn rewatch(&mut self, live: &mut RemoteLive) -> Result<bool, RemoteError> {
        let connection = self.connect(&live.destination).await?;
        if !ops::alive(&connection, live.pid, live.start_time).await? {
            return Ok(false);
        }
        if live.exit.is_none() {
            live.exit = Some(ops::watch(&connection, live.pid, live.start_time).await?);
            live.kept = false;
            live.connection = connection;
        }
        Ok(true)
    }

    /// Starts the daemon there, or adopts the one its record there names.
    async fn remote_start(
        &mut self,
        destination: Destination,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
    ) -> Result<Running, StartError> {
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
            .connect(&destination)
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
            kill_on_disconnect: self.ctx.stop_on_drop,
            template: &record,
            log: &log,
            binary: &plan.binary,
            inherit: &plan.inherit_env,
            env: &plan.env,
            args: &plan.args,
        };
        let since = Instant::now();
        let started = ops::start(&connection, request)
            .await
            .map_err(|e| self.remote_error(e))?;
        let (pid, start_time, exit) = match started {
            Started::Exists(found) => {
                if found.fingerprint != plan.fingerprint {
                    return Err(conflict(&plan, found.pid, found.command));
                }
                if mode == Mode::Start {
                    return Err(StartError::AlreadyRunning {
                        daemon: plan.key.clone(),
                        pid: found.pid,
                    });
                }
                if matches!(found.state, RecordState::Stopping { .. }) {
                    return Err(StartError::Busy {
                        daemon: plan.key.clone(),
                    });
                }
                let exit = ops::watch(&connection, found.pid, found.start_time)
                    .await
                    .map_err(|e| self.remote_error(e))?;
                let ready = !matches!(found.state, RecordState::Starting);
                let mut live = Box::new(RemoteLive {
                    destination,
                    connection,
                    plan,
                    pid: found.pid,
                    start_time: found.start_time,
                    since: recorded_start(&found),
                    exit: Some(exit),
                    kept: false,
                    spawned_here: false,
                    log,
                    ready,
                    generation: found.generation,
                });
                if !ready && until == Until::Ready {
                    // Started by another process and not ready yet: its deadline counts from
                    // its recorded start. What becomes of it is that process's business.
                    if let Err(not_ready) = self.until_ready(&mut live).await {
                        return Err(self.failed_start(*live, not_ready, false).await);
                    }
                    live.ready = true;
                }
                self.note(Event::Adopted { pid: live.pid });
                self.point(Some(&live.destination)).await;
                let answer = running(&live, false, Duration::ZERO, 0);
                self.phase = Phase::Remote(live);
                self.publish_remote();
                return Ok(answer);
            }
            Started::Spawned {
                pid,
                start_time,
                exit,
            } => (pid, start_time, exit),
        };
        self.note(Event::Start);
        self.note(Event::Spawned { pid });
        self.point(Some(&destination)).await;
        let mut live = Box::new(RemoteLive {
            destination,
            connection,
            plan: plan.clone(),
            pid,
            start_time,
            since,
            exit: Some(exit),
            kept: true,
            spawned_here: true,
            log,
            ready: plan.readiness.is_none(),
            generation: 1,
        });
        let (elapsed, attempts) = match (&plan.readiness, until) {
            (Some(_), Until::Ready) => match self.until_ready(&mut live).await {
                Ok(done) => done,
                Err(not_ready) => return Err(self.failed_start(*live, not_ready, true).await),
            },
            _ => (since.elapsed(), 0),
        };
        if until == Until::Ready || plan.readiness.is_none() {
            self.mark_ready(&mut live).await;
        }
        let answer = running(&live, true, elapsed, attempts);
        self.phase = Phase::Remote(live);
        self.publish_remote();
        Ok(answer)
    }

    /// Waits for `live` to become ready, its deadline counted from its start, racing its
    /// exit. A probe from the host goes through a forward of the connection, for as long as
    /// the wait.
    async fn until_ready(&mut self, live: &mut RemoteLive) -> Result<(Duration, u32), NotReady> {
        let since = live.since;
        let Some(readiness) = &live.plan.readiness else {
            return Ok((since.elapsed(), 0));
        };
        let (probe, forward) = probe_here(&live.connection, &live.plan, &readiness.probe)
            .await
            .map_err(NotReady::Remote)?;
        let readiness = ReadinessPlan {
            probe,
            ..readiness.clone()
        };
        let machine = self.machine.clone();
        let on_failure = move |error: &str| {
            let _ = machine.apply(Event::ProbeFailed {
                error: error.to_owned(),
            });
        };
        let probe = wait::wait(
            &readiness,
            &self.ctx.client,
            live.pid,
            Listener::Poll,
            since,
            &on_failure,
        );
        tokio::pin!(probe);
        let outcome = match live.exit.as_mut() {
            Some(exit) => tokio::select! {
                biased;
                status = exit => match status {
                    Ok(status) => return Err(NotReady::Exited(exit_of(status))),
                    // The connection went, not the daemon: its readiness decides.
                    Err(_) => {
                        live.exit = None;
                        probe.await
                    }
                },
                outcome = &mut probe => outcome,
            },
            None => probe.await,
        };
        drop(forward);
        match outcome {
            Outcome::Ready { elapsed, attempts } => Ok((elapsed, attempts)),
            Outcome::TimedOut {
                attempts,
                last_error,
            } => Err(NotReady::TimedOut {
                attempts,
                last_error,
            }),
            Outcome::Failed { error } => Err(NotReady::Probe(error)),
        }
    }

    /// Says so in the record there (one generation on) and to the state machine.
    async fn mark_ready(&mut self, live: &mut RemoteLive) {
        let name = file_name(&live.plan.key);
        let mut record = template(&live.plan, &live.log, self.ctx.me, self.ctx.manager);
        record.state = RecordState::Ready;
        record.generation = live.generation + 1;
        record.pid = live.pid;
        record.start_time = live.start_time;
        record.pgid = live.pid;
        record.session = live.pid;
        record.boot_id = live.connection.boot_id.clone();
        match ops::put(&live.connection, &name, live.generation, &record).await {
            Ok(true) => live.generation += 1,
            Ok(false) => {
                tracing::warn!(parent: self.machine.span(), "the daemon is ready, but its record there changed meanwhile; left as it is")
            }
            Err(err) => {
                tracing::warn!(parent: self.machine.span(), %err, "the daemon is ready, but its record there could not say so")
            }
        }
        live.ready = true;
        self.note(Event::ProbeOk);
    }

    /// The error of a start that did not make `live` ready. `owned`: this owner started it, so
    /// it is killed (it was never ready) and its record removed; a daemon another process
    /// started is left to that process.
    async fn failed_start(
        &mut self,
        live: RemoteLive,
        not_ready: NotReady,
        owned: bool,
    ) -> StartError {
        self.phase = Phase::Idle;
        self.publish_remote();
        let daemon = live.plan.key.clone();
        let log = shown_log(&live.connection, &live.log);
        match not_ready {
            NotReady::Exited(exit) => {
                if owned {
                    self.note(Event::Exited {
                        status: exit.to_string(),
                        success: exit.success(),
                        restart: RestartVerdict::No,
                    });
                }
                let (log_tail, _) = self.tail_and_forget(&live, false).await;
                StartError::Exited {
                    daemon,
                    exit,
                    log,
                    log_tail,
                }
            }
            NotReady::TimedOut {
                attempts,
                last_error,
            } => {
                let deadline = live.plan.readiness_deadline();
                if !owned {
                    return StartError::Unhealthy {
                        daemon,
                        pid: live.pid,
                        last_error: format!(
                            "started by another process, not ready within {deadline:?}: {last_error}"
                        ),
                    };
                }
                self.note(Event::DeadlinePassed {
                    last_error: last_error.clone(),
                });
                let (log_tail, gone) = self.tail_and_forget(&live, true).await;
                if !gone {
                    return self.unreachable_after_failure(&live, &last_error);
                }
                self.note(Event::Gone);
                StartError::TimedOut {
                    daemon,
                    deadline,
                    attempts,
                    last_error,
                    log,
                    log_tail,
                }
            }
            NotReady::Probe(error) => {
                if owned && let Err(err) = self.abandon_remote(&live, error.to_string()).await {
                    return err;
                }
                StartError::Probe {
                    daemon,
                    source: error,
                }
            }
            NotReady::Remote(source) => {
                if owned && let Err(err) = self.abandon_remote(&live, source.to_string()).await {
                    return err;
                }
                StartError::Remote { daemon, source }
            }
        }
    }

    /// A start whose probe broke: the daemon it spawned is killed. An error if it could not be.
    async fn abandon_remote(&mut self, live: &RemoteLive, why: String) -> Result<(), StartError> {
        self.note(Event::ProbeError { error: why.clone() });
        if self.kill(live).await {
            self.note(Event::Gone);
            self.point(None).await;
            Ok(())
        } else {
            Err(self.unreachable_after_failure(live, &why))
        }
    }

    /// The last lines of the log there; with `kill`, the daemon killed first. For a daemon
    /// that exited, its record goes. Whether nothing of it is left.
    async fn tail_and_forget(&mut self, live: &RemoteLive, kill: bool) -> (Vec<String>, bool) {
        let gone = if kill {
            self.kill(live).await
        } else {
            if let Ok(connection) = self.connect(&live.destination).await {
                let name = file_name(&live.plan.key);
                let _ = ops::remove(&connection, &name, live.pid, live.start_time).await;
            }
            true
        };
        if gone {
            self.point(None).await;
        }
        let tail = match self.connect(&live.destination).await {
            Ok(connection) => tail_lines(&connection, &live.log).await,
            Err(err) => vec![format!("(the remote log could not be read: {err})")],
        };
        (tail, gone)
    }

    /// A daemon that failed its start and could not be killed: the host is out of reach. Said
    /// as it is: it may still run there, recorded as starting.
    fn unreachable_after_failure(&self, live: &RemoteLive, why: &str) -> StartError {
        self.remote_error(RemoteError::Lost {
            destination: live.destination.to_string(),
            operation: "kill after a failed start".to_owned(),
            message: format!(
                "it failed ({why}) and could not be killed: pid {} may still run there, recorded as starting",
                live.pid
            ),
        })
    }
}
