//! The free functions of the daemon-lifecycle API this library replaces, with its signatures,
//! so that existing code migrates by changing an import. What changed underneath:
//!
//! - a health URL is used exactly as given: nothing (no `/health`) is appended to it;
//! - by name means by this library's record of what it started under that name, never by
//!   process name;
//! - every wait is an event or a bounded backoff, never a fixed sleep.
//!
//! ```no_run
//! use lifecycle_core::compat::{graceful_shutdown, spawn_daemon};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let pid = spawn_daemon("/usr/bin/sleep", vec!["60".into()]).await?;
//! graceful_shutdown("sleep", None).await?;
//! # let _ = pid;
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle_spec::{Backoff, Command, Pos, Probe, Readiness, Spec, Template};
use nix::sys::signal::Signal as NixSignal;

#[cfg(feature = "ssh")]
pub use crate::compat_remote::{
    SshConfig, graceful_shutdown_remote, is_daemon_healthy_remote, spawn_daemon_remote,
    stop_daemon_remote,
};
use crate::daemon::{Mode, Until};
pub use crate::errors::PollError;
use crate::plan::{ChainOverride, Plan, ProbePlan, ReadinessPlan, StopPlan};
use crate::process::pidfd::PidFd;
use crate::process::{exit, proc_stat};
use crate::readiness::wait::{self, Listener, Outcome};
use crate::{DaemonManager, StartError, StopError, Stopped};

/// The grace of `graceful_shutdown*` when none is given.
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// How long SIGKILL may take before `graceful_shutdown_by_pid` reports the process alive.
const KILL_CONFIRM: Duration = Duration::from_secs(5);

/// The daemon name of a binary path: its file name, lowercased, anything outside
/// `[a-z0-9_-]` made `-`.
pub(crate) fn name_of(binary_path: &str) -> String {
    let file = binary_path.rsplit('/').next().unwrap_or(binary_path);
    let name: String = file
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "daemon".to_owned()
    } else {
        name
    }
}

/// A spec made at run time for the free functions. `instance` tells apart two daemons of one
/// name (two instances of one binary with other arguments).
fn ad_hoc_spec(
    name: &str,
    instance: Option<&str>,
    binary_path: &str,
    args: &[String],
    health_url: Option<&str>,
) -> Spec {
    let mut command = Command::new(Template::literal(binary_path));
    command.args = args
        .iter()
        .map(Template::literal)
        .collect::<Vec<_>>()
        .into();
    let mut spec = Spec::new(
        format!("(no spec file: {name} started by the lifecycle free functions)"),
        name.to_owned(),
        command,
    );
    spec.variant = Cow::Borrowed("AdHoc");
    spec.instance = instance.map(Template::literal);
    spec.readiness = health_url.map(|url| Readiness::new(Probe::http(Template::literal(url))));
    spec
}

pub(crate) fn ad_hoc_plan(
    name: &str,
    instance: Option<&str>,
    binary_path: &str,
    args: &[String],
    health_url: Option<&str>,
) -> Result<Plan, StartError> {
    if !lifecycle_spec::__private::is_spec_name(name) {
        return Err(StartError::Plan(crate::plan::PlanError::Invalid {
            daemon: name.to_owned(),
            file: "(free function)".to_owned(),
            pos: Pos::UNKNOWN,
            field: "daemon_name".to_owned(),
            value: name.to_owned(),
            problem: "a daemon name is lowercase letters, digits, `_` and `-` (at most 64)"
                .to_owned(),
        }));
    }
    Ok(Plan::new(
        &ad_hoc_spec(name, instance, binary_path, args, health_url),
        &|_| None,
    )?)
}

/// The plan to stop the remote daemon a pointer names: its key, its place; its chain comes
/// from its record there.
pub(crate) fn pointed_plan(pointer: &crate::store::pointers::Pointer) -> Option<Plan> {
    let name = pointer.key.split('@').next().unwrap_or(&pointer.key);
    let mut plan = ad_hoc_plan(name, None, "/", &[], None).ok()?;
    plan.key = pointer.key.clone();
    plan.place = crate::plan::Place::Ssh {
        host: pointer.host.clone(),
        user: pointer.user.clone(),
        port: pointer.port,
        accept_new: pointer.accept_new,
        probe_from_host: false,
        install: None,
    };
    Some(plan)
}

