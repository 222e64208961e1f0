//! Integration tests of the `test-daemon` binary: each flag is checked on a
//! real child process, spawned in its own process group and killed with it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::{self, BufRead, BufReader, IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self, UnixDatagram};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::prctl;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixAddr, recvmsg, setsockopt, sockopt};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// Upper bound for anything the daemon should do "soon".
const GENEROUS: Duration = Duration::from_secs(10);

/// Pause between two polls of an observable condition.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A running daemon in its own process group; dropping it kills the group
/// with SIGKILL and reaps the daemon.
struct Daemon {
    child: Child,
}

impl Daemon {
    /// Spawns the daemon with `args`, stdout and stderr piped.
    fn spawn(args: &[&str]) -> Self {
        Self::spawn_command(daemon_command(args))
    }

    /// Spawns a prepared command (see [`daemon_command`]).
    fn spawn_command(mut command: Command) -> Self {
        let child = command.spawn().expect("spawn test-daemon");
        Self { child }
    }

    /// The daemon's pid, which is also its process group id.
    fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap())
    }

    /// Sends `signal` to the daemon only.
    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signal the daemon");
    }

    /// Lines the daemon writes on stdout.
    fn stdout_lines(&mut self) -> Lines {
        Lines::new(self.child.stdout.take().expect("stdout is piped"))
    }

    /// Lines the daemon writes on stderr.
    fn stderr_lines(&mut self) -> Lines {
        Lines::new(self.child.stderr.take().expect("stderr is piped"))
    }

    /// Waits until the daemon exits, at most `timeout`: the exit is awaited (a thread blocks
    /// in `wait`), not polled.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.pid();
        let child = &mut self.child;
        thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::channel();
            scope.spawn(move || {
                let _ = sender.send(child.wait());
            });
            match receiver.recv_timeout(timeout) {
                Ok(status) => status.expect("wait"),
                Err(_) => {
                    // Unblocks the waiting thread before the scope joins it.
                    let _ = killpg(pid, Signal::SIGKILL);
                    panic!("daemon still running after {timeout:?}");
                }
            }
        })
    }

    /// Whether the daemon has not exited yet.
    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The group may already be gone; that is fine.
        let _ = killpg(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The daemon command with `args`, in a new process group, stdin closed,
/// stdout and stderr piped.
fn daemon_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_test-daemon"));
    command
        .args(args)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Lines read from a pipe by a background thread, so that reads can time out.
struct Lines {
    receiver: Receiver<String>,
}

impl Lines {
    /// Starts reading `pipe` line by line until its end.
    fn new(pipe: impl Read + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { receiver }
    }

    /// The next line, waiting at most [`GENEROUS`].
    fn next(&self) -> String {
        self.receiver
            .recv_timeout(GENEROUS)
            .expect("a line from the daemon within the time limit")
    }

    /// All lines until the pipe closes (the daemon must have exited).
    fn rest(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.receiver.recv_timeout(GENEROUS) {
            lines.push(line);
        }
        lines
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon's HTTP address for `port`.
fn address(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Sends one HTTP request and returns the status code and body.
fn http_request(port: u16, method: &str, path: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address(port), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no head end in {response:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// Retries `GET path` until the daemon answers, for at most [`GENEROUS`].
fn first_answer(port: u16, path: &str) -> (u16, String) {
    let deadline = Instant::now() + GENEROUS;
    loop {
        match http_request(port, "GET", path) {
            Ok(answer) => return answer,
            Err(error) => assert!(
                Instant::now() < deadline,
                "no answer on port {port}: {error}"
            ),
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Polls `GET /health` until it answers `status`, for at most [`GENEROUS`].
fn wait_for_health(port: u16, status: u16) {
    let deadline = Instant::now() + GENEROUS;
    loop {
        let answer = http_request(port, "GET", "/health");
        if matches!(answer, Ok((answered, _)) if answered == status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health never answered {status}; last: {answer:?}"
        );
        thread::sleep(POLL_INTERVAL);
    }
}

/// A notify socket bound at a path in a temporary directory, receiving
/// sender credentials.
struct NotifySocket {
    socket: UnixDatagram,
    /// Value for `NOTIFY_SOCKET`.
    name: String,
    _directory: Option<tempfile::TempDir>,
}

impl NotifySocket {
    /// Binds a socket at a filesystem path.
    fn at_path() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        Self::receiving_credentials(socket, path.to_str().unwrap().to_owned(), Some(directory))
    }

    /// Binds a socket at a unique abstract name.
    fn abstract_name() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "lifecycle-test-daemon-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let address = net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&address).unwrap();
        Self::receiving_credentials(socket, format!("@{name}"), None)
    }

    /// Makes `socket` receive sender credentials and time out reads.
    fn receiving_credentials(
        socket: UnixDatagram,
        name: String,
        directory: Option<tempfile::TempDir>,
    ) -> Self {
        setsockopt(&socket, sockopt::PassCred, &true).unwrap();
        socket.set_read_timeout(Some(GENEROUS)).unwrap();
        Self {
            socket,
            name,
            _directory: directory,
        }
    }

    /// Receives one datagram; returns its text and the sender's pid.
    fn receive(&self) -> (String, Pid) {
        let mut buffer = [0_u8; 256];
        let mut control = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let message = recvmsg::<UnixAddr>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )
        .expect("a datagram on the notify socket");
        let sender = message
            .cmsgs()
            .unwrap()
            .find_map(|cmsg| match cmsg {
                ControlMessageOwned::ScmCredentials(credentials) => {
                    Some(Pid::from_raw(credentials.pid()))
                }
                _ => None,
            })
            .expect("sender credentials");
        let len = message.bytes;
        (String::from_utf8_lossy(&buffer[..len]).into_owned(), sender)
    }

    /// Whether a datagram is waiting, without blocking.
    fn has_pending_datagram(&self) -> bool {
        self.socket.set_nonblocking(true).unwrap();
        let mut buffer = [0_u8; 256];
        let pending = match self.socket.recv(&mut buffer) {
            Ok(_) => true,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => false,
            Err(error) => panic!("recv on the notify socket: {error}"),
        };
        self.socket.set_nonblocking(false).unwrap();
        pending
    }
}

/// `/proc/<pid>/status` field `field`.
fn proc_status_field(pid: Pid, field: &str) -> Option<String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|value| value.trim().to_owned())
    })
}

/// Whether `pid` ignores `signal`, from the `SigIgn` mask in `/proc`.
fn ignores_signal(pid: Pid, signal: Signal) -> bool {
    proc_status_field(pid, "SigIgn")
        .and_then(|mask| u64::from_str_radix(&mask, 16).ok())
        .is_some_and(|mask| mask & (1 << (signal as i32 - 1)) != 0)
}

/// Whether `pid` exists and is not a zombie.
fn is_alive(pid: Pid) -> bool {
    proc_status_field(pid, "State").is_some_and(|state| !state.starts_with('Z'))
}

/// Process group of `pid`, from `/proc/<pid>/stat`.
fn process_group(pid: Pid) -> Pid {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name: state, ppid, pgrp, ...
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let pgrp = after_name.split_whitespace().nth(2).unwrap();
    Pid::from_raw(pgrp.parse().unwrap())
}

#[test]
fn health_answers_503_until_ready_then_200() {
    let port = free_port();
    let ready_after = Duration::from_millis(2000);
    let spawned = Instant::now();
    let _daemon = Daemon::spawn(&["--port", &port.to_string(), "--ready-after", "2000"]);

    assert_eq!(first_answer(port, "/health"), (503, "starting".to_owned()));
    wait_for_health(port, 200);
    assert!(spawned.elapsed() >= ready_after);
    assert_eq!(
        http_request(port, "GET", "/health").unwrap(),
        (200, "ok".to_owned())
    );
}

#[test]
fn bind_late_refuses_connections_until_ready() {
    let port = free_port();
    let mut daemon = Daemon::spawn(&[
        "--port",
        &port.to_string(),
        "--ready-mode",
        "bind-late",
        "--ready-after",
        "3000",
        "--print-lines",
        "1",
    ]);
    let stderr = daemon.stderr_lines();
    assert_eq!(stderr.next(), "line 1");

    let refused = TcpStream::connect(address(port)).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    wait_for_health(port, 200);
}

#[test]
fn unknown_paths_answer_404() {
    let port = free_port();
    let _daemon = Daemon::spawn(&["--port", &port.to_string()]);

    assert_eq!(first_answer(port, "/nothing-here").0, 404);
    assert_eq!(http_request(port, "POST", "/health").unwrap().0, 404);
    assert_eq!(http_request(port, "GET", "/shutdown").unwrap().0, 404);
}

#[test]
fn notify_sends_ready_to_a_path_socket() {
    let notify = NotifySocket::at_path();
    let mut command = daemon_command(&["--notify", "--ready-after", "200"]);
    command.env("NOTIFY_SOCKET", &notify.name);
    let daemon = Daemon::spawn_command(command);

    assert_eq!(notify.receive(), ("READY=1".to_owned(), daemon.pid()));
}

#[test]
fn notify_sends_ready_to_an_abstract_socket() {
    let notify = NotifySocket::abstract_name();
    let mut command = daemon_command(&["--notify"]);
    command.env("NOTIFY_SOCKET", &notify.name);
    let daemon = Daemon::spawn_command(command);

    assert_eq!(notify.receive(), ("READY=1".to_owned(), daemon.pid()));
}

#[test]
fn notify_from_child_sends_ready_from_another_pid_only() {
    let notify = NotifySocket::at_path();
    let mut command = daemon_command(&["--notify-from-child", "--ready-line", "ready"]);
    command.env("NOTIFY_SOCKET", &notify.name);
    let mut daemon = Daemon::spawn_command(command);
    let stdout = daemon.stdout_lines();

    // The ready line comes after the notifying child has been reaped.
    assert_eq!(stdout.next(), "ready");
    let (text, sender) = notify.receive();
    assert_eq!(text, "READY=1");
    assert_ne!(sender, daemon.pid());
    assert!(
        !notify.has_pending_datagram(),
        "the daemon itself sent READY=1"
    );
}

#[test]
fn notify_without_notify_socket_exits_2() {
    for flag in ["--notify", "--notify-from-child"] {
        let mut command = daemon_command(&[flag]);
        command.env_remove("NOTIFY_SOCKET");
        let mut daemon = Daemon::spawn_command(command);
        let stderr = daemon.stderr_lines();

        assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(2));
        assert!(stderr.rest().concat().contains("NOTIFY_SOCKET"));
    }
}

#[test]
fn ready_line_is_printed_when_ready() {
    let spawned = Instant::now();
    let mut daemon = Daemon::spawn(&["--ready-after", "300", "--ready-line", "service is up"]);
    let stdout = daemon.stdout_lines();

    assert_eq!(stdout.next(), "service is up");
    assert!(spawned.elapsed() >= Duration::from_millis(300));
    assert!(daemon.is_running());
}

#[test]
fn crash_at_start_prints_lines_then_exits_with_its_code() {
    let mut daemon = Daemon::spawn(&["--print-lines", "3", "--crash-at-start", "7"]);
    let stderr = daemon.stderr_lines();

    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(7));
    assert_eq!(stderr.rest(), ["line 1", "line 2", "line 3"]);
}

