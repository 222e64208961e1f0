//! The end of an owner whose manager is gone: what the manager spawned is killed (built with
//! `stop_on_drop`) or runs on, reaped by this process, its parent, when it exits.

use std::sync::Arc;

use nix::sys::signal::Signal;

use crate::daemon::actor::{Actor, Phase};
use crate::daemon::exit::failure_of;
use crate::daemon::live::Live;
use crate::daemon::{Context, chain};
use crate::deadline::deadline_in;
use crate::process::group::Group;
use crate::state::RestartVerdict;
use crate::store::Change;
use crate::store::record::RecordState;

impl Actor {
    /// The manager is gone. What it spawned is killed if it was built with `stop_on_drop`;
    /// otherwise it runs on, and is reaped (its status recorded, as its parent's) when it exits.
    pub(super) async fn shutdown(mut self) {
        let live = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Starting(s) => Some(s.live),
            Phase::Up(live) => Some(*live),
            // Killed only if this manager started it, and stops what it starts when it goes.
            Phase::Remote(remote) if self.ctx.stop_on_drop && remote.spawned_here => {
                self.kill(&remote).await;
                None
            }
            // Dropping the stop's work kills (stop_on_drop) what it held.
            _ => None,
        };
        let Some(mut live) = live.filter(|l| l.parent) else {
            return;
        };
        live.disarm();
        if self.ctx.stop_on_drop {
            let deadline = deadline_in(chain::KILL_CONFIRM);
            let gone = match live.group.signal(Signal::SIGKILL).await {
                Ok(()) => matches!(live.group.gone(deadline).await, Ok(true)),
                Err(err) => {
                    tracing::warn!(parent: self.machine.span(), %err, "cannot kill the daemon");
                    false
                }
            };
            // Its record goes only once nothing of it is left: else it must stay findable.
            if gone {
                self.ctx
                    .remove_if_names(&self.key, live.pid, live.start_time, &self.machine)
                    .await;
            }
        } else {
            tokio::spawn(reap_when_it_exits(self.ctx.clone(), live));
        }
    }
}

/// A daemon whose manager was dropped (without `stop_on_drop`) runs on; when it exits, this
/// process, its parent, reaps it and records its status (nobody restarts it).
async fn reap_when_it_exits(ctx: Arc<Context>, live: Live) {
    let exit = live.group.leader_exit().await;
    let Ok(held) = ctx.store.lock(&live.plan.key).await else {
        return;
    };
    let (pid, start_time) = (live.pid, live.start_time);
    let _ = ctx
        .store
        .update(&live.plan.key, held, move |current| match current {
            Some(r)
                if r.names(pid, start_time)
                    && matches!(r.state, RecordState::Starting | RecordState::Ready) =>
            {
                let failure = failure_of(&exit, RestartVerdict::No, false);
                let mut next = r.clone();
                next.generation += 1;
                next.state = RecordState::Exited { exit, failure };
                (Change::Write(Box::new(next)), ())
            }
            _ => (Change::Keep, ()),
        })
        .await;
}
