//! The owner task of one daemon: its phase (idle, starting, up, stopping, restart pending), the
//! loop that takes commands and the events of its process, and what happens when the manager
//! goes away. The work of each command and event is in the files beside this one.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use crate::daemon::live::Live;
use crate::daemon::remote::RemoteLive;
use crate::daemon::{Command, Context};
use crate::events::{Machine, Snapshot};
use crate::plan::Plan;
use crate::process::exit::Exit;
use crate::process::group::Group;
use crate::readiness::wait::Outcome;
use crate::store::log_file;
use crate::{Running, StartError, StopError, Stopped};

pub(super) type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A caller waiting for a start to end.
pub(super) type StartReply = oneshot::Sender<Result<Running, StartError>>;
/// A caller waiting for a stop to end.
pub(super) type StopReply = oneshot::Sender<Result<Stopped, StopError>>;

/// Where the owner is with its daemon.
pub(super) enum Phase {
    /// Nothing of the daemon is owned or followed here.
    Idle,
    /// A process is starting: spawned here, or started by another process and awaited here.
    Starting(Box<Starting>),
    /// The process is ready, spawned here or adopted.
    Up(Box<Live>),
    /// A stop is under way.
    Stopping(Box<Stopping>),
    /// A restart is pending.
    Backoff(Box<Backoff>),
    /// The daemon runs on another host, started or found there by this owner.
    Remote(Box<RemoteLive>),
}

pub(super) struct Starting {
    pub(super) live: Live,
    pub(super) ready: Boxed<Outcome>,
    pub(super) waiters: Vec<StartReply>,
    /// Whether the first waiter is the caller whose ensure spawned the process (the others
    /// joined it).
    pub(super) first_spawned: bool,
    /// The restart number, when this start is one.
    pub(super) restart: Option<u32>,
    /// Started by another process: this owner only awaits its readiness.
    pub(super) adopting: bool,
}

pub(super) struct Stopping {
    pub(super) work: Boxed<StopOutcome>,
    pub(super) waiters: Vec<StopReply>,
}

/// How a stop's work ended: its outcome, and the process whose record it removes once the
/// callers have their answer (if it still names that process).
pub(super) struct StopOutcome {
    pub(super) result: Result<Stopped, StopError>,
    pub(super) remove: Option<(u32, u64)>,
}

pub(super) struct Backoff {
    pub(super) attempt: u32,
    pub(super) due: tokio::time::Instant,
    pub(super) plan: Arc<Plan>,
    /// This owner claimed the restart (its record says so); else another process did, and this
    /// one follows, claiming it only if that one has not acted by then.
    pub(super) owner: bool,
}

/// What woke the owner up.
pub(super) enum Wake {
    Command(Command),
    Exited(Exit),
    Readiness(Outcome),
    LogCheck,
    Stopped(StopOutcome),
    RestartDue,
    /// The remote daemon exited (its status), or its connection went (`None`).
    RemoteExited(Option<i32>),
}

/// The owner of one daemon.
pub(crate) struct Actor {
    pub(super) key: String,
    pub(super) ctx: Arc<Context>,
    pub(super) machine: Arc<Machine>,
    commands: mpsc::UnboundedReceiver<Command>,
    pub(super) phase: Phase,
    /// Ensures that came during a stop, answered once it ends.
    pub(super) deferred: VecDeque<Command>,
}

impl Phase {
    /// The next event of the daemon's process (never for an idle daemon).
    async fn next(&mut self) -> Wake {
        match self {
            Phase::Idle => std::future::pending().await,
            Phase::Starting(s) => {
                let group = s.live.group.clone();
                tokio::select! {
                    biased;
                    exit = group.leader_exit() => Wake::Exited(exit),
                    outcome = &mut s.ready => Wake::Readiness(outcome),
                    () = s.live.log_tick() => Wake::LogCheck,
                }
            }
            Phase::Up(live) => {
                let group = live.group.clone();
                tokio::select! {
                    biased;
                    exit = group.leader_exit() => Wake::Exited(exit),
                    () = live.log_tick() => Wake::LogCheck,
                }
            }
            Phase::Stopping(s) => Wake::Stopped((&mut s.work).await),
            Phase::Backoff(b) => {
                tokio::time::sleep_until(b.due).await;
                Wake::RestartDue
            }
            Phase::Remote(r) => match r.exit.as_mut() {
                Some(exit) => Wake::RemoteExited(exit.await.ok()),
                None => std::future::pending().await,
            },
        }
    }
}

