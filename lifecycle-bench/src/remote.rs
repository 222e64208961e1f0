//! The remote (SSH) figures: a status over the established connection, a remote stop, and 20
//! daemons on two hosts started to ready and stopped; each beside the hand-written `ssh`
//! pattern in the same run.
//!
//! The "hosts" are real OpenSSH servers on loopback ([`Sshd`], the test harness's), so the
//! remote host is this machine. The daemons are the test daemon: a copy of this program in a
//! directory any user can read, run with `--test-daemon`. As root, the block makes two users
//! (kept for the next run): `lcbench-slow`, whose login shell is bash with a `~/.bashrc` that
//! sleeps 0.1 s (Debian's bash reads it for a command run by sshd), for the status figure; and
//! `lcbench-plain`, whose login shell is `/bin/sh` (no startup file), for the others, so that the
//! hand-written baselines pay for `ssh` itself and not for a slow shell. Not as root, both are
//! the current user, whatever its login shell costs (the table shows it).
//!
//! This process is made a child subreaper for the block: the daemons the hand-written pattern
//! leaves behind (`nohup … &`) are orphans, and on a host whose init reaps nothing (this VM's
//! PID 1 does not) an exited orphan stays a zombie that `kill -0` still finds. A [`Reaper`]
//! thread reaps exactly those PIDs, as a host's init would.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, State, Stopped};
use lifecycle_tests::harness::is_alive;
use lifecycle_tests::sshd::Sshd;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::baseline;
use crate::handles::{Remote, RemoteBare};
use crate::runtime::{free_ports, healthy};
use crate::stats::{Sample, show};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The user whose login shell takes 0.1 s (made when running as root).
const SLOW_USER: &str = "lcbench-slow";
/// The user whose login shell is `/bin/sh` (made when running as root).
const PLAIN_USER: &str = "lcbench-plain";
/// The remote state directory, in the remote user's home.
const REMOTE_STATE: &str = "~/.local/state/lifecycle-bench";
/// [`REMOTE_STATE`] relative to the home.
const REMOTE_STATE_IN_HOME: &str = ".local/state/lifecycle-bench";
/// The slow user's `~/.bashrc`.
const SLOW_BASHRC: &str = "# lifecycle-bench: a login shell that takes 0.1 s to start (bash reads this for ssh commands).\nsleep 0.1\n";
/// Daemons per host in the fleet figure (two hosts).
const PER_HOST: usize = 10;
/// The pause before each measured operation, so that what the previous one left running (an
/// sshd session ending, a process being reaped) does not overlap it.
const SETTLE: Duration = Duration::from_millis(20);
/// The hand-written liveness poll's interval.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// `theirs / ours`, as the other blocks show it.
fn ratio(ours: Duration, theirs: Duration) -> String {
    let ratio = theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9);
    if ratio < 10.0 {
        format!("{ratio:.2}×")
    } else {
        format!("{ratio:.0}×")
    }
}

/// One table row: the medians of both samples and their ratio.
fn row(what: &str, ours: &Sample, theirs: &Sample) {
    let (o, t) = (ours.median(), theirs.median());
    println!("| {what} | {} | {} | {} |", show(o), show(t), ratio(o, t));
}

/// Waits a moment (see [`SETTLE`]).
async fn settle() {
    tokio::time::sleep(SETTLE).await;
}

/// Who logs in to the hosts.
struct Users {
    /// For the status figure: the user whose login shell is slow.
    slow: String,
    /// For the stop and fleet figures.
    plain: String,
}

/// The current user's name.
fn current_user() -> Result<String, Error> {
    let uid = nix::unistd::geteuid();
    Ok(nix::unistd::User::from_uid(uid)?
        .ok_or_else(|| format!("UID {uid} has no passwd entry"))?
        .name)
}

/// Runs a system command that must succeed.
fn system(program: &str, args: &[&str]) -> Result<(), Error> {
    let status = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed: {status}", args.join(" ")).into())
    }
}

