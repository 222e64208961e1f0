//! What the integration tests share: ports, managers in temporary state directories, and
//! checks on processes read from `/proc`.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use lifecycle_core::DaemonManager;

/// A TCP port free on 127.0.0.1 right now, below the kernel's ephemeral range (so that no
/// outgoing connection, such as a probe's, can take it before its daemon binds it), distinct
/// from every other port this process got here.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let low = 10_000u32;
    let span = ephemeral_start.saturating_sub(low).max(1);
    // Processes start at different places: parallel test binaries rarely meet.
    let _ = NEXT.compare_exchange(
        0,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let port = low + NEXT.fetch_add(1, Ordering::SeqCst) % span;
        if let Ok(port) = u16::try_from(port)
            && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        {
            return port;
        }
    }
    0
}

/// A manager whose state directory is `dir`, killing what it started when dropped. Installs
/// [`strict_tracing`] first.
pub fn manager_in(dir: &Path) -> DaemonManager {
    built_in(dir, DaemonManager::builder())
}

/// Like [`manager_in`], giving up on a daemon's lock after `timeout`.
pub fn manager_with_lock_timeout(dir: &Path, timeout: std::time::Duration) -> DaemonManager {
    built_in(dir, DaemonManager::builder().lock_timeout(timeout))
}

fn built_in(dir: &Path, builder: lifecycle_core::ManagerBuilder) -> DaemonManager {
    strict_tracing();
    match builder.state_dir(dir).stop_on_drop(true).build() {
        Ok(manager) => manager,
        Err(err) => {
            eprintln!("cannot build a manager in {}: {err}", dir.display());
            std::process::abort()
        }
    }
}

/// Field `n` (1-based, as `proc(5)` counts them, `n` ≥ 3) of `/proc/<pid>/stat`, counted after
/// the command name, which may itself hold spaces and parentheses.
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n - 3)
        .map(str::to_owned)
}

/// The process state letter of `pid` (`R`, `S`, `Z`, …), or `None` if there is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    stat_field(pid, 3)?.chars().next()
}

/// Whether `pid` is a live process (not a zombie).
pub fn is_alive(pid: u32) -> bool {
    process_state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// Every PID in `/proc` (this process's included): numbers, read once; pin one with
/// [`crate::pidfd::open_if`] before acting on it.
pub fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// The children of this process that are zombies (exited, not reaped).
pub fn zombie_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    pids()
        .filter(|&pid| {
            process_state(pid) == Some('Z') && stat_field(pid, 4).as_deref() == Some(me.as_str())
        })
        .collect()
}

/// Waits, for at most `timeout`, until `pid` has exited (a zombie counts as exited): an event
/// on a pidfd, not a poll. Whether it did; `true` if there is no such process.
pub fn wait_exit(pid: u32, timeout: std::time::Duration) -> bool {
    crate::pidfd::open(pid).map_or(true, |pidfd| crate::pidfd::wait_exit(&pidfd, timeout))
}

/// The start time of `pid` (`/proc/<pid>/stat` field 22), which tells a PID's process from a
/// later one that reuses the number.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_field(pid, 22)?.parse().ok()
}

