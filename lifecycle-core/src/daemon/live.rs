//! The process a daemon's owner runs or follows: its group, its identity, the plan it was
//! started with, and the record generation the owner last wrote or read for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use crate::Running;
use crate::daemon::chain;
use crate::plan::{Plan, StopPlan};
use crate::process::group::LocalGroup;
use crate::store::record::{Record, RecordState};

/// How often a running daemon's log size is checked.
const LOG_CHECK: Duration = Duration::from_secs(2);

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `now_ms() + duration`, saturating.
pub(crate) fn ms_from_now(duration: Duration) -> u64 {
    now_ms().saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// The record state of a stop by process `me` with `steps`: who stops, and by when its chain
/// is over.
pub(crate) fn stopping(me: (u32, u64), steps: &[StopPlan]) -> RecordState {
    RecordState::Stopping {
        by: me,
        until_ms: ms_from_now(chain::longest(steps)),
    }
}

/// The record state of a stop by process `me` that could not end it (what is left outlived
/// SIGKILL): over as far as `me` goes, so that another process takes it over at once.
pub(crate) fn stuck(me: (u32, u64)) -> RecordState {
    RecordState::Stopping {
        by: me,
        until_ms: now_ms(),
    }
}

/// What is known of a process when its owner takes it: its identity and where it stands.
#[derive(Debug)]
pub(crate) struct Facts {
    /// `/proc/<pid>/stat` field 22.
    pub(crate) start_time: u64,
    /// Its session.
    pub(crate) session: u32,
    pub(crate) log: PathBuf,
    pub(crate) log_offset: u64,
    /// When it started (for the restart policy's `reset_after`).
    pub(crate) since: Instant,
    /// Restarts in a row that led to it.
    pub(crate) restarts: u32,
    /// The generation of its record the owner last wrote or read.
    pub(crate) generation: u64,
}

/// The process of a daemon.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) group: Arc<LocalGroup>,
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    pub(crate) session: u32,
    pub(crate) plan: Arc<Plan>,
    pub(crate) log: PathBuf,
    pub(crate) log_offset: u64,
    pub(crate) since: Instant,
    /// Spawned by this manager: a child of this process, which reaps it and reads its status.
    pub(crate) parent: bool,
    pub(crate) restarts: u32,
    pub(crate) generation: u64,
    log_check: tokio::time::Interval,
    /// Kills the group if the owner goes away while it runs (a manager with `stop_on_drop`
    /// dropped, or the runtime shut down under it).
    kill_on_drop: bool,
}

impl Live {
    /// A process of a daemon; `parent`: spawned by this manager; `kill_on_drop`: killed if the
    /// owner goes away while it runs (only a process this manager spawned).
    pub(crate) fn new(
        group: Arc<LocalGroup>,
        plan: Arc<Plan>,
        facts: Facts,
        parent: bool,
        kill_on_drop: bool,
    ) -> Live {
        let mut log_check =
            tokio::time::interval_at(tokio::time::Instant::now() + LOG_CHECK, LOG_CHECK);
        log_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Live {
            pid: group.pgid(),
            group,
            start_time: facts.start_time,
            session: facts.session,
            plan,
            log: facts.log,
            log_offset: facts.log_offset,
            since: facts.since,
            parent,
            restarts: facts.restarts,
            generation: facts.generation,
            log_check,
            kill_on_drop: kill_on_drop && parent,
        }
    }

    /// The outcome of an ensure that found (or made) this process ready.
    pub(crate) fn running(&self, started: bool, elapsed: Duration, attempts: u32) -> Running {
        self.plan
            .running(self.pid, started, elapsed, attempts, self.log.clone())
    }

    /// Whether `record` names this very process.
    pub(crate) fn is_recorded_by(&self, record: &Record) -> bool {
        record.names(self.pid, self.start_time)
    }

    /// This process's record in `state`, one generation on from `previous` (or the first);
    /// `me`, `manager`: this manager's process and identity, the parent of a process it spawns.
    pub(crate) fn record(
        &self,
        state: RecordState,
        previous: Option<&Record>,
        me: (u32, u64),
        manager: u64,
    ) -> Record {
        let plan = &self.plan;
        let same = previous.filter(|r| self.is_recorded_by(r));
        Record {
            key: plan.key.clone(),
            name: plan.name.clone(),
            state,
            generation: previous.map_or(1, |r| r.generation + 1),
            pid: self.pid,
            start_time: self.start_time,
            boot_id: crate::process::identity::boot_id().to_owned(),
            pgid: self.group.pgid(),
            session: self.session,
            started_at_ms: same.map_or_else(now_ms, |r| r.started_at_ms),
            parent: same.map_or(me, |r| r.parent),
            manager: same.map_or(manager, |r| r.manager),
            log: self.log.clone(),
            log_offset: self.log_offset,
            spec_file: plan.spec_file.clone(),
            probe: plan.probe_shown(),
            command: plan.command_line(),
            fingerprint: plan.fingerprint.clone(),
            restarts: self.restarts,
            depends_on: plan.dependency_keys(),
            stop: plan.stop.iter().map(|s| s.to_record_line()).collect(),
        }
    }

    /// Resolves at the next periodic log check.
    pub(crate) async fn log_tick(&mut self) {
        self.log_check.tick().await;
    }

    /// The owner takes care of the process itself from now on (no kill when dropped).
    pub(crate) fn disarm(&mut self) {
        self.kill_on_drop = false;
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.kill_on_drop && self.group.exit().is_none() {
            // A signal is all a destructor may do: the process dies, and whoever is left reaps it.
            let _ = self.group.signal_now(Signal::SIGKILL);
        }
    }
}

/// The recorded start of a process, as an `Instant` in this process.
pub(super) fn recorded_start(record: &Record) -> Instant {
    let running_for = Duration::from_millis(now_ms().saturating_sub(record.started_at_ms));
    Instant::now()
        .checked_sub(running_for)
        .unwrap_or_else(Instant::now)
}