/// Makes user `name` with login shell `shell` unless it exists (and gives it that shell), and
/// unlocks it: sshd without PAM refuses a locked account (`!` in /etc/shadow) even for a key;
/// `*` (no password at all) is not locked.
fn ensure_user(name: &str, shell: &str) -> Result<nix::unistd::User, Error> {
    match nix::unistd::User::from_name(name)? {
        None => system("useradd", &["-m", "-s", shell, name])?,
        Some(user) if user.shell != Path::new(shell) => system("usermod", &["-s", shell, name])?,
        Some(_) => {}
    }
    let shadow = std::fs::read_to_string("/etc/shadow")?;
    let locked = shadow.lines().any(|line| {
        let mut fields = line.split(':');
        fields.next() == Some(name) && fields.next().is_some_and(|p| p.starts_with('!'))
    });
    if locked {
        system("usermod", &["-p", "*", name])?;
    }
    Ok(nix::unistd::User::from_name(name)?.ok_or_else(|| format!("no user {name}"))?)
}

/// The users of the block: made as root when `make_users`, else the current user for both.
fn users(make_users: bool) -> Result<Users, Error> {
    if !make_users || !nix::unistd::geteuid().is_root() {
        let me = current_user()?;
        let why = if make_users {
            "not root, so no user with a slow login shell can be made"
        } else {
            "a smoke run makes no users"
        };
        eprintln!("remote: {why}: every figure logs in as {me}");
        return Ok(Users {
            slow: me.clone(),
            plain: me,
        });
    }
    let slow = ensure_user(SLOW_USER, "/bin/bash")?;
    let bashrc = slow.dir.join(".bashrc");
    std::fs::write(&bashrc, SLOW_BASHRC)?;
    nix::unistd::chown(&bashrc, Some(slow.uid), Some(slow.gid))?;
    ensure_user(PLAIN_USER, "/bin/sh")?;
    Ok(Users {
        slow: SLOW_USER.to_owned(),
        plain: PLAIN_USER.to_owned(),
    })
}

/// Reaps the orphaned daemons of the hand-written pattern once they exit (see the module's
/// documentation): only the PIDs it is given, so that no child another part of this process
/// waits for is taken from it.
struct Reaper {
    /// The PIDs to reap once they exit.
    pids: Arc<Mutex<HashSet<i32>>>,
    /// Tells the thread to end.
    done: Arc<AtomicBool>,
    /// The reaping thread.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reaper {
    /// Makes this process a child subreaper and starts the reaping thread.
    fn start() -> Result<Reaper, Error> {
        nix::sys::prctl::set_child_subreaper(true)?;
        let pids: Arc<Mutex<HashSet<i32>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        let (p, d) = (pids.clone(), done.clone());
        let thread = std::thread::Builder::new()
            .name("reaper".to_owned())
            .spawn(move || {
                while !d.load(Ordering::SeqCst) {
                    let watched: Vec<i32> = p
                        .lock()
                        .map(|s| s.iter().copied().collect())
                        .unwrap_or_default();
                    for pid in &watched {
                        let gone = match waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG)) {
                            Ok(WaitStatus::StillAlive) => false,
                            // Not (yet) ours: done once it is gone for good.
                            Err(nix::errno::Errno::ECHILD) => {
                                !Path::new(&format!("/proc/{pid}")).exists()
                            }
                            _ => true,
                        };
                        if gone && let Ok(mut set) = p.lock() {
                            set.remove(pid);
                        }
                    }
                    std::thread::sleep(if watched.is_empty() {
                        Duration::from_millis(20)
                    } else {
                        Duration::from_millis(2)
                    });
                }
            })?;
        Ok(Reaper {
            pids,
            done,
            thread: Some(thread),
        })
    }

    /// Reaps `pid` once it exits.
    fn watch(&self, pid: u32) {
        if let (Ok(pid), Ok(mut set)) = (i32::try_from(pid), self.pids.lock()) {
            set.insert(pid);
        }
    }
}

impl Drop for Reaper {
    /// Stops the thread and this process's being a subreaper.
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = nix::sys::prctl::set_child_subreaper(false);
    }
}

/// Reaps every exited child left (the remote side's orphans: keepers, helpers, sshd's
/// sessions); call once nothing else of this process waits for a child.
fn reap_all() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// SIGKILLs whatever still runs `binary` (this block's own copy of the daemon, in a directory
/// it made: nothing else runs it) once `patience` has passed; how many. What runs it now is
/// pinned and awaited (over as soon as all have exited), then whatever runs it is killed.
fn kill_leftovers(binary: &Path, patience: Duration) -> usize {
    let runs_it = |pid: u32| {
        is_alive(pid)
            && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
    };
    let deadline = Instant::now() + patience;
    for pidfd in lifecycle_tests::pidfd::pin_every(runs_it) {
        lifecycle_tests::pidfd::wait_exit(
            &pidfd,
            deadline.saturating_duration_since(Instant::now()),
        );
    }
    lifecycle_tests::pidfd::kill_every(runs_it)
}