impl Actor {
    pub(super) fn new(
        key: &str,
        ctx: Arc<Context>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> (Actor, watch::Receiver<Snapshot>) {
        let (machine, snapshot) = Machine::new(key, ctx.bus.clone());
        let actor = Actor {
            key: key.to_owned(),
            ctx,
            machine: Arc::new(machine),
            commands,
            phase: Phase::Idle,
            deferred: VecDeque::new(),
        };
        (actor, snapshot)
    }

    /// Runs until the manager drops its handle, then lets go of the daemon (see
    /// [`Actor::shutdown`]).
    pub(super) async fn run(mut self) {
        loop {
            let (phase, commands) = (&mut self.phase, &mut self.commands);
            let wake = tokio::select! {
                biased;
                // What already happened to the process comes before what is asked next.
                wake = phase.next() => wake,
                command = commands.recv() => match command {
                    Some(command) => Wake::Command(command),
                    None => break,
                },
            };
            self.handle(wake).await;
        }
        self.shutdown().await;
    }

    async fn handle(&mut self, wake: Wake) {
        match wake {
            Wake::Command(command) => self.on_command(command).await,
            Wake::Exited(exit) => self.on_exit(exit).await,
            Wake::Readiness(outcome) => self.on_readiness(outcome).await,
            Wake::LogCheck => self.on_log_check().await,
            Wake::Stopped(outcome) => {
                self.on_stopped(outcome).await;
                // What waited for the stop, in order.
                while !matches!(self.phase, Phase::Stopping(_))
                    && let Some(command) = self.deferred.pop_front()
                {
                    self.on_command(command).await;
                }
            }
            Wake::RestartDue => self.on_restart_due().await,
            Wake::RemoteExited(status) => self.on_remote_exit(status).await,
        }
    }

    pub(super) async fn on_command(&mut self, command: Command) {
        match command {
            Command::Ensure {
                plan,
                mode,
                until,
                reply,
            } if crate::daemon::remote::destination(&plan).is_some() => {
                self.remote_ensure(plan, mode, until, reply).await
            }
            Command::Ensure {
                plan,
                mode,
                until,
                reply,
            } => self.on_ensure(plan, mode, until, reply).await,
            Command::Stop {
                steps,
                reply,
                remote,
            } if remote.is_some() || matches!(self.phase, Phase::Remote(_)) => {
                self.remote_stop(remote, steps, reply).await
            }
            Command::Stop { steps, reply, .. } => self.on_stop(steps, reply).await,
        }
    }

    /// The process owned or followed, if any.
    pub(super) fn live(&self) -> Option<&Live> {
        match &self.phase {
            Phase::Starting(s) => Some(&s.live),
            Phase::Up(live) => Some(live),
            _ => None,
        }
    }

    /// Publishes which process the daemon is now (for status and dependents lookups).
    pub(super) fn publish_process(&self) {
        match self.live() {
            Some(live) => self
                .machine
                .set_process(Some(live.pid), live.plan.dependency_keys()),
            None => self.machine.set_process(None, Vec::new()),
        }
    }

    /// Keeps the log under its size cap: one rotation at a time across every process that
    /// watches the daemon (the lock `log:<key>`, which no daemon key can be: a name has no
    /// `:`; tried, not awaited), on a blocking thread.
    async fn on_log_check(&mut self) {
        let Some(live) = self.live() else { return };
        let (log, max, keep) = (live.log.clone(), live.plan.log_max_size, live.plan.log_keep);
        let held = match self.ctx.store.try_lock(&format!("log:{}", self.key)) {
            Ok(Some(held)) => held,
            // Another process rotates it now.
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(parent: self.machine.span(), %err, "cannot take the log rotation lock");
                return;
            }
        };
        let rotated = crate::blocking::run_long(move || {
            let result = log_file::copy_truncate_if_over(&log, max, keep);
            drop(held);
            result
        })
        .await;
        match rotated {
            Ok(Ok(_)) => {}
            Ok(Err(err)) | Err(err) => {
                tracing::warn!(parent: self.machine.span(), %err, "log rotation failed")
            }
        }
    }
}
