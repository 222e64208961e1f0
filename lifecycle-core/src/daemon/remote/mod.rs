//! The owner's side of a daemon on another host: its start and adoption ([`start`]), its stop
//! ([`stop`]), and here what both share and its exit. The helper there spawns it under its lock
//! and writes its record; readiness is probed from here (or through a forward of the
//! connection), raced with the exit the keeper reports; a stop's chain runs inside the host in
//! one round trip. The remote record is the truth: a stop or status from a fresh process reads
//! it there, and an owner that does not watch the exit (it found the daemon, or its connection
//! went) asks the host before it answers from what it knows.
//!
//! Not yet for remote daemons: restart policies (an exit is final), notify and log-line probes,
//! dependents markers, a stop while the start waits for readiness (it waits its turn).

mod start;
mod stop;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal as NixSignal;
use tokio::sync::oneshot;

use crate::Running;
use crate::daemon::actor::{Actor, Phase};
use crate::daemon::chain::KILL_CONFIRM;
use crate::daemon::live::now_ms;
use crate::daemon::start::TAIL_LINES;
use crate::plan::{Place, Plan, ProbePlan, StopPlan};
use crate::process::exit::Exit;
use crate::remote::connection::{Connection, Forward};
use crate::remote::ops::{self, StopAnswer};
use crate::remote::{Destination, RemoteError};
use crate::state::{Event, RestartVerdict};
use crate::store::record::{Record, RecordState};
use crate::store::state_dir::file_name;

/// How much of a remote log an error quotes (the answer stays one short line).
const TAIL_BYTES: u64 = 1500;

/// The longest `command=` a remote record carries (the record travels in one line).
const COMMAND_KEPT: usize = 1024;