#[test]
fn exit_after_exits_with_the_exit_code() {
    let spawned = Instant::now();
    let mut daemon = Daemon::spawn(&["--exit-after", "300", "--exit-code", "5"]);

    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(5));
    assert!(spawned.elapsed() >= Duration::from_millis(300));
}

#[test]
fn exit_after_defaults_to_exit_code_1() {
    let mut daemon = Daemon::spawn(&["--exit-after", "0"]);

    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(1));
}

#[test]
fn exit_after_wins_over_a_serving_daemon() {
    let port = free_port();
    let mut daemon = Daemon::spawn(&[
        "--port",
        &port.to_string(),
        "--exit-after",
        "1000",
        "--exit-code",
        "3",
    ]);

    wait_for_health(port, 200);
    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(3));
}

#[test]
fn sigterm_kills_by_default() {
    let mut daemon = Daemon::spawn(&["--ready-line", "ready"]);
    let stdout = daemon.stdout_lines();
    assert_eq!(stdout.next(), "ready");

    daemon.signal(Signal::SIGTERM);
    assert_eq!(
        daemon.wait_exit(GENEROUS).signal(),
        Some(Signal::SIGTERM as i32)
    );
}

#[test]
fn ignore_sigterm_survives_sigterm_until_sigkill() {
    let port = free_port();
    let mut daemon = Daemon::spawn(&["--ignore-sigterm", "--port", &port.to_string()]);
    wait_for_health(port, 200);
    assert!(ignores_signal(daemon.pid(), Signal::SIGTERM));

    daemon.signal(Signal::SIGTERM);
    // An ignored signal is discarded when sent; a fatal one would already
    // have brought the process down.
    assert_eq!(http_request(port, "GET", "/health").unwrap().0, 200);
    assert!(daemon.is_running());

    daemon.signal(Signal::SIGKILL);
    assert_eq!(
        daemon.wait_exit(GENEROUS).signal(),
        Some(Signal::SIGKILL as i32)
    );
}

