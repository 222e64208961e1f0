//! A small, fast-starting test daemon for exercising a process supervisor.
//!
//! The daemon is a single process (plus a few threads) whose behaviour is
//! chosen entirely by command-line flags: readiness by HTTP health check, by
//! `READY=1` on `NOTIFY_SOCKET` or by a line on stdout, crashes, timed exits,
//! SIGTERM handling, a process-group grandchild, and misbehaving health
//! checks. [`run`] parses the flags and runs the daemon; the `test-daemon`
//! binary and [`run_if_requested`] are thin wrappers around it.
//!
//! Flags (all optional, any combination):
//!
//! | flag | effect |
//! |------|--------|
//! | `--port P` | serve HTTP on `127.0.0.1:P`: `GET /health`, `POST /shutdown`, anything else 404 |
//! | `--ready-after MS` | become ready `MS` ms after start (default 0) |
//! | `--ready-mode 503\|bind-late` | before ready, answer 503 to `/health` (default) or do not bind the port at all |
//! | `--notify` | when ready, send `READY=1` to `NOTIFY_SOCKET` (a path, or an abstract name written `@name`) |
//! | `--notify-from-child` | like `--notify`, but sent by a short-lived forked child process |
//! | `--ready-line TEXT` | when ready, print `TEXT` as a line on stdout |
//! | `--print-lines N` | at start, print `line 1` … `line N` on stderr |
//! | `--log-bytes N` | at start, write `N` bytes of filler lines (`xxx…\n`) on stdout |
//! | `--crash-at-start CODE` | after `--print-lines`, exit immediately with `CODE` |
//! | `--crash-if-file PATH` | after `--print-lines`, exit immediately with 3 if `PATH` exists (a daemon that starts once, then crashes at start) |
//! | `--exit-after MS` | exit `MS` ms after start with the `--exit-code` (default 1) |
//! | `--exit-code X` | exit code used by `--exit-after` |
//! | `--ignore-sigterm` | SIGTERM is ignored |
//! | `--ignore-sigint` | SIGINT is ignored |
//! | `--exit-after-sigterm MS` | on SIGTERM or SIGINT, keep running `MS` ms, then exit 0 |
//! | `--fork-grandchild` | fork a child that stays in the process group, ignores SIGTERM and sleeps forever; print `grandchild <pid>` on stdout |
//! | `--grandchild-pid-file PATH` | also write the grandchild's pid to `PATH`, before the line is printed (needs `--fork-grandchild`) |
//! | `--hang-health` | read `/health` requests but never answer them |
//! | `--health-500` | `/health` always answers 500 |
//! | `--unhealthy-after MS` | `/health` answers 500 from `MS` ms after start on (ready or not) |
//! | `--report PATH` | at start, write to `PATH` where stdin comes from (`stdin=…`) and the environment (`env=NAME=VALUE` lines) |
//! | `--pid-file PATH` | write the daemon's pid to `PATH` at start |
//! | `--ready-time-file PATH` | when ready, write to `PATH` the `CLOCK_MONOTONIC` time (ns) taken just before signalling readiness (for latency benchmarks; the file appears just after) |
//!
//! `TEST_DAEMON_FLAGS`, if set, holds more flags, separated by whitespace, appended to the
//! command line: a spec's `env:` can pick behaviours that way.
//!
//! Unknown flags, missing or bad values, and setup failures print a message on
//! stderr and give exit code 2. Everything printed is flushed at once. With no
//! exit condition the daemon runs until it is killed.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::process;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, dup2_stderr, dup2_stdin, dup2_stdout, fork, pause};

/// Exit code for bad flags and for failures to set the daemon up.
const USAGE_ERROR: i32 = 2;

/// Environment variable with extra flags, whitespace-separated.
const FLAGS_VARIABLE: &str = "TEST_DAEMON_FLAGS";