/// A daemon running on another host, owned or followed here.
#[derive(Debug)]
pub(crate) struct RemoteLive {
    pub(super) destination: Destination,
    /// The connection it was started or found over (another one may serve it later).
    pub(super) connection: Arc<Connection>,
    pub(super) plan: Arc<Plan>,
    pub(super) pid: u32,
    pub(super) start_time: u64,
    /// When it started, as this process counts (the readiness deadline counts from it).
    pub(super) since: std::time::Instant,
    /// Its exit, as the keeper tells it (a process started over this connection) or the
    /// helper's watch (one found there). `None`: unwatched (the connection went).
    pub(super) exit: Option<oneshot::Receiver<i32>>,
    /// Whether its keeper reports its exit (the moment it happens); else its exit is known
    /// only within a second, and an ensure asks the host first.
    pub(super) kept: bool,
    /// Started by this owner (not found there): the only kind a manager that stops what it
    /// starts kills when it goes.
    pub(crate) spawned_here: bool,
    pub(super) log: String,
    /// Whether it passed its readiness probe (or has none).
    pub(super) ready: bool,
    /// The generation of its record there, as last written or read here.
    pub(super) generation: u64,
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
            let parsed = lifecycle_spec::__private::parse_http_url(url).map_err(|e| {
                RemoteError::Forward {
                    destination: connection.shown().to_owned(),
                    target: url.clone(),
                    message: e.to_string(),
                }
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

/// A shell's exit status as an [`Exit`]: above 128, the signal that killed it; below 0, not
/// known (a daemon found there, whose parent is not ours).
pub(crate) fn exit_of(status: i32) -> Exit {
    if status < 0 {
        return Exit::UNKNOWN;
    }
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
        probe: plan.probe_shown(),
        command: plan.command_line().chars().take(COMMAND_KEPT).collect(),
        fingerprint: plan.fingerprint.clone(),
        restarts: 0,
        depends_on: plan.dependency_keys(),
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
    /// Applies `event` to the daemon's state machine; a transition the table refuses is a bug
    /// of this library, logged as one.
    fn note(&self, event: Event) {
        if let Err(err) = self.machine.apply(event) {
            tracing::error!(parent: self.machine.span(), %err, "illegal transition");
        }
    }

    /// The connection to `destination` now: the live one, or a new one.
    async fn connect(&mut self, destination: &Destination) -> Result<Arc<Connection>, RemoteError> {
        self.ctx.hosts.get(destination).await
    }

    /// Leaves (`Some`) or removes (`None`) the pointer of this state directory to the daemon's
    /// host, for a stop by key on this machine.
    async fn point(&mut self, destination: Option<&Destination>) {
        let dir = self.ctx.store.dir().clone();
        let key = self.key.clone();
        let pointer = destination.map(|d| crate::store::pointers::Pointer {
            key: key.clone(),
            host: d.host.clone(),
            user: d.user.clone(),
            port: d.port,
            accept_new: d.accept_new,
        });
        let _ = crate::blocking::run(move || match pointer {
            Some(pointer) => dir.write_pointer(&pointer),
            None => dir.remove_pointer(&key),
        })
        .await;
    }

    /// Publishes the remote process (for status and dependents lookups).
    fn publish_remote(&self) {
        if let Phase::Remote(live) = &self.phase {
            // Its dependencies, so that stopping one of them (through this manager) stops it
            // first.
            self.machine
                .set_process(Some(live.pid), live.plan.dependency_keys());
        } else {
            self.machine.set_process(None, Vec::new());
        }
    }

    /// SIGKILL to the remote daemon's group (nothing else, and only while the recorded process
    /// is it) over a connection made now if need be, then its record goes. Whether nothing of it
    /// is left.
    pub(in crate::daemon) async fn kill(&mut self, live: &RemoteLive) -> bool {
        let Ok(connection) = self.connect(&live.destination).await else {
            return false;
        };
        let killed = ops::stop(&connection, live.pid, live.start_time, &[], KILL_CONFIRM).await;
        let gone = matches!(killed, Ok(StopAnswer::Gone { .. } | StopAnswer::NotOurs));
        if gone {
            let name = file_name(&live.plan.key);
            let _ = ops::remove(&connection, &name, live.pid, live.start_time).await;
        }
        gone
    }

    /// The remote daemon exited on its own (`Some`: its status, `-1` when not known), or its
    /// watch went with its connection (`None`: the next ensure asks the host). What it left in
    /// its group is swept with its chain's signals, and its record goes.
    pub(super) async fn on_remote_exit(&mut self, status: Option<i32>) {
        let Phase::Remote(mut live) = std::mem::replace(&mut self.phase, Phase::Idle) else {
            return;
        };
        let Some(status) = status else {
            // Watched again over a new connection at once if the host can be reached; else the
            // next ensure or status asks the host.
            live.exit = None;
            match self.rewatch(&mut live).await {
                Ok(true) => self.phase = Phase::Remote(live),
                Ok(false) => {
                    self.phase = Phase::Remote(live);
                    Box::pin(self.on_remote_exit(Some(-1))).await;
                }
                Err(err) => {
                    tracing::warn!(parent: self.machine.span(), %err, "the connection to the daemon's host went; its exit is no longer watched");
                    self.phase = Phase::Remote(live);
                }
            }
            return;
        };
        let exit = exit_of(status);
        let event = Event::Exited {
            status: exit.to_string(),
            success: exit.success(),
            restart: RestartVerdict::No,
        };
        self.note(event);
        self.publish_remote();
        let Ok(connection) = self.connect(&live.destination).await else {
            tracing::warn!(parent: self.machine.span(), "the daemon exited, but its host cannot be reached to sweep its group and remove its record; both are left for the next start");
            return;
        };
        let signals = remote_steps(&StopPlan::signals_of(&live.plan.stop));
        let swept = ops::stop(
            &connection,
            live.pid,
            live.start_time,
            &signals,
            KILL_CONFIRM,
        )
        .await;
        if let Ok(StopAnswer::Alive) | Err(_) = swept {
            tracing::warn!(parent: self.machine.span(), "what the daemon left in its group could not be swept; its record is kept");
            return;
        }
        let name = file_name(&self.key);
        if let Err(err) = ops::remove(&connection, &name, live.pid, live.start_time).await {
            tracing::warn!(parent: self.machine.span(), %err, "the daemon exited, but its remote record could not be removed; it will be found stale");
        }
        self.point(None).await;
    }
}

/// The outcome of an ensure for a remote daemon.
fn running(live: &RemoteLive, started: bool, elapsed: Duration, attempts: u32) -> Running {
    let log = shown_log(&live.connection, &live.log);
    live.plan.running(live.pid, started, elapsed, attempts, log)
}

/// The last lines of the daemon's remote log (at most 20).
async fn tail_lines(connection: &Connection, log: &str) -> Vec<String> {
    match ops::tail(connection, log, TAIL_BYTES).await {
        Ok(text) => {
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let from = lines.len().saturating_sub(TAIL_LINES);
            lines[from..].to_vec()
        }
        Err(err) => vec![format!("(the remote log could not be read: {err})")],
    }
}