/// Kills a test daemon's whole process group when dropped (the process alone if it leads
/// none): a failing test leaves nothing behind. The process is pinned by a pidfd in
/// [`KillOnDrop::new`], so the drop signals that process's group and no other, even once its
/// leader has exited.
#[derive(Debug)]
pub struct KillOnDrop {
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl KillOnDrop {
    /// Watches `pid`, a process this test started and learned the number of just now: pinned
    /// only if it started after this test process did (a number that outlived its process
    /// and names an older one now, a system daemon's, is refused, and said so on stderr).
    pub fn new(pid: u32) -> KillOnDrop {
        static ME: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
        let me = *ME.get_or_init(|| start_time(std::process::id()));
        let pidfd = crate::pidfd::open_if(pid, |pid| {
            me.is_some() && start_time(pid).is_some_and(|started| Some(started) >= me)
        });
        if pidfd.is_none() && is_alive(pid) {
            eprintln!("KillOnDrop: process {pid} not pinned (it started before this test did)");
        }
        KillOnDrop { pidfd }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pidfd) = &self.pidfd
            && crate::pidfd::signal_group(pidfd, nix::sys::signal::Signal::SIGKILL).is_err()
        {
            let _ = crate::pidfd::signal(pidfd, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// This boot's identifier.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// This process's session: that of every process it spawns (that does not make its own).
pub fn this_session() -> u32 {
    nix::unistd::getsid(None)
        .map(|sid| sid.as_raw().unsigned_abs())
        .unwrap_or(0)
}

/// A record of daemon `key` naming process `pid` (its own group), ready, in this boot: tests
/// change what they need.
pub fn record(key: &str, pid: u32, start_time: u64) -> lifecycle_core::record::Record {
    lifecycle_core::record::Record {
        key: key.into(),
        name: key.split('@').next().unwrap_or(key).into(),
        state: lifecycle_core::record::RecordState::Ready,
        generation: 1,
        pid,
        start_time,
        boot_id: boot_id(),
        pgid: pid,
        session: this_session(),
        started_at_ms: 0,
        parent: (1, 1),
        manager: 0,
        log: "/dev/null".into(),
        log_offset: 0,
        spec_file: "(test)".into(),
        probe: None,
        command: "(test)".into(),
        fingerprint: "0000000000000000".into(),
        restarts: 0,
        depends_on: vec![],
        stop: vec!["signal SIGTERM 1000".into()],
    }
}

/// Writes `record` where a manager on `state_dir` reads it.
pub fn write_record(
    state_dir: &Path,
    record: &lifecycle_core::record::Record,
) -> std::path::PathBuf {
    let path = state_dir
        .join("daemons")
        .join(format!("{}.record", record.key));
    if let Err(err) = std::fs::write(&path, record.to_text()) {
        eprintln!("cannot write {}: {err}", path.display());
        std::process::abort();
    }
    path
}

/// Installs (once per process) a tracing subscriber that panics on an illegal transition of
/// the state machine: the library reports one as an error event, and in the tests that is a
/// failure wherever it happens. Warnings and errors are printed.
pub fn strict_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(Strict);
    });
}

/// The subscriber of [`strict_tracing`].
struct Strict;

/// Collects an event's fields as text.
struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Strict {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_event() && *metadata.level() <= tracing::Level::WARN
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        eprintln!(
            "{} {}:{}",
            event.metadata().level(),
            event.metadata().target(),
            fields.0
        );
        if fields.0.contains("message=illegal transition") {
            // A bug of the library's state handling: fail whatever test met it.
            std::process::abort();
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// A temporary state directory and a manager on it (killing what it started when dropped).
pub struct Setup {
    /// The state directory (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The manager.
    pub manager: DaemonManager,
}

/// A fresh [`Setup`].
pub fn setup() -> Setup {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("cannot make a temporary directory: {err}");
            std::process::abort()
        }
    };
    let manager = manager_in(dir.path());
    Setup { dir, manager }
}

/// The transitions of daemon `key` (bounded wait: `within` for each), up to the first whose
/// new state is `done`; `None` if one did not come in time.
pub async fn transitions_until(
    events: &mut tokio::sync::broadcast::Receiver<lifecycle_core::Transition>,
    key: &str,
    within: std::time::Duration,
    done: impl Fn(&lifecycle_core::State) -> bool,
) -> Option<Vec<lifecycle_core::Transition>> {
    let mut seen = Vec::new();
    loop {
        let t = match tokio::time::timeout(within, events.recv()).await {
            Ok(Ok(t)) => t,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) | Err(_) => return None,
        };
        if t.daemon == key {
            let end = done(&t.to);
            seen.push(t);
            if end {
                return Some(seen);
            }
        }
    }
}

