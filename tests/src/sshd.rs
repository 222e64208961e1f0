//! A real OpenSSH server on 127.0.0.1 for the remote (SSH) tests.
//!
//! [`Sshd::start`] runs the system's `sshd` (in the foreground, in a process group of its own)
//! from a temporary directory holding its host key, a client key it authorizes for the current
//! user, and an `ssh -F` client configuration that makes the OpenSSH client use exactly those
//! and nothing of `~/.ssh`. The tests can kill it mid-operation, restart it on the same port,
//! or restart it with a new host key. [`Sshd::start_in`] runs one on another address, or inside
//! a network namespace (see [`crate::netns`]); [`Sshd::shared_client_config`] writes one client
//! configuration for several servers, for a manager with several hosts.
//!
//! The harness never skips: without an `sshd` binary it panics saying how to install one. It
//! is test-support code: when something it needs fails it panics, with the tail of sshd's log.

#![allow(clippy::panic)]

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::{free_port, is_alive, pids};
use crate::pidfd;

/// The port sshd listens on inside a network namespace of its own: nothing else is there.
const NAMESPACE_PORT: u16 = 22;
/// How long sshd has to answer with its banner once spawned.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// The pause between two connection attempts while sshd is starting.
const RETRY_EVERY: Duration = Duration::from_millis(10);
/// How many ports [`Sshd::start`] tries when sshd cannot bind the one it was given.
const PORT_ATTEMPTS: usize = 5;
/// How many lines of sshd's log the panic messages quote.
const TAIL_LINES: usize = 20;
/// The client options of every configuration the harness writes, after the identities and
/// known hosts (under `Host *`).
const COMMON_CLIENT_OPTIONS: &str = "\x20 IdentitiesOnly yes\n\
     \x20 IdentityAgent none\n\
     \x20 GlobalKnownHostsFile /dev/null\n\
     \x20 StrictHostKeyChecking yes\n\
     \x20 UpdateHostKeys no\n\
     \x20 BatchMode yes\n\
     \x20 LogLevel ERROR\n\
     \x20 ControlMaster no\n\
     \x20 ControlPath none\n";

/// A running OpenSSH server (on 127.0.0.1 unless started by [`Sshd::start_in`]) with its own
/// host key, authorizing one client key for the current user. Dropping it kills sshd (the
/// listener and every per-connection process) and removes its temporary directory.
#[derive(Debug)]
pub struct Sshd {
    /// Everything of this server: keys, configurations, log. Removed when dropped.
    dir: tempfile::TempDir,
    /// The absolute path of the sshd binary (sshd re-executes itself, so it must be absolute).
    binary: PathBuf,
    /// The address sshd listens on.
    listen: Ipv4Addr,
    /// [`listen`](Self::listen) as text, the host the client connects to.
    host: String,
    /// The network namespace sshd runs in (`ip netns exec`), if not this process's.
    netns: Option<String>,
    /// The port sshd listens on, kept across restarts.
    port: u16,
    /// The user the client logs in as: the current one.
    user: String,
    /// The client configuration, for `ssh -F`.
    client_config: PathBuf,
    /// Whether sshd knows `PerSourcePenalties` (OpenSSH 9.8 and later), switched off here so
    /// that the tests' many short or killed connections never get 127.0.0.1 refused.
    penalties_option: bool,
    /// The running sshd listener, if any.
    child: Option<Child>,
}

/// Why a freshly spawned sshd is not serving.
#[derive(Debug)]
enum NotReady {
    /// It exited (typically: it could not bind its port).
    Exited(ExitStatus),
    /// It did not answer with an SSH banner in time.
    Timeout,
}

impl Sshd {
    /// Starts an sshd on 127.0.0.1 on a free port and waits until it answers with its banner.
    ///
    /// Panics, saying how to install it (`apt-get install openssh-server`), if there is no sshd
    /// binary (looked for at `/usr/sbin/sshd`, then in `$PATH`); never skips. Panics with the
    /// tail of sshd's log if sshd does not come up. When running as root, creates sshd's
    /// privilege-separation directory (`/run/sshd`, mode 0755) if it is missing.
    pub fn start() -> Sshd {
        Sshd::start_in(None, Ipv4Addr::LOCALHOST)
    }