/// First argument that makes [`run_if_requested`] run the daemon.
const DAEMON_ARGUMENT: &str = "--test-daemon";

/// Stack size of the daemon's helper threads; they need very little.
const THREAD_STACK_BYTES: usize = 64 * 1024;

/// Longest accepted HTTP request head.
const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// Largest request body that is read (and discarded) before answering.
const MAX_REQUEST_BODY_BYTES: u64 = 1024 * 1024;

/// How long a connection may take to send its request.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Length of one `--log-bytes` filler line, newline included.
const FILLER_LINE_BYTES: usize = 64;

/// Filler lines written per `write_all` call for `--log-bytes`.
const FILLER_LINES_PER_BLOCK: usize = 1024;

/// Bytes written per `write_all` call for `--log-bytes`.
const FILLER_BLOCK_BYTES: usize = FILLER_LINE_BYTES * FILLER_LINES_PER_BLOCK;

/// Runs the test daemon with `args` (the command line without the program
/// name) and returns the exit code the caller should exit with.
///
/// Returns 2 after a message on stderr when a flag is unknown or its value is
/// bad, or when setting the daemon up fails. Otherwise it returns only when a
/// flag asks the daemon to exit (`--crash-at-start`, `--exit-after`,
/// `--exit-after-sigterm`, `POST /shutdown`); without one it runs until the
/// process is killed.
///
/// Call it from the main thread before any other thread is started, so that
/// every thread inherits the blocked SIGTERM/SIGINT mask of
/// `--exit-after-sigterm`.
pub fn run(args: &[String]) -> i32 {
    let mut args = args.to_vec();
    if let Ok(extra) = env::var(FLAGS_VARIABLE) {
        args.extend(extra.split_whitespace().map(str::to_owned));
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(message) => {
            report(&message);
            return USAGE_ERROR;
        }
    };
    match serve(&options) {
        Ok(exit_code) => exit_code,
        Err(message) => {
            report(&message);
            USAGE_ERROR
        }
    }
}

/// Runs the daemon and exits the process if the first command-line argument
/// is `--test-daemon`; returns otherwise.
///
/// The daemon gets the arguments after `--test-daemon`. This lets a demo or
/// benchmark binary re-execute itself as the daemon: call it first thing in
/// `main`, before any thread is started.
pub fn run_if_requested() {
    let mut args = env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(DAEMON_ARGUMENT)) {
        return;
    }
    let exit_code = match args
        .map(OsString::into_string)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(daemon_args) => run(&daemon_args),
        Err(argument) => {
            report(&format!("argument is not UTF-8: {argument:?}"));
            USAGE_ERROR
        }
    };
    process::exit(exit_code);
}

/// What the daemon does before it is ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ReadyMode {
    /// Listen at once and answer `/health` with 503.
    #[default]
    Answer503,
    /// Do not bind the port until ready.
    BindLate,
}

/// Which process sends `READY=1` on the notify socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotifySender {
    /// The daemon itself (`--notify`).
    Daemon,
    /// A short-lived forked child of the daemon (`--notify-from-child`).
    ForkedChild,
}

