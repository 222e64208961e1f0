//! `lifecycle down`: daemons named by name, key or spec file stopped, the ones that depend on
//! them first.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use lifecycle_core::{DaemonManager, Listed, Stopped};
use serde_json::json;

use crate::CliError;
use crate::commands::name_of;
use crate::commands::order::{dependents_first, depends_on, with_dependents};
use crate::load::load_named;
use crate::progress::Progress;

/// The keys `targets` name among `known` daemons: a key; a name (every instance of it); a spec
/// file (its key if its variables are all given, else every instance of its name). Every
/// target must name at least one daemon: else bad input, and nothing is stopped.
///
/// ```
/// let err = lifecycle_cli::commands::down::resolve(&["nobody".into()], &Default::default(), &[]).unwrap_err();
/// assert_eq!(err.code(), 2);
/// ```
pub fn resolve(
    targets: &[String],
    vars: &BTreeMap<String, String>,
    known: &[Listed],
) -> Result<Vec<String>, CliError> {
    let mut keys: Vec<String> = Vec::new();
    for target in targets {
        let path = Path::new(target);
        let found: Vec<String> = if is_spec_path(path) {
            let (handle, complete) = load_named(path, vars)?;
            let name = lifecycle_core::Lifecycle::spec(&handle).name.to_string();
            let key = complete
                .then(|| lifecycle_core::Lifecycle::key(&handle).ok())
                .flatten();
            known
                .iter()
                .filter(|d| match &key {
                    Some(key) => d.key == *key,
                    None => name_of(&d.key) == name,
                })
                .map(|d| d.key.clone())
                .collect()
        } else {
            known
                .iter()
                .filter(|d| d.key == *target || name_of(&d.key) == target)
                .map(|d| d.key.clone())
                .collect()
        };
        if found.is_empty() {
            return Err(CliError::BadInput(unknown(target, known)));
        }
        for key in found {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// Whether a target is a spec file rather than a daemon's name: a name never has a `/` or a
/// `.yaml` ending.
fn is_spec_path(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text.contains('/') || text.ends_with(".yaml") || text.ends_with(".yml")
}

/// "No daemon named …", with what is known.
pub(crate) fn unknown(target: &str, known: &[Listed]) -> String {
    if known.is_empty() {
        format!("no daemon named `{target}`: the state directory has no daemon")
    } else {
        let keys: Vec<&str> = known.iter().map(|d| d.key.as_str()).collect();
        format!("no daemon named `{target}` (known: {})", keys.join(", "))
    }
}

/// Stops `keys` and the daemons that depend on them, dependents first (as their records say),
/// each with `grace` per stop step if given. Returns the first failure, after trying every key.
///
/// ```no_run
/// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_cli::CliError> {
/// # let progress = lifecycle_cli::progress::Progress::new(lifecycle_cli::progress::Mode::Plain, Default::default());
/// let known = manager.list().await.unwrap_or_default();
/// let keys = lifecycle_cli::commands::down::resolve(&["queen-rbee".into()], &Default::default(), &known)?;
/// lifecycle_cli::commands::down::down(manager, keys, &known, None, &progress).await?;
/// # Ok(()) }
/// ```
pub async fn down(
    manager: &DaemonManager,
    keys: Vec<String>,
    known: &[Listed],
    grace: Option<Duration>,
    progress: &Progress,
) -> Result<(), CliError> {
    let depends_on = depends_on(known);
    // What depends on them, transitively, is stopped too (first): named here, so that each gets
    // the grace asked for.
    let keys = with_dependents(keys, &depends_on);
    let mut failed = Vec::new();
    for key in dependents_first(keys, &depends_on) {
        let stopped = match grace {
            Some(grace) => manager.stop_by_key_within(&key, grace).await,
            None => manager.stop_by_key(&key).await,
        };
        match stopped {
            Ok(stopped) => report(&key, &stopped, progress),
            Err(err) => {
                progress.note(
                    &key,
                    &format!("stop failed: {err}"),
                    json!({"type": "error"}),
                );
                failed.push(err.to_string());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(failed.join("\n")))
    }
}

fn report(key: &str, stopped: &Stopped, progress: &Progress) {
    let (text, fields) = match stopped {
        Stopped::Stopped {
            pid,
            elapsed,
            killed,
            ..
        } => (
            format!(
                "stopped pid {pid} in {} ms{}",
                elapsed.as_millis(),
                if *killed {
                    " (killed: its grace ran out)"
                } else {
                    ""
                }
            ),
            json!({"type": "down", "result": "stopped", "pid": pid, "elapsed_ms": elapsed.as_millis() as u64, "killed": killed}),
        ),
        Stopped::NotRunning { .. } => (
            "was not running".to_owned(),
            json!({"type": "down", "result": "not_running"}),
        ),
        Stopped::RestartCancelled { attempt, .. } => (
            format!("its pending restart {attempt} is cancelled"),
            json!({"type": "down", "result": "restart_cancelled", "attempt": attempt}),
        ),
        Stopped::StaleRecord { pid, reason, .. } => (
            format!(
                "its record was stale (pid {pid}: {reason}); what was left of its group is stopped"
            ),
            json!({"type": "down", "result": "stale_record", "pid": pid, "reason": reason}),
        ),
    };
    progress.note(key, &text, fields);
}
