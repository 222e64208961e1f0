//! Watching a running daemon: its log kept under its size cap, and, when it exits without being
//! asked to, what it left in its group stopped and the restart policy applied (backoff, limit,
//! reset after a stable period, then Failed). The record decides who restarts: the supervisor
//! whose record still names the exited process; another one adopts what that one started.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use lifecycle_spec::RestartPolicy;

use crate::exit::{self, exited};
use crate::manager::{Daemon, Inner, Live};
use crate::record::{self, Liveness};
use crate::{Event, Exit, Restart, State, log_file};

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
    let Ok(lock) = inner.locks.acquire(&daemon.key, plan.lock_patience()).await else {
        return;
    };
    // A stop, or a newer start, owns the daemon now.
    if daemon.stopping.load(Ordering::SeqCst)
        || daemon.live().map(|l| l.pid) != Some(live.pid)
        || daemon.machine.state() != State::Ready
    {
        return;
    }
    // What the dead leader forked goes with it, the way the spec stops the daemon.
    inner.sweep(&mut live.target(), &plan.stop).await;
    daemon.set_live(None);
    let record_path = inner.state.record(&daemon.key);
    // The count of restarts in a row is the record's: every supervisor of the daemon shares it.
    let restarts = match record::read(&record_path) {
        Ok(Some(r)) if live.is_recorded_by(&r) => {
            if let Err(err) = record::remove(&record_path) {
                tracing::warn!(parent: daemon.machine.span(), %err, "cannot remove the record");
            }
            r.restarts.max(restarts)
        }
        other => {
            // Another process already restarted it (adopt that one), or stopped it.
            let no_restart = Event::Exited {
                status: exit.to_string(),
                success: exit.success(),
                restart: Restart::No,
            };
            if daemon.machine.apply(no_restart).is_ok()
                && let Ok(Some(newer)) = other
            {
                adopt(&inner, &daemon, &live, newer);
            }
            return;
        }
    };
    let in_a_row = if live.since.elapsed() >= plan.restart.reset_after {
        0
    } else {
        restarts
    };
    let decision = decide(&plan.restart, &exit, in_a_row);
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
    let Restart::After(mut attempt) = decision else {
        return;
    };
    drop(lock);
    drop(inner);
    loop {
        // Hold neither the lock nor the manager while waiting: a stop may come, the manager may go.
        tokio::time::sleep(plan.restart.backoff.delay(attempt - 1)).await;
        let Some(inner) = weak.upgrade() else { return };
        let Ok(_lock) = inner.locks.acquire(&daemon.key, plan.lock_patience()).await else {
            return;
        };
        if daemon.machine.state() != (State::Backoff { attempt })
            || daemon.machine.apply(Event::RestartDue).is_err()
        {
            return;
        }
        match inner.launch(&daemon, plan.clone(), Some(attempt)).await {
            Ok(_) => return,
            // A restart that fails before it is ready counts as one more exit in a row.
            Err(err) if attempt < plan.restart.max => {
                tracing::warn!(parent: daemon.machine.span(), %err, attempt, "restart failed; trying again");
                attempt += 1;
                if daemon
                    .machine
                    .apply(Event::RestartScheduled { attempt })
                    .is_err()
                {
                    return;
                }
            }
            Err(err) => {
                tracing::warn!(parent: daemon.machine.span(), %err, attempt, "restart failed; giving up");
                return;
            }
        }
    }
}

/// The restart policy's verdict on an exit after `in_a_row` restarts in a row.
fn decide(restart: &lifecycle_spec::Restart, exit: &Exit, in_a_row: u32) -> Restart {
    match restart.policy {
        RestartPolicy::Never => Restart::No,
        RestartPolicy::OnFailure if exit.success() => Restart::No,
        _ if in_a_row >= restart.max => Restart::LimitReached(restart.max),
        _ => Restart::After(in_a_row + 1),
    }
}

/// Takes over the daemon another process restarted under this key, if it runs.
fn adopt(inner: &Arc<Inner>, daemon: &Arc<Daemon>, old: &Live, newer: crate::Record) {
    let Liveness::Alive(pidfd) = newer.liveness() else {
        return;
    };
    let pidfd = Arc::new(pidfd);
    let live = Live {
        pid: newer.pid,
        start_time: newer.start_time,
        pgid: newer.pgid,
        exit: exit::watch(pidfd.clone(), false),
        pidfd,
        child: false,
        log: newer.log.clone(),
        since: Instant::now(),
        plan: old.plan.clone(),
    };
    daemon.set_live(Some(live.clone()));
    if daemon
        .machine
        .apply(Event::Adopted { pid: newer.pid })
        .is_ok()
    {
        inner.supervise(daemon.clone(), live, 0);
    }
}