    /// Like [`start`](Self::start), listening on `listen` (which must be an address of the
    /// namespace sshd runs in), inside network namespace `netns` if given: sshd then runs as
    /// `ip netns exec NETNS sshd -D -e -f CONFIG` (still this process's child, `ip` executing
    /// sshd in its place) and listens on port 22, as a host's sshd would. Outside a namespace
    /// it listens on a free port. Either way the known hosts name the address and port the
    /// client uses: `[ADDRESS]:PORT`, or plain `ADDRESS` for port 22.
    ///
    /// The harness checks that sshd serves by connecting to `listen` from this process's
    /// namespace: a namespace's address must be routed from here (as a veth pair does).
    pub fn start_in(netns: Option<&str>, listen: Ipv4Addr) -> Sshd {
        let binary = sshd_binary();
        if nix::unistd::geteuid().is_root() {
            privilege_separation_dir(Path::new("/run/sshd"));
        }
        let dir = tempfile::Builder::new()
            .prefix("lifecycle-sshd-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot make a temporary directory for sshd: {err}"));
        let mut sshd = Sshd {
            client_config: dir.path().join("ssh_config"),
            dir,
            binary,
            listen,
            host: listen.to_string(),
            netns: netns.map(str::to_owned),
            port: if netns.is_some() {
                NAMESPACE_PORT
            } else {
                port()
            },
            user: current_user(),
            penalties_option: true,
            child: None,
        };
        keygen(&sshd.host_key());
        keygen(&sshd.identity_file());
        let client_key = read(&public(&sshd.identity_file()));
        write(&sshd.path("authorized_keys"), &client_key);
        write(&sshd.client_config, &sshd.client_config_text());
        sshd.write_config();
        sshd.check_config();
        for attempt in 1..=PORT_ATTEMPTS {
            if attempt > 1 {
                sshd.port = port();
                sshd.write_config();
            }
            let logged_before = fs::metadata(sshd.log()).map_or(0, |m| m.len());
            match sshd.spawn() {
                Ok(()) => {
                    sshd.write_known_hosts();
                    return sshd;
                }
                Err(NotReady::Exited(_))
                    if attempt < PORT_ATTEMPTS && sshd.bind_failed_since(logged_before) => {}
                Err(failure) => panic!("{}", sshd.failure("did not start", &failure)),
            }
        }
        panic!(
            "sshd could not bind any of {PORT_ATTEMPTS} free ports on {}; its log ({}) ends:\n{}",
            sshd.host,
            sshd.log().display(),
            sshd.log_tail()
        )
    }

    /// Writes to `path` an ssh client configuration, for `ssh -F`, for every server of
    /// `servers` at once (a manager takes one configuration for all its hosts): like each
    /// one's [`client_config`](Self::client_config), with a `Host ADDRESS` block per address
    /// naming the identities and known hosts of the servers there. Panics if it cannot write.
    pub fn shared_client_config(servers: &[&Sshd], path: &Path) {
        let mut text = String::new();
        let mut hosts: Vec<&str> = Vec::new();
        for server in servers {
            if !hosts.contains(&server.host()) {
                hosts.push(server.host());
            }
        }
        for host in hosts {
            let at: Vec<&&Sshd> = servers.iter().filter(|s| s.host() == host).collect();
            text.push_str(&format!("Host {host}\n"));
            for server in &at {
                text.push_str(&format!(
                    "\x20 IdentityFile \"{}\"\n",
                    server.identity_file().display()
                ));
            }
            let known: Vec<String> = at
                .iter()
                .map(|s| format!("\"{}\"", s.known_hosts().display()))
                .collect();
            text.push_str(&format!("\x20 UserKnownHostsFile {}\n", known.join(" ")));
        }
        text.push_str(&format!("Host *\n{COMMON_CLIENT_OPTIONS}"));
        write(path, &text);
    }

    /// The address sshd listens on: `127.0.0.1` unless started by [`start_in`](Self::start_in).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The network namespace sshd runs in, if started in one by [`start_in`](Self::start_in).
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The port sshd listens on (the same across [`kill`](Self::kill),
    /// [`restart`](Self::restart) and [`change_host_key`](Self::change_host_key)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user to log in as: the current user's name (that of the effective UID).
    pub fn user(&self) -> String {
        self.user.clone()
    }

    /// An ssh client configuration file, for `ssh -F`, that makes the OpenSSH client use this
    /// harness's own identity and known hosts and nothing of `~/.ssh`, for every host:
    /// `IdentityFile` (this harness's client key), `IdentitiesOnly yes`, `IdentityAgent none`,
    /// `UserKnownHostsFile` (holding this sshd's host key as `[127.0.0.1]:PORT ssh-ed25519 …`,
    /// or as `ADDRESS ssh-ed25519 …` on port 22),
    /// `GlobalKnownHostsFile /dev/null`, `StrictHostKeyChecking yes`, `UpdateHostKeys no`,
    /// `BatchMode yes`, `LogLevel ERROR`, `ControlMaster no`, `ControlPath none`. It names
    /// neither the port nor the user: give them with `-p` and `-l`.
    pub fn client_config(&self) -> &Path {
        &self.client_config
    }

    /// The client's private key (the one sshd authorizes), as named in
    /// [`client_config`](Self::client_config).
    pub fn identity_file(&self) -> PathBuf {
        self.path("id_ed25519")
    }

    /// The client's known-hosts file (this sshd's first host key, on this port), as named in
    /// [`client_config`](Self::client_config).
    pub fn known_hosts(&self) -> PathBuf {
        self.path("known_hosts")
    }

    /// The PID of the sshd listener, or `None` while it is killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines of sshd's log (its standard error, across restarts), for failure
    /// messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read(self.log()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    /// Kills (SIGKILL) the sshd listener and every per-connection sshd process it started, and
    /// waits until they are gone: open connections break, new ones are refused. Processes of
    /// user sessions (which sshd puts in sessions of their own) are left alone. Does nothing
    /// if sshd is already killed.
    ///
    /// The listener runs in a process group of its own, killed as a whole, but each
    /// per-connection process makes a session of its own right after its fork: those are
    /// found as the listener's children (it is stopped first, so that it forks no more), the
    /// processes of their sessions, and any process whose standard error is sshd's log.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let log = fs::metadata(self.log()).ok().map(|m| (m.dev(), m.ino()));
        let listener = child.id();
        let mut sessions = HashSet::new();
        // Our unreaped child: the pidfd names it.
        if let Ok(pinned) = pidfd::open(listener) {
            let _ = pidfd::signal(&pinned, Signal::SIGSTOP);
            sessions = pids()
                .filter(|&p| stat_field(p, 4) == Some(listener))
                .collect();
            let _ = pidfd::signal_group(&pinned, Signal::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        pidfd::kill_every(|p| {
            is_alive(p)
                && (stat_field(p, 6).is_some_and(|s| sessions.contains(&s))
                    || log.is_some_and(|log| stderr_of(p) == Some(log)))
        });
    }

    /// Restarts sshd on the same port with a new host key, without updating the client's
    /// known hosts: the client must refuse it (`REMOTE HOST IDENTIFICATION HAS CHANGED`).
    pub fn change_host_key(&mut self) {
        self.kill();
        keygen(&self.host_key());
        self.restart();
    }

    /// Restarts sshd on the same port with the same host key, typically after
    /// [`kill`](Self::kill) (if it is running, kills it first). Panics with the tail of sshd's
    /// log if it does not come up (for example because something else took the port).
    pub fn restart(&mut self) {
        self.kill();
        if let Err(failure) = self.spawn() {
            panic!("{}", self.failure("did not restart", &failure));
        }
    }

    /// A file of the temporary directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// sshd's host key.
    fn host_key(&self) -> PathBuf {
        self.path("ssh_host_ed25519_key")
    }

    /// sshd's configuration.
    fn config(&self) -> PathBuf {
        self.path("sshd_config")
    }

    /// sshd's standard output and error.
    fn log(&self) -> PathBuf {
        self.path("sshd.log")
    }

    /// Writes sshd's configuration for the current port.
    fn write_config(&self) {
        let penalties = if self.penalties_option {
            "PerSourcePenalties no\n"
        } else {
            ""
        };
        let text = format!(
            "ListenAddress {listen}\n\
             Port {port}\n\
             HostKey \"{host_key}\"\n\
             AuthorizedKeysFile \"{authorized_keys}\"\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             PidFile none\n\
             PermitRootLogin prohibit-password\n\
             MaxSessions 100\n\
             MaxStartups 100:30:200\n\
             LogLevel ERROR\n\
             {penalties}",
            listen = self.listen,
            port = self.port,
            host_key = self.host_key().display(),
            authorized_keys = self.path("authorized_keys").display(),
        );
        write(&self.config(), &text);
    }

    /// Checks the configuration with `sshd -t`, adapting to this sshd: drops
    /// `PerSourcePenalties` if it does not know it, creates the privilege-separation directory
    /// it asks for.
    fn check_config(&mut self) {
        let mut complaint = String::new();
        for _ in 0..4 {
            let out = Command::new(&self.binary)
                .arg("-t")
                .arg("-f")
                .arg(self.config())
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.binary.display()));
            if out.status.success() {
                return;
            }
            complaint = String::from_utf8_lossy(&out.stderr).into_owned();
            if self.penalties_option && complaint.contains("PerSourcePenalties") {
                self.penalties_option = false;
                self.write_config();
            } else if let Some(dir) = complaint.lines().find_map(|line| {
                line.split_once("Missing privilege separation directory: ")
                    .map(|(_, dir)| dir.trim())
            }) {
                privilege_separation_dir(Path::new(dir));
            } else {
                break;
            }
        }
        panic!(
            "{} -t -f {} rejects the harness's configuration:\n{complaint}",
            self.binary.display(),
            self.config().display()
        )
    }

    /// The client configuration of [`client_config`](Self::client_config).
    fn client_config_text(&self) -> String {
        format!(
            "Host *\n\
             \x20 IdentityFile \"{identity}\"\n\
             \x20 UserKnownHostsFile \"{known_hosts}\"\n\
             {COMMON_CLIENT_OPTIONS}",
            identity = self.identity_file().display(),
            known_hosts = self.known_hosts().display(),
        )
    }

    /// Writes the client's known hosts: the current host key, on the current address and port
    /// (as ssh names them: `[ADDRESS]:PORT`, or `ADDRESS` alone for port 22).
    fn write_known_hosts(&self) {
        let key = read(&public(&self.host_key()));
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        let name = if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        };
        write(&self.known_hosts(), &format!("{name} {}\n", key.join(" ")));
    }

    /// Spawns sshd on the current port and waits until it serves. On failure, sshd is no
    /// longer running.
    fn spawn(&mut self) -> Result<(), NotReady> {
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .unwrap_or_else(|err| panic!("cannot open {}: {err}", self.log().display()));
        let _ = writeln!(
            log,
            "--- harness: {}{} -D -e -f {} ({}:{})",
            self.netns_prefix(),
            self.binary.display(),
            self.config().display(),
            self.host,
            self.port
        );
        let stdout = log
            .try_clone()
            .unwrap_or_else(|err| panic!("cannot duplicate {}: {err}", self.log().display()));
        let mut command = match &self.netns {
            Some(netns) => {
                let mut ip = Command::new("ip");
                ip.args(["netns", "exec", netns]).arg(&self.binary);
                ip
            }
            None => Command::new(&self.binary),
        };
        let child = command
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.config())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run {}{}: {err}",
                    self.netns_prefix(),
                    self.binary.display()
                )
            });
        let child = self.child.insert(child);
        match wait_ready(child, SocketAddr::from((self.listen, self.port))) {
            Ok(()) => Ok(()),
            Err(failure) => {
                self.kill();
                Err(failure)
            }
        }
    }

    /// `ip netns exec NETNS ` when sshd runs in a namespace, for messages.
    fn netns_prefix(&self) -> String {
        self.netns
            .as_ref()
            .map(|netns| format!("ip netns exec {netns} "))
            .unwrap_or_default()
    }

    /// Whether sshd's log, from byte `offset` on, says it could not bind its port.
    fn bind_failed_since(&self, offset: u64) -> bool {
        let log = fs::read(self.log()).unwrap_or_default();
        let from = usize::try_from(offset).unwrap_or(0).min(log.len());
        let log = String::from_utf8_lossy(&log[from..]);
        ["Bind to port", "Cannot bind", "Address already in use"]
            .iter()
            .any(|sign| log.contains(sign))
    }

    /// A failure message: what happened, and the end of sshd's log.
    fn failure(&self, what: &str, failure: &NotReady) -> String {
        let why = match failure {
            NotReady::Exited(status) => format!("exited ({status})"),
            NotReady::Timeout => format!("sent no SSH banner within {READY_WITHIN:?}"),
        };
        format!(
            "sshd ({}{} -D -e -f {}) on {}:{} {what}: it {why}; its log ({}) ends:\n{}",
            self.netns_prefix(),
            self.binary.display(),
            self.config().display(),
            self.host,
            self.port,
            self.log().display(),
            self.log_tail()
        )
    }
}