/// The daemon's behaviour, as given by its flags.
#[derive(Debug)]
struct Options {
    /// `--port`
    port: Option<u16>,
    /// `--ready-after`
    ready_after: Duration,
    /// `--ready-mode`
    ready_mode: ReadyMode,
    /// `--notify` or `--notify-from-child`
    notify: Option<NotifySender>,
    /// `--ready-line`
    ready_line: Option<String>,
    /// `--print-lines`
    print_lines: u64,
    /// `--log-bytes`
    log_bytes: u64,
    /// `--crash-at-start`
    crash_at_start: Option<i32>,
    /// `--crash-if-file`
    crash_if_file: Option<PathBuf>,
    /// `--exit-after`
    exit_after: Option<Duration>,
    /// `--exit-code`
    exit_code: i32,
    /// `--ignore-sigterm`
    ignore_sigterm: bool,
    /// `--exit-after-sigterm`
    exit_after_sigterm: Option<Duration>,
    /// `--fork-grandchild`
    fork_grandchild: bool,
    /// `--grandchild-pid-file`
    grandchild_pid_file: Option<PathBuf>,
    /// `--hang-health`
    hang_health: bool,
    /// `--health-500`
    health_500: bool,
    /// `--ignore-sigint`
    ignore_sigint: bool,
    /// `--unhealthy-after`
    unhealthy_after: Option<Duration>,
    /// `--report`
    report: Option<PathBuf>,
    /// `--pid-file`
    pid_file: Option<PathBuf>,
    /// `--ready-time-file`
    ready_time_file: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            port: None,
            ready_after: Duration::ZERO,
            ready_mode: ReadyMode::default(),
            notify: None,
            ready_line: None,
            print_lines: 0,
            log_bytes: 0,
            crash_at_start: None,
            crash_if_file: None,
            exit_after: None,
            exit_code: 1,
            ignore_sigterm: false,
            exit_after_sigterm: None,
            ready_time_file: None,
            fork_grandchild: false,
            grandchild_pid_file: None,
            hang_health: false,
            health_500: false,
            ignore_sigint: false,
            unhealthy_after: None,
            report: None,
            pid_file: None,
        }
    }
}

impl Options {
    /// Parses the command line (without the program name).
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self::default();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--port" => options.port = Some(parse_value(flag, value()?)?),
                "--ready-after" => options.ready_after = parse_millis(flag, value()?)?,
                "--ready-mode" => {
                    options.ready_mode = match value()? {
                        "503" => ReadyMode::Answer503,
                        "bind-late" => ReadyMode::BindLate,
                        other => {
                            return Err(format!(
                                "{flag}: expected 503 or bind-late, got {other:?}"
                            ));
                        }
                    }
                }
                "--notify" => options.set_notify(NotifySender::Daemon)?,
                "--notify-from-child" => options.set_notify(NotifySender::ForkedChild)?,
                "--ready-line" => options.ready_line = Some(value()?.to_owned()),
                "--ready-time-file" => options.ready_time_file = Some(PathBuf::from(value()?)),
                "--print-lines" => options.print_lines = parse_value(flag, value()?)?,
                "--log-bytes" => options.log_bytes = parse_value(flag, value()?)?,
                "--crash-at-start" => {
                    options.crash_at_start = Some(parse_exit_code(flag, value()?)?)
                }
                "--crash-if-file" => options.crash_if_file = Some(PathBuf::from(value()?)),
                "--exit-after" => options.exit_after = Some(parse_millis(flag, value()?)?),
                "--exit-code" => options.exit_code = parse_exit_code(flag, value()?)?,
                "--ignore-sigterm" => options.ignore_sigterm = true,
                "--exit-after-sigterm" => {
                    options.exit_after_sigterm = Some(parse_millis(flag, value()?)?);
                }
                "--fork-grandchild" => options.fork_grandchild = true,
                "--grandchild-pid-file" => options.grandchild_pid_file = Some(value()?.into()),
                "--hang-health" => options.hang_health = true,
                "--health-500" => options.health_500 = true,
                "--ignore-sigint" => options.ignore_sigint = true,
                "--unhealthy-after" => {
                    options.unhealthy_after = Some(parse_millis(flag, value()?)?)
                }
                "--report" => options.report = Some(value()?.into()),
                "--pid-file" => options.pid_file = Some(value()?.into()),
                unknown => return Err(format!("unknown flag {unknown:?}")),
            }
        }
        if options.grandchild_pid_file.is_some() && !options.fork_grandchild {
            return Err("--grandchild-pid-file needs --fork-grandchild".to_owned());
        }
        Ok(options)
    }

    /// Records who sends `READY=1`; `--notify` and `--notify-from-child`
    /// exclude each other.
    fn set_notify(&mut self, sender: NotifySender) -> Result<(), String> {
        match self.notify {
            Some(previous) if previous != sender => {
                Err("--notify and --notify-from-child exclude each other".to_owned())
            }
            _ => {
                self.notify = Some(sender);
                Ok(())
            }
        }
    }
}

