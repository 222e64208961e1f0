//! The daemons of one manager: one owner task each, made on first use; starts with their
//! dependencies first, stops with their dependents first (independent dependents concurrently,
//! each still after whatever depends on it), status.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use lifecycle_spec::WaitFor;

use crate::daemon::{Context, DaemonRef, Mode, Until};
use crate::plan::{ChainOverride, Plan};
use crate::process::identity::{self, Liveness};
use crate::{Running, StartError, Status, StopError, Stopped};

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a manager holds: the context its daemons' owners share, and the owners.
#[derive(Debug)]
pub(crate) struct Fleet {
    pub(crate) ctx: Arc<Context>,
    owners: Mutex<HashMap<String, Arc<DaemonRef>>>,
}

impl Fleet {
    pub(crate) fn new(ctx: Context) -> Fleet {
        Fleet {
            ctx: Arc::new(ctx),
            owners: Mutex::new(HashMap::new()),
        }
    }

    /// The owner of daemon `key`, started on first use — and again if the one there is gone
    /// (the runtime it ran on shut down: a caller that makes a runtime per call).
    fn owner(&self, key: &str) -> Arc<DaemonRef> {
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(owner) = owners.get(key)
            && owner.is_alive()
        {
            return owner.clone();
        }
        let owner = Arc::new(DaemonRef::spawn(key, self.ctx.clone()));
        owners.insert(key.to_owned(), owner.clone());
        owner
    }

    /// The owner of daemon `key`, if there is one that runs.
    pub(crate) fn known(&self, key: &str) -> Option<Arc<DaemonRef>> {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|d| d.is_alive())
            .cloned()
    }

    /// Every owner that runs.
    fn all(&self) -> Vec<(String, Arc<DaemonRef>)> {
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, d)| d.is_alive())
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect()
    }

    /// Makes sure `plan`'s daemon runs: its dependencies first (until healthy, or only spawned
    /// for `wait: started`), then itself (`until`).
    pub(crate) fn ensure(
        self: Arc<Self>,
        plan: Arc<Plan>,
        mode: Mode,
        until: Until,
    ) -> Boxed<Result<Running, StartError>> {
        Box::pin(async move {
            for (dependency, wait) in &plan.dependencies {
                let until = match wait {
                    WaitFor::Healthy => Until::Ready,
                    WaitFor::Started => Until::Spawned,
                };
                self.clone()
                    .ensure(Arc::new(dependency.clone()), Mode::Ensure, until)
                    .await
                    .map_err(|source| StartError::Dependency {
                        daemon: plan.key.clone(),
                        dependency: dependency.key.clone(),
                        source: Box::new(source),
                    })?;
            }
            self.owner(&plan.key).ensure(plan, mode, until).await
        })
    }

    /// The keys of the running daemons that depend on `key`: from the markers every process
    /// leaves (each confirmed by its daemon's record) and from this manager's owners.
    async fn dependents_of(&self, key: &str) -> std::io::Result<Vec<String>> {
        let mut keys = self.ctx.store.marked_dependents(key).await?;
        for (dependent, owner) in self.owners.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            if owner.is_alive() && owner.depends_on(key) && !keys.contains(dependent) {
                keys.push(dependent.clone());
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Stops daemon `key`, whatever depends on it first (each dependent after its own
    /// dependents; independent ones concurrently). `steps`: what replaces the daemon's chain, or its
    /// graces. `path`: the keys being stopped above this one (a cycle of markers ends there).
    pub(crate) fn stop(
        self: Arc<Self>,
        key: String,
        steps: Option<ChainOverride>,
        path: Vec<String>,
        remote: Option<Arc<Plan>>,
    ) -> Boxed<Result<Stopped, StopError>> {
        Box::pin(async move {
            let mut below = path;
            below.push(key.clone());
            let mut dependents = tokio::task::JoinSet::new();
            let found = self
                .dependents_of(&key)
                .await
                .map_err(|source| StopError::Record {
                    daemon: key.clone(),
                    source: crate::store::record::RecordError::Io {
                        path: self.ctx.store.dir().root().join("dependents"),
                        source,
                    },
                })?;
            for dependent in found {
                if below.contains(&dependent) {
                    continue;
                }
                let stop = self
                    .clone()
                    .stop(dependent.clone(), None, below.clone(), None);
                dependents.spawn(async move { (dependent, stop.await) });
            }
            // Dropping the set (an error, or the caller giving up) aborts what is left of the
            // walk; each stop already asked for is its owner's and ends.
            while let Some(joined) = dependents.join_next().await {
                let (dependent, result) = joined.map_err(|e| StopError::Task {
                    daemon: key.clone(),
                    message: e.to_string(),
                })?;
                result.map_err(|source| StopError::Dependent {
                    daemon: key.clone(),
                    dependent,
                    source: Box::new(source),
                })?;
            }
            self.owner(&key).stop(&key, steps, remote).await
        })
    }

    /// The daemon's state, PID and health now.
    pub(crate) async fn status(&self, plan: &Plan) -> Status {
        let snapshot = self.known(&plan.key).map(|d| d.snapshot());
        crate::daemon::status::status(&self.ctx, snapshot, plan).await
    }

    /// The key of the daemon of ours whose leader is `pid`: one this manager runs, or one a
    /// record names (and that is still the recorded process).
    pub(crate) async fn key_of_pid(&self, pid: u32) -> Option<String> {
        if let Some((key, _)) = self
            .all()
            .into_iter()
            .find(|(_, d)| d.snapshot().pid == Some(pid))
        {
            return Some(key);
        }
        self.ctx
            .store
            .all_records()
            .await
            .into_iter()
            .find(|r| {
                r.pid == pid
                    && matches!(
                        identity::check(r.pid, r.start_time, &r.boot_id),
                        Ok(Liveness::Alive(_))
                    )
            })
            .map(|r| r.key)
    }
}