impl Drop for Sshd {
    /// Kills sshd (the listener, reaped, and every per-connection process); the temporary
    /// directory is removed after.
    fn drop(&mut self) {
        self.kill();
    }
}

/// The sshd binary: `/usr/sbin/sshd`, else the first `sshd` in `$PATH` (made absolute).
fn sshd_binary() -> PathBuf {
    let default = Path::new("/usr/sbin/sshd");
    if is_executable(default) {
        return default.to_path_buf();
    }
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("sshd"))
            .find(|candidate| is_executable(candidate))
    });
    match found.map(std::path::absolute) {
        Some(Ok(binary)) => binary,
        _ => panic!(
            "no sshd binary (looked at /usr/sbin/sshd, then in $PATH): the remote (SSH) tests \
             need a real OpenSSH server and are never skipped; install it, e.g. \
             `apt-get install openssh-server` (Debian, Ubuntu) or `dnf install openssh-server`"
        ),
    }
}

/// Whether `path` is an executable file.
fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Creates sshd's privilege-separation directory `dir` (mode 0755) if it is missing.
fn privilege_separation_dir(dir: &Path) {
    if dir.is_dir() {
        return;
    }
    match fs::DirBuilder::new().mode(0o755).create(dir) {
        Ok(()) => {
            // Whatever the umask: sshd wants it not group- or world-writable, and others
            // (the unprivileged child) need to reach it.
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => panic!(
            "sshd needs its privilege-separation directory {dir}, which is missing, and it \
             cannot be created: {err} (as root: `mkdir -m 0755 {dir}`)",
            dir = dir.display()
        ),
    }
}

/// A free port on 127.0.0.1, below the kernel's ephemeral range: no outgoing connection can
/// take it between a [`Sshd::kill`] and a [`Sshd::restart`].
fn port() -> u16 {
    match free_port() {
        0 => panic!("no free TCP port on 127.0.0.1 for sshd"),
        port => port,
    }
}

/// The current user's name (that of the effective UID).
fn current_user() -> String {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        Ok(None) => panic!("the current user (UID {uid}) has no passwd entry: ssh cannot log in"),
        Err(err) => panic!("cannot look up the current user (UID {uid}): {err}"),
    }
}