/// Parses the value of `flag`.
fn parse_value<T>(flag: &str, value: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    value
        .parse()
        .map_err(|error| format!("{flag}: bad value {value:?}: {error}"))
}

/// Parses a duration in milliseconds.
fn parse_millis(flag: &str, value: &str) -> Result<Duration, String> {
    parse_value(flag, value).map(Duration::from_millis)
}

/// Parses a process exit code (0 to 255).
fn parse_exit_code(flag: &str, value: &str) -> Result<i32, String> {
    parse_value::<u8>(flag, value).map(i32::from)
}

/// Prints `message` on stderr, prefixed with the daemon's name.
fn report(message: &str) {
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(io::stderr().lock(), "test-daemon: {message}");
}

/// Runs the daemon; returns its exit code, or an error message for exit code 2.
fn serve(options: &Options) -> Result<i32, String> {
    let started = Instant::now();
    let notify_target = options
        .notify
        .map(NotifyTarget::from_environment)
        .transpose()?;
    let termination_signals = prepare_signals(options)?;
    if let Some(path) = &options.pid_file {
        write_pid_file(path, process::id())?;
    }
    if let Some(path) = &options.report {
        write_report(path)?;
    }
    print_numbered_lines(options.print_lines)
        .map_err(|error| format!("cannot write to stderr: {error}"))?;
    if options
        .crash_if_file
        .as_ref()
        .is_some_and(|path| path.exists())
    {
        return Ok(3);
    }
    if let Some(exit_code) = options.crash_at_start {
        return Ok(exit_code);
    }
    write_filler(options.log_bytes).map_err(|error| format!("cannot write to stdout: {error}"))?;
    if options.fork_grandchild {
        let grandchild = spawn_grandchild()?;
        if let Some(path) = &options.grandchild_pid_file {
            write_pid_file(path, grandchild.as_raw().unsigned_abs())?;
        }
        print_line(&format!("grandchild {grandchild}"))?;
    }

    let (exit_requests, exit_request_receiver) = mpsc::channel();
    if let (Some(signals), Some(delay)) = (termination_signals, options.exit_after_sigterm) {
        let exit_requests = exit_requests.clone();
        spawn_thread("signal-waiter", move || {
            if signals.wait().is_ok() {
                thread::sleep(delay);
                // Fails only when the main thread has returned: the process
                // is exiting anyway.
                let _ = exit_requests.send(0);
            }
        })?;
    }
    let http = Arc::new(HttpBehaviour {
        ready: AtomicBool::new(false),
        hang_health: options.hang_health,
        health_500: options.health_500,
        unhealthy_at: options.unhealthy_after.map(|delay| started + delay),
        exit_requests: exit_requests.clone(),
    });
    if let Some(port) = options.port
        && options.ready_mode == ReadyMode::Answer503
    {
        start_http_server(port, &http)?;
    }

    let ready_deadline = started + options.ready_after;
    let exit_deadline = options.exit_after.map(|delay| started + delay);
    let mut is_ready = false;
    loop {
        let now = Instant::now();
        if exit_deadline.is_some_and(|deadline| now >= deadline) {
            return Ok(options.exit_code);
        }
        if !is_ready && now >= ready_deadline {
            become_ready(options, &http, notify_target.as_ref())?;
            is_ready = true;
        }
        let next_deadline = [(!is_ready).then_some(ready_deadline), exit_deadline]
            .into_iter()
            .flatten()
            .min();
        // `exit_requests` lives until the end of this function, so the
        // channel never disconnects.
        let exit_request = match next_deadline {
            Some(deadline) => exit_request_receiver
                .recv_timeout(deadline.saturating_duration_since(now))
                .ok(),
            None => exit_request_receiver.recv().ok(),
        };
        if let Some(exit_code) = exit_request {
            return Ok(exit_code);
        }
    }
}

