//! The daemon manager: the state directory, the locks, one shared HTTP client, the daemons this
//! process knows, and the event bus.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::broadcast;

use crate::events::{Machine, Transition};
use crate::exit::ExitWatch;
use crate::lock::Locks;
use crate::pidfd::PidFd;
use crate::plan::Plan;
use crate::state_dir::{StateDir, StateDirError, default_root};
use crate::stop::Target;
use crate::{
    Event, Lifecycle, PlanError, Restart, Running, StartError, State, Status, StopError, Stopped,
};

/// Runs daemons: spawns them, waits until they are ready, adopts them, stops them.
///
/// One manager serves any number of daemons; it is cheap to clone (a shared handle). Handles'
/// own methods (`queen.ensure_running()`) use [`DaemonManager::global`].
///
/// ```no_run
/// use lifecycle_core::{DaemonManager, Lifecycle};
///
/// #[derive(Lifecycle)]
/// #[lifecycle(spec = "../specs/queen.yaml")]
/// struct QueenHandle { port: u16 }
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = DaemonManager::builder().state_dir("/tmp/lifecycle-demo").build()?;
/// let queen = QueenHandle { port: 7833 };
/// let running = manager.ensure_running(&queen).await?;
/// println!("queen pid {} ready after {:?}", running.pid, running.elapsed);
/// manager.stop(&queen).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DaemonManager {
    pub(crate) inner: Arc<Inner>,
}

/// Configures a [`DaemonManager`].
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let manager = lifecycle_core::DaemonManager::builder().state_dir(dir.path()).stop_on_drop(true).build().unwrap();
/// assert_eq!(manager.state_dir(), dir.path());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManagerBuilder {
    state_dir: Option<PathBuf>,
    stop_on_drop: bool,
}

impl ManagerBuilder {
    /// The state directory (records, locks, default logs). Default: `$LIFECYCLE_STATE_DIR`,
    /// else `$XDG_STATE_HOME/lifecycle`, else `~/.local/state/lifecycle`.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let builder = lifecycle_core::DaemonManager::builder().state_dir(dir.path());
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> ManagerBuilder {
        self.state_dir = Some(dir.into());
        self
    }

    /// Kill (SIGKILL, whole process group) every daemon this manager spawned when it is dropped.
    /// Off by default: daemons outlive their manager. For tests and embedded use.
    ///
    /// ```
    /// let builder = lifecycle_core::DaemonManager::builder().stop_on_drop(true);
    /// # let _ = builder;
    /// ```
    #[must_use]
    pub fn stop_on_drop(mut self, stop: bool) -> ManagerBuilder {
        self.stop_on_drop = stop;
        self
    }

    /// Creates the state directory (mode 0700) and the manager.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let manager = lifecycle_core::DaemonManager::builder().state_dir(dir.path()).build().unwrap();
    /// assert!(manager.state_dir().join("daemons").is_dir());
    /// ```
    pub fn build(self) -> Result<DaemonManager, ManagerError> {
        let root = self.state_dir.unwrap_or_else(default_root);
        let state = StateDir::open(&root)?;
        let locks = Locks::open(&state.lock_file()).map_err(|source| StateDirError {
            path: state.lock_file(),
            source,
        })?;
        // Probes go to loopback or the daemon's own host: no proxy from the environment.
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(ManagerError::HttpClient)?;
        let (bus, _) = broadcast::channel(4096);
        Ok(DaemonManager {
            inner: Arc::new(Inner {
                state,
                locks,
                client,
                bus,
                daemons: Mutex::new(HashMap::new()),
                stop_on_drop: self.stop_on_drop,
            }),
        })
    }
}

/// What a manager holds.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) state: StateDir,
    pub(crate) locks: Locks,
    pub(crate) client: reqwest::Client,
    pub(crate) bus: broadcast::Sender<Transition>,
    pub(crate) daemons: Mutex<HashMap<String, Arc<Daemon>>>,
    stop_on_drop: bool,
}

/// A daemon this process knows about.
#[derive(Debug)]
pub(crate) struct Daemon {
    pub(crate) key: String,
    pub(crate) machine: Machine,
    pub(crate) live: Mutex<Option<Live>>,
    /// A requested stop is under way: an exit now is not a failure and is not restarted.
    pub(crate) stopping: AtomicBool,
}

