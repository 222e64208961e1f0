//! A daemon's processes as one: its process group, signalled and awaited together. [`Group`]
//! is the seam between a daemon's owner and where its processes run; [`LocalGroup`] is this
//! machine's.
//!
//! Every group signal goes through [`LocalGroup::signal`], and none ever reaches the manager's
//! own group. With a pidfd on the leader and Linux 6.9 or later, the kernel signals the group
//! through the pidfd's own `struct pid`, which no reuse of the number can fool. Otherwise (an
//! older kernel, the forced fallback, or what is left of a group whose leader is gone) each
//! member is signalled through a pidfd of its own, after checking its group, and only while the
//! group is provably ours: its leader is pinned and not reaped, or no process holds the PID equal
//! to the group ID (a group ID can be re-created only by a process with that PID). What is left
//! of a group whose leader was already gone when we came to it is narrowed further by its
//! lineage: only members of the leader's session, started after the leader, are its own (a
//! stranger that took the number over, made a group of it and left it behind — a daemon that
//! double-forks — has a session of its own).

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::time::Instant;

use crate::process::exit::{Exit, try_reap};
use crate::process::pidfd::PidFd;
use crate::process::proc_stat;

/// How long a stop waits, after a leader that is not our child exited, for its parent to reap
/// it before looking for other members by a scan of `/proc`. An init that reaps (systemd, tini,
/// a subreaper) does so within microseconds of the exit; a PID 1 that reaps late (a container
/// without an init, this project's CI VM) would otherwise cost every such stop this long, and
/// the scan it saves costs about a millisecond.
const REAP_PATIENCE: Duration = Duration::from_millis(20);

/// The processes of one daemon, signalled and awaited as one.
pub(crate) trait Group: Send + Sync {
    /// Sends `signal` to every process of the group; an empty group is not an error.
    fn signal(&self, signal: Signal) -> impl Future<Output = io::Result<()>> + Send;

    /// Waits for the leader's exit: its status if this process is its parent, else
    /// [`Exit::UNKNOWN`].
    fn leader_exit(&self) -> impl Future<Output = Exit> + Send;

    /// Waits until the leader has exited and no live process is left in the group, up to
    /// `deadline`; whether that is so.
    fn gone(&self, deadline: Instant) -> impl Future<Output = io::Result<bool>> + Send;

    /// Whether no live process is left in the group now (the leader's exit aside).
    fn is_empty(&self) -> impl Future<Output = io::Result<bool>> + Send;

    /// The live processes left (for messages; best effort).
    fn survivors(&self) -> impl Future<Output = Vec<u32>> + Send;
}

/// Set once a kernel answered `EINVAL` to `PIDFD_SIGNAL_PROCESS_GROUP`, or by
/// [`force_fallback`].
static NO_GROUP_SIGNAL: AtomicBool = AtomicBool::new(false);

/// Makes every group signal take the path of kernels older than 6.9 (per-member pidfds), in
/// this process, from now on: how the tests cover that path on a newer kernel.
pub(crate) fn force_fallback(on: bool) {
    NO_GROUP_SIGNAL.store(on, Ordering::SeqCst);
}

/// Where what is left of a leaderless group comes from: its recorded leader's session and
/// start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lineage {
    pub(crate) session: u32,
    pub(crate) since: u64,
}

/// A process group on this machine.
#[derive(Debug)]
pub(crate) struct LocalGroup {
    pgid: u32,
    /// A pidfd on the leader (whose PID is the group ID); none for what is left of a group
    /// whose leader was gone when we came to it.
    leader: Option<Arc<PidFd>>,
    /// Whether the leader is a child of this process (we reap it and read its status).
    child: bool,
    /// The leader's exit, once seen (and reaped, for a child).
    exit: Mutex<Option<Exit>>,
    /// For a leaderless group: which members are its own.
    lineage: Option<Lineage>,
}

/// The manager's own process group, which no signal of this library reaches.
fn own_group() -> u32 {
    nix::unistd::getpgrp().as_raw().unsigned_abs()
}

impl LocalGroup {
    /// The group of a child of this process, just spawned (its own group: ID = its PID).
    pub(crate) fn of_child(leader: Arc<PidFd>) -> LocalGroup {
        LocalGroup::led_by(leader, true)
    }

    /// The group of a process verified as ours (PID, start time, boot); `child`: whether this
    /// process is its parent.
    pub(crate) fn adopted(leader: Arc<PidFd>, child: bool) -> LocalGroup {
        LocalGroup::led_by(leader, child)
    }

    fn led_by(leader: Arc<PidFd>, child: bool) -> LocalGroup {
        LocalGroup {
            pgid: leader.pid(),
            leader: Some(leader),
            child,
            exit: Mutex::new(None),
            lineage: None,
        }
    }

    /// What is left of group `pgid`, whose leader (recorded as ours in this boot) is gone.
    pub(crate) fn leaderless(pgid: u32, lineage: Lineage) -> LocalGroup {
        LocalGroup {
            pgid,
            leader: None,
            child: false,
            exit: Mutex::new(Some(Exit::UNKNOWN)),
            lineage: Some(lineage),
        }
    }

