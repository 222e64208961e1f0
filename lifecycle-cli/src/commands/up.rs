//! `lifecycle up`: each daemon running and ready, dependencies first; a daemon whose spec was
//! edited since it started is recreated (stopped and started with the new values).

use std::sync::Arc;

use lifecycle_core::{DaemonManager, Lifecycle, Listed, Running, StartError};
use serde_json::json;

use crate::commands::order::{depends_on, with_dependents};
use crate::progress::Progress;
use crate::{CliError, SpecHandle};

/// Ensures every handle's daemon runs, all at once (a dependency shared by several is started
/// once). A daemon that runs under the same key with another command, environment or probe is
/// stopped and started again, unless `no_recreate`, which reports it and leaves it running.
/// Returns what runs (shown by [`report`]); a failure of any names every failed daemon (exit
/// code 1).
///
/// ```no_run
/// # async fn demo(manager: &lifecycle_core::DaemonManager, queen: lifecycle_cli::SpecHandle) -> Result<(), lifecycle_cli::CliError> {
/// use lifecycle_cli::progress::{Mode, Progress};
/// let progress = Progress::new(Mode::Plain, Default::default());
/// let running = lifecycle_cli::commands::up::up(manager, vec![queen], false, &progress).await?;
/// # Ok(()) }
/// ```
pub async fn up(
    manager: &DaemonManager,
    handles: Vec<SpecHandle>,
    no_recreate: bool,
    progress: &Arc<Progress>,
) -> Result<Vec<Running>, CliError> {
    let recreation = Arc::new(Recreation {
        named: handles.iter().filter_map(|h| h.key().ok()).collect(),
        done: tokio::sync::Mutex::new(Vec::new()),
        no_recreate,
    });
    let mut ups = tokio::task::JoinSet::new();
    for (i, handle) in handles.into_iter().enumerate() {
        let (manager, progress, recreation) =
            (manager.clone(), progress.clone(), recreation.clone());
        ups.spawn(async move { (i, ensure(&manager, &handle, &recreation, &progress).await) });
    }
    let mut running = Vec::new();
    let mut failed = Vec::new();
    while let Some(joined) = ups.join_next().await {
        match joined {
            Ok((i, Ok(Some(r)))) => running.push((i, r)),
            Ok((_, Ok(None))) => {}
            Ok((_, Err(err))) => failed.push(err),
            Err(err) => failed.push(format!("a start task ended: {err}")),
        }
    }
    running.sort_by_key(|(i, _)| *i);
    if failed.is_empty() {
        Ok(running.into_iter().map(|(_, r)| r).collect())
    } else {
        Err(CliError::Failed(failed.join("\n")))
    }
}

/// Shows what runs after an `up`: each daemon's PID, how long its start took and its probe.
///
/// ```
/// # use lifecycle_cli::progress::{Mode, Progress};
/// lifecycle_cli::commands::up::report(&[], &Progress::new(Mode::Plain, Default::default()));
/// ```
pub fn report(running: &[Running], progress: &Progress) {
    for r in running {
        let how = if r.started {
            "ready"
        } else {
            "already running"
        };
        let probe = r.probe.as_deref().unwrap_or("no probe");
        progress.note(
            &r.key,
            &format!(
                "{how}, pid {} ({} ms, {} probe{}, {probe})",
                r.pid,
                r.elapsed.as_millis(),
                r.attempts,
                if r.attempts == 1 { "" } else { "s" }
            ),
            json!({
                "type": "up",
                "pid": r.pid,
                "started": r.started,
                "elapsed_ms": r.elapsed.as_millis() as u64,
                "probe": r.probe,
                "log": r.log,
            }),
        );
    }
}

/// What an `up` may recreate, and what it did.
struct Recreation {
    /// The keys of the daemons named on the command line.
    named: Vec<String>,
    /// The keys recreated so far (by any of this `up`'s tasks: a dependency shared by two
    /// handles is recreated once). Held across a recreation: one at a time.
    done: tokio::sync::Mutex<Vec<String>>,
    /// Report, do not recreate.
    no_recreate: bool,
}

/// Ensures one handle's daemon runs, recreating a changed one (or the changed dependency).
/// `None`: a changed daemon left as it is (`no_recreate`).
async fn ensure(
    manager: &DaemonManager,
    handle: &SpecHandle,
    recreation: &Recreation,
    progress: &Progress,
) -> Result<Option<Running>, String> {
    // Each recreation may reveal another changed daemon (a dependency after its dependent):
    // each is recreated at most once.
    let mut retried: Vec<String> = Vec::new();
    loop {
        let err = match manager.ensure_running(handle).await {
            Ok(running) => return Ok(Some(running)),
            Err(err) => err,
        };
        let Some((key, pid, running, wanted)) = conflict(&err) else {
            return Err(err.to_string());
        };
        let what = if running == wanted {
            "its environment or readiness probe changed".to_owned()
        } else {
            format!("its command changed: `{running}` -> `{wanted}`")
        };
        if recreation.no_recreate {
            progress.note(
                &key,
                &format!("runs with other values than its spec: {what}; left running (--no-recreate)"),
                json!({"type": "changed", "running": running, "wanted": wanted, "recreated": false}),
            );
            return Ok(None);
        }
        let mut done = recreation.done.lock().await;
        if done.contains(&key) {
            // Recreated already, by another of this up's tasks (a shared dependency) or by this
            // one: try once more; a conflict after that is another process's doing.
            if retried.contains(&key) {
                return Err(err.to_string());
            }
            retried.push(key);
            continue;
        }
        let known = crate::commands::listed(manager)
            .await
            .map_err(|e| e.to_string())?;
        // Still the process that conflicted? (Another process may have replaced it since.)
        let current = known
            .iter()
            .find(|d| d.key == key)
            .and_then(|d| d.status.pid);
        if current == Some(pid) {
            let outside = dependents_outside(&key, &known, &recreation.named);
            if !outside.is_empty() {
                return Err(format!(
                    "{key} runs with other values than its spec ({what}); recreating it would stop {}, which depend on it and are not named here: name them too, or stop them first",
                    outside.join(", ")
                ));
            }
            progress.note(
                &key,
                &format!("recreating: {what}"),
                json!({"type": "changed", "running": running, "wanted": wanted, "recreated": true}),
            );
            manager
                .stop_by_key(&key)
                .await
                .map_err(|e| format!("{key}: could not stop it to recreate it: {e}"))?;
        }
        done.push(key);
    }
}

/// The running daemons that depend on `key` (transitively, as records say) and are not `named`.
fn dependents_outside(key: &str, known: &[Listed], named: &[String]) -> Vec<String> {
    with_dependents(vec![key.to_owned()], &depends_on(known))
        .into_iter()
        .skip(1)
        .filter(|k| !named.contains(k))
        .filter(|k| known.iter().any(|d| d.key == *k && d.status.pid.is_some()))
        .collect()
}

/// The daemon that runs with other values, its PID, and its command as it runs and as wanted:
/// in the error itself or in a dependency's.
fn conflict(err: &StartError) -> Option<(String, u32, String, String)> {
    match err {
        StartError::Conflict {
            daemon,
            pid,
            running,
            wanted,
        } => Some((daemon.clone(), *pid, running.clone(), wanted.clone())),
        StartError::Dependency { source, .. } => conflict(source),
        _ => None,
    }
}