/// Spawns `binary_path` with `args` as a daemon: its own process group, stdin from
/// `/dev/null`, output to `<state dir>/logs/<key>.log`, reaped when it exits; recorded under the
/// binary's file name (lowercased, `[a-z0-9_-]`), one instance per argument list (the key is
/// `name@<hash of the arguments>`; `graceful_shutdown(name)` stops them all). Returns its PID.
/// `binary_path` is resolved like a spec's binary (absolute path, `$PATH`, the workspace's
/// `target/`). The same binary and arguments twice: [`StartError::AlreadyRunning`].
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StartError> {
/// let pid = lifecycle_core::compat::spawn_daemon("queen-rbee", vec!["--port".into(), "7833".into()]).await?;
/// # Ok(()) }
/// ```
pub async fn spawn_daemon(binary_path: &str, args: Vec<String>) -> Result<u32, StartError> {
    let name = name_of(binary_path);
    let instance = args_hash(&args);
    start_ad_hoc(ad_hoc_plan(
        &name,
        Some(&instance),
        binary_path,
        &args,
        None,
    )?)
    .await
}

/// Starts an ad hoc plan's daemon on the global manager (refusing one that runs); its PID.
pub(crate) async fn start_ad_hoc(plan: Plan) -> Result<u32, StartError> {
    let manager = DaemonManager::global()?;
    Ok(manager
        .fleet
        .clone()
        .ensure(Arc::new(plan), Mode::Start, Until::Ready)
        .await?
        .pid)
}

/// A short stable hash of an argument list (its top 32 bits, in hex).
pub(crate) fn args_hash(args: &[String]) -> String {
    format!(
        "{:08x}",
        crate::stable_hash::stable_hash(args.iter().map(String::as_str)) >> 32
    )
}

/// Whether a GET on `base_url` answers 2xx within 2 s. The URL is the full health URL, used as
/// given (nothing is appended).
///
/// ```no_run
/// # async fn demo() {
/// let up = lifecycle_core::compat::is_daemon_healthy("http://127.0.0.1:7833/health").await;
/// # }
/// ```
pub async fn is_daemon_healthy(base_url: &str) -> bool {
    if lifecycle_spec::__private::parse_http_url(base_url).is_err() {
        return false;
    }
    let Ok(manager) = DaemonManager::global() else {
        return false;
    };
    let probe = ProbePlan::Http {
        url: base_url.to_owned(),
    };
    crate::readiness::probe::attempt(&manager.fleet.ctx.client, &probe, Duration::from_secs(2))
        .await
        .is_ok()
}

/// Makes sure the daemon `daemon_name` runs and answers 2xx on `base_url` (the full health
/// URL): adopts it if this library's record names it and it is healthy, else spawns
/// `binary_path args` and waits (first probe at once, then 100ms doubling to 3.2s, 30s
/// deadline). Idempotent under a lock held across processes. Returns whether it was already
/// running.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StartError> {
/// let was_running = lifecycle_core::compat::ensure_daemon_running(
///     "queen-rbee", "http://127.0.0.1:7833/health", "queen-rbee", vec!["--port".into(), "7833".into()],
/// ).await?;
/// # Ok(()) }
/// ```
pub async fn ensure_daemon_running(
    daemon_name: &str,
    base_url: &str,
    binary_path: &str,
    args: Vec<String>,
) -> Result<bool, StartError> {
    let plan = ad_hoc_plan(daemon_name, None, binary_path, &args, Some(base_url))?;
    let manager = DaemonManager::global()?;
    Ok(!manager
        .fleet
        .clone()
        .ensure(Arc::new(plan), Mode::Ensure, Until::Ready)
        .await?
        .started)
}

/// Polls `base_url` (the full health URL) until it answers 2xx: the first attempt at once, then
/// delays from `initial_delay` (default 100ms) doubling up to `max_delay` (default 3.2s), never
/// past `timeout`.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::error::PollError> {
/// use std::time::Duration;
/// lifecycle_core::compat::poll_until_healthy("http://127.0.0.1:7833/health", Duration::from_secs(30), None, None).await?;
/// # Ok(()) }
/// ```
pub async fn poll_until_healthy(
    base_url: &str,
    timeout: Duration,
    initial_delay: Option<Duration>,
    max_delay: Option<Duration>,
) -> Result<(), PollError> {
    let fail = |attempts, last_error| PollError {
        url: base_url.to_owned(),
        timeout,
        attempts,
        last_error,
    };
    if let Err(err) = lifecycle_spec::__private::parse_http_url(base_url) {
        return Err(fail(0, err.to_string()));
    }
    let manager = DaemonManager::global().map_err(|e| fail(0, e.to_string()))?;
    let initial = initial_delay.unwrap_or(Backoff::READINESS.initial);
    let plan = ReadinessPlan {
        probe: ProbePlan::Http {
            url: base_url.to_owned(),
        },
        deadline: timeout,
        attempt_timeout: Readiness::DEFAULT_ATTEMPT_TIMEOUT.min(timeout),
        backoff: Backoff::new(
            initial,
            max_delay.unwrap_or(Backoff::READINESS.max).max(initial),
            2.0,
        ),
    };
    match wait::wait(
        &plan,
        &manager.fleet.ctx.client,
        0,
        Listener::Poll,
        Instant::now(),
        &|_| {},
    )
    .await
    {
        Outcome::Ready { .. } => Ok(()),
        Outcome::TimedOut {
            attempts,
            last_error,
        } => Err(fail(attempts, last_error)),
        Outcome::Failed { error } => Err(fail(0, error.to_string())),
    }
}

/// Stops the daemons this library recorded under `daemon_name` (a key `name@instance`, or a name:
/// every instance of it):
/// its dependents first, then SIGTERM to its process group, up to `grace_period` (default: its
/// spec's stop chain, or 5s), then SIGKILL to the group; returns once nothing of it is left.
/// Never looks processes up by name: with no record, it signals nothing and says so.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StopError> {
/// lifecycle_core::compat::graceful_shutdown("queen-rbee", Some(std::time::Duration::from_secs(5))).await?;
/// # Ok(()) }
/// ```
pub async fn graceful_shutdown(
    daemon_name: &str,
    grace_period: Option<Duration>,
) -> Result<(), StopError> {
    let manager = DaemonManager::global()?;
    let steps = grace_period.map(|grace| {
        ChainOverride::Steps(vec![StopPlan::Signal {
            signal: lifecycle_spec::Signal::Term,
            grace,
        }])
    });
    // The key itself, or every instance recorded under that name.
    let mut keys = vec![daemon_name.to_owned()];
    keys.extend(
        manager
            .fleet
            .ctx
            .store
            .all_records()
            .await
            .into_iter()
            .filter(|r| r.name == daemon_name && r.key != daemon_name)
            .map(|r| r.key),
    );
    // And the remote ones this state directory points to.
    let dir = manager.fleet.ctx.store.dir().clone();
    let pointers = crate::blocking::run(move || dir.pointers())
        .await
        .and_then(|r| r)
        .unwrap_or_default();
    let mut remote = std::collections::HashMap::new();
    for pointer in pointers {
        let name = pointer.key.split('@').next().unwrap_or(&pointer.key);
        if (pointer.key == daemon_name || name == daemon_name)
            && let Some(plan) = pointed_plan(&pointer)
        {
            if !keys.contains(&pointer.key) {
                keys.push(pointer.key.clone());
            }
            remote.insert(pointer.key.clone(), Arc::new(plan));
        }
    }
    let mut stopped_any = false;
    for key in keys {
        let plan = remote.remove(&key);
        match manager
            .fleet
            .clone()
            .stop(key, steps.clone(), Vec::new(), plan)
            .await?
        {
            Stopped::NotRunning { .. } => {}
            Stopped::Stopped { .. }
            | Stopped::StaleRecord { .. }
            | Stopped::RestartCancelled { .. } => stopped_any = true,
        }
    }
    if stopped_any {
        Ok(())
    } else {
        Err(StopError::Unknown {
            daemon: daemon_name.to_owned(),
            records: manager.fleet.ctx.store.dir().records(),
        })
    }
}

/// Stops process `pid`, as explicitly asked. A daemon this library runs (known to this process
/// or named by a record) is stopped as the daemon it is: SIGTERM to its group, its grace, SIGKILL,
/// its record removed, no restart. Any other process gets SIGTERM to that process only (not its
/// group, which may not be ours), up to `grace_period` (default 5s), then SIGKILL; the call
/// returns once it has exited. Signals go through a pidfd, so a PID reused meanwhile is never hit; the exit is
/// awaited on the pidfd, not polled. A child of this process is reaped. PID 1 and this process
/// are refused.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StopError> {
/// lifecycle_core::compat::graceful_shutdown_by_pid(4242, None).await?;
/// # Ok(()) }
/// ```
pub async fn graceful_shutdown_by_pid(
    pid: u32,
    grace_period: Option<Duration>,
) -> Result<(), StopError> {
    if pid <= 1 || pid == std::process::id() {
        return Err(StopError::Signal {
            pid,
            source: std::io::Error::other("refusing to signal pid 1 or this process"),
        });
    }
    let pidfd = PidFd::open(pid).map_err(|_| StopError::NoSuchProcess { pid })?;
    // A daemon of this library's is stopped as one: its group, its record, no restart.
    if let Ok(manager) = DaemonManager::global()
        && let Some(key) = manager.fleet.key_of_pid(pid).await
    {
        let steps = ChainOverride::Steps(vec![StopPlan::Signal {
            signal: lifecycle_spec::Signal::Term,
            grace: grace_period.unwrap_or(DEFAULT_GRACE),
        }]);
        return manager
            .fleet
            .clone()
            .stop(key, Some(steps), Vec::new(), None)
            .await
            .map(drop);
    }
    let ours = proc_stat::read(pid).is_ok_and(|s| s.ppid == std::process::id());
    let signal = |sig| {
        pidfd
            .send_signal(sig)
            .map_err(|source| StopError::Signal { pid, source })
    };
    let result = async {
        signal(NixSignal::SIGTERM)?;
        if tokio::time::timeout(grace_period.unwrap_or(DEFAULT_GRACE), pidfd.exited())
            .await
            .is_ok()
        {
            return Ok(());
        }
        match signal(NixSignal::SIGKILL) {
            // Exited between the timeout and the signal.
            Err(StopError::Signal { source, .. }) if source.raw_os_error() == Some(libc::ESRCH) => {
                return Ok(());
            }
            other => other?,
        }
        tokio::time::timeout(KILL_CONFIRM, pidfd.exited())
            .await
            .map_err(|_| StopError::StillAlive {
                daemon: format!("pid {pid}"),
                pid,
                members: vec![pid],
            })
    }
    .await;
    if ours && pidfd.has_exited() {
        exit::try_reap(pid);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_binaries() {
        assert_eq!(name_of("/usr/bin/queen-rbee"), "queen-rbee");
        assert_eq!(name_of("My Daemon.bin"), "my-daemon-bin");
        assert_eq!(name_of(""), "daemon");
    }

    #[test]
    fn ad_hoc_names_are_checked() {
        assert!(ad_hoc_plan("bad\nname", None, "/bin/echo", &[], None).is_err());
        assert_ne!(
            args_hash(&["a b".into()]),
            args_hash(&["a".into(), "b".into()])
        );
    }

    #[test]
    fn ad_hoc_args_are_literal() {
        let plan = ad_hoc_plan("d", None, "/bin/echo", &["{not a var}".to_owned()], None).unwrap();
        assert_eq!(plan.args, ["{not a var}"]);
    }
}