/// Makes the daemon ready: binds the port in bind-late mode, turns `/health`
/// to 200, sends `READY=1` and prints the ready line, as the flags ask.
fn become_ready(
    options: &Options,
    http: &Arc<HttpBehaviour>,
    notify_target: Option<&NotifyTarget>,
) -> Result<(), String> {
    if let Some(port) = options.port
        && options.ready_mode == ReadyMode::BindLate
    {
        start_http_server(port, http)?;
    }
    // Stamped right before the readiness signals; written after them, so that writing it
    // delays none of them (a reader waits for the file to appear).
    let ready_at = options
        .ready_time_file
        .as_ref()
        .map(|_| nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC));
    http.ready.store(true, Ordering::Release);
    if let Some(target) = notify_target
        && let Err(message) = target.send_ready()
    {
        // A daemon keeps running when its supervisor cannot be told; the
        // supervisor sees the missing notification.
        report(&message);
    }
    if let Some(line) = &options.ready_line {
        print_line(line)?;
    }
    if let (Some(path), Some(at)) = (&options.ready_time_file, ready_at) {
        let at = at.map_err(|error| format!("cannot read CLOCK_MONOTONIC: {error}"))?;
        let nanos = i128::from(at.tv_sec()) * 1_000_000_000 + i128::from(at.tv_nsec());
        write_atomically(path, &nanos.to_string())?;
    }
    Ok(())
}

/// Sets SIGTERM/SIGINT up: ignores SIGTERM for `--ignore-sigterm`, and for
/// `--exit-after-sigterm` blocks the signals it handles in the calling thread
/// (threads spawned later inherit the mask) and returns them for `sigwait`.
fn prepare_signals(options: &Options) -> Result<Option<SigSet>, String> {
    if options.ignore_sigterm {
        ignore_signal(Signal::SIGTERM)
            .map_err(|error| format!("cannot ignore SIGTERM: {error}"))?;
    }
    if options.ignore_sigint {
        ignore_signal(Signal::SIGINT).map_err(|error| format!("cannot ignore SIGINT: {error}"))?;
    }
    if options.exit_after_sigterm.is_none() {
        return Ok(None);
    }
    let mut signals = SigSet::from(Signal::SIGINT);
    if !options.ignore_sigterm {
        signals.add(Signal::SIGTERM);
    }
    signals
        .thread_block()
        .map_err(|error| format!("cannot block termination signals: {error}"))?;
    Ok(Some(signals))
}

/// Sets the disposition of `signal` to "ignore".
///
/// Async-signal-safe: it only calls `sigaction`.
#[allow(unsafe_code)]
fn ignore_signal(signal: Signal) -> nix::Result<()> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: SIG_IGN installs no handler code, so no handler can run at an
    // unsafe moment.
    unsafe { sigaction(signal, &ignore) }.map(drop)
}

/// Forks the `--fork-grandchild` process and returns its pid.
///
/// The child stays in the process group, ignores SIGTERM, has stdin, stdout
/// and stderr on `/dev/null` (it holds no pipe of the daemon open, and the
/// HTTP listener does not exist yet), and sleeps until it is killed.
#[allow(unsafe_code)]
fn spawn_grandchild() -> Result<Pid, String> {
    let dev_null: OwnedFd = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|error| format!("cannot open /dev/null: {error}"))?
        .into();
    // SIGTERM stays blocked in the child until it ignores it, so a SIGTERM
    // sent to the group right after the fork cannot kill it.
    let previous_mask = SigSet::from(Signal::SIGTERM)
        .thread_swap_mask(SigmaskHow::SIG_BLOCK)
        .map_err(|error| format!("cannot block SIGTERM: {error}"))?;
    // SAFETY: the child only makes async-signal-safe calls (sigaction,
    // pthread_sigmask, dup2, pause) and never returns, so locks held by other
    // threads at the fork cannot deadlock it.
    let forked = unsafe { fork() };
    match forked {
        Ok(ForkResult::Child) => sleep_as_grandchild(&dev_null),
        Ok(ForkResult::Parent { child }) => {
            previous_mask
                .thread_set_mask()
                .map_err(|error| format!("cannot restore the signal mask: {error}"))?;
            Ok(child)
        }
        Err(error) => Err(format!("cannot fork the grandchild: {error}")),
    }
}