    /// The group ID.
    pub(crate) fn pgid(&self) -> u32 {
        self.pgid
    }

    /// The leader's exit, if it was seen.
    pub(crate) fn exit(&self) -> Option<Exit> {
        self.exit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The leader's exit if it has happened, reaping a child: without waiting.
    pub(crate) fn try_exit(&self) -> Option<Exit> {
        let mut exit = self.exit.lock().unwrap_or_else(|p| p.into_inner());
        if exit.is_none() {
            let leader = self.leader.as_ref()?;
            if !leader.has_exited() {
                return None;
            }
            *exit = Some(if self.child {
                // Its pidfd says it exited: the wait returns at once.
                try_reap(leader.pid()).unwrap_or(Exit::UNKNOWN)
            } else {
                Exit::UNKNOWN
            });
        }
        exit.clone()
    }

    /// Waits on this (blocking) thread, up to `timeout`, for the leader's exit; whether it came
    /// (a group without a leader has none to wait for).
    pub(crate) fn wait_exit_blocking(&self, timeout: Duration) -> bool {
        self.leader
            .as_ref()
            .is_none_or(|leader| leader.wait_exit_blocking(timeout))
    }

    /// Whether the group is provably ours now (see the module's documentation).
    fn is_ours(&self) -> io::Result<bool> {
        if self.pgid == own_group() {
            return Ok(false);
        }
        if let Some(leader) = &self.leader
            && !leader.is_reaped()
        {
            return Ok(true);
        }
        Ok(!proc_stat::pid_in_use(self.pgid)?)
    }

    /// The live members of the group, each pinned by a pidfd and checked to be in the group
    /// (and of its lineage, for a leaderless group): a scan of `/proc`, the exception path.
    /// Blocking.
    fn members(&self) -> io::Result<Vec<PidFd>> {
        if !self.is_ours()? {
            return Ok(Vec::new());
        }
        let mut members = Vec::new();
        for pid in proc_stat::group_members(self.pgid)? {
            let pidfd = match PidFd::open(pid) {
                Ok(pidfd) => pidfd,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(e) => return Err(e),
            };
            // The pidfd pins the process: if it is (still) in the group, it is a member.
            match proc_stat::read(pid) {
                Ok(stat)
                    if stat.pgrp == self.pgid
                        && !stat.is_dead()
                        && self.lineage.is_none_or(|l| {
                            stat.session == l.session && stat.start_time >= l.since
                        }) =>
                {
                    members.push(pidfd)
                }
                Ok(_) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(members)
    }

    /// The members, found on a blocking thread.
    async fn members_off_runtime(self: &LocalGroup) -> io::Result<Vec<PidFd>> {
        // The pidfds are made on the blocking thread (in the runtime's context) and handed back.
        let me = LocalGroup {
            pgid: self.pgid,
            leader: self.leader.clone(),
            child: self.child,
            exit: Mutex::new(self.exit()),
            lineage: self.lineage,
        };
        crate::blocking::run(move || me.members()).await?
    }

    /// Whether the kernel signals the group through the leader's pidfd here.
    fn through_leader(&self) -> Option<&PidFd> {
        self.leader
            .as_deref()
            .filter(|_| !NO_GROUP_SIGNAL.load(Ordering::SeqCst))
    }

    /// The fast path of a group signal: `Some` if the leader's pidfd did it.
    fn signal_through_leader(&self, signal: Option<Signal>) -> Option<io::Result<bool>> {
        let leader = self.through_leader()?;
        match leader.signal_group(signal) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                NO_GROUP_SIGNAL.store(true, Ordering::SeqCst);
                None
            }
            other => Some(other),
        }
    }

    fn refuse_own_group(&self) -> io::Result<()> {
        if self.pgid == own_group() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "process group {} is this manager's own: refusing to signal it",
                    self.pgid
                ),
            ));
        }
        Ok(())
    }

    /// [`Group::signal`] from a destructor, which cannot wait (the fallback's scan runs here).
    pub(crate) fn signal_now(&self, signal: Signal) -> io::Result<()> {
        self.refuse_own_group()?;
        if let Some(result) = self.signal_through_leader(Some(signal)) {
            return result.map(drop);
        }
        signal_each(self.members()?, signal)
    }
}