/// How `ssh` reaches one host as one user: a new connection per command, or through a
/// ControlMaster's socket.
#[derive(Clone, Debug)]
struct Ssh {
    /// The client configuration (`ssh -F`).
    config: PathBuf,
    /// The host's address.
    host: String,
    /// sshd's port there.
    port: u16,
    /// Who logs in.
    user: String,
    /// A ControlMaster's socket (`ssh -S`) to go through, if any.
    control: Option<PathBuf>,
}

/// An `ssh -M -N` ControlMaster, killed when dropped.
struct Master(std::process::Child);

impl Drop for Master {
    /// Kills the master and reaps it.
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Ssh {
    /// To `sshd` as `user`, with `config` (`ssh -F`), a new connection per command.
    fn new(sshd: &Sshd, config: &Path, user: &str) -> Ssh {
        Ssh {
            config: config.to_path_buf(),
            host: sshd.host().to_owned(),
            port: sshd.port(),
            user: user.to_owned(),
            control: None,
        }
    }

    /// `ssh -F CONFIG -p PORT -l USER -o BatchMode=yes [-S SOCKET]`: every option, before `--`.
    fn options(&self) -> Vec<String> {
        let mut args = vec![
            "-F".to_owned(),
            self.config.to_string_lossy().into_owned(),
            "-p".to_owned(),
            self.port.to_string(),
            "-l".to_owned(),
            self.user.clone(),
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
        ];
        if let Some(socket) = &self.control {
            args.push("-S".to_owned());
            args.push(socket.to_string_lossy().into_owned());
        }
        args
    }

    /// Runs `remote` there (through the user's login shell): its exit code (255: ssh failed)
    /// and its output.
    async fn run(&self, remote: &str) -> Result<(i32, String), Error> {
        let output = tokio::process::Command::new("ssh")
            .args(self.options())
            .arg("--")
            .arg(&self.host)
            .arg(remote)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await?;
        let code = output.status.code().unwrap_or(-1);
        if code == 255 {
            return Err(format!(
                "ssh {}@{}:{} {remote:?}: {}",
                self.user,
                self.host,
                self.port,
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
        Ok((code, String::from_utf8_lossy(&output.stdout).into_owned()))
    }

    /// Runs `remote`, which must succeed: its output.
    async fn ok(&self, remote: &str) -> Result<String, Error> {
        match self.run(remote).await? {
            (0, out) => Ok(out),
            (code, _) => Err(format!("{remote:?} exited with {code} on {}", self.host).into()),
        }
    }

    /// The round trip of one line through an established session of this destination whose
    /// remote end is `cat`, `runs` times: what any one-round-trip operation pays at least (the
    /// helper's transport, without the helper).
    async fn echo(&self, runs: usize) -> Result<Sample, Error> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let mut child = tokio::process::Command::new("ssh")
            .args(self.options())
            .arg("-T")
            .arg("--")
            .arg(&self.host)
            .arg("exec cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut stdin = child.stdin.take().ok_or("no stdin for ssh")?;
        let mut lines =
            tokio::io::BufReader::new(child.stdout.take().ok_or("no stdout for ssh")?).lines();
        let mut sample = Vec::new();
        // The first line waits for the connection; it is not counted.
        for i in 0..=runs {
            settle().await;
            let started = Instant::now();
            stdin.write_all(b"r 1 rec live key=value\n").await?;
            stdin.flush().await?;
            if lines.next_line().await?.is_none() {
                return Err("the echo session ended".into());
            }
            if i > 0 {
                sample.push(started.elapsed());
            }
        }
        drop(stdin);
        child.wait().await?;
        Ok(Sample(sample))
    }

    /// Starts a ControlMaster (`ssh -M -N -S SOCKET`) for this destination and waits until it
    /// serves; the master, and this destination through it.
    async fn master(&self, socket: PathBuf) -> Result<(Master, Ssh), Error> {
        let child = std::process::Command::new("ssh")
            .args(self.options())
            .arg("-M")
            .arg("-N")
            .arg("-S")
            .arg(&socket)
            .args(["-o", "ControlPersist=no"])
            .arg("--")
            .arg(&self.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let master = Master(child);
        let through = Ssh {
            control: Some(socket),
            ..self.clone()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let check = tokio::process::Command::new("ssh")
                .args(through.options())
                .args(["-O", "check", "--"])
                .arg(&self.host)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await?;
            if check.success() {
                return Ok((master, through));
            }
            if Instant::now() > deadline {
                return Err("the ControlMaster did not come up within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The hand-written start: `nohup BINARY --test-daemon --port P FLAGS… >/dev/null 2>&1 &
    /// echo $!`; the daemon's PID (reaped by `reaper` once it exits).
    async fn start_by_hand(
        &self,
        binary: &str,
        port: u16,
        flags: &str,
        reaper: &Reaper,
    ) -> Result<u32, Error> {
        let out = self
            .ok(&format!(
                "nohup {binary} --test-daemon --port {port} {flags} >/dev/null 2>&1 & echo $!"
            ))
            .await?;
        let pid = out.trim().parse()?;
        reaper.watch(pid);
        Ok(pid)
    }

    /// The hand-written stop: `kill -TERM PID`, then `kill -0 PID` every 100 ms until it fails.
    async fn stop_by_hand(&self, pid: u32) -> Result<(), Error> {
        self.ok(&format!("kill -TERM {pid}")).await?;
        loop {
            match self.run(&format!("kill -0 {pid} 2>/dev/null")).await? {
                (0, _) => tokio::time::sleep(POLL_EVERY).await,
                _ => return Ok(()),
            }
        }
    }
}

/// What the remote figures share.
struct Bench {
    /// Runs of the status and stop figures.
    runs: usize,
    /// Runs of the fleet figure.
    fleet_runs: usize,
    /// This program's copy that the remote users run.
    binary: String,
    /// Local state directories, client configurations, control sockets.
    dir: tempfile::TempDir,
    /// Who logs in to the hosts.
    users: Users,
    /// Reaps what the hand-written pattern leaves behind.
    reaper: Reaper,
}

impl Bench {
    /// A manager of its own (local state directory `name`) whose connections use `config`.
    fn manager(&self, name: &str, config: &Path) -> Result<DaemonManager, Error> {
        Ok(DaemonManager::builder()
            .state_dir(self.dir.path().join(name))
            .remote_state_dir(REMOTE_STATE)
            .ssh_config(config)
            .ssh_connect_timeout(Duration::from_secs(10))
            .stop_on_drop(true)
            .build()?)
    }

    /// A control socket path (short: a socket path has ~100 bytes).
    fn socket(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The login shell's cost: a fresh `ssh host true` as the slow user and as the plain one.
    async fn login_shell(&self, sshd: &Sshd) -> Result<(Sample, Sample), Error> {
        let slow = Ssh::new(sshd, sshd.client_config(), &self.users.slow);
        let plain = Ssh::new(sshd, sshd.client_config(), &self.users.plain);
        let (mut s, mut p) = (Vec::new(), Vec::new());
        for _ in 0..self.runs {
            for (ssh, sample) in [(&slow, &mut s), (&plain, &mut p)] {
                settle().await;
                let started = Instant::now();
                ssh.ok("true").await?;
                sample.push(started.elapsed());
            }
        }
        Ok((Sample(s), Sample(p)))
    }

    /// A status over the established connection, from a second manager, as the slow user:
    /// against `cat RECORD` by a fresh `ssh` and over a ControlMaster.
    async fn status(&self, sshd: &Sshd) -> Result<(), Error> {
        let (slow_true, plain_true) = self.login_shell(sshd).await?;
        let user = &self.users.slow;
        let owner = self.manager("status-owner", sshd.client_config())?;
        let second = self.manager("status-second", sshd.client_config())?;
        let port = free_ports(1).first().copied().ok_or("no free port")?;
        let daemon = RemoteBare {
            binary: self.binary.clone(),
            id: format!("status-{}", std::process::id()),
            port,
            host: sshd.host().to_owned(),
            user: user.clone(),
            ssh_port: sshd.port(),
        };
        let running = owner.ensure_running(&daemon).await?;
        let home = nix::unistd::User::from_name(user)?
            .ok_or_else(|| format!("no user {user}"))?
            .dir;
        // The key's characters are all kept as they are in the record's file name.
        let record = home
            .join(REMOTE_STATE_IN_HOME)
            .join("daemons")
            .join(format!("bench-remote-bare@{}.record", daemon.id));
        if !record.is_file() {
            return Err(format!("no remote record at {}", record.display()).into());
        }
        let cat = format!("cat {}", record.display());
        // The first operation opens the second manager's connection.
        let opened = Instant::now();
        let first = second.status(&daemon).await?;
        let opened = opened.elapsed();
        if first.state != State::Ready || first.pid != Some(running.pid) {
            return Err(format!("the second manager sees {first:?}").into());
        }
        let fresh = Ssh::new(sshd, sshd.client_config(), user);
        let (master, mux) = fresh.master(self.socket("status.sock")).await?;
        let expected = format!("pid={}\n", running.pid);
        let (mut ours, mut by_fresh, mut by_mux) = (Vec::new(), Vec::new(), Vec::new());
        // Ours back to back (a status is what a supervisor repeats), then the baselines: a
        // fresh ssh leaves the machine busy for a while (its key exchange, its sshd's exit),
        // and a sub-millisecond figure measured right after one measures that.
        for _ in 0..self.runs {
            let started = Instant::now();
            let status = second.status(&daemon).await?;
            ours.push(started.elapsed());
            if status.state != State::Ready || status.pid != Some(running.pid) {
                return Err(format!("the second manager sees {status:?}").into());
            }
        }
        for _ in 0..self.runs {
            for (ssh, sample) in [(&fresh, &mut by_fresh), (&mux, &mut by_mux)] {
                settle().await;
                let started = Instant::now();
                let text = ssh.ok(&cat).await?;
                sample.push(started.elapsed());
                if !text.contains(&expected) {
                    return Err(format!("unexpected record: {text:?}").into());
                }
            }
        }
        drop(master);
        let floor = fresh.echo(self.runs).await?;
        owner.stop(&daemon).await?;
        let (slow_ms, plain_ms) = (slow_true.median(), plain_true.median());
        println!(
            "| login shell of `{user}`: fresh `ssh host true` ({user} / {}) | — | {} / {} | +{} |",
            self.users.plain,
            show(slow_ms),
            show(plain_ms),
            show(slow_ms.saturating_sub(plain_ms))
        );
        println!(
            "| first status from a second manager (opens its connection: ssh, the login shell, the helper) | {} | — | |",
            show(opened)
        );
        let ours = Sample(ours);
        row(
            &format!(
                "status over the established connection (`{user}`, no probe): `status` from a second manager vs a fresh `ssh host cat RECORD`"
            ),
            &ours,
            &Sample(by_fresh),
        );
        row(
            "  the same vs `ssh -S SOCKET host cat RECORD` through a ControlMaster",
            &ours,
            &Sample(by_mux),
        );
        println!(
            "|  status over the established connection: spread | {} – {} | | |",
            show(ours.range().0),
            show(ours.range().1)
        );
        println!(
            "|  for reference: one line's round trip through an established ssh session to `cat` (the transport alone) | — | {} | |",
            show(floor.median())
        );
        Ok(())
    }

    /// A remote stop of a daemon that exits 50 ms after SIGTERM, against `kill -TERM` and a
    /// `kill -0` every 100 ms, by fresh `ssh` and over a ControlMaster; interleaved.
    async fn stop(&self, sshd: &Sshd) -> Result<(), Error> {
        let user = &self.users.plain;
        let manager = self.manager("stop", sshd.client_config())?;
        let fresh = Ssh::new(sshd, sshd.client_config(), user);
        let (master, mux) = fresh.master(self.socket("stop.sock")).await?;
        let (mut ours, mut by_fresh, mut by_mux) = (Vec::new(), Vec::new(), Vec::new());
        let ports = free_ports(3 * self.runs);
        if ports.len() < 3 * self.runs {
            return Err("not enough free ports".into());
        }
        for (i, ports) in ports.chunks_exact(3).enumerate() {
            let daemon = Remote {
                binary: self.binary.clone(),
                id: format!("stop-{}-{i}", std::process::id()),
                port: ports[0],
                exit_after_sigterm: 50,
                host: sshd.host().to_owned(),
                user: user.clone(),
                ssh_port: sshd.port(),
            };
            let running = manager.ensure_running(&daemon).await?;
            settle().await;
            let started = Instant::now();
            let stopped = manager.stop(&daemon).await?;
            ours.push(started.elapsed());
            if !matches!(stopped, Stopped::Stopped { killed: false, .. }) || is_alive(running.pid) {
                return Err(format!("run {i}: {stopped:?}").into());
            }
            for (ssh, port, sample) in [
                (&fresh, ports[1], &mut by_fresh),
                (&mux, ports[2], &mut by_mux),
            ] {
                let pid = ssh
                    .start_by_hand(&self.binary, port, "--exit-after-sigterm 50", &self.reaper)
                    .await?;
                healthy(port).await?;
                settle().await;
                let started = Instant::now();
                ssh.stop_by_hand(pid).await?;
                sample.push(started.elapsed());
            }
        }
        drop(master);
        let ours = Sample(ours);
        row(
            "remote stop, daemon exits 50 ms after SIGTERM: `stop` vs a fresh `ssh host kill -TERM PID`, then a fresh `ssh host kill -0 PID` every 100 ms until it fails",
            &ours,
            &Sample(by_fresh),
        );
        row(
            "  the same vs the same commands through a ControlMaster",
            &ours,
            &Sample(by_mux),
        );
        println!(
            "|  remote stop: spread | {} – {} | | |",
            show(ours.range().0),
            show(ours.range().1)
        );
        Ok(())
    }

    /// One run of ours: a fresh manager (its connections are part of the figure) starts
    /// `PER_HOST` daemons on each host to ready at once, then stops them all at once; (all
    /// ready, all stopped) from the first call.
    async fn fleet_ours(
        &self,
        run: usize,
        hosts: [&Sshd; 2],
        config: &Path,
    ) -> Result<(Duration, Duration), Error> {
        let manager = self.manager(&format!("fleet-{run}"), config)?;
        let ports = free_ports(2 * PER_HOST);
        if ports.len() < 2 * PER_HOST {
            return Err("not enough free ports".into());
        }
        let daemons: Vec<Remote> = ports
            .iter()
            .enumerate()
            .map(|(i, &port)| {
                let host = hosts[i % 2];
                Remote {
                    binary: self.binary.clone(),
                    id: format!("fleet-{}-{run}-{i}", std::process::id()),
                    port,
                    exit_after_sigterm: 0,
                    host: host.host().to_owned(),
                    user: self.users.plain.clone(),
                    ssh_port: host.port(),
                }
            })
            .collect();
        let started = Instant::now();
        let ups: Vec<_> = daemons
            .iter()
            .map(|d| tokio::spawn(manager.ensure_running(d)))
            .collect();
        for up in ups {
            up.await??;
        }
        let ready = started.elapsed();
        let downs: Vec<_> = daemons
            .iter()
            .map(|d| tokio::spawn(manager.stop(d)))
            .collect();
        for down in downs {
            let stopped = down.await??;
            if !matches!(stopped, Stopped::Stopped { .. }) {
                return Err(format!("fleet run {run}: {stopped:?}").into());
            }
        }
        Ok((ready, started.elapsed()))
    }

    /// One run by hand: per daemon, a fresh `ssh host 'nohup … & echo $!'`, health polled from
    /// here (200 ms × 1.5, a new client per check), then `ssh host kill PID` and a fresh
    /// `ssh host kill -0 PID` every 100 ms until it fails; all daemons at once.
    async fn fleet_by_hand(
        &self,
        hosts: [&Sshd; 2],
        config: &Path,
    ) -> Result<(Duration, Duration), Error> {
        let ssh: Vec<Ssh> = hosts
            .iter()
            .map(|h| Ssh::new(h, config, &self.users.plain))
            .collect();
        let ports = free_ports(2 * PER_HOST);
        if ports.len() < 2 * PER_HOST {
            return Err("not enough free ports".into());
        }
        let started = Instant::now();
        // Each start is its own task; the PIDs come back to be watched and stopped.
        let ups: Vec<_> = ports
            .iter()
            .enumerate()
            .map(|(i, &port)| {
                let (ssh, binary) = (ssh[i % 2].clone(), self.binary.clone());
                tokio::spawn(async move {
                    let out = ssh
                        .ok(&format!(
                            "nohup {binary} --test-daemon --port {port} >/dev/null 2>&1 & echo $!"
                        ))
                        .await?;
                    let pid: u32 = out.trim().parse()?;
                    let url = format!("http://127.0.0.1:{port}/health");
                    let up =
                        baseline::poll_new_client_each_time(&url, Duration::from_secs(30)).await;
                    Ok::<_, Error>((pid, up))
                })
            })
            .collect();
        let mut pids = Vec::new();
        let mut failure = None;
        for up in ups {
            match up.await? {
                Ok((pid, up)) => {
                    self.reaper.watch(pid);
                    pids.push(pid);
                    if !up {
                        failure = Some("a daemon started by hand never got healthy".into());
                    }
                }
                Err(err) => failure = Some(err),
            }
        }
        let ready = started.elapsed();
        let downs: Vec<_> = pids
            .iter()
            .enumerate()
            .map(|(i, &pid)| {
                let ssh = ssh[i % 2].clone();
                tokio::spawn(async move { ssh.stop_by_hand(pid).await })
            })
            .collect();
        for down in downs {
            if let Err(err) = down.await? {
                failure = Some(err);
            }
        }
        match failure {
            Some(err) => Err(err),
            None => Ok((ready, started.elapsed())),
        }
    }

    /// 20 daemons on two hosts, start → ready → stop, ours and by hand, alternating.
    async fn fleet(&self, a: &Sshd) -> Result<(), Error> {
        let b = Sshd::start();
        // One configuration for both hosts: both identities, both known-hosts files.
        let config = self.dir.path().join("two_hosts_config");
        Sshd::shared_client_config(&[a, &b], &config);
        let hosts = [a, &b];
        let (mut ours, mut ours_ready, mut ours_stop) = (Vec::new(), Vec::new(), Vec::new());
        let (mut theirs, mut theirs_ready, mut theirs_stop) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..self.fleet_runs {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (ready, total) = self.fleet_ours(run, hosts, &config).await?;
            ours.push(total);
            ours_ready.push(ready);
            ours_stop.push(total - ready);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (ready, total) = self.fleet_by_hand(hosts, &config).await?;
            theirs.push(total);
            theirs_ready.push(ready);
            theirs_stop.push(total - ready);
            eprint!(".");
        }
        eprintln!();
        let runs = self.fleet_runs;
        let ours = Sample(ours);
        row(
            &format!(
                "{n} daemons on 2 hosts ({PER_HOST} each, `{}`), start → ready → stop, all at once ({runs} runs): total, from a new manager (its 2 connections included) vs by hand with a fresh `ssh` per command",
                self.users.plain,
                n = 2 * PER_HOST
            ),
            &ours,
            &Sample(theirs),
        );
        row(
            "  of which: all ready",
            &Sample(ours_ready),
            &Sample(theirs_ready),
        );
        row(
            "  of which: all stopped",
            &Sample(ours_stop),
            &Sample(theirs_stop),
        );
        println!(
            "|  {n} daemons on 2 hosts: spread of the total | {} – {} | | |",
            show(ours.range().0),
            show(ours.range().1),
            n = 2 * PER_HOST
        );
        Ok(())
    }
}

/// A copy of this program that every user can run (a directory of mode 0755 in the temporary
/// directory): the remote users run the daemons from it.
fn public_binary() -> Result<(tempfile::TempDir, PathBuf), Error> {
    let dir = tempfile::Builder::new().prefix("lcbench-").tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let binary = dir.path().join("lifecycle-bench");
    std::fs::copy(std::env::current_exe()?, &binary)?;
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))?;
    Ok((dir, binary))
}

/// The remote block: `runs` runs of the status and stop figures, `fleet_runs` of the fleet.
/// `make_users`: as root, make the two users it logs in as (a smoke run does not: it runs in
/// the test suite, which changes nothing on the machine outside its own files).
#[allow(clippy::print_stdout)]
pub(crate) fn run(runs: usize, fleet_runs: usize, make_users: bool) -> Result<(), Error> {
    let users = users(make_users)?;
    let (exe_dir, binary) = public_binary()?;
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async {
            let bench = Bench {
                runs,
                fleet_runs,
                binary: binary.to_string_lossy().into_owned(),
                dir: tempfile::Builder::new().prefix("lcb-").tempdir()?,
                users,
                reaper: Reaper::start()?,
            };
            let sshd = Sshd::start();
            println!();
            println!("| figure ({runs} runs, medians) | lifecycle | hand-written | ratio |");
            println!("|---|---|---|---|");
            bench.status(&sshd).await?;
            bench.stop(&sshd).await?;
            bench.fleet(&sshd).await?;
            Ok::<_, Error>(())
        });
    // Managers, masters and servers are gone: their leftovers, if any, go too (what has not
    // exited half a second from now).
    let left = kill_leftovers(&binary, Duration::from_millis(500));
    reap_all();
    drop(exe_dir);
    println!();
    println!("Daemons left running after the block: {left}.");
    result
}
