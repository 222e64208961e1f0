//! The `lifecycle` command's own speed, as processes started from a shell, beside the floor
//! (what any process costs to start and end here), all in one run:
//!
//! - the floor: spawn → exit observed of `/bin/true`, and of `lifecycle --version` (the
//!   binary's own start and exit);
//! - `lifecycle up` of a notify daemon: how long after the daemon's `READY=1` the command's exit
//!   is observed (the daemon stamps `CLOCK_MONOTONIC` just before it signals readiness, through
//!   `--ready-time-file`), and the whole command, of which the daemon's own `--ready-after`;
//! - `lifecycle down` of that daemon (it dies on SIGTERM, alone in its group): how long after
//!   the daemon is gone (its pidfd readable, opened before `down` starts) the command's exit is
//!   observed;
//! - `lifecycle status` and `status --json` over N running daemons (and over none).
//!
//! The command is the release `lifecycle` beside this program (`cargo build --release -p
//! lifecycle-cli`: cargo does not build another package's binary for a dependency). Every
//! command runs with its own temporary `--state-dir`, standard output to `/dev/null`. The
//! daemons are this program (`--test-daemon`), from `specs/notify.yaml`.
//!
//! A daemon outlives the `lifecycle up` that started it: it is orphaned, and reparented to the
//! nearest child subreaper or to PID 1. This process makes itself a child subreaper for the
//! block and reaps each daemon the moment it exits, as a host's init does: this VM's PID 1
//! reaps nobody, and a `down` then waits out the core's patience for the reap of the exited
//! leader (measured too, in a few runs, as the case of a host whose PID 1 does not reap).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::runtime::monotonic_ns;
use crate::stats::{Sample, show};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The daemon's spec: the test daemon ready by `sd_notify`, stamping its readiness.
const NOTIFY_SPEC: &str = include_str!("../specs/notify.yaml");

/// The daemon name in [`NOTIFY_SPEC`].
const NAME: &str = "bench-notify";

/// The daemon's own wait before `READY=1` in the `up` runs.
const READY_AFTER_MS: u64 = 100;

/// Runs of `down` where nobody reaps the exited daemon (each waits out the core's patience).
const UNREAPED_RUNS: usize = 5;

