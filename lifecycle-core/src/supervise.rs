//! Watching a running daemon: its log kept under its size cap, and, when it exits without being
//! asked to, the restart policy (backoff, limit, reset after a stable period, then Failed).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use lifecycle_spec::RestartPolicy;

use crate::exit::exited;
use crate::manager::{Daemon, Inner, Live};
use crate::{Event, Restart, State, log_file, record};

/// How often a running daemon's log size is checked.
const LOG_CHECK: Duration = Duration::from_secs(2);

impl Inner {
    /// Watches `live`; `restarts` is how many restarts in a row led to it.
    pub(crate) fn supervise(self: &Arc<Self>, daemon: Arc<Daemon>, live: Live, restarts: u32) {
        let weak = Arc::downgrade(self);
        tokio::spawn(watch(weak, daemon, live, restarts));
    }
}

async fn watch(weak: Weak<Inner>, daemon: Arc<Daemon>, live: Live, restarts: u32) {
    let plan = live.plan.clone();
    let mut exit_watch = live.exit.clone();
    let mut log_check =
        tokio::time::interval_at(tokio::time::Instant::now() + LOG_CHECK, LOG_CHECK);
    log_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let exit = loop {
        tokio::select! {
            exit = exited(&mut exit_watch) => break exit,
            _ = log_check.tick() => {
                if let Err(err) = log_file::copy_truncate_if_over(&live.log, plan.log_max_size, plan.log_keep) {
                    tracing::warn!(parent: daemon.machine.span(), %err, "log rotation failed");
                }
            }
        }
    };
    if daemon.stopping.load(Ordering::SeqCst) {
        return;
    }
    let Some(inner) = weak.upgrade() else { return };
    let Ok(lock) = inner.locks.acquire(&daemon.key).await else {
        return;
    };
    // A stop, or a newer start, owns the daemon now.
    if daemon.stopping.load(Ordering::SeqCst)
        || daemon.live().map(|l| l.pid) != Some(live.pid)
        || daemon.machine.state() != State::Ready
    {
        return;
    }
    let in_a_row = if live.since.elapsed() >= plan.restart.reset_after {
        0
    } else {
        restarts
    };
    let decision = match plan.restart.policy {
        RestartPolicy::Never => Restart::No,
        RestartPolicy::OnFailure if exit.success() => Restart::No,
        _ if in_a_row >= plan.restart.max => Restart::LimitReached(plan.restart.max),
        _ => Restart::After(in_a_row + 1),
    };
    daemon.set_live(None);
    if let Err(err) = record::remove(&inner.state.record(&daemon.key)) {
        tracing::warn!(parent: daemon.machine.span(), %err, "cannot remove the record");
    }
    if daemon
        .machine
        .apply(Event::Exited {
            status: exit.to_string(),
            success: exit.success(),
            restart: decision,
        })
        .is_err()
    {
        return;
    }
    let Restart::After(attempt) = decision else {
        return;
    };
    // Hold neither the lock nor the manager while waiting: a stop may come, the manager may go.
    drop(lock);
    drop(inner);
    tokio::time::sleep(plan.restart.backoff.delay(attempt - 1)).await;
    let Some(inner) = weak.upgrade() else { return };
    let Ok(_lock) = inner.locks.acquire(&daemon.key).await else {
        return;
    };
    if daemon.machine.state() != (State::Backoff { attempt })
        || daemon.machine.apply(Event::RestartDue).is_err()
    {
        return;
    }
    if let Err(err) = inner.launch(&daemon, plan, Some(attempt)).await {
        tracing::warn!(parent: daemon.machine.span(), %err, attempt, "restart failed");
    }
}