#[test]
fn exit_after_sigterm_keeps_serving_then_exits_0() {
    let port = free_port();
    let delay = Duration::from_millis(1000);
    let mut daemon = Daemon::spawn(&["--exit-after-sigterm", "1000", "--port", &port.to_string()]);
    wait_for_health(port, 200);

    let signalled = Instant::now();
    daemon.signal(Signal::SIGTERM);
    assert_eq!(http_request(port, "GET", "/health").unwrap().0, 200);
    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(0));
    assert!(signalled.elapsed() >= delay - Duration::from_millis(100));
}

#[test]
fn exit_after_sigterm_treats_sigint_like_sigterm() {
    let mut daemon = Daemon::spawn(&["--exit-after-sigterm", "300", "--ready-line", "ready"]);
    let stdout = daemon.stdout_lines();
    assert_eq!(stdout.next(), "ready");

    let signalled = Instant::now();
    daemon.signal(Signal::SIGINT);
    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(0));
    assert!(signalled.elapsed() >= Duration::from_millis(200));
}

#[test]
fn fork_grandchild_stays_in_the_group_and_survives_sigterm() {
    // Orphans are re-parented to this process, so the grandchild can be reaped.
    prctl::set_child_subreaper(true).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let pid_file = directory.path().join("grandchild.pid");
    let mut daemon = Daemon::spawn(&[
        "--fork-grandchild",
        "--grandchild-pid-file",
        pid_file.to_str().unwrap(),
    ]);
    let stdout = daemon.stdout_lines();

    let line = stdout.next();
    let grandchild: Pid = Pid::from_raw(
        line.strip_prefix("grandchild ")
            .expect("a grandchild line")
            .parse()
            .unwrap(),
    );
    let _reap_grandchild = Reaper(grandchild);
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        grandchild.to_string()
    );
    assert_ne!(grandchild, daemon.pid());
    assert_eq!(process_group(grandchild), daemon.pid());

    let deadline = Instant::now() + GENEROUS;
    while !ignores_signal(grandchild, Signal::SIGTERM) {
        assert!(
            Instant::now() < deadline,
            "grandchild never ignored SIGTERM"
        );
        thread::sleep(POLL_INTERVAL);
    }
    killpg(daemon.pid(), Signal::SIGTERM).unwrap();
    assert_eq!(
        daemon.wait_exit(GENEROUS).signal(),
        Some(Signal::SIGTERM as i32)
    );
    assert!(is_alive(grandchild), "the grandchild died of SIGTERM");
    assert_eq!(process_group(grandchild), daemon.pid());
}

