//! `lifecycle run`: the daemons brought up and supervised in the foreground (this process is
//! their parent: it reaps them and applies their restart policies) until SIGINT or SIGTERM,
//! then stopped, dependents first.

use std::sync::Arc;

use lifecycle_core::DaemonManager;
use lifecycle_core::state::Event;
use serde_json::json;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::broadcast;

use crate::commands::up::{report, up};
use crate::progress::Progress;
use crate::{CliError, SpecHandle};
use lifecycle_core::Lifecycle;

/// Brings `handles` up (as `up` does), waits for SIGINT or SIGTERM (one during the start
/// counts too), then stops what this run is responsible for — the handles' daemons, and every
/// daemon it spawned (dependencies, restarts) — dependents first. A dependency that was already
/// running before (another process's) is left running. A second signal during the stop
/// abandons it (exit 1, what still runs is named). `Ok` once all are stopped after a signal;
/// a start that failed stops what did start and is the error.
///
/// Build the manager with `stop_on_drop(true)`: if this future is dropped mid-way, what it
/// spawned is killed with the manager.
///
/// ```no_run
/// # async fn demo(manager: &lifecycle_core::DaemonManager, queen: lifecycle_cli::SpecHandle) -> Result<(), lifecycle_cli::CliError> {
/// # let progress = lifecycle_cli::progress::Progress::new(lifecycle_cli::progress::Mode::Plain, Default::default());
/// lifecycle_cli::commands::run::run(manager, vec![queen], &progress).await?;
/// # Ok(()) }
/// ```
pub async fn run(
    manager: &DaemonManager,
    handles: Vec<SpecHandle>,
    progress: &Arc<Progress>,
) -> Result<(), CliError> {
    let mut interrupt = catch(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = catch(SignalKind::terminate(), "SIGTERM")?;
    // Which daemons this run spawns, whatever happens to its start.
    let mut events = manager.subscribe();
    let started = tokio::select! {
        result = up(manager, handles.clone(), false, progress) => Some(result),
        _ = interrupt.recv() => None,
        _ = terminate.recv() => None,
    };
    let outcome = match started {
        Some(Ok(running)) => {
            report(&running, progress);
            progress.note(
                "",
                "running; Ctrl-C or SIGTERM stops them all",
                json!({"type": "running"}),
            );
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            Ok(())
        }
        Some(Err(err)) => Err(err),
        None => Ok(()),
    };
    progress.note("", "stopping", json!({"type": "stopping"}));
    let mut keys: Vec<String> = handles.iter().filter_map(|h| h.key().ok()).collect();
    for key in spawned(&mut events) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let stopped = tokio::select! {
        stopped = stop(manager, keys.clone(), progress) => stopped,
        _ = interrupt.recv() => Err(abandoned(&keys)),
        _ = terminate.recv() => Err(abandoned(&keys)),
    };
    outcome.and(stopped)
}

fn catch(kind: SignalKind, name: &str) -> Result<Signal, CliError> {
    signal(kind).map_err(|e| CliError::Failed(format!("cannot catch {name}: {e}")))
}

fn abandoned(keys: &[String]) -> CliError {
    CliError::Failed(format!(
        "interrupted again: the stop is abandoned; these may still run: {}",
        keys.join(", ")
    ))
}

/// The keys of the daemons spawned since `events` subscribed.
fn spawned(events: &mut broadcast::Receiver<lifecycle_core::Transition>) -> Vec<String> {
    let mut keys = Vec::new();
    loop {
        match events.try_recv() {
            Ok(t) => {
                if matches!(t.event, Event::Spawned { .. }) && !keys.contains(&t.daemon) {
                    keys.push(t.daemon);
                }
            }
            Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => return keys,
        }
    }
}

/// Stops `keys` (and what depends on them), dependents first.
async fn stop(
    manager: &DaemonManager,
    keys: Vec<String>,
    progress: &Progress,
) -> Result<(), CliError> {
    let known = crate::commands::listed(manager).await?;
    crate::commands::down::down(manager, keys, &known, None, progress).await
}