/// The `lifecycle` binary beside this program, or an error saying how to build it.
fn lifecycle_binary() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let binary = exe
        .parent()
        .ok_or("this program's path has no directory")?
        .join("lifecycle");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p lifecycle-cli` first (the `cli` block runs the `lifecycle` binary beside this program)",
            binary.display()
        )
        .into())
    }
}

/// A nanosecond span of `CLOCK_MONOTONIC` as a duration (`None` if negative).
fn span(from: i128, to: i128) -> Option<Duration> {
    u64::try_from(to - from).ok().map(Duration::from_nanos)
}

/// A process watched by the [`Reaper`].
struct Watched {
    pid: i32,
    pidfd: OwnedFd,
    /// Reap it at once (as a host's init does), or leave the zombie to whoever calls.
    reap: bool,
    /// Where the `CLOCK_MONOTONIC` time of its exit goes.
    exited: mpsc::Sender<i128>,
}

/// A thread that notes the exit of the processes it is given, on their pidfds, and reaps
/// them: this process is their child subreaper (see the module's documentation).
struct Reaper {
    new: Option<mpsc::Sender<Watched>>,
    wake: UnixStream,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reaper {
    /// Makes this process a child subreaper and starts the thread.
    fn start() -> Result<Reaper, Error> {
        nix::sys::prctl::set_child_subreaper(true)?;
        let (wake, woken) = UnixStream::pair()?;
        woken.set_nonblocking(true)?;
        let (new, added) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("reaper".to_owned())
            .spawn(move || reap_loop(&woken, &added))?;
        Ok(Reaper {
            new: Some(new),
            wake,
            thread: Some(thread),
        })
    }

    /// Watches `pid` (pinned by a pidfd now); the receiver gets the time it exits. `reap`:
    /// reap it then, else the caller does.
    fn watch(&self, pid: u32, reap: bool) -> Result<mpsc::Receiver<i128>, Error> {
        let pidfd =
            lifecycle_tests::pidfd::open(pid).map_err(|e| format!("pidfd of {pid}: {e}"))?;
        let (exited, receiver) = mpsc::channel();
        self.new
            .as_ref()
            .ok_or("the reaper has stopped")?
            .send(Watched {
                pid: i32::try_from(pid)?,
                pidfd,
                reap,
                exited,
            })
            .map_err(|_| "the reaper has stopped")?;
        (&self.wake).write_all(&[1])?;
        Ok(receiver)
    }
}

impl Drop for Reaper {
    /// Ends the thread and this process's being a subreaper.
    fn drop(&mut self) {
        self.new = None;
        let _ = (&self.wake).write_all(&[1]);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = nix::sys::prctl::set_child_subreaper(false);
    }
}

/// The reaper's thread: polls the watched pidfds and the wake-up socket.
fn reap_loop(woken: &UnixStream, added: &mpsc::Receiver<Watched>) {
    let mut watched: Vec<Watched> = Vec::new();
    loop {
        let (now, ready) = {
            let mut fds = vec![PollFd::new(woken.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                watched
                    .iter()
                    .map(|w| PollFd::new(w.pidfd.as_fd(), PollFlags::POLLIN)),
            );
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let now = monotonic_ns();
            let ready: Vec<bool> = fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            (now, ready)
        };
        let mut keep = Vec::with_capacity(watched.len());
        for (w, exited) in watched.into_iter().zip(ready.iter().skip(1)) {
            if *exited {
                if w.reap {
                    let _ = waitpid(Pid::from_raw(w.pid), None);
                }
                let _ = w.exited.send(now);
            } else {
                keep.push(w);
            }
        }
        watched = keep;
        if ready.first().copied().unwrap_or(false) {
            let mut buf = [0u8; 64];
            while matches!((&*woken).read(&mut buf), Ok(n) if n > 0) {}
            loop {
                match added.try_recv() {
                    Ok(w) => watched.push(w),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            }
        }
    }
}

/// One command's run: `CLOCK_MONOTONIC` right before its spawn and right after its exit was
/// observed (waitpid), and its standard output if asked for.
struct Ran {
    started: i128,
    ended: i128,
    stdout: String,
}

impl Ran {
    /// Spawn → exit observed.
    fn took(&self) -> Duration {
        span(self.started, self.ended).unwrap_or_default()
    }
}

/// Runs `program args`, its standard output to `/dev/null` (or captured, for the untimed
/// runs that read it); an error if it fails.
fn run(program: &Path, args: &[&str], capture: bool) -> Result<Ran, Error> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LIFECYCLE_STATE_DIR")
        .env_remove("TEST_DAEMON_FLAGS")
        .stdin(Stdio::null())
        .stdout(if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    let started = monotonic_ns();
    let mut child = command.spawn()?;
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    let status = child.wait()?;
    let ended = monotonic_ns();
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        return Err(format!(
            "`{} {}` failed ({status}): {}",
            program.display(),
            args.join(" "),
            stderr.trim()
        )
        .into());
    }
    Ok(Ran {
        started,
        ended,
        stdout,
    })
}

/// The raw value of `"field":` in a one-line JSON object (a number or a string's text).
fn json_field<'a>(line: &'a str, field: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{field}\":"))? + field.len() + 3;
    let rest = line.get(at..)?;
    match rest.strip_prefix('"') {
        Some(text) => text.split('"').next(),
        None => rest.split([',', '}']).next(),
    }
}

/// The daemon's readiness stamp in `file`, which it writes just after `READY=1`: it may not
/// be there yet when `up` returns.
fn ready_stamp(file: &Path) -> Result<i128, Error> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::read_to_string(file) {
            // Written atomically (a rename): any text is the whole stamp.
            Ok(text) if !text.trim().is_empty() => {
                return Ok(text.trim().parse()?);
            }
            Ok(_) => {}
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(format!("{}: {e}", file.display()).into());
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// What the block shares: the binaries, the temporary directory and the spec in it.
struct Block {
    lifecycle: PathBuf,
    daemon: String,
    dir: tempfile::TempDir,
    spec: String,
    /// The state directories used, for the clean-up.
    states: Vec<String>,
}

impl Block {
    /// A path in the block's temporary directory.
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// `lifecycle --state-dir STATE args…`.
    fn lifecycle(&self, state: &str, args: &[&str], capture: bool) -> Result<Ran, Error> {
        let mut all = vec!["--state-dir", state];
        all.extend_from_slice(args);
        run(&self.lifecycle, &all, capture)
    }

    /// `lifecycle up` of instance `id`, ready `ready_after` ms after its start.
    fn up(&self, state: &str, id: &str, ready_after: u64, ready_file: &str) -> Result<Ran, Error> {
        let sets = [
            format!("binary={}", self.daemon),
            format!("id={id}"),
            format!("ready_after={ready_after}"),
            format!("ready_file={ready_file}"),
            format!("log_dir={}", self.path("logs")),
        ];
        let mut args = vec!["up", self.spec.as_str()];
        for set in &sets {
            args.extend(["--set", set.as_str()]);
        }
        self.lifecycle(state, &args, false)
    }

    /// Each running daemon's PID by key, from `lifecycle status --json`.
    fn pids(&self, state: &str) -> Result<HashMap<String, u32>, Error> {
        let out = self.lifecycle(state, &["--json", "status"], true)?.stdout;
        let mut pids = HashMap::new();
        for line in out.lines() {
            let key = json_field(line, "key").ok_or("a status line without a key")?;
            if json_field(line, "state") != Some("ready") {
                return Err(format!("{key} is not ready: {line}").into());
            }
            let pid = json_field(line, "pid").and_then(|p| p.parse().ok());
            pids.insert(key.to_owned(), pid.ok_or("a status line without a pid")?);
        }
        Ok(pids)
    }
}

impl Drop for Block {
    /// Stops whatever a failed run left running.
    fn drop(&mut self) {
        for state in &self.states {
            let _ = run(
                &self.lifecycle,
                &["--state-dir", state, "down", NAME],
                false,
            );
        }
    }
}

/// One line of the table: the figure, its sample, the target, and how it compares.
fn line(id: &str, what: &str, sample: &Sample, target: &str, met: Option<Duration>, beside: &str) {
    crate::figures::time(format!("cli.{id}"), sample.median());
    let verdict = match met {
        Some(limit) if sample.median() <= limit && sample.percentile(90.0) <= limit => "yes",
        Some(limit) if sample.median() <= limit => "median yes, p90 no",
        Some(_) => "**no**",
        None => "",
    };
    println!(
        "| {what} | {} | {} | {} | {} | {target} | {verdict} | {beside} |",
        sample.len(),
        show(sample.median()),
        show(sample.percentile(90.0)),
        show(sample.range().1),
    );
}

/// `a` against the floor `/bin/true` (`t`) and `lifecycle --version` (`v`).
fn beside_floor(a: Duration, t: Duration, v: Duration) -> String {
    let diff = |b: Duration| {
        if a >= b {
            format!("+{}", show(a - b))
        } else {
            format!("−{}", show(b - a))
        }
    };
    format!(
        "{:.1}× `/bin/true` ({}); {} vs `--version`",
        a.as_secs_f64() / t.as_secs_f64().max(1e-9),
        diff(t),
        diff(v)
    )
}

/// The `cli` block: `runs` runs of each figure, `status` over `daemons` daemons.
#[allow(clippy::print_stdout)]
pub(crate) fn run_block(runs: usize, daemons: usize) -> Result<(), Error> {
    let lifecycle = lifecycle_binary()?;
    let dir = tempfile::tempdir()?;
    let spec = dir.path().join("notify.yaml");
    std::fs::write(&spec, NOTIFY_SPEC)?;
    let mut block = Block {
        lifecycle,
        daemon: std::env::current_exe()?.to_string_lossy().into_owned(),
        spec: spec.to_string_lossy().into_owned(),
        dir,
        states: Vec::new(),
    };
    let (updown, many, empty) = (
        block.path("state-updown"),
        block.path("state-many"),
        block.path("state-empty"),
    );
    block.states = vec![updown.clone(), many.clone()];
    let reaper = Reaper::start()?;
    let truth = PathBuf::from("/bin/true");

    // Not counted: the first runs read the binaries from disk.
    eprintln!("cli: warming up");
    run(&truth, &[], false)?;
    block.lifecycle(&updown, &["--version"], false)?;
    updown_once(&block, &reaper, &updown, "warm", true)?;

    eprint!("cli: floor ");
    let (mut truths, mut versions) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        truths.push(run(&truth, &[], false)?.took());
        versions.push(run(&block.lifecycle, &["--version"], false)?.took());
        eprint!(".");
    }
    eprintln!();

    eprint!("cli: up and down ");
    let mut ups = UpDown::default();
    for i in 0..runs {
        ups.push(updown_once(
            &block,
            &reaper,
            &updown,
            &format!("u{i}"),
            true,
        )?);
        eprint!(".");
    }
    eprintln!();
    eprint!("cli: down, the exited daemon not reaped ");
    let mut unreaped = Vec::new();
    for i in 0..runs.min(UNREAPED_RUNS) {
        unreaped.push(updown_once(&block, &reaper, &updown, &format!("z{i}"), false)?.down_lag);
        eprint!(".");
    }
    eprintln!();

    eprint!("cli: {daemons} daemons up ");
    for i in 0..daemons {
        block.up(
            &many,
            &format!("s{i}"),
            0,
            &block.path(&format!("s{i}.ready")),
        )?;
        if i % 10 == 9 {
            eprint!(".");
        }
    }
    eprintln!();
    let pids = block.pids(&many)?;
    if pids.len() != daemons {
        return Err(format!("{} daemons running, not {daemons}", pids.len()).into());
    }
    let table = block.lifecycle(&many, &["status"], true)?.stdout;
    if table.lines().count() != daemons + 1 {
        return Err(format!("`status` printed {} lines", table.lines().count()).into());
    }
    let mut exits = Vec::new();
    for &pid in pids.values() {
        exits.push(reaper.watch(pid, true)?);
    }
    eprint!("cli: status ");
    let (mut tables, mut jsons, mut empties) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        tables.push(block.lifecycle(&many, &["status"], false)?.took());
        jsons.push(block.lifecycle(&many, &["--json", "status"], false)?.took());
        empties.push(block.lifecycle(&empty, &["status"], false)?.took());
        eprint!(".");
    }
    eprintln!();
    let all_down = block.lifecycle(&many, &["down", NAME], false)?;
    let mut last_exit = all_down.started;
    for exit in exits {
        last_exit = last_exit.max(exit.recv_timeout(Duration::from_secs(10))?);
    }
    let left = block.lifecycle(&many, &["--json", "status"], true)?.stdout;
    if !left.trim().is_empty() {
        return Err(format!("daemons left after `down`: {left}").into());
    }
    block.states.clear();
    drop(reaper);
    // Anything else that ended under this subreaper (nothing expected).
    while let Ok(status) = waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        if status == nix::sys::wait::WaitStatus::StillAlive {
            break;
        }
    }

    let (t, v) = (Sample(truths), Sample(versions));
    let (tm, vm) = (t.median(), v.median());
    let beside = |s: &Sample| beside_floor(s.median(), tm, vm);
    println!(
        "| figure (spawn → exit observed) | n | median | p90 | max | target | met | median beside the floor |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    line("floor_true", "floor: `/bin/true`", &t, "", None, "");
    line(
        "floor_version",
        "floor: `lifecycle --version` (the binary's own start and exit)",
        &v,
        "",
        None,
        &format!(
            "{:.1}× `/bin/true` (+{})",
            vm.as_secs_f64() / tm.as_secs_f64().max(1e-9),
            show(vm.saturating_sub(tm))
        ),
    );
    let up_lag = Sample(ups.up_lag);
    line(
        "up_after_ready",
        "`up` of a notify daemon: exit observed after its `READY=1`",
        &up_lag,
        "≤ 3 ms",
        Some(Duration::from_millis(3)),
        &beside(&up_lag),
    );
    let up_wall = Sample(ups.up_wall);
    line(
        "up_whole",
        &format!("`up`: the whole command (daemon ready {READY_AFTER_MS} ms after its start)"),
        &up_wall,
        "",
        None,
        &format!(
            "of which the daemon's ready-after {READY_AFTER_MS} ms: {:.0} %",
            READY_AFTER_MS as f64 / 1e3 / up_wall.median().as_secs_f64().max(1e-9) * 100.0
        ),
    );
    let before = Sample(ups.before_ready);
    line(
        "up_before_ready",
        "  of which spawn → `READY=1`, less the ready-after (the command's start, the spawn, the daemon's exec)",
        &before,
        "",
        None,
        &beside(&before),
    );
    let down_lag = Sample(ups.down_lag);
    line(
        "down_after_exit",
        "`down` of that daemon (dies on SIGTERM): exit observed after the daemon is gone (reaped at once, as by init)",
        &down_lag,
        "≤ 3 ms",
        Some(Duration::from_millis(3)),
        &beside(&down_lag),
    );
    let down_wall = Sample(ups.down_wall);
    line(
        "down_whole",
        "`down`: the whole command",
        &down_wall,
        "",
        None,
        &beside(&down_wall),
    );
    let unreaped = Sample(unreaped);
    line(
        "down_unreaped",
        "`down`, the exited daemon left unreaped by its parent (a PID 1 that reaps nobody, as this VM's): exit after it is gone",
        &unreaped,
        "",
        None,
        "",
    );
    let tables = Sample(tables);
    line(
        "status_table",
        &format!("`status`, {daemons} daemons running"),
        &tables,
        "≤ 10 ms",
        Some(Duration::from_millis(10)),
        &beside(&tables),
    );
    let jsons = Sample(jsons);
    line(
        "status_json",
        &format!("`status --json`, {daemons} daemons running"),
        &jsons,
        "≤ 10 ms",
        Some(Duration::from_millis(10)),
        &beside(&jsons),
    );
    let empties = Sample(empties);
    line(
        "status_empty",
        "`status`, empty state directory",
        &empties,
        "",
        None,
        &beside(&empties),
    );
    println!(
        "| one `down {NAME}` of the {daemons} daemons: the whole command; the last daemon gone | 1 | {} | | | | | last gone {} after the start |",
        show(all_down.took()),
        show(span(all_down.started, last_exit).unwrap_or_default()),
    );
    if ups.early > 0 {
        println!();
        println!(
            "`down` returned before the daemon's exit was seen in {} of {runs} runs (counted as 0).",
            ups.early
        );
    }
    Ok(())
}

/// The figures of the `up`/`down` runs.
#[derive(Default)]
struct UpDown {
    up_lag: Vec<Duration>,
    up_wall: Vec<Duration>,
    before_ready: Vec<Duration>,
    down_lag: Vec<Duration>,
    down_wall: Vec<Duration>,
    /// Runs where `down`'s exit was observed before the daemon's.
    early: usize,
}

impl UpDown {
    /// Adds one run's figures.
    fn push(&mut self, one: One) {
        self.up_lag.push(one.up_lag);
        self.up_wall.push(one.up_wall);
        self.before_ready.push(one.before_ready);
        self.down_lag.push(one.down_lag);
        self.down_wall.push(one.down_wall);
        self.early += usize::from(one.early);
    }
}

/// One `up` then `down` of instance `id`.
struct One {
    up_lag: Duration,
    up_wall: Duration,
    before_ready: Duration,
    down_lag: Duration,
    down_wall: Duration,
    early: bool,
}

/// `lifecycle up` of a notify daemon, then `lifecycle down` of it; `reap`: whether the daemon
/// is reaped the moment it exits (else after `down` returns).
fn updown_once(
    block: &Block,
    reaper: &Reaper,
    state: &str,
    id: &str,
    reap: bool,
) -> Result<One, Error> {
    let ready_file = block.path(&format!("{id}.ready"));
    let up = block.up(state, id, READY_AFTER_MS, &ready_file)?;
    let ready = ready_stamp(Path::new(&ready_file))?;
    let key = format!("{NAME}@{id}");
    let pid = *block
        .pids(state)?
        .get(&key)
        .ok_or_else(|| format!("{key} not in the status"))?;
    let exited = reaper.watch(pid, reap)?;
    let down = block.lifecycle(state, &["down", &key], false)?;
    let gone = exited.recv_timeout(Duration::from_secs(10))?;
    if !reap {
        let _ = waitpid(Pid::from_raw(i32::try_from(pid)?), None);
    }
    let ready_after = Duration::from_millis(READY_AFTER_MS);
    Ok(One {
        up_lag: span(ready, up.ended).ok_or("`up` ended before READY=1")?,
        up_wall: up.took(),
        before_ready: span(up.started, ready)
            .ok_or("READY=1 before `up` started")?
            .saturating_sub(ready_after),
        down_lag: span(gone, down.ended).unwrap_or_default(),
        down_wall: down.took(),
        early: down.ended < gone,
    })
}
