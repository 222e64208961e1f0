//! One SSH connection to one destination: an `ssh` master process whose session runs the
//! remote helper; a reader task that hands each answer to its caller and each exit to whoever
//! watches that daemon. The connection is dead once the helper's output ends (the master
//! exited: sshd went away, the network broke, the helper died); [`super::hosts::Hosts`] makes a
//! new one for the next operation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) use super::settings::Settings;
use super::wire::{self, Line};
use super::{Destination, RemoteError};

/// The helper, kept in the crate: the only code that ever runs on a remote host.
const HELPER: &str = include_str!("helper.sh");

/// The helper's text as the session's first line (a field without its `=`), made once. The
/// text holds no NUL: `None` is not expected.
static HELPER_LINE: std::sync::LazyLock<Option<String>> =
    std::sync::LazyLock::new(|| wire::field(HELPER).map(|f| f[1..].to_owned()));

/// The remote command: `/bin/sh` reads the helper's text as the first request line (a field)
/// and runs it; nothing in it comes from a value.
const BOOTSTRAP: &str = "exec /bin/sh -c 'IFS= read -r s && s=$(printf \"$s\"; printf x) && LIFECYCLE_HELPER_SRC=${s%x} && export LIFECYCLE_HELPER_SRC && eval \"$LIFECYCLE_HELPER_SRC\"' lifecycle";

/// How much of ssh's standard error is kept for messages.
const STDERR_KEPT: usize = 4096;

/// What the reader task shares with the callers.
#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<HashMap<u64, oneshot::Sender<String>>>,
    /// The pieces of long answers still to come, as bytes (a piece may end inside a
    /// character).
    pieces: Mutex<HashMap<u64, Vec<u8>>>,
    exits: Mutex<HashMap<u64, oneshot::Sender<i32>>>,
    closed: AtomicBool,
    stderr: Mutex<String>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // Dropping the senders tells every waiter the connection is gone.
        locked(&self.pending).clear();
        locked(&self.pieces).clear();
        locked(&self.exits).clear();
    }
}

/// A live connection to one destination.
#[derive(Debug)]
pub(crate) struct Connection {
    destination: Destination,
    settings: Settings,
    shown: String,
    writer: tokio::sync::Mutex<tokio::process::ChildStdin>,
    shared: Arc<Shared>,
    next: AtomicU64,
    reader: JoinHandle<()>,
    errors: JoinHandle<()>,
    master: Mutex<Option<std::process::Child>>,
    control_dir: PathBuf,
    /// The remote host's boot.
    pub(crate) boot_id: String,
    /// The state directory there, resolved.
    pub(crate) state_dir: String,
}

