//! `lifecycle status`: every daemon of the state directory, as a table or JSON lines.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifecycle_core::Listed;
use serde_json::json;

use crate::progress::state_word;

/// The table of `daemons`: name, state, pid, uptime, location, readiness target.
///
/// ```
/// assert!(lifecycle_cli::commands::status::table(&[]).starts_with("NAME"));
/// ```
pub fn table(daemons: &[Listed]) -> String {
    let rows: Vec<[String; 6]> = daemons.iter().map(row).collect();
    let header = ["NAME", "STATE", "PID", "UPTIME", "LOCATION", "READINESS"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn row(d: &Listed) -> [String; 6] {
    let state = match (&d.status.stale, d.status.pid) {
        (Some(_), None) => "stale".to_owned(),
        _ => state_word(&d.status.state).to_owned(),
    };
    [
        d.key.clone(),
        state,
        d.status.pid.map_or("-".to_owned(), |p| p.to_string()),
        uptime(d).map_or("-".to_owned(), human),
        d.location.clone(),
        d.record
            .as_ref()
            .and_then(|r| r.probe.clone())
            .unwrap_or_else(|| "-".to_owned()),
    ]
}

/// How long the daemon's process has run, if it runs.
fn uptime(d: &Listed) -> Option<Duration> {
    d.status.pid?;
    let started = UNIX_EPOCH + Duration::from_millis(d.record.as_ref()?.started_at_ms);
    SystemTime::now().duration_since(started).ok()
}

/// `3d4h`, `2h05m`, `4m12s`, `12s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

/// One JSON object per daemon, one per line.
///
/// ```
/// assert_eq!(lifecycle_cli::commands::status::json_lines(&[]), "");
/// ```
pub fn json_lines(daemons: &[Listed]) -> String {
    let mut out = String::new();
    for d in daemons {
        let record = d.record.as_ref();
        let line = json!({
            "name": crate::commands::name_of(&d.key),
            "key": d.key,
            "state": state_word(&d.status.state),
            "reason": match &d.status.state { lifecycle_core::State::Failed { reason } => Some(reason), _ => None },
            "pid": d.status.pid,
            "uptime_ms": uptime(d).map(|u| u.as_millis() as u64),
            "location": d.location,
            "readiness": record.and_then(|r| r.probe.clone()),
            "stale": d.status.stale,
            "command": record.map(|r| r.command.clone()),
            "spec": record.map(|r| r.spec_file.clone()),
            "log": record.map(|r| r.log.clone()),
            "restarts": record.map(|r| r.restarts),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}