/// The process of a daemon this process runs or has adopted.
#[derive(Clone, Debug)]
pub(crate) struct Live {
    pub(crate) pid: u32,
    /// With the PID and the boot, the process's identity.
    pub(crate) start_time: u64,
    pub(crate) pgid: u32,
    /// A pidfd on the leader: signals reach its group even after it was reaped.
    pub(crate) pidfd: Arc<PidFd>,
    pub(crate) exit: ExitWatch,
    /// A child of this process (else adopted from a record).
    pub(crate) child: bool,
    pub(crate) log: PathBuf,
    pub(crate) since: Instant,
    pub(crate) plan: Arc<Plan>,
}

impl Live {
    /// What a stop of this process works on.
    pub(crate) fn target(&self) -> Target {
        Target {
            pid: self.pid,
            pgid: self.pgid,
            exit: self.exit.clone(),
            leader: Some(self.pidfd.clone()),
        }
    }

    /// Whether `record` names this very process.
    pub(crate) fn is_recorded_by(&self, record: &crate::Record) -> bool {
        record.pid == self.pid && record.start_time == self.start_time
    }
}

/// Sets a daemon's `stopping` flag for as long as it lives: even a panic clears it.
pub(crate) struct Stopping<'a>(&'a AtomicBool);

impl<'a> Stopping<'a> {
    pub(crate) fn begin(flag: &'a AtomicBool) -> Stopping<'a> {
        flag.store(true, Ordering::SeqCst);
        Stopping(flag)
    }
}

impl Drop for Stopping<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Daemon {
    pub(crate) fn live(&self) -> Option<Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set_live(&self, live: Option<Live>) {
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = live;
    }

    /// The live process, if it has not exited.
    pub(crate) fn running(&self) -> Option<Live> {
        self.live().filter(|l| l.exit.borrow().is_none())
    }

