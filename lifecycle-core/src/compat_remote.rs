//! The remote free functions of the daemon-lifecycle API this library replaces
//! (`spawn_daemon_remote`, `is_daemon_healthy_remote`, `stop_daemon_remote`,
//! `graceful_shutdown_remote`, [`SshConfig`]), over the same SSH driver as a spec whose
//! location is `ssh`: one connection per host, the remote helper, records on the remote host.
//! What changed underneath: no command line is built from a value, the host is checked before
//! ssh runs, and "by name" means by the records on that host, never by process name.

use std::sync::Arc;
use std::time::Duration;

use crate::compat::{DEFAULT_GRACE, ad_hoc_plan, args_hash, name_of, start_ad_hoc};
use crate::plan::PlanError;
use crate::plan::{ChainOverride, Place, Plan, StopPlan};
use crate::remote::ops;
use crate::remote::{Destination, RemoteError};
use crate::store::state_dir::file_name;
use crate::{DaemonManager, StartError, StopError, Stopped};

/// Where a remote daemon runs: the SSH destination of the proposal's API.
///
/// ```
/// let ssh = lifecycle_core::compat::SshConfig { hostname: "gpu-1.lan".into(), ssh_user: "rbee".into(), ssh_port: 22 };
/// assert_eq!(ssh.ssh_port, 22);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SshConfig {
    /// The host: a hostname or IP address (checked: no leading `-`, no whitespace or shell
    /// syntax).
    pub hostname: String,
    /// The remote user (checked the same way).
    pub ssh_user: String,
    /// The SSH port.
    pub ssh_port: u16,
}

impl SshConfig {
    /// The destination, once host, user and port passed the spec language's grammars.
    fn destination(&self, daemon: &str) -> Result<Destination, PlanError> {
        let invalid = |field: &str, value: &str, problem: String| PlanError::Invalid {
            daemon: daemon.to_owned(),
            file: "(free function)".to_owned(),
            pos: lifecycle_spec::Pos::UNKNOWN,
            field: field.to_owned(),
            value: value.to_owned(),
            problem,
        };
        lifecycle_spec::__private::check_host(&self.hostname)
            .map_err(|e| invalid("ssh_config.hostname", &self.hostname, e.to_string()))?;
        lifecycle_spec::__private::check_user(&self.ssh_user)
            .map_err(|e| invalid("ssh_config.ssh_user", &self.ssh_user, e.to_string()))?;
        if self.ssh_port == 0 {
            return Err(invalid(
                "ssh_config.ssh_port",
                "0",
                "a port is 1-65535".to_owned(),
            ));
        }
        Ok(Destination {
            host: self.hostname.clone(),
            user: Some(self.ssh_user.clone()),
            port: self.ssh_port,
            accept_new: false,
        })
    }

    fn place(&self, daemon: &str) -> Result<Place, PlanError> {
        let d = self.destination(daemon)?;
        Ok(Place::Ssh {
            host: d.host,
            user: d.user,
            port: d.port,
            accept_new: false,
            probe_from_host: false,
            install: None,
        })
    }
}

/// Spawns `binary_path` with `args` on the host of `ssh_config` (the binary as given there: an
/// absolute path, or on the remote `PATH`), in a session of its own with its output to a log in
/// the remote state directory, recorded there under the binary's file name (one instance per
/// argument list, as [`spawn_daemon`](crate::compat::spawn_daemon)). Returns its PID on that host.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StartError> {
/// let ssh = lifecycle_core::compat::SshConfig { hostname: "gpu-1.lan".into(), ssh_user: "rbee".into(), ssh_port: 22 };
/// let pid = lifecycle_core::compat::spawn_daemon_remote("/opt/rbee/rbee-hive", vec!["--port".into(), "9200".into()], &ssh).await?;
/// # Ok(()) }
/// ```
pub async fn spawn_daemon_remote(
    binary_path: &str,
    args: Vec<String>,
    ssh_config: &SshConfig,
) -> Result<u32, StartError> {
    let name = name_of(binary_path);
    let mut plan = ad_hoc_plan(&name, Some(&args_hash(&args)), binary_path, &args, None)?;
    plan.place = ssh_config.place(&plan.key)?;
    start_ad_hoc(plan).await
}