/// A fresh private directory for the control socket (short: a socket path has ~100 bytes).
fn control_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Unpredictable: a directory made there in advance by someone else blocks nothing.
    let dir = std::env::temp_dir().join(format!(
        "lifecycle-ssh-{}-{}-{:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        crate::random::random_u128().unwrap_or(0) as u32
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// The `ssh` command line: every option fixed here or from a checked value, `--` before the
/// destination, the bootstrap as the remote command.
fn command(d: &Destination, settings: &Settings, control: &Path) -> std::process::Command {
    let mut cmd = ssh(d, settings, control);
    cmd.args(["-T", "-M", "-o", "ControlPersist=no"])
        .arg("--")
        .arg(&d.host)
        .arg(BOOTSTRAP);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `ssh` with every option of a connection to `d` through control socket `control/m`: the
/// options come before the destination and its `--`, which the caller adds.
fn ssh(d: &Destination, settings: &Settings, control: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(&settings.program);
    let strict = if settings.accept_new || d.accept_new {
        "StrictHostKeyChecking=accept-new"
    } else {
        "StrictHostKeyChecking=yes"
    };
    if let Some(config) = &settings.config_file {
        cmd.arg("-F").arg(config);
    }
    // No agent or X11 for the daemons there. (`ClearAllForwardings=yes` would also drop the
    // forwards of the user's configuration, but it makes the master refuse `-O forward` too:
    // seen with OpenSSH 9.2, where the forward then listens nowhere.)
    cmd.arg("-S")
        .arg(control.join("m"))
        .args(["-a", "-x"])
        .args(["-o", "BatchMode=yes"])
        .args(["-o", strict])
        .arg("-o")
        .arg(format!(
            "ConnectTimeout={}",
            settings.connect_timeout.as_secs().max(1)
        ))
        .args(["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"])
        .args(["-o", "LogLevel=ERROR"])
        .arg("-p")
        .arg(d.port.to_string());
    if let Some(user) = &d.user {
        cmd.arg("-l").arg(user);
    }
    cmd
}

/// Reads what ssh and the helper say on standard error, keeping the end.
async fn keep_stderr(stderr: tokio::process::ChildStderr, shared: Arc<Shared>) {
    let mut stderr = stderr;
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let mut kept = locked(&shared.stderr);
        kept.push_str(&String::from_utf8_lossy(&buf[..n]));
        if kept.len() > STDERR_KEPT {
            let cut = kept.len() - STDERR_KEPT;
            let cut = (cut..kept.len())
                .find(|&i| kept.is_char_boundary(i))
                .unwrap_or(kept.len());
            kept.drain(..cut);
        }
    }
}

/// Hands each line to its waiter, until the output ends. A line that is not UTF-8 is taken
/// lossily (a record or a log path may hold any byte).
async fn read_lines(stdout: tokio::process::ChildStdout, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        // A piece of a long answer: kept as bytes until the answer comes.
        if let Some(rest) = buf.strip_prefix(b"c ") {
            let mut parts = rest.splitn(2, |&b| b == b' ');
            let id = parts
                .next()
                .and_then(|id| std::str::from_utf8(id).ok())
                .and_then(|id| id.parse::<u64>().ok());
            if let (Some(id), Some(piece)) = (id, parts.next()) {
                locked(&shared.pieces)
                    .entry(id)
                    .or_default()
                    .extend_from_slice(piece);
            }
            continue;
        }
        let line = String::from_utf8_lossy(&buf);
        match wire::parse(&line) {
            Line::Reply { id, words } => {
                let words = match locked(&shared.pieces).remove(&id) {
                    Some(text) => format!("{words} {}", String::from_utf8_lossy(&text)),
                    None => words.to_owned(),
                };
                if let Some(waiter) = locked(&shared.pending).remove(&id) {
                    let _ = waiter.send(words);
                }
            }
            Line::Exit { id, status } => {
                // A start that ended before it answered: its answer is that.
                if let Some(waiter) = locked(&shared.pending).remove(&id) {
                    let _ = waiter.send(format!("died {status}"));
                }
                if let Some(waiter) = locked(&shared.exits).remove(&id) {
                    let _ = waiter.send(status);
                }
            }
            Line::Grace { .. } | Line::Piece { .. } | Line::Other => {}
        }
    }
    shared.close();
}

/// Sorts what ssh said when it failed into the error that says what to do.
fn classify(d: &Destination, stderr: &str, answered_nothing: bool) -> RemoteError {
    let destination = d.to_string();
    let message = stderr.trim().lines().last().unwrap_or("").trim().to_owned();
    let has = |needle: &str| stderr.contains(needle);
    if has("Host key verification failed")
        || has("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || has("host key for")
    {
        let message = stderr
            .lines()
            .find(|l| {
                l.contains("IDENTIFICATION HAS CHANGED")
                    || l.contains("No ")
                    || l.contains("verification")
            })
            .unwrap_or(&message)
            .trim_matches(|c: char| c == '@' || c.is_whitespace())
            .to_owned();
        RemoteError::HostKey {
            destination,
            message,
        }
    } else if has("Permission denied") || has("Too many authentication failures") {
        RemoteError::Auth {
            destination,
            message,
        }
    } else if has("Connection refused")
        || has("timed out")
        || has("No route to host")
        || has("Could not resolve hostname")
        || has("Network is unreachable")
        || has("Connection reset")
        || has("Connection closed by")
        || has("kex_exchange_identification")
    {
        RemoteError::Unreachable {
            destination,
            message,
        }
    } else if answered_nothing {
        RemoteError::Helper {
            destination,
            message: if message.is_empty() {
                "it ended without answering (is the remote login shell POSIX?)".to_owned()
            } else {
                message
            },
        }
    } else {
        RemoteError::Lost {
            destination,
            operation: "connect".to_owned(),
            message,
        }
    }
}

impl Connection {
    /// Connects, starts the helper, and says hello: the remote boot and state directory.
    pub(crate) async fn open(
        d: &Destination,
        settings: &Settings,
    ) -> Result<Connection, RemoteError> {
        let shown = d.to_string();
        let client_error = |e: std::io::Error| RemoteError::Client {
            destination: shown.clone(),
            message: e.to_string(),
        };
        let script = HELPER_LINE
            .as_deref()
            .ok_or_else(|| client_error(std::io::Error::other("the helper holds a NUL")))?;
        let dir = wire::field(&settings.state_dir).ok_or_else(|| RemoteError::Nul {
            destination: shown.clone(),
            what: "the remote state directory".to_owned(),
        })?;
        let (d2, s2) = (d.clone(), settings.clone());
        let (master, control_dir) = crate::blocking::run(move || -> std::io::Result<_> {
            let control = control_dir()?;
            match command(&d2, &s2, &control).spawn() {
                Ok(child) => Ok((child, control)),
                Err(e) => {
                    let _ = std::fs::remove_dir(&control);
                    Err(e)
                }
            }
        })
        .await
        .and_then(|r| r)
        .map_err(client_error)?;
        let mut master = master;
        let pipes = (
            master
                .stdin
                .take()
                .map(tokio::process::ChildStdin::from_std),
            master
                .stdout
                .take()
                .map(tokio::process::ChildStdout::from_std),
            master
                .stderr
                .take()
                .map(tokio::process::ChildStderr::from_std),
        );
        let (Some(Ok(stdin)), Some(Ok(stdout)), Some(Ok(stderr))) = pipes else {
            end_master(Some(master), control_dir);
            return Err(client_error(std::io::Error::other(
                "cannot use the pipes of ssh",
            )));
        };
        let shared = Arc::new(Shared::default());
        let reader = tokio::spawn(read_lines(stdout, shared.clone()));
        let errors = tokio::spawn(keep_stderr(stderr, shared.clone()));
        let mut connection = Connection {
            destination: d.clone(),
            settings: settings.clone(),
            shown: shown.clone(),
            writer: tokio::sync::Mutex::new(stdin),
            shared,
            next: AtomicU64::new(1),
            reader,
            errors,
            master: Mutex::new(Some(master)),
            control_dir,
            boot_id: String::new(),
            state_dir: String::new(),
        };
        // The helper's text is the first line; its first answer says it runs.
        let bound = settings.connect_timeout + Duration::from_secs(10);
        let hello = async {
            connection.send_line(script).await?;
            connection.call("hello", &[dir], bound).await
        };
        let answer = match hello.await {
            Ok(answer) => answer,
            Err(RemoteError::Lost { .. }) => {
                // ssh is gone: what it said on its way out is the reason.
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut connection.errors).await;
                let stderr = locked(&connection.shared.stderr).clone();
                return Err(classify(d, &stderr, true));
            }
            Err(other) => return Err(other),
        };
        let words: Vec<&str> = answer.splitn(4, ' ').collect();
        match words.as_slice() {
            ["ok", boot, _uid, dir] => {
                connection.boot_id = (*boot).to_owned();
                connection.state_dir = (*dir).to_owned();
                Ok(connection)
            }
            ["err", why, ..] => Err(RemoteError::Helper {
                destination: shown,
                message: match *why {
                    "noproc" => {
                        "no /proc/sys/kernel/random/boot_id (the helper needs Linux)".to_owned()
                    }
                    "nosetsid-f" => {
                        "its setsid(1) has no `-f` (install util-linux: busybox's will not do)"
                            .to_owned()
                    }
                    "no-flock" | "no-setsid" => format!("no {}(1) (install util-linux)", &why[3..]),
                    "fifo" => {
                        "the helper's FIFO cannot be made in the state directory's run/".to_owned()
                    }
                    "no-mkfifo" | "no-env" | "no-printenv" | "no-od" => {
                        format!("no {}(1) (install coreutils)", &why[3..])
                    }
                    "statedir" => format!(
                        "the state directory `{}` (or one of daemons, locks, logs, run in it) cannot be made, is a symbolic link, belongs to another user, or is writable by others",
                        settings.state_dir
                    ),
                    other => other.to_owned(),
                },
            }),
            _ => Err(RemoteError::Protocol {
                destination: shown,
                operation: "hello".to_owned(),
                answer,
            }),
        }
    }

    /// A local port on 127.0.0.1 that the master forwards to `host:port` as the remote host
    /// sees it (`ssh -O forward -L`), for as long as the returned [`Forward`] lives: a probe
    /// holds it for its wait, and no listener outlives what it was made for.
    pub(crate) async fn forward(&self, host: &str, port: u16) -> Result<Forward, RemoteError> {
        let failed = |message: String| RemoteError::Forward {
            destination: self.shown.clone(),
            target: format!("{host}:{port}"),
            message,
        };
        // A free port now; if another process takes it first, ssh says so and this fails.
        let local = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| failed(e.to_string()))?
            .port();
        // An IPv6 address is bracketed in a forward specification.
        let target = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let spec = format!("127.0.0.1:{local}:{target}:{port}");
        let control = |verb: &str| {
            let mut cmd = ssh(&self.destination, &self.settings, &self.control_dir);
            cmd.arg("-O")
                .arg(verb)
                .arg("-L")
                .arg(&spec)
                .arg("--")
                .arg(&self.destination.host)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd
        };
        let mut open = control("forward");
        let output = crate::blocking::run(move || open.output())
            .await
            .and_then(|r| r)
            .map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            return Err(failed(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        Ok(Forward {
            local,
            cancel: Some(control("cancel")),
        })
    }

    /// An `ssh` command for one more channel of this connection, running `remote` (a fixed
    /// command of this crate, never a value) through the remote login shell.
    pub(crate) fn channel(&self, remote: &'static str) -> std::process::Command {
        let mut cmd = ssh(&self.destination, &self.settings, &self.control_dir);
        cmd.arg("-T")
            .arg("--")
            .arg(&self.destination.host)
            .arg(remote);
        cmd
    }

    /// `user@host:port`.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether the connection still works as far as is known.
    pub(crate) fn is_open(&self) -> bool {
        // The reader task ends with its runtime (a caller that makes a runtime per call): a
        // connection without it hears nothing more.
        !self.shared.closed.load(Ordering::SeqCst) && !self.reader.is_finished()
    }

    fn lost(&self, operation: &str) -> RemoteError {
        let stderr = locked(&self.shared.stderr).clone();
        RemoteError::Lost {
            destination: self.shown.clone(),
            operation: operation.to_owned(),
            message: stderr.trim().lines().last().unwrap_or("").trim().to_owned(),
        }
    }

    async fn send_line(&self, line: &str) -> Result<(), RemoteError> {
        let mut writer = self.writer.lock().await;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let written = async {
            writer.write_all(&bytes).await?;
            writer.flush().await
        };
        match written.await {
            Ok(()) => Ok(()),
            Err(_) => {
                self.shared.close();
                Err(self.lost("send"))
            }
        }
    }

    /// A new request ID.
    pub(crate) fn request_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Watches for the exit of the daemon that request `id` starts: registered before the
    /// request is sent, so that no exit is missed. The receiver fails when the connection goes.
    pub(crate) fn watch_exit(&self, id: u64) -> oneshot::Receiver<i32> {
        let (tx, rx) = oneshot::channel();
        if self.is_open() {
            locked(&self.shared.exits).insert(id, tx);
        }
        rx
    }

    /// Sends request `op` with `fields` and waits up to `bound` for its answer (the words after
    /// `r ID`).
    pub(crate) async fn call(
        &self,
        op: &str,
        fields: &[String],
        bound: Duration,
    ) -> Result<String, RemoteError> {
        let id = self.request_id();
        self.call_as(id, op, fields, bound).await
    }

    /// [`Connection::call`] with a request ID of the caller's.
    pub(crate) async fn call_as(
        &self,
        id: u64,
        op: &str,
        fields: &[String],
        bound: Duration,
    ) -> Result<String, RemoteError> {
        let (tx, rx) = oneshot::channel();
        if !self.is_open() {
            return Err(self.lost(op));
        }
        locked(&self.shared.pending).insert(id, tx);
        if let Err(err) = self.send_as(id, op, fields).await {
            locked(&self.shared.pending).remove(&id);
            return Err(err);
        }
        match tokio::time::timeout(bound, rx).await {
            Ok(Ok(words)) => Ok(words),
            Ok(Err(_)) => Err(self.lost(op)),
            Err(_) => {
                locked(&self.shared.pending).remove(&id);
                // The connection stays: retiring it would end the helper there, and with it the
                // daemons of a manager that stops what it starts. A dead one is noticed by its
                // reader (the master's output ends).
                Err(RemoteError::Timeout {
                    destination: self.shown.clone(),
                    operation: op.to_owned(),
                    seconds: bound.as_secs().max(1),
                })
            }
        }
    }

    /// Sends request `op` with `fields` as request `id`, without waiting for an answer.
    pub(crate) async fn send_as(
        &self,
        id: u64,
        op: &str,
        fields: &[String],
    ) -> Result<(), RemoteError> {
        let mut line = format!("{id} {op}");
        for f in fields {
            line.push(' ');
            line.push_str(f);
        }
        self.send_line(&line).await
    }
}

/// A local forward through a connection's master; cancelled when dropped.
#[derive(Debug)]
pub(crate) struct Forward {
    /// The local port on 127.0.0.1.
    pub(crate) local: u16,
    cancel: Option<std::process::Command>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        if let Some(mut cancel) = self.cancel.take() {
            // A master already gone took its listeners with it: nothing to report.
            let _ = crate::blocking::submit(move || cancel.output());
        }
    }
}

/// Ends an ssh master and removes its control directory, off the runtime's workers.
fn end_master(master: Option<std::process::Child>, control_dir: PathBuf) {
    let _ = crate::blocking::submit(move || {
        if let Some(mut master) = master {
            let _ = master.kill();
            let _ = master.wait();
        }
        let _ = std::fs::remove_file(control_dir.join("m"));
        let _ = std::fs::remove_dir(&control_dir);
    });
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        self.errors.abort();
        self.shared.close();
        let master = locked(&self.master).take();
        end_master(master, std::mem::take(&mut self.control_dir));
    }
}
