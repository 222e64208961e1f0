//! Every daemon a state directory knows: its records, and the pointers to daemons started through
//! it on other hosts. What `lifecycle status` shows.

use crate::daemon::status::from_record;
use crate::record::Record;
use crate::{DaemonManager, State, Status};

/// One daemon of the state directory: its status now, and its record if it is local.
///
/// ```no_run
/// # async fn demo(manager: &lifecycle_core::DaemonManager) -> std::io::Result<()> {
/// for daemon in manager.list().await? {
///     println!("{} {} {:?} {}", daemon.key, daemon.status.state, daemon.status.pid, daemon.location);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Listed {
    /// The daemon's key (`name`, or `name@instance`).
    pub key: String,
    /// Its state and PID now (read from its record, checked against the process it names; a
    /// listing does not probe: `healthy` is `None`).
    pub status: Status,
    /// Where it runs: `local`, or `user@host:port`.
    pub location: String,
    /// Its record, for a local daemon (a remote daemon's record is on its host).
    pub record: Option<Record>,
}

impl DaemonManager {
    /// Every daemon this manager's state directory knows, sorted by key: each local record
    /// (checked against the process it names: start time and boot, no probe) and each daemon
    /// started through it on another host (asked there, one round trip per host). An error if
    /// the state directory cannot be read (EMFILE, EIO): an empty listing means nothing is
    /// recorded. A record that cannot be read (another version, a checksum that fails) is left
    /// out.
    ///
    /// ```no_run
    /// # async fn demo(manager: &lifecycle_core::DaemonManager) -> std::io::Result<()> {
    /// let running = manager.list().await?.iter().filter(|d| d.status.pid.is_some()).count();
    /// println!("{running} running");
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> std::io::Result<Vec<Listed>> {
        let dir = self.fleet.ctx.store.dir().clone();
        // Reading the records and checking their processes (`/proc`, pidfds) is blocking work.
        let (checked, pointers) = crate::blocking::run(move || {
            let records = dir.list_records().map_err(std::io::Error::from)?;
            let checked: Vec<(Record, Status)> = records
                .into_iter()
                .map(|record| {
                    let mut status = Status {
                        key: record.key.clone(),
                        state: State::Stopped,
                        pid: None,
                        healthy: None,
                        stale: None,
                    };
                    from_record(&record, &mut status);
                    (record, status)
                })
                .collect();
            Ok::<_, std::io::Error>((checked, dir.pointers()?))
        })
        .await??;
        let mut listed: Vec<Listed> = checked
            .into_iter()
            .map(|(record, mut status)| {
                // This manager's own view of a daemon it runs is fresher than the record.
                let snapshot = self.fleet.known(&record.key).map(|d| d.snapshot());
                if let Some(s) = snapshot.filter(|s| s.pid.is_some() && s.state.is_running()) {
                    status.state = s.state;
                    status.pid = s.pid;
                    status.stale = None;
                }
                Listed {
                    key: record.key.clone(),
                    status,
                    location: "local".to_owned(),
                    record: Some(record),
                }
            })
            .collect();
        let mut remote = tokio::task::JoinSet::new();
        for pointer in pointers {
            if listed.iter().any(|l| l.key == pointer.key) {
                continue;
            }
            let Some(plan) = crate::compat::pointed_plan(&pointer) else {
                continue;
            };
            let location = match &pointer.user {
                Some(user) => format!("{user}@{}:{}", pointer.host, pointer.port),
                None => format!("{}:{}", pointer.host, pointer.port),
            };
            let fleet = self.fleet.clone();
            remote.spawn(async move {
                let mut status = fleet.status(&plan).await;
                status.healthy = None;
                Listed {
                    key: pointer.key,
                    status,
                    location,
                    record: None,
                }
            });
        }
        while let Some(joined) = remote.join_next().await {
            listed.push(joined.map_err(std::io::Error::other)?);
        }
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }
}
