//! One owner per daemon per manager: an actor task ([`actor`]) owns the daemon's live process,
//! its state and its supervision, and takes commands (ensure, stop) from a channel. Nothing else
//! mutates a daemon. What the owner does is in one file each: starting ([`start`]), adopting a
//! daemon another process started ([`adopt`]), the exit of its process ([`exit`]), stopping
//! ([`stop`]), its end when the manager goes ([`shutdown`]); the stop chain over the process group is [`chain`]. The owner reaches the world
//! through a [`Context`] (store, HTTP client, event bus), never through the manager.

pub(crate) mod actor;
mod adopt;
pub(crate) mod chain;
mod exit;
mod live;
pub(crate) mod remote;
mod shutdown;
mod start;
pub(crate) mod status;
mod stop;

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::events::{Machine, Snapshot, Transition};
use crate::plan::{ChainOverride, Plan};
use crate::process::identity::{self, Liveness};
use crate::store::record::{Record, RecordError};
use crate::store::{Change, Store};
use crate::{Running, StartError, StopError, Stopped};

/// What every daemon owner of one manager shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) store: Store,
    pub(crate) client: reqwest::Client,
    pub(crate) bus: broadcast::Sender<Transition>,
    /// The connections to remote hosts.
    pub(crate) hosts: crate::remote::hosts::Hosts,
    /// Kill what this manager spawned when the manager goes.
    pub(crate) stop_on_drop: bool,
    /// This process (PID and start time): the parent recorded for what it spawns.
    pub(crate) me: (u32, u64),
    /// This manager, among the managers of this process: recorded with what it spawns.
    pub(crate) manager: u64,
}

impl Context {
    /// Whether this manager spawned the recorded process (so this process is its parent, and
    /// this manager the one to reap it and read its status).
    pub(crate) fn spawned_here(&self, record: &Record) -> bool {
        record.parent == self.me && record.manager == self.manager
    }

    /// Whether the process `record` names runs, has exited, is gone, or is another now; an
    /// error when that cannot be told (no descriptor left, `/proc` unreadable): never "gone".
    pub(crate) fn liveness(&self, record: &Record) -> Result<Liveness, RecordError> {
        identity::check(record.pid, record.start_time, &record.boot_id).map_err(|source| {
            RecordError::Check {
                path: self.store.dir().record_path(&record.key),
                pid: record.pid,
                source,
            }
        })
    }

    /// Removes daemon `key`'s record after a stop, if it still names the process stopped.
    pub(crate) async fn remove_if_names(
        &self,
        key: &str,
        pid: u32,
        start_time: u64,
        machine: &Machine,
    ) {
        let removed = self
            .store
            .change_if_names(key, pid, start_time, |_| Change::Remove)
            .await;
        if let Err(err) = removed {
            tracing::warn!(parent: machine.span(), %err, "the daemon is stopped, but its record could not be removed; it will be found stale");
        }
    }
}

/// Turns a record error of daemon `plan` into a start error.
pub(crate) fn record_error(plan: &Plan) -> impl Fn(RecordError) -> StartError + '_ {
    move |source| StartError::Record {
        daemon: plan.key.clone(),
        source,
    }
}

/// `ensure_running` adopts a running daemon; `start` refuses to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Ensure,
    Start,
}

/// When an ensure answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// Once the daemon is ready.
    Ready,
    /// Once it runs (spawned or found running): `wait: started` dependencies.
    Spawned,
}

/// A request to a daemon's owner.
#[derive(Debug)]
pub(crate) enum Command {
    Ensure {
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
        reply: oneshot::Sender<Result<Running, StartError>>,
    },
    Stop {
        /// What replaces the daemon's own chain (the free functions' grace), or its graces.
        steps: Option<ChainOverride>,
        reply: oneshot::Sender<Result<Stopped, StopError>>,
        /// For a daemon on another host: its plan (where its record is).
        remote: Option<Arc<Plan>>,
    },
}

/// A handle on one daemon's owner.
#[derive(Debug)]
pub(crate) struct DaemonRef {
    commands: mpsc::UnboundedSender<Command>,
    snapshot: watch::Receiver<Snapshot>,
}

impl DaemonRef {
    /// Starts the owner of daemon `key`. It runs until the manager drops this handle.
    pub(crate) fn spawn(key: &str, ctx: Arc<Context>) -> DaemonRef {
        let (commands, rx) = mpsc::unbounded_channel();
        let (actor, snapshot) = actor::Actor::new(key, ctx, rx);
        tokio::spawn(actor.run());
        DaemonRef { commands, snapshot }
    }

    /// Asks the owner to make sure the daemon runs.
    pub(crate) async fn ensure(
        &self,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
    ) -> Result<Running, StartError> {
        let daemon = plan.key.clone();
        let (reply, answer) = oneshot::channel();
        let gone = || StartError::Task {
            daemon: daemon.clone(),
            message: "its owner task is gone (the runtime is shutting down)".to_owned(),
        };
        self.commands
            .send(Command::Ensure {
                plan,
                mode,
                until,
                reply,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Asks the owner to stop the daemon.
    pub(crate) async fn stop(
        &self,
        key: &str,
        steps: Option<ChainOverride>,
        remote: Option<Arc<Plan>>,
    ) -> Result<Stopped, StopError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StopError::Task {
            daemon: key.to_owned(),
            message: "its owner task is gone (the runtime is shutting down)".to_owned(),
        };
        self.commands
            .send(Command::Stop {
                steps,
                reply,
                remote,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Whether the owner task still runs (it ends with its runtime).
    pub(crate) fn is_alive(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Whether the process the owner has depends on `key`.
    pub(crate) fn depends_on(&self, key: &str) -> bool {
        let snapshot = self.snapshot.borrow();
        snapshot.pid.is_some() && snapshot.depends_on.iter().any(|d| d == key)
    }

    /// What the owner last published.
    pub(crate) fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }
}