/// Signals each member through its own pidfd (one that exited meanwhile is no error).
fn signal_each(members: Vec<PidFd>, signal: Signal) -> io::Result<()> {
    for member in members {
        match member.send_signal(signal) {
            Err(e) if e.raw_os_error() != Some(libc::ESRCH) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

impl Group for LocalGroup {
    async fn signal(&self, signal: Signal) -> io::Result<()> {
        self.refuse_own_group()?;
        if let Some(result) = self.signal_through_leader(Some(signal)) {
            return result.map(drop);
        }
        signal_each(self.members_off_runtime().await?, signal)
    }

    async fn leader_exit(&self) -> Exit {
        if let Some(leader) = &self.leader {
            leader.exited().await;
        }
        self.try_exit().unwrap_or(Exit::UNKNOWN)
    }

    async fn gone(&self, deadline: Instant) -> io::Result<bool> {
        if tokio::time::timeout_at(deadline, self.leader_exit())
            .await
            .is_err()
        {
            return Ok(false);
        }
        if let Some(leader) = &self.leader
            && !self.child
        {
            // Until its parent reaps it, the exited leader still counts in its group: wait for
            // the reap (an event) rather than scan for the other members.
            leader
                .reaped(deadline.min(Instant::now() + REAP_PATIENCE))
                .await;
        }
        loop {
            if self.is_empty().await? {
                return Ok(true);
            }
            let members = self.members_off_runtime().await?;
            if members.is_empty() {
                // Only zombies are left: dead, waiting for their parent.
                return Ok(true);
            }
            let all_exited = async {
                for member in &members {
                    member.exited().await;
                }
            };
            if tokio::time::timeout_at(deadline, all_exited).await.is_err() {
                return Ok(false);
            }
        }
    }

    async fn is_empty(&self) -> io::Result<bool> {
        if let Some(result) = self.signal_through_leader(None) {
            return result.map(|members| !members);
        }
        if self.lineage.is_some() {
            // A leaderless group: its own members only.
            return Ok(self.members_off_runtime().await?.is_empty());
        }
        if !self.is_ours()? {
            // Whatever has this group ID now is not ours to wait for.
            return Ok(true);
        }
        let Ok(pgid) = i32::try_from(self.pgid) else {
            return Ok(true);
        };
        // Signal 0 sends nothing: it only asks whether the group has members.
        match killpg(Pid::from_raw(pgid), None) {
            Err(Errno::ESRCH) => Ok(true),
            Ok(()) | Err(Errno::EPERM) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn survivors(&self) -> Vec<u32> {
        self.members_off_runtime()
            .await
            .map(|m| m.iter().map(PidFd::pid).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    /// A leader in its own group that forks a member and exits at once; returns the leader
    /// (a child of this process, unreaped) and the member's PID.
    fn leader_with_member() -> (std::process::Child, u32) {
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        (leader, line.trim().parse().unwrap())
    }

    async fn the_member_is_signalled_after_its_leader_is_reaped(fallback: bool) {
        let (leader, member) = leader_with_member();
        let group = LocalGroup::of_child(Arc::new(PidFd::open(leader.id()).unwrap()));
        let exit = group.leader_exit().await;
        assert_eq!(exit.code, Some(0), "reaped by the group, status read");
        let member_fd = PidFd::open(member).unwrap();
        if fallback {
            force_fallback(true);
        }
        assert!(
            !group.is_empty().await.unwrap(),
            "the member keeps the group"
        );
        group.signal(Signal::SIGKILL).await.unwrap();
        member_fd.exited().await;
        let soon = Instant::now() + Duration::from_secs(5);
        assert!(group.gone(soon).await.unwrap());
        force_fallback(false);
        drop(leader);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_outlives_its_leader_and_is_signalled_through_its_pidfd() {
        the_member_is_signalled_after_its_leader_is_reaped(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_fallback_signals_each_member_through_its_own_pidfd() {
        the_member_is_signalled_after_its_leader_is_reaped(true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_leaderless_group_is_narrowed_to_its_lineage() {
        let (mut leader, member) = leader_with_member();
        let pgid = leader.id();
        let stat = proc_stat::read(member).unwrap();
        leader.wait().unwrap();
        let member_fd = PidFd::open(member).unwrap();
        // Another session: not the recorded leader's, so not ours.
        let stranger = Lineage {
            session: stat.session + 1,
            since: 0,
        };
        let group = LocalGroup::leaderless(pgid, stranger);
        assert!(group.is_empty().await.unwrap());
        group.signal(Signal::SIGKILL).await.unwrap();
        assert!(!member_fd.has_exited(), "a stranger's member was signalled");
        // Its own lineage: swept.
        let own = Lineage {
            session: stat.session,
            since: stat.start_time,
        };
        let group = LocalGroup::leaderless(pgid, own);
        assert!(!group.is_empty().await.unwrap());
        group.signal(Signal::SIGKILL).await.unwrap();
        member_fd.exited().await;
    }

    #[tokio::test]
    async fn the_managers_own_group_is_never_signalled() {
        let own = own_group();
        let lineage = Lineage {
            session: 0,
            since: 0,
        };
        assert!(!LocalGroup::leaderless(own, lineage).is_ours().unwrap());
        let err = LocalGroup::leaderless(own, lineage)
            .signal(Signal::SIGTERM)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("own"), "{err}");
        // A group ID held by a live process (this one) is that process's, not ours.
        assert!(
            !LocalGroup::leaderless(std::process::id(), lineage)
                .is_ours()
                .unwrap()
        );
    }
}
