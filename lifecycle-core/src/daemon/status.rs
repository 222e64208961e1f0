//! What is known of a daemon now: its owner's snapshot if this manager owns or follows a
//! process of it, else its record (checked against the process it names), and one probe.

use crate::daemon::Context;
use crate::events::Snapshot;
use crate::plan::Plan;
use crate::process::identity::{self, Liveness};
use crate::readiness::probe;
use crate::store::record::{Record, RecordState};
use crate::{State, Status};

/// The connection to a remote daemon's host, as a status gets it (once).
type Remote =
    Result<std::sync::Arc<crate::remote::connection::Connection>, crate::remote::RemoteError>;

/// What the record of a daemon on another host says, read there (its head: one round trip).
async fn remote_record(connection: &Remote, plan: &Plan, status: &mut Status) {
    use crate::remote::ops::{self, Liveness as Remote};
    let found = match connection {
        Ok(connection) => {
            let name = crate::store::state_dir::file_name(&plan.key);
            ops::head(connection, &name).await
        }
        Err(err) => Err(err.clone()),
    };
    match found {
        Ok(Some(head)) => match head.liveness {
            Remote::Live => {
                status.pid = Some(head.pid);
                status.state = match head.state.as_str() {
                    "starting" => State::Starting,
                    "stopping" => State::Stopping { failure: None },
                    _ => State::Ready,
                };
            }
            Remote::Gone => {
                status.stale = Some(format!("recorded pid {} is gone", head.pid));
            }
            Remote::OtherBoot => {
                status.stale = Some(format!(
                    "the record (pid {}) is of another boot of the host",
                    head.pid
                ));
            }
        },
        Ok(None) => {}
        Err(err) => status.stale = Some(err.to_string()),
    }
}

/// The status of `plan`'s daemon; `snapshot`: its owner's, if this manager has one.
pub(crate) async fn status(ctx: &Context, snapshot: Option<Snapshot>, plan: &Plan) -> Status {
    let mut status = Status {
        key: plan.key.clone(),
        state: State::Stopped,
        pid: None,
        healthy: None,
        stale: None,
    };
    // The owner's view when its process runs (starting, ready, stopping); otherwise the record
    // (which may name a process another manager started since, or one this owner only awaits),
    // and the owner's last word (Failed, Backoff) only if the record says nothing more.
    let owned = snapshot
        .as_ref()
        .filter(|s| s.pid.is_some() && s.state.is_running());
    let remote: Option<Remote> = match crate::daemon::remote::destination(plan) {
        Some(destination) => Some(ctx.hosts.get(&destination).await),
        None => None,
    };
    if let Some(connection) = &remote {
        // The host says whether it runs, always (the owner's view of a process there may be a
        // second old); for the process the owner has, the owner's state (it probed it itself).
        if let Some(snapshot) = &snapshot {
            status.state = snapshot.state.clone();
        }
        remote_record(connection, plan, &mut status).await;
        if let Some(snapshot) = owned
            && status.pid.is_some()
            && status.pid == snapshot.pid
        {
            status.state = snapshot.state.clone();
        }
    } else if let Some(snapshot) = owned {
        status.state = snapshot.state.clone();
        status.pid = snapshot.pid;
    } else {
        if let Some(snapshot) = &snapshot {
            status.state = snapshot.state.clone();
        }
        match ctx.store.read(&plan.key).await {
            Ok(Some(record)) => from_record(&record, &mut status),
            Ok(None) => {}
            Err(err) => status.stale = Some(err.to_string()),
        }
    }
    if status.pid.is_none() && status.state.is_running() {
        // A process that is gone: the owner's word was of the past.
        status.state = State::Stopped;
    }
    if status.pid.is_some() && status.state == State::Ready {
        status.healthy = Some(match &plan.readiness {
            Some(r) if !r.probe.is_event() => {
                let probe = match &remote {
                    // A probe from the remote host goes through the connection's forward.
                    Some(Ok(connection)) => {
                        crate::daemon::remote::probe_here(connection, plan, &r.probe).await
                    }
                    Some(Err(err)) => Err(err.clone()),
                    None => Ok((r.probe.clone(), None)),
                };
                match probe {
                    Ok((probe, _forward)) => probe::attempt(&ctx.client, &probe, r.attempt_timeout)
                        .await
                        .is_ok(),
                    Err(_) => false,
                }
            }
            // No probe to repeat (none, notify, log line): alive counts as healthy.
            _ => true,
        });
    }
    status
}

/// What a local record says of its daemon: its state, and its PID if the recorded process is
/// still the one it names (start time and boot); else why the record is stale.
pub(crate) fn from_record(record: &Record, status: &mut Status) {
    match &record.state {
        RecordState::Backoff { attempt, .. } => {
            status.state = State::Backoff { attempt: *attempt };
        }
        RecordState::Exited { failure, .. } => {
            if let Some(reason) = failure {
                status.state = State::Failed {
                    reason: reason.clone(),
                };
            }
        }
        named => match identity::check(record.pid, record.start_time, &record.boot_id) {
            Ok(Liveness::Alive(_)) => {
                status.pid = Some(record.pid);
                status.state = match named {
                    RecordState::Starting => State::Starting,
                    RecordState::Stopping { .. } => State::Stopping { failure: None },
                    _ => State::Ready,
                };
            }
            Ok(Liveness::Exited(_) | Liveness::Gone) => {
                status.stale = Some(format!("recorded pid {} is gone", record.pid));
            }
            Ok(Liveness::Reused { .. }) => {
                status.stale = Some(format!(
                    "recorded pid {} now belongs to another process",
                    record.pid
                ));
            }
            Ok(Liveness::OtherBoot) => {
                status.stale = Some(format!(
                    "the record (pid {}) is of another boot",
                    record.pid
                ));
            }
            Err(err) => {
                status.stale = Some(format!("cannot check pid {}: {err}", record.pid));
            }
        },
    }
}
