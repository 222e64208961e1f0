//! The daemon manager: the public face over the daemons of one state directory — their
//! owners, the shared HTTP client, the event bus — and the process-wide global manager.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::daemon::{Context, Mode, Until};
use crate::events::Transition;
use crate::fleet::Fleet;
use crate::plan::PlanError;
use crate::plan::{ChainOverride, Plan};
use crate::process::proc_stat;
use crate::store::Store;
use crate::store::state_dir::default_root;
use crate::{Lifecycle, ManagerError, Running, StartError, Status, StopError, Stopped};

/// How long a manager waits by default for a daemon's lock held by another process.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs daemons: spawns them, waits until they are ready, adopts them, stops them.
///
/// One manager serves any number of daemons, one owner task each; it is cheap to clone (a
/// shared handle). Handles' own methods (`queen.ensure_running()`) use
/// [`DaemonManager::global`].
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
    pub(crate) fleet: Arc<Fleet>,
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
    lock_timeout: Option<Duration>,
    ssh: crate::remote::connection::Settings,
}

impl ManagerBuilder {
    /// The state directory (records, locks, default logs). Default: `$LIFECYCLE_STATE_DIR`,
    /// else `$XDG_STATE_HOME/lifecycle`, else `$HOME/.local/state/lifecycle` (an error if none
    /// is set). It must be the user's own: it and its parents (up to the home directory or a
    /// root-owned directory) owned by the effective user and not writable by group or others.
    #[must_use]
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> ManagerBuilder {
        self.state_dir = Some(dir.into());
        self
    }

    /// Kill (SIGKILL, whole process group) every daemon this manager spawned when it is dropped
    /// (or when the runtime it runs on shuts down). Off by default: daemons outlive their
    /// manager. For tests and embedded use.
    #[must_use]
    pub fn stop_on_drop(mut self, stop: bool) -> ManagerBuilder {
        self.stop_on_drop = stop;
        self
    }

    /// How long an operation waits for a daemon's lock held by another process (default 30 s).
    /// The lock guards short steps only (reading and writing the daemon's record), so a long
    /// wait means a stuck process.
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> ManagerBuilder {
        self.lock_timeout = Some(timeout);
        self
    }

    /// An OpenSSH client configuration file for connections to remote hosts (`ssh -F`), instead
    /// of `~/.ssh/config`. Identities, known hosts, `ProxyJump` and the agent are the user's own
    /// ssh's in any case.
    #[must_use]
    pub fn ssh_config(mut self, file: impl Into<PathBuf>) -> ManagerBuilder {
        self.ssh.config_file = Some(file.into());
        self
    }

    /// The OpenSSH client program (default: `ssh` on `PATH`).
    #[must_use]
    pub fn ssh_program(mut self, program: impl Into<PathBuf>) -> ManagerBuilder {
        self.ssh.program = program.into();
        self
    }

    /// The state directory on remote hosts (records and logs of the daemons there); `~/` is the
    /// remote home, `{machine}` the host's machine id (`/etc/machine-id`: homes shared between
    /// hosts keep each host's records apart). Default: `~/.local/state/lifecycle-remote/{machine}`.
    #[must_use]
    pub fn remote_state_dir(mut self, dir: impl Into<String>) -> ManagerBuilder {
        self.ssh.state_dir = dir.into();
        self
    }

    /// How long a connection to a remote host may take (`ConnectTimeout`; default 10 s).
    #[must_use]
    pub fn ssh_connect_timeout(mut self, timeout: Duration) -> ManagerBuilder {
        self.ssh.connect_timeout = timeout;
        self
    }

    /// Accepts the key of a host seen for the first time, and records it
    /// (`StrictHostKeyChecking=accept-new`); a key that changed is refused all the same. Off by
    /// default: a host must be in `known_hosts`.
    #[must_use]
    pub fn accept_new_host_keys(mut self, accept: bool) -> ManagerBuilder {
        self.ssh.accept_new = accept;
        self
    }

    /// Opens (creating it, mode 0700) and checks the state directory, and makes the manager.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let manager = lifecycle_core::DaemonManager::builder().state_dir(dir.path()).build().unwrap();
    /// assert!(manager.state_dir().join("daemons").is_dir());
    /// ```
    pub fn build(self) -> Result<DaemonManager, ManagerError> {
        let root = match self.state_dir {
            Some(dir) => dir,
            None => default_root()?,
        };
        let store = Store::open(&root, self.lock_timeout.unwrap_or(LOCK_TIMEOUT))?;
        // Probes go to loopback or the daemon's own host: no proxy from the environment, and
        // no redirect followed anywhere.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ManagerError::HttpClient(Arc::new(e)))?;
        let (bus, _) = broadcast::channel(4096);
        let me = std::process::id();
        // This process's identity goes into every record it writes (the parent of what it
        // spawns, the stopper of what it stops): without it, nothing it records could be told
        // from another process's.
        let me_started = proc_stat::read(me)
            .map_err(ManagerError::Identity)?
            .start_time;
        Ok(DaemonManager {
            fleet: Arc::new(Fleet::new(Context {
                store,
                client,
                bus,
                hosts: crate::remote::hosts::Hosts::new(self.ssh),
                stop_on_drop: self.stop_on_drop,
                me: (me, me_started),
                manager: u64::try_from(
                    crate::random::random_u128().map_err(ManagerError::Identity)?
                        & u128::from(u64::MAX),
                )
                .unwrap_or(0),
            })),
        })
    }
}