    /// Takes over an exit that happened while another holder had the lock (before the watcher
    /// could): the state machine learns it (no restart: the lock holder decides what comes
    /// next), and the watcher, finding the process no longer current, stands down. Returns the
    /// exited process: what it left in its group is the caller's to sweep.
    pub(crate) fn settle_exit(&self) -> Option<Live> {
        let live = self.live()?;
        let exit = live.exit.borrow().clone()?;
        self.set_live(None);
        if matches!(self.machine.state(), State::Starting | State::Ready) {
            let _ = self.machine.apply(Event::Exited {
                status: exit.to_string(),
                success: exit.success(),
                restart: Restart::No,
            });
        }
        Some(live)
    }
}

impl Inner {
    /// The entry for `key`, created on first use.
    pub(crate) fn daemon(&self, key: &str) -> Arc<Daemon> {
        let mut daemons = self.daemons.lock().unwrap_or_else(|p| p.into_inner());
        daemons
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Daemon {
                    key: key.to_owned(),
                    machine: Machine::new(key, self.bus.clone()),
                    live: Mutex::new(None),
                    stopping: AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// The entry for `key`, if this process knows it.
    pub(crate) fn known(&self, key: &str) -> Option<Arc<Daemon>> {
        self.daemons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// Runs a start as a task of its own: a caller that stops waiting (a timeout, a dropped
    /// future) does not cut it short halfway, with a process spawned and nobody watching it.
    pub(crate) async fn start_detached(
        self: &Arc<Self>,
        plan: Arc<Plan>,
        mode: crate::ensure::Mode,
    ) -> Result<Running, StartError> {
        let daemon = plan.key.clone();
        tokio::spawn(self.clone().ensure(plan, mode))
            .await
            .map_err(|e| StartError::Task {
                daemon,
                message: e.to_string(),
            })?
    }

    /// Runs a stop as a task of its own (see [`Inner::start_detached`]).
    pub(crate) async fn stop_detached(
        self: &Arc<Self>,
        key: String,
        steps: Option<Vec<crate::plan::StopPlan>>,
    ) -> Result<Stopped, StopError> {
        let inner = self.clone();
        let daemon = key.clone();
        tokio::spawn(async move { inner.stop_key(&key, steps, &[]).await })
            .await
            .map_err(|e| StopError::Task {
                daemon,
                message: e.to_string(),
            })?
    }

    /// The key of the daemon of ours whose leader is `pid`: one this process runs, or one a
    /// record names (and that is still the recorded process).
    pub(crate) fn key_of_pid(&self, pid: u32) -> Option<String> {
        if let Some(daemon) = self
            .all_daemons()
            .into_iter()
            .find(|d| d.running().is_some_and(|l| l.pid == pid))
        {
            return Some(daemon.key.clone());
        }
        crate::record::read_all(&self.state.records())
            .into_iter()
            .find(|r| r.pid == pid && matches!(r.liveness(), crate::record::Liveness::Alive(_)))
            .map(|r| r.key)
    }

    pub(crate) fn all_daemons(&self) -> Vec<Arc<Daemon>> {
        self.daemons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.stop_on_drop {
            return;
        }
        // What this manager spawned; adopted daemons were started by someone else.
        for daemon in self.all_daemons() {
            let Some(live) = daemon.running().filter(|l| l.child) else {
                continue;
            };
            crate::stop::signal_group(&live.target(), nix::sys::signal::Signal::SIGKILL);
            // SIGKILL cannot be caught: the wait is short.
            crate::exit::reap_child(live.pid);
            let _ = crate::record::remove(&self.state.record(&daemon.key));
        }
    }
}

/// A manager could not be made.
///
/// ```
/// let err = lifecycle_core::DaemonManager::builder().state_dir("/proc/no/such/dir").build().unwrap_err();
/// assert!(err.to_string().contains("/proc/no/such/dir"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The state directory is not usable.
    #[error(transparent)]
    StateDir(#[from] StateDirError),
    /// The HTTP client for probes could not be built.
    #[error("cannot build the HTTP client for probes: {0}")]
    HttpClient(reqwest::Error),
}

static GLOBAL: OnceLock<DaemonManager> = OnceLock::new();

/// The plan of a handle.
pub(crate) fn plan_of<H: Lifecycle + ?Sized>(handle: &H) -> Result<Plan, PlanError> {
    Plan::new(handle.spec(), &|name| handle.value(name))
}

impl DaemonManager {
    /// A builder with the defaults.
    ///
    /// ```
    /// let builder = lifecycle_core::DaemonManager::builder().stop_on_drop(true);
    /// # let _ = builder;
    /// ```
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// The process-wide manager the handles' own methods use: the one given to
    /// [`DaemonManager::set_global`], else one with the default state directory, made on first use.
    ///
    /// ```
    /// # fn demo() -> Result<(), lifecycle_core::ManagerError> {
    /// let manager = lifecycle_core::DaemonManager::global()?;
    /// println!("state in {}", manager.state_dir().display());
    /// # Ok(()) }
    /// ```
    pub fn global() -> Result<&'static DaemonManager, ManagerError> {
        if let Some(manager) = GLOBAL.get() {
            return Ok(manager);
        }
        let manager = DaemonManager::builder().build()?;
        Ok(GLOBAL.get_or_init(|| manager))
    }

    /// Makes `manager` the global one. Fails (giving it back) if the global manager is already set
    /// or was already used.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let manager = lifecycle_core::DaemonManager::builder().state_dir(dir.path()).build().unwrap();
    /// assert!(lifecycle_core::DaemonManager::set_global(manager).is_ok());
    /// assert_eq!(lifecycle_core::DaemonManager::global().unwrap().state_dir(), dir.path());
    /// ```
    pub fn set_global(manager: DaemonManager) -> Result<(), DaemonManager> {
        GLOBAL.set(manager)
    }

    /// The state directory.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let manager = lifecycle_core::DaemonManager::builder().state_dir(dir.path()).build().unwrap();
    /// assert_eq!(manager.state_dir(), dir.path());
    /// ```
    pub fn state_dir(&self) -> &Path {
        self.inner.state.root()
    }

    /// Every transition of every daemon of this manager, from now on.
    ///
    /// ```
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) {
    /// let mut events = manager.subscribe();
    /// if let Ok(t) = events.recv().await {
    ///     println!("{}: {} -> {}", t.daemon, t.from, t.to);
    /// }
    /// # }
    /// ```
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.inner.bus.subscribe()
    }

    /// Finds `binary` in the workspace's `target/release` or `target/debug` (the newer build
    /// wins), the workspace being the nearest directory with a `Cargo.lock` above the current
    /// directory or the running program.
    ///
    /// ```
    /// assert_eq!(lifecycle_core::DaemonManager::find_in_target("no-such-binary-here"), None);
    /// ```
    pub fn find_in_target(binary: &str) -> Option<PathBuf> {
        crate::binary::find_in_target(binary)
    }

    /// Makes sure the handle's daemon runs and is ready: its dependencies first; then, under
    /// the daemon's lock (held across processes), adopts a healthy daemon recorded as ours, or
    /// spawns one and waits for readiness. Any number of concurrent calls spawn it once.
    ///
    /// ```
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::StartError> {
    /// let running = manager.ensure_running(&QueenHandle { port: 7833 }).await?;
    /// println!("pid {} ({})", running.pid, if running.started { "started" } else { "already running" });
    /// # Ok(()) }
    /// ```
    pub fn ensure_running<H: Lifecycle + ?Sized>(
        &self,
        handle: &H,
    ) -> impl Future<Output = Result<Running, StartError>> + Send + 'static {
        let (inner, plan) = (self.inner.clone(), plan_of(handle));
        async move {
            inner
                .start_detached(Arc::new(plan?), crate::ensure::Mode::Ensure)
                .await
        }
    }

    /// Starts the handle's daemon; fails with [`StartError::AlreadyRunning`] if it runs.
    ///
    /// ```
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) {
    /// match manager.start(&QueenHandle { port: 7833 }).await {
    ///     Err(lifecycle_core::StartError::AlreadyRunning { pid, .. }) => println!("already running: {pid}"),
    ///     other => println!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub fn start<H: Lifecycle + ?Sized>(
        &self,
        handle: &H,
    ) -> impl Future<Output = Result<Running, StartError>> + Send + 'static {
        let (inner, plan) = (self.inner.clone(), plan_of(handle));
        async move {
            inner
                .start_detached(Arc::new(plan?), crate::ensure::Mode::Start)
                .await
        }
    }

