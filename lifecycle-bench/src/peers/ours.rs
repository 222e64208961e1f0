//! This library as one of the managers compared: a `DaemonManager` in this process, the
//! daemons as typed handles over the benchmark's specs (same flags as the peers').

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use lifecycle_core::{DaemonManager, Lifecycle};

use crate::handles::{Fast, Http, PeerReady, Stubborn};
use crate::peers::kind::{Daemon, Kind};
use crate::peers::manager::{Error, Manager, Peer, Usage};
use crate::peers::proc_usage;

pub(crate) struct Ours;

struct Running {
    runtime: tokio::runtime::Runtime,
    manager: DaemonManager,
    handles: HashMap<String, Box<dyn Lifecycle + Send + Sync>>,
    pids: HashMap<String, u32>,
}

impl Peer for Ours {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn is_ours(&self) -> bool {
        true
    }

    fn configuration(&self) -> String {
        "a `DaemonManager` on a 2-worker tokio runtime; the specs in `lifecycle-bench/specs/`: \
         `http.yaml` (stop), `stubborn.yaml` (SIGTERM, grace 1 s), `peer_ready.yaml` (TCP probe \
         every 10 ms), `fast.yaml` (many daemons, HTTP probe 20 ms doubling to 200 ms)"
            .to_owned()
    }

    fn launch(
        &self,
        binary: &str,
        dir: &Path,
        daemons: &[Daemon],
        _grace: Duration,
    ) -> Result<Box<dyn Manager>, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let manager = DaemonManager::builder()
            .state_dir(dir.join("state"))
            .stop_on_drop(true)
            .build()?;
        let log_dir = dir.join("logs").to_string_lossy().into_owned();
        let handles = daemons
            .iter()
            .map(|d| (d.name.clone(), handle(binary, &log_dir, d)))
            .collect();
        Ok(Box::new(Running {
            runtime,
            manager,
            handles,
            pids: HashMap::new(),
        }))
    }
}

/// The typed handle that runs `daemon` (the grace of each spec is the comparison's: 1 s where
/// a grace is reached).
fn handle(binary: &str, log_dir: &str, daemon: &Daemon) -> Box<dyn Lifecycle + Send + Sync> {
    let (binary, id, log_dir) = (binary.to_owned(), daemon.name.clone(), log_dir.to_owned());
    match &daemon.kind {
        Kind::Exit50 { port } => Box::new(Http {
            binary,
            id,
            port: *port,
            ready_after: 0,
            ready_file: format!("{log_dir}/{}.ready", daemon.name),
            exit_after_sigterm: 50,
            log_dir,
        }),
        Kind::Stubborn {
            port,
            grandchild_file,
        } => Box::new(Stubborn {
            binary,
            id,
            port: *port,
            grandchild_file: grandchild_file.clone(),
            log_dir,
        }),
        Kind::ReadyLate {
            port,
            after_ms,
            ready_file,
        } => Box::new(PeerReady {
            binary,
            id,
            port: *port,
            ready_after: *after_ms,
            ready_file: ready_file.clone(),
            log_dir,
        }),
        Kind::Plain { port } => Box::new(Fast {
            binary,
            id,
            port: *port,
            log_dir,
        }),
    }
}

impl Running {
    fn handle(&self, name: &str) -> Result<&(dyn Lifecycle + Send + Sync), Error> {
        self.handles
            .get(name)
            .map(|h| h.as_ref())
            .ok_or_else(|| format!("no daemon {name}").into())
    }

    /// Runs `futures` at once, each a task of the runtime; their results in order, or the
    /// first error.
    fn at_once<F, T, E>(&self, futures: Vec<F>) -> Result<Vec<T>, Error>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<Error> + Send + 'static,
    {
        let runtime = &self.runtime;
        runtime.block_on(async {
            let tasks: Vec<_> = futures.into_iter().map(|f| runtime.spawn(f)).collect();
            let mut all = Vec::new();
            for task in tasks {
                all.push(task.await?.map_err(Into::into)?);
            }
            Ok(all)
        })
    }

    /// Starts these at once; returns when all are ready.
    fn up(&mut self, names: &[&str]) -> Result<(), Error> {
        let starts = names
            .iter()
            .map(|n| Ok(self.manager.ensure_running(self.handle(n)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let running = self.at_once(starts)?;
        for (name, running) in names.iter().zip(running) {
            self.pids.insert((*name).to_owned(), running.pid);
        }
        Ok(())
    }

    /// Stops these at once; returns when all are gone.
    fn down(&mut self, names: &[&str]) -> Result<(), Error> {
        let stops = names
            .iter()
            .map(|n| Ok(self.manager.stop(self.handle(n)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        self.at_once(stops).map(drop)
    }

    fn names(&self) -> Vec<String> {
        self.handles.keys().cloned().collect()
    }
}

impl Manager for Running {
    fn start(&mut self, names: &[&str]) -> Result<(), Error> {
        self.up(names)
    }

    fn start_all(&mut self) -> Result<(), Error> {
        let names = self.names();
        self.up(&names.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn stop(&mut self, names: &[&str]) -> Result<(), Error> {
        self.down(names)
    }

    fn stop_all(&mut self) -> Result<(), Error> {
        let names = self.names();
        self.down(&names.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn pid(&mut self, name: &str) -> Result<u32, Error> {
        self.pids
            .get(name)
            .copied()
            .ok_or_else(|| format!("{name} was not started").into())
    }

    /// This whole process (the comparison's many-daemon figures run ours in a process of its
    /// own instead).
    fn usage(&self) -> Result<Usage, Error> {
        proc_usage::of_process(std::process::id())
    }

    fn shutdown(mut self: Box<Self>) -> Result<(), Error> {
        self.stop_all()
    }
}