static GLOBAL: OnceLock<DaemonManager> = OnceLock::new();

/// The plan of a handle.
pub(crate) fn plan_of<H: Lifecycle + ?Sized>(handle: &H) -> Result<Plan, PlanError> {
    Plan::new(handle.spec(), &|name| handle.value(name))
}

impl DaemonManager {
    /// A builder with the defaults.
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
        self.fleet.ctx.store.dir().root()
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
        self.fleet.ctx.bus.subscribe()
    }

    /// Finds `binary` in the workspace's `target/release` or `target/debug` (the newer build
    /// wins), the workspace being the nearest directory with a `Cargo.lock` above the current
    /// directory or the running program.
    ///
    /// ```
    /// assert_eq!(lifecycle_core::DaemonManager::find_in_target("no-such-binary-here"), None);
    /// ```
    pub fn find_in_target(binary: &str) -> Option<PathBuf> {
        crate::process::binary::find_in_target(binary)
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
        let (fleet, plan) = (self.fleet.clone(), plan_of(handle));
        async move {
            fleet
                .ensure(Arc::new(plan?), Mode::Ensure, Until::Ready)
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
        let (fleet, plan) = (self.fleet.clone(), plan_of(handle));
        async move {
            fleet
                .ensure(Arc::new(plan?), Mode::Start, Until::Ready)
                .await
        }
    }

    /// Stops the daemons that depend on the handle's daemon (independent ones concurrently, each
    /// after its own dependents), then the daemon: the stop chain it was started with (its
    /// record's), SIGKILL to its process group after the last grace, returning as soon as
    /// nothing of the group is left. A pending restart is cancelled.
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
        let (fleet, plan) = (self.fleet.clone(), plan_of(handle));
        async move {
            let plan = Arc::new(plan?);
            let remote = crate::daemon::remote::destination(&plan).map(|_| plan.clone());
            fleet.stop(plan.key.clone(), None, Vec::new(), remote).await
        }
    }

    /// The daemon's state, PID and health now.
    ///
    /// ```
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::error::PlanError> {
    /// let status = manager.status(&QueenHandle { port: 7833 }).await?;
    /// println!("{} pid {:?} healthy {:?}", status.state, status.pid, status.healthy);
    /// # Ok(()) }
    /// ```
    pub fn status<H: Lifecycle + ?Sized>(
        &self,
        handle: &H,
    ) -> impl Future<Output = Result<Status, PlanError>> + Send + 'static {
        let (fleet, plan) = (self.fleet.clone(), plan_of(handle));
        async move { Ok(fleet.status(&plan?).await) }
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
        let (fleet, plan) = (self.fleet.clone(), plan_of(handle));
        async move {
            match plan {
                Ok(plan) => fleet.status(&plan).await.healthy == Some(true),
                Err(_) => false,
            }
        }
    }

    /// Stops the daemon recorded under `key` (its name, or `name@instance`), by its record:
    /// never by process name. A daemon this manager's state directory points to on another
    /// host (one started there through it) is stopped there, by its record there.
    ///
    /// ```
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::StopError> {
    /// manager.stop_by_key("vllm@8080").await?;
    /// # Ok(()) }
    /// ```
    pub async fn stop_by_key(&self, key: &str) -> Result<Stopped, StopError> {
        self.stop_key(key, None).await
    }

    /// Stops the daemon recorded under `key` as [`stop_by_key`](Self::stop_by_key) does, with
    /// every step of its stop chain given `grace` instead of its own (the signals stay the
    /// chain's: a daemon that drains on SIGINT still gets SIGINT first). SIGKILL follows the
    /// last step. The daemons that depend on it are stopped first, by their own chains.
    ///
    /// ```
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> Result<(), lifecycle_core::StopError> {
    /// manager.stop_by_key_within("vllm@8080", std::time::Duration::from_secs(1)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn stop_by_key_within(
        &self,
        key: &str,
        grace: Duration,
    ) -> Result<Stopped, StopError> {
        self.stop_key(key, Some(grace)).await
    }

    async fn stop_key(&self, key: &str, grace: Option<Duration>) -> Result<Stopped, StopError> {
        // A daemon this state directory points to on another host is stopped there.
        let dir = self.fleet.ctx.store.dir().clone();
        let owned = key.to_owned();
        let pointer = crate::blocking::run(move || dir.read_pointer(&owned))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let remote = pointer
            .as_ref()
            .and_then(crate::compat::pointed_plan)
            .map(Arc::new);
        // The grace is applied by the owner to the chain it settles on, under the lock.
        self.fleet
            .clone()
            .stop(
                key.to_owned(),
                grace.map(ChainOverride::Grace),
                Vec::new(),
                remote,
            )
            .await
    }
}