    /// Stops the daemons that depend on the handle's daemon (in reverse order), then the daemon:
    /// its stop chain, SIGKILL to its process group after the last grace, returning as soon as
    /// nothing of the group is left.
    ///
    /// ```
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::StopError> {
    /// if let lifecycle_core::Stopped::Stopped { elapsed, killed, .. } = manager.stop(&QueenHandle { port: 7833 }).await? {
    ///     println!("gone after {elapsed:?}{}", if killed { " (SIGKILL)" } else { "" });
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stop<H: Lifecycle + ?Sized>(
        &self,
        handle: &H,
    ) -> impl Future<Output = Result<Stopped, StopError>> + Send + 'static {
        let (inner, plan) = (self.inner.clone(), plan_of(handle));
        async move {
            let plan = plan?;
            inner
                .stop_detached(plan.key.clone(), Some(plan.stop.clone()))
                .await
        }
    }

    /// The daemon's state, PID and health now.
    ///
    /// ```
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::PlanError> {
    /// let status = manager.status(&QueenHandle { port: 7833 }).await?;
    /// println!("{} pid {:?} healthy {:?}", status.state, status.pid, status.healthy);
    /// # Ok(()) }
    /// ```
    pub fn status<H: Lifecycle + ?Sized>(
        &self,
        handle: &H,
    ) -> impl Future<Output = Result<Status, PlanError>> + Send + 'static {
        let (inner, plan) = (self.inner.clone(), plan_of(handle));
        async move { Ok(inner.status(&plan?).await) }
    }

    /// Whether the daemon runs and its probe passes now.
    ///
    /// ```
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) {
    /// if !manager.is_healthy(&QueenHandle { port: 7833 }).await {
    ///     println!("the queen is down");
    /// }
    /// # }
    /// ```
    pub fn is_healthy<H: Lifecycle + ?Sized>(
        &self,
        handle: &H,
    ) -> impl Future<Output = bool> + Send + 'static {
        let (inner, plan) = (self.inner.clone(), plan_of(handle));
        async move {
            match plan {
                Ok(plan) => inner.status(&plan).await.healthy == Some(true),
                Err(_) => false,
            }
        }
    }

    /// Stops the daemon recorded under `key` (its name, or `name@instance`), by its record:
    /// never by process name.
    ///
    /// ```
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::StopError> {
    /// manager.stop_by_key("vllm@8080").await?;
    /// # Ok(()) }
    /// ```
    pub async fn stop_by_key(&self, key: &str) -> Result<Stopped, StopError> {
        self.inner.stop_detached(key.to_owned(), None).await
    }
}