/// Makes a new ed25519 key pair without passphrase at `path` (and `path.pub`), replacing any.
fn keygen(path: &Path) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(public(path));
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "lifecycle-sshd-harness",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run ssh-keygen: {err} (install it: `apt-get install openssh-client`)")
        });
    if !out.status.success() {
        panic!(
            "ssh-keygen -f {} failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The public key file of the private key at `path`.
fn public(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// The text of `path`.
fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Writes `text` to `path`.
fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
}

/// Waits until sshd answers on `addr` with an SSH banner, for at most [`READY_WITHIN`], or
/// until it exits (which it does at once if it cannot bind the port).
fn wait_ready(child: &mut Child, addr: SocketAddr) -> Result<(), NotReady> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(NotReady::Exited(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(NotReady::Timeout);
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, left.min(Duration::from_secs(1)))
            && banner(stream, child, deadline)?
        {
            // The banner was sshd's, unless it failed to bind and someone else answered.
            return match child.try_wait() {
                Ok(Some(status)) => Err(NotReady::Exited(status)),
                _ => Ok(()),
            };
        }
        std::thread::sleep(RETRY_EVERY.min(left));
    }
}

/// Whether the server on `stream` sends an SSH 2 banner (`false` if it closes the connection
/// or sends something else), waiting no later than `deadline` and no longer than `child`
/// runs.
fn banner(mut stream: TcpStream, child: &mut Child, deadline: Instant) -> Result<bool, NotReady> {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    while line.len() < 256 && !line.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => line.extend_from_slice(&buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(NotReady::Exited(status));
                }
                if Instant::now() >= deadline {
                    return Err(NotReady::Timeout);
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(false),
        }
    }
    Ok(line.starts_with(b"SSH-2.0-"))
}

/// Numeric field `n` (1-based, as `proc(5)` counts them, `n` ≥ 3) of `/proc/<pid>/stat`.
fn stat_field(pid: u32, n: usize) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n - 3)?
        .parse()
        .ok()
}

/// The device and inode of the file that is `pid`'s standard error.
fn stderr_of(pid: u32) -> Option<(u64, u64)> {
    let m = fs::metadata(format!("/proc/{pid}/fd/2")).ok()?;
    Some((m.dev(), m.ino()))
}
