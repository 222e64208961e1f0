//! Stopping a daemon on another host: the one this owner has, or the one the record there names
//! (over a connection made now if need be). An HTTP step is sent from here first (the spec
//! allows one only as the first step), the rest of its grace waited there; the signals run
//! inside the host in one round trip; the record there goes once nothing of the group is left.
//! A stop that could not reach the host leaves the daemon as it was: still this owner's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::daemon::actor::{Actor, Phase, StopReply};
use crate::daemon::chain::KILL_CONFIRM;
use crate::plan::{ChainOverride, Plan, StopPlan};
use crate::remote::RemoteError;
use crate::remote::connection::Connection;
use crate::remote::ops::{self, StopAnswer};
use crate::state::Event;
use crate::store::state_dir::file_name;
use crate::{StopError, Stopped};

use super::{RemoteLive, destination, remote_steps};

/// What a stop stops: the process and how.
struct Target {
    /// The daemon this owner had, given back if the stop cannot reach the host.
    owned: Option<Box<RemoteLive>>,
    connection: Arc<Connection>,
    pid: u32,
    start_time: u64,
    chain: Vec<StopPlan>,
}

impl Actor {
    pub(in crate::daemon) async fn remote_stop(
        &mut self,
        plan: Option<Arc<Plan>>,
        steps: Option<ChainOverride>,
        reply: StopReply,
    ) {
        let answer = self.remote_stop_work(plan, steps).await;
        let _ = reply.send(answer);
    }

    fn stop_error(&self, source: RemoteError) -> StopError {
        StopError::Remote {
            daemon: self.key.clone(),
            source,
        }
    }

    async fn remote_stop_work(
        &mut self,
        plan: Option<Arc<Plan>>,
        steps: Option<ChainOverride>,
    ) -> Result<Stopped, StopError> {
        let owned = match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Remote(live) => Some(live),
            other => {
                self.phase = other;
                None
            }
        };
        let target = match owned {
            Some(live) => match self.connect(&live.destination).await {
                Ok(connection) => Target {
                    connection,
                    pid: live.pid,
                    start_time: live.start_time,
                    chain: ChainOverride::apply(steps, live.plan.stop.clone()),
                    owned: Some(live),
                },
                Err(err) => {
                    // Nothing was done: the daemon is still this owner's.
                    self.phase = Phase::Remote(live);
                    return Err(self.stop_error(err));
                }
            },
            None => match self.recorded_target(plan, steps).await? {
                Ok(target) => target,
                Err(outcome) => return Ok(outcome),
            },
        };
        self.run_remote_chain(target).await
    }

    /// The process the record there names, found by a fresh look (this owner has none): a
    /// live one to stop, or the outcome when there is none (a stale record is removed).
    async fn recorded_target(
        &mut self,
        plan: Option<Arc<Plan>>,
        steps: Option<ChainOverride>,
    ) -> Result<Result<Target, Stopped>, StopError> {
        let key = self.key.clone();
        let not_running = || Stopped::NotRunning { key: key.clone() };
        let Some(destination) = plan.as_deref().and_then(destination) else {
            return Ok(Err(not_running()));
        };
        let connection = self
            .connect(&destination)
            .await
            .map_err(|e| self.stop_error(e))?;
        let name = file_name(&self.key);
        let found = ops::status(&connection, &name)
            .await
            .map_err(|e| self.stop_error(e))?;
        match found {
            None => {
                self.point(None).await;
                Ok(Err(not_running()))
            }
            Some((record, ops::Liveness::Live)) => {
                // Followed from here on: the machine learns it runs (and then that it stops).
                self.note(Event::Adopted { pid: record.pid });
                // A record's chain is a claim of that host: its signals are taken, not an HTTP
                // step (a URL from there is not sent from here).
                let chain = ChainOverride::apply(
                    steps,
                    StopPlan::signals_of(&StopPlan::from_record(&record.stop)),
                );
                Ok(Ok(Target {
                    owned: None,
                    connection,
                    pid: record.pid,
                    start_time: record.start_time,
                    chain,
                }))
            }
            Some((record, liveness)) => {
                let _ = ops::remove(&connection, &name, record.pid, record.start_time).await;
                self.point(None).await;
                Ok(Err(Stopped::StaleRecord {
                    key: self.key.clone(),
                    pid: record.pid,
                    reason: match liveness {
                        ops::Liveness::OtherBoot => {
                            "the record is of another boot of the host".to_owned()
                        }
                        _ => "the recorded process is gone".to_owned(),
                    },
                }))
            }
        }
    }

    /// Runs `target`'s chain; removes its record once nothing of it is left.
    async fn run_remote_chain(&mut self, target: Target) -> Result<Stopped, StopError> {
        let Target {
            owned,
            connection,
            pid,
            start_time,
            chain,
        } = target;
        let begun = Instant::now();
        // The HTTP step (first, if any) from here — through a forward of the connection when
        // the spec probes from the host; what is left of its grace is waited there.
        let mut posted = Duration::ZERO;
        if let Some(StopPlan::HttpPost { url, grace }) = chain.first() {
            let sent = match &owned {
                Some(live) => super::probe_here(
                    &connection,
                    &live.plan,
                    &crate::plan::ProbePlan::Http { url: url.clone() },
                )
                .await
                .ok(),
                None => None,
            };
            if let Some((crate::plan::ProbePlan::Http { url }, _forward)) = sent {
                let post = self.ctx.client.post(&url).send();
                if let Ok(Err(err)) = tokio::time::timeout(*grace, post).await {
                    tracing::warn!(parent: self.machine.span(), %url, %err, "shutdown request failed; going on with the next step");
                }
            }
            posted = begun.elapsed();
        }
        let mut steps = remote_steps(&chain);
        if let (Some(StopPlan::HttpPost { .. }), Some(first)) = (chain.first(), steps.first_mut()) {
            first.grace = first.grace.saturating_sub(posted);
        }
        let answer = match ops::stop(&connection, pid, start_time, &steps, KILL_CONFIRM).await {
            Ok(answer) => answer,
            Err(err) => {
                // Not known to be stopped: still this owner's, its exit still watched.
                if let Some(live) = owned {
                    self.phase = Phase::Remote(live);
                }
                return Err(self.stop_error(err));
            }
        };
        let name = file_name(&self.key);
        self.publish_remote();
        if !matches!(answer, StopAnswer::Alive) {
            self.point(None).await;
        }
        // Told once the host answered: a stop that could not reach it left the daemon as it was.
        self.note(Event::Stop);
        if !matches!(answer, StopAnswer::Alive) {
            self.note(Event::Gone);
            let _ = ops::remove(&connection, &name, pid, start_time).await;
        }
        match answer {
            StopAnswer::Gone { killed } => Ok(Stopped::Stopped {
                key: self.key.clone(),
                pid,
                elapsed: begun.elapsed(),
                killed,
            }),
            StopAnswer::NotOurs => Ok(Stopped::StaleRecord {
                key: self.key.clone(),
                pid,
                reason: "the recorded PID belongs to another process now; nothing was signalled"
                    .to_owned(),
            }),
            StopAnswer::Alive => {
                self.note(Event::KillFailed { members: vec![pid] });
                Err(StopError::StillAlive {
                    daemon: self.key.clone(),
                    pid,
                    members: vec![pid],
                })
            }
        }
    }
}