/// The PID a daemon wrote to `path` (waiting up to 10 s for the file to appear); `None` if it
/// never did, or holds no PID.
pub fn pid_in_file(path: &Path) -> Option<u32> {
    if !wait_for_file(path, std::time::Duration::from_secs(10)) {
        return None;
    }
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Waits, for at most `timeout`, until `path` exists: inotify on its directory, not a poll.
pub fn wait_for_file(path: &Path, timeout: std::time::Duration) -> bool {
    wait_for_path(path, true, timeout)
}

/// Waits, for at most `timeout`, until `path` is gone: inotify on its directory, not a poll.
pub fn wait_for_removal(path: &Path, timeout: std::time::Duration) -> bool {
    wait_for_path(path, false, timeout)
}

fn wait_for_path(path: &Path, exists: bool, timeout: std::time::Duration) -> bool {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let Some(dir) = path.parent() else {
        return path.exists() == exists;
    };
    let Ok(inotify) = Inotify::init(InitFlags::IN_CLOEXEC) else {
        return path.exists() == exists;
    };
    let events = AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_DELETE;
    if inotify.add_watch(dir, events).is_err() {
        return path.exists() == exists;
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if path.exists() == exists {
            return true;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let fd = std::os::fd::AsFd::as_fd(&inotify);
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if matches!(nix::poll::poll(&mut fds, millis), Ok(n) if n > 0) {
            let _ = inotify.read_events();
        }
    }
}

/// Checks that the failed probes among `transitions` (one start's) came on the backoff's
/// schedule: each attempt at least the backoff's delay after the one before (`initial`, times
/// `factor` each time, at most `max`), and not much later (`slack`: the attempt itself and
/// the scheduler). Returns how many attempts failed.
pub fn assert_backoff_schedule(
    transitions: &[lifecycle_core::Transition],
    backoff: lifecycle_core::spec::Backoff,
    slack: std::time::Duration,
) -> usize {
    let failed: Vec<std::time::SystemTime> = transitions
        .iter()
        .filter(|t| matches!(t.event, lifecycle_core::state::Event::ProbeFailed { .. }))
        .map(|t| t.at)
        .collect();
    for (i, pair) in failed.windows(2).enumerate() {
        let gap = pair[1].duration_since(pair[0]).unwrap_or_default();
        let nominal = backoff.delay(u32::try_from(i).unwrap_or(u32::MAX));
        assert!(
            gap >= nominal && gap < nominal + slack,
            "attempt {} came {gap:?} after the one before; the backoff says {nominal:?}",
            i + 2
        );
    }
    failed.len()
}

/// A process group whose leader has exited and been reaped, with one member left (`sleep 60`,
/// in the group): what a dead daemon leaves. Returns the leader's PID (the group ID), its start
/// time, and the member's PID.
pub fn orphaned_group() -> (u32, u64, u32) {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let spawned = std::process::Command::new("sh")
        .args(["-c", "sleep 60 & echo $!"])
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn();
    let Ok(mut leader) = spawned else {
        eprintln!("cannot run sh");
        std::process::abort()
    };
    let pid = leader.id();
    let started = start_time(pid).unwrap_or(1);
    let mut line = String::new();
    if let Some(out) = leader.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let _ = leader.wait();
    let member = line.trim().parse().unwrap_or(0);
    (pid, started, member)
}

/// Waits, for at most `timeout`, until the record of `key` in `state_dir` satisfies `done`
/// (records are rewritten in place: inotify on the records directory, not a poll); the record
/// then, or `None`.
pub fn wait_for_record(
    state_dir: &Path,
    key: &str,
    timeout: std::time::Duration,
    done: impl Fn(&lifecycle_core::record::Record) -> bool,
) -> Option<lifecycle_core::record::Record> {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let dir = state_dir.join("daemons");
    let path = dir.join(format!("{key}.record"));
    let read = || {
        std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| lifecycle_core::record::Record::parse(&text).ok())
            .filter(|r| done(r))
    };
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC).ok()?;
    inotify
        .add_watch(
            &dir,
            AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE,
        )
        .ok()?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(record) = read() {
            return Some(record);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        let fd = std::os::fd::AsFd::as_fd(&inotify);
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        if matches!(nix::poll::poll(&mut fds, millis), Ok(n) if n > 0) {
            let _ = inotify.read_events();
        }
    }
}

/// Another process (the test client at `client`) holding the lock of daemon `key` (or any lock
/// name, such as `log:<key>`) in `state_dir` until dropped.
pub struct LockHolder(std::process::Child);

impl LockHolder {
    /// Starts the holder and waits until it holds the lock.
    pub fn take(client: &str, state_dir: &Path, key: &str) -> LockHolder {
        use std::io::BufRead;
        let spawned = std::process::Command::new(client)
            .arg("hold-lock")
            .arg("--state")
            .arg(state_dir)
            .args(["--key", key])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("cannot run {client}");
            std::process::abort()
        };
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "held" {
            eprintln!("the lock holder said {line:?}");
            std::process::abort()
        }
        LockHolder(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// A record naming a dead leader whose group still has a member is stopped by `manager`
/// (on `state_dir`): the member is swept, the stop says so.
pub async fn assert_a_dead_leaders_group_is_swept(manager: &DaemonManager, state_dir: &Path) {
    let (leader, started, member) = orphaned_group();
    let _guard = KillOnDrop::new(member);
    write_record(state_dir, &record("td-http@orphans", leader, started));
    let stopped = manager.stop_by_key("td-http@orphans").await;
    assert!(
        matches!(&stopped, Ok(lifecycle_core::Stopped::StaleRecord { reason, .. }) if reason.contains("what was left of its group was stopped")),
        "{stopped:?}"
    );
    assert!(
        wait_exit(member, std::time::Duration::from_secs(5)),
        "the member was left"
    );
}

/// The live processes named `comm` (the name in `/proc/PID/stat`) whose parent is `parent`
/// (any parent for `None`) and whose arguments satisfy `matches`.
pub fn processes(comm: &str, parent: Option<u32>, matches: impl Fn(&[&[u8]]) -> bool) -> Vec<u32> {
    let mut found = Vec::new();
    for pid in pids() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let mut rest = stat[close + 2..].split(' ');
        let state = rest.next().unwrap_or("");
        let ppid: u32 = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if &stat[open + 1..close] != comm || state == "Z" || parent.is_some_and(|p| p != ppid) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if matches(&args) {
            found.push(pid);
        }
    }
    found
}