/// Body of the forked grandchild: ignore SIGTERM, detach stdio, sleep forever.
///
/// Only async-signal-safe calls, no allocation; failures are ignored because
/// the grandchild has nobody to report them to.
fn sleep_as_grandchild(dev_null: &OwnedFd) -> ! {
    let _ = ignore_signal(Signal::SIGTERM);
    let _ = SigSet::empty().thread_set_mask();
    let _ = dup2_stdin(dev_null);
    let _ = dup2_stdout(dev_null);
    let _ = dup2_stderr(dev_null);
    loop {
        pause();
    }
}

/// Where and by whom `READY=1` is sent.
#[derive(Debug)]
struct NotifyTarget {
    /// The socket named by `NOTIFY_SOCKET`.
    address: SocketAddr,
    /// `NOTIFY_SOCKET` as given, for messages.
    name: OsString,
    /// Which process sends the datagram.
    sender: NotifySender,
}

impl NotifyTarget {
    /// Resolves `NOTIFY_SOCKET`: a path, or an abstract name after `@`.
    fn from_environment(sender: NotifySender) -> Result<Self, String> {
        let name = env::var_os("NOTIFY_SOCKET")
            .ok_or("--notify and --notify-from-child need NOTIFY_SOCKET in the environment")?;
        let address = match name.as_bytes().strip_prefix(b"@") {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name),
            None => SocketAddr::from_pathname(Path::new(&name)),
        }
        .map_err(|error| format!("bad NOTIFY_SOCKET {name:?}: {error}"))?;
        Ok(Self {
            address,
            name,
            sender,
        })
    }

    /// Sends `READY=1`, from the daemon or from a forked child.
    fn send_ready(&self) -> Result<(), String> {
        match self.sender {
            NotifySender::Daemon => send_ready_datagram(&self.address)
                .map_err(|error| format!("cannot send READY=1 to {:?}: {error}", self.name)),
            NotifySender::ForkedChild => self.send_ready_from_child(),
        }
    }

    /// Forks a child that sends `READY=1` and exits; waits for it.
    #[allow(unsafe_code)]
    fn send_ready_from_child(&self) -> Result<(), String> {
        // SAFETY: the child only makes async-signal-safe calls (socket,
        // sendto, _exit) without allocating, so locks held by other threads
        // at the fork cannot deadlock it.
        let forked = unsafe { fork() };
        match forked {
            Ok(ForkResult::Child) => {
                let exit_code = i32::from(send_ready_datagram(&self.address).is_err());
                // SAFETY: `_exit` ends the child at once, without running the
                // parent's atexit handlers or flushing its buffers.
                unsafe { nix::libc::_exit(exit_code) }
            }
            Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => Ok(()),
                Ok(status) => Err(format!(
                    "the child sending READY=1 to {:?} failed: {status:?}",
                    self.name
                )),
                Err(error) => Err(format!("cannot wait for the notifying child: {error}")),
            },
            Err(error) => Err(format!("cannot fork the notifying child: {error}")),
        }
    }
}

/// Sends the datagram `READY=1` to `address` from a fresh unbound socket.
///
/// Async-signal-safe and allocation-free (socket and sendto only), so a
/// forked child may call it.
fn send_ready_datagram(address: &SocketAddr) -> io::Result<()> {
    UnixDatagram::unbound()?
        .send_to_addr(b"READY=1", address)
        .map(drop)
}