/// Whether a GET on `base_url` answers 2xx within 2 s, sent from here (the URL must reach the
/// daemon's host from this machine). `ssh_config` is checked, not used: a health check needs no
/// SSH round trip.
///
/// ```no_run
/// # async fn demo() {
/// let ssh = lifecycle_core::compat::SshConfig { hostname: "gpu-1.lan".into(), ssh_user: "rbee".into(), ssh_port: 22 };
/// let up = lifecycle_core::compat::is_daemon_healthy_remote("http://gpu-1.lan:9200/health", &ssh).await;
/// # }
/// ```
pub async fn is_daemon_healthy_remote(base_url: &str, ssh_config: &SshConfig) -> bool {
    ssh_config.destination("health").is_ok() && crate::compat::is_daemon_healthy(base_url).await
}

/// Stops the daemons recorded on the host of `ssh_config` under `daemon_name` (a key, or a
/// name: every instance of it): `graceful` runs each one's recorded stop chain (SIGTERM, its
/// grace, then SIGKILL to its group); otherwise SIGKILL to its group at once. Never by process
/// name: with no record there, nothing is signalled and [`StopError::Unknown`] says so.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StopError> {
/// let ssh = lifecycle_core::compat::SshConfig { hostname: "gpu-1.lan".into(), ssh_user: "rbee".into(), ssh_port: 22 };
/// lifecycle_core::compat::stop_daemon_remote("rbee-hive", &ssh, true).await?;
/// # Ok(()) }
/// ```
pub async fn stop_daemon_remote(
    daemon_name: &str,
    ssh_config: &SshConfig,
    graceful: bool,
) -> Result<(), StopError> {
    let steps = (!graceful).then(|| ChainOverride::Steps(Vec::new()));
    stop_remote_by_name(daemon_name, ssh_config, steps).await
}

/// Stops the daemons recorded on the host of `ssh_config` under `daemon_name`: SIGTERM to each
/// one's process group, up to `grace_period` (default 5 s), then SIGKILL to the group; returns
/// once nothing of them is left there.
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_core::StopError> {
/// let ssh = lifecycle_core::compat::SshConfig { hostname: "gpu-1.lan".into(), ssh_user: "rbee".into(), ssh_port: 22 };
/// lifecycle_core::compat::graceful_shutdown_remote("rbee-hive", &ssh, Some(std::time::Duration::from_secs(10))).await?;
/// # Ok(()) }
/// ```
pub async fn graceful_shutdown_remote(
    daemon_name: &str,
    ssh_config: &SshConfig,
    grace_period: Option<Duration>,
) -> Result<(), StopError> {
    let steps = ChainOverride::Steps(vec![StopPlan::Signal {
        signal: lifecycle_spec::Signal::Term,
        grace: grace_period.unwrap_or(DEFAULT_GRACE),
    }]);
    stop_remote_by_name(daemon_name, ssh_config, Some(steps)).await
}

async fn stop_remote_by_name(
    daemon_name: &str,
    ssh_config: &SshConfig,
    steps: Option<ChainOverride>,
) -> Result<(), StopError> {
    let manager = DaemonManager::global()?;
    let destination = ssh_config.destination(daemon_name)?;
    let remote_error = |source: RemoteError| StopError::Remote {
        daemon: daemon_name.to_owned(),
        source,
    };
    let connection = manager
        .fleet
        .ctx
        .hosts
        .get(&destination)
        .await
        .map_err(remote_error)?;
    let wanted = file_name(daemon_name);
    let keys: Vec<String> = ops::list(&connection, &wanted)
        .await
        .map_err(remote_error)?
        .into_iter()
        .filter(|(file, _)| *file == wanted || file.starts_with(&format!("{wanted}@")))
        .map(|(_, key)| key)
        .collect();
    let mut stopped_any = false;
    for key in keys {
        let mut plan: Plan =
            ad_hoc_plan(daemon_name, None, "/", &[], None).map_err(|e| match e {
                StartError::Plan(p) => StopError::Plan(p),
                other => StopError::Task {
                    daemon: daemon_name.to_owned(),
                    message: other.to_string(),
                },
            })?;
        plan.key = key.clone();
        plan.place = ssh_config.place(&key)?;
        let stopped = manager
            .fleet
            .clone()
            .stop(key, steps.clone(), Vec::new(), Some(Arc::new(plan)))
            .await?;
        stopped_any |= !matches!(stopped, Stopped::NotRunning { .. });
    }
    if stopped_any {
        Ok(())
    } else {
        Err(StopError::Unknown {
            daemon: daemon_name.to_owned(),
            records: format!("{}:{}/daemons", connection.shown(), connection.state_dir).into(),
        })
    }
}
