//! `status` and `is_healthy`: what this process knows, else what the record says, and one probe.

use std::sync::Arc;

use crate::manager::Inner;
use crate::plan::Plan;
use crate::record::{self, Liveness};
use crate::{State, Status, probe};

impl Inner {
    pub(crate) async fn status(self: &Arc<Self>, plan: &Plan) -> Status {
        let mut status = Status {
            key: plan.key.clone(),
            state: State::Stopped,
            pid: None,
            healthy: None,
            stale: None,
        };
        if let Some(daemon) = self.known(&plan.key) {
            status.state = daemon.machine.state();
            status.pid = daemon.running().map(|l| l.pid);
        }
        if status.pid.is_none() {
            match record::read(&self.state.record(&plan.key)) {
                Ok(Some(recorded)) => match recorded.liveness() {
                    Liveness::Alive(_) => {
                        // Running under another process's (or an earlier) manager.
                        status.state = State::Ready;
                        status.pid = Some(recorded.pid);
                    }
                    Liveness::Gone => {
                        status.stale = Some(format!("recorded pid {} is gone", recorded.pid))
                    }
                    Liveness::Reused { .. } => {
                        status.stale = Some(format!(
                            "recorded pid {} now belongs to another process",
                            recorded.pid
                        ));
                    }
                },
                Ok(None) => {}
                Err(err) => status.stale = Some(err.to_string()),
            }
        }
        if status.pid.is_some() && status.state == State::Ready {
            status.healthy = Some(match &plan.readiness {
                Some(r) if !r.probe.is_event() => {
                    probe::attempt(&self.client, &r.probe, r.attempt_timeout)
                        .await
                        .is_ok()
                }
                // No probe to repeat (none, notify, log line): alive counts as healthy.
                _ => true,
            });
        }
        status
    }
}