/// Writes `pid` and a newline to `path` atomically (temporary file, rename).
/// Writes `stdin=<what fd 0 is>` and one `env=NAME=VALUE` line per environment variable.
fn write_report(path: &Path) -> Result<(), String> {
    let stdin = fs::read_link("/proc/self/fd/0")
        .map(|target| target.display().to_string())
        .unwrap_or_else(|error| format!("unreadable: {error}"));
    let mut text = format!("stdin={stdin}\n");
    for (name, value) in env::vars_os() {
        text.push_str(&format!(
            "env={}={}\n",
            name.to_string_lossy(),
            value.to_string_lossy()
        ));
    }
    write_atomically(path, &text)
}

fn write_pid_file(path: &Path, pid: u32) -> Result<(), String> {
    write_atomically(path, &pid.to_string())
}

/// Writes `value` and a newline to `path` atomically (temporary file, rename).
fn write_atomically(path: &Path, value: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", process::id()));
    let temporary = PathBuf::from(temporary);
    fs::write(&temporary, format!("{value}\n"))
        .and_then(|()| fs::rename(&temporary, path))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Prints `line 1` … `line count` on stderr.
fn print_numbered_lines(count: u64) -> io::Result<()> {
    let mut stderr = io::stderr().lock();
    for number in 1..=count {
        writeln!(stderr, "line {number}")?;
    }
    stderr.flush()
}

/// Writes exactly `total_bytes` of filler lines (`x…x\n`) on stdout; the
/// last line is shorter when `total_bytes` is not a multiple of the line length.
fn write_filler(total_bytes: u64) -> io::Result<()> {
    if total_bytes == 0 {
        return Ok(());
    }
    let mut line = [b'x'; FILLER_LINE_BYTES];
    line[FILLER_LINE_BYTES - 1] = b'\n';
    let block = line.repeat(FILLER_LINES_PER_BLOCK);
    let mut stdout = io::stdout().lock();
    let mut remaining = total_bytes;
    while remaining >= FILLER_BLOCK_BYTES as u64 {
        stdout.write_all(&block)?;
        remaining -= FILLER_BLOCK_BYTES as u64;
    }
    // Less than a block is left, which fits in usize.
    let remaining = usize::try_from(remaining).map_err(io::Error::other)?;
    let last_line_len = remaining % FILLER_LINE_BYTES;
    stdout.write_all(&block[..remaining - last_line_len])?;
    if last_line_len > 0 {
        stdout.write_all(&line[FILLER_LINE_BYTES - last_line_len..])?;
    }
    stdout.flush()
}

/// Prints `text` as a line on stdout and flushes it.
fn print_line(text: &str) -> Result<(), String> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot write to stdout: {error}"))
}

/// Spawns a named helper thread with a small stack.
fn spawn_thread(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), String> {
    thread::Builder::new()
        .name(name.to_owned())
        .stack_size(THREAD_STACK_BYTES)
        .spawn(body)
        .map(drop)
        .map_err(|error| format!("cannot start thread {name}: {error}"))
}

/// What the HTTP server answers, shared by its connection threads.
#[derive(Debug)]
struct HttpBehaviour {
    /// Whether the daemon is ready (`/health` answers 200).
    ready: AtomicBool,
    /// `--hang-health`
    hang_health: bool,
    /// `--health-500`
    health_500: bool,
    /// `--unhealthy-after`, as the instant it begins.
    unhealthy_at: Option<Instant>,
    /// Where `POST /shutdown` asks the main thread to exit.
    exit_requests: Sender<i32>,
}

/// Binds `127.0.0.1:port` and serves HTTP on a background thread.
fn start_http_server(port: u16, behaviour: &Arc<HttpBehaviour>) -> Result<(), String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let behaviour = Arc::clone(behaviour);
    spawn_thread("http-accept", move || {
        accept_connections(&listener, &behaviour)
    })
}