/// Kills and reaps a process re-parented to this (subreaper) test process.
struct Reaper(Pid);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGKILL);
        let _ = waitpid(self.0, None);
    }
}

#[test]
fn hang_health_never_answers_health() {
    let port = free_port();
    let _daemon = Daemon::spawn(&["--hang-health", "--port", &port.to_string()]);
    assert_eq!(first_answer(port, "/other").0, 404);

    let mut stream = TcpStream::connect(address(port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut byte = [0_u8; 1];
    let error = stream.read(&mut byte).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "expected a read timeout, got {error}"
    );
}

#[test]
fn health_500_always_answers_500() {
    let port = free_port();
    let _daemon = Daemon::spawn(&["--health-500", "--port", &port.to_string()]);

    assert_eq!(first_answer(port, "/health").0, 500);
}

#[test]
fn post_shutdown_answers_then_exits_0() {
    let port = free_port();
    let mut daemon = Daemon::spawn(&["--port", &port.to_string()]);
    first_answer(port, "/health");

    assert_eq!(http_request(port, "POST", "/shutdown").unwrap().0, 200);
    assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(0));
}

#[test]
fn pid_file_holds_the_daemon_pid() {
    let directory = tempfile::tempdir().unwrap();
    let pid_file = directory.path().join("daemon.pid");
    let mut daemon = Daemon::spawn(&[
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--ready-line",
        "ready",
    ]);
    let stdout = daemon.stdout_lines();
    assert_eq!(stdout.next(), "ready");

    assert_eq!(
        fs::read_to_string(&pid_file).unwrap(),
        format!("{}\n", daemon.pid())
    );
}

#[test]
fn log_bytes_writes_exactly_that_many_filler_bytes() {
    let total = 100_000;
    let mut daemon = Daemon::spawn(&["--log-bytes", &total.to_string(), "--ready-line", "done"]);
    let stdout = daemon.stdout_lines();

    let mut filler_bytes = 0;
    loop {
        let line = stdout.next();
        if line == "done" {
            break;
        }
        assert!(
            line.bytes().all(|byte| byte == b'x'),
            "filler line {line:?}"
        );
        filler_bytes += line.len() + 1;
    }
    assert_eq!(filler_bytes, total);
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    let cases: [&[&str]; 6] = [
        &["--bogus"],
        &["--port"],
        &["--port", "not-a-port"],
        &["--ready-mode", "sometimes"],
        &["--exit-code", "256"],
        &["--grandchild-pid-file", "/tmp/never-written"],
    ];
    for args in cases {
        let mut daemon = Daemon::spawn(args);
        let stderr = daemon.stderr_lines();

        assert_eq!(daemon.wait_exit(GENEROUS).code(), Some(2), "{args:?}");
        let message = stderr.rest().concat();
        assert!(
            message.starts_with("test-daemon: "),
            "{args:?}: {message:?}"
        );
    }
}