/// Accepts connections forever, one small thread per connection (so a hung
/// `/health` or a slow client holds up nobody else).
fn accept_connections(listener: &TcpListener, behaviour: &Arc<HttpBehaviour>) {
    for connection in listener.incoming() {
        match connection {
            Ok(stream) => {
                let behaviour = Arc::clone(behaviour);
                if let Err(message) =
                    spawn_thread("http-connection", move || answer(stream, &behaviour))
                {
                    report(&message);
                }
            }
            Err(error) => report(&format!("cannot accept a connection: {error}")),
        }
    }
}

/// An HTTP response: status code, reason phrase, body.
type Response = (u16, &'static str, &'static str);

/// Reads one request from `stream` and answers it, then closes the connection.
fn answer(mut stream: TcpStream, behaviour: &HttpBehaviour) {
    if stream.set_read_timeout(Some(REQUEST_READ_TIMEOUT)).is_err() {
        return;
    }
    let Ok(request) = read_request(&mut stream) else {
        return;
    };
    let response: Response = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/health") if behaviour.hang_health => {
            hold_until_closed(stream);
            return;
        }
        ("GET", "/health")
            if behaviour.health_500
                || behaviour
                    .unhealthy_at
                    .is_some_and(|at| Instant::now() >= at) =>
        {
            (500, "Internal Server Error", "error")
        }
        ("GET", "/health") if behaviour.ready.load(Ordering::Acquire) => (200, "OK", "ok"),
        ("GET", "/health") => (503, "Service Unavailable", "starting"),
        ("POST", "/shutdown") => {
            write_response(&mut stream, (200, "OK", "shutting down"));
            // The main thread holds the receiver until it exits.
            let _ = behaviour.exit_requests.send(0);
            return;
        }
        _ => (404, "Not Found", "not found"),
    };
    write_response(&mut stream, response);
}

/// The parts of an HTTP request the daemon looks at.
#[derive(Debug)]
struct Request {
    /// Request method, such as `GET`.
    method: String,
    /// Request path without the query string.
    path: String,
}

/// Reads a request head up to its blank line, then reads and discards the
/// body announced by `Content-Length` (so closing does not reset the
/// connection before the client has read the answer).
fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    let mut received = Vec::with_capacity(512);
    let mut chunk = [0_u8; 512];
    let head_len = loop {
        if let Some(head_len) = request_head_len(&received) {
            break head_len;
        }
        if received.len() > MAX_REQUEST_HEAD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&received[..head_len]);
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let content_length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let body_already_received = u64::try_from(received.len() - head_len).unwrap_or(u64::MAX);
    let body_left = content_length
        .saturating_sub(body_already_received)
        .min(MAX_REQUEST_BODY_BYTES);
    io::copy(&mut stream.take(body_left), &mut io::sink())?;
    Ok(Request { method, path })
}

/// Length of the request head including its blank line, once it is complete.
fn request_head_len(received: &[u8]) -> Option<usize> {
    let crlf_end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|start| start + 4);
    let lf_end = received
        .windows(2)
        .position(|window| window == b"\n\n")
        .map(|start| start + 2);
    match (crlf_end, lf_end) {
        (Some(crlf), Some(lf)) => Some(crlf.min(lf)),
        (crlf, lf) => crlf.or(lf),
    }
}

/// Writes `response` with `Connection: close` and closes the sending side.
fn write_response(stream: &mut TcpStream, (status, reason, body): Response) {
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/plain\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    );
    // A client that went away needs no answer.
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
}

/// Keeps a `--hang-health` connection open, unanswered, until the client
/// closes it.
fn hold_until_closed(mut stream: TcpStream) {
    if stream.set_read_timeout(None).is_ok() {
        let _ = io::copy(&mut stream, &mut io::sink());
    }
}
