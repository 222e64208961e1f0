//! The real-sshd harness itself, driven with the system's OpenSSH client: a command runs over
//! it, a changed host key is refused, a killed sshd refuses connections and breaks open ones
//! (and comes back on restart), and a dropped one leaves no process behind.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lifecycle_tests::harness::{KillOnDrop, is_alive, process_state, wait_exit};
use lifecycle_tests::sshd::Sshd;

/// `ssh -F <client config> -o ConnectTimeout=5 -p <port> -l <user> -- 127.0.0.1 <remote>`,
/// with no input.
fn ssh(sshd: &Sshd, remote: &str) -> Command {
    let mut command = Command::new("ssh");
    command
        .arg("-F")
        .arg(sshd.client_config())
        .args(["-o", "ConnectTimeout=5", "-p"])
        .arg(sshd.port().to_string())
        .arg("-l")
        .arg(sshd.user())
        .arg("--")
        .arg(sshd.host())
        .arg(remote)
        .stdin(Stdio::null());
    command
}

/// Runs `remote` over ssh; its output and how long it took.
fn run(sshd: &Sshd, remote: &str) -> (Output, Duration) {
    let started = Instant::now();
    let output = ssh(sshd, remote)
        .output()
        .unwrap_or_else(|err| panic!("cannot run ssh ({err}): `apt-get install openssh-client`"));
    (output, started.elapsed())
}

/// Asserts that `printf %s hello` runs over ssh.
fn assert_hello(sshd: &Sshd) {
    let (out, _) = run(sshd, "printf %s hello");
    assert!(
        out.status.success(),
        "ssh failed ({}): {}\nsshd's log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        sshd.log_tail()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello");
}

/// Field `n` (1-based, `n` ≥ 3) of `/proc/<pid>/stat`.
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(n - 3)
        .map(str::to_owned)
}

/// An open ssh connection running `sleep 60` remotely.
struct Session {
    /// The ssh client.
    client: Child,
    /// The per-connection sshd process serving it (the remote shell's parent).
    connection: u32,
    /// Kills the remote shell (`sleep`, in a session of its own) when the test ends.
    _shell: KillOnDrop,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.client.kill();
        let _ = self.client.wait();
    }
}

/// Opens a [`Session`], once the remote shell runs.
fn open_session(sshd: &Sshd) -> Session {
    let mut client = ssh(sshd, "echo pid=$$; exec sleep 60")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let shell: u32 = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(pid) = line.strip_prefix("pid=") {
                    break pid.trim().parse().unwrap();
                }
            }
            _ => {
                let out = client.wait_with_output().unwrap();
                panic!(
                    "the remote shell did not start ({}): {}\nsshd's log:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr),
                    sshd.log_tail()
                );
            }
        }
    };
    let guard = KillOnDrop::new(shell);
    let connection: u32 = stat_field(shell, 4).unwrap().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{connection}/comm")).unwrap();
    assert!(
        comm.starts_with("sshd"),
        "the remote shell's parent {connection} is {comm:?}, not sshd"
    );
    Session {
        client,
        connection,
        _shell: guard,
    }
}

#[test]
fn a_command_runs_over_ssh() {
    let sshd = Sshd::start();
    assert_eq!(sshd.host(), "127.0.0.1");
    assert!(!sshd.user().is_empty());
    let known_hosts = std::fs::read_to_string(sshd.known_hosts()).unwrap();
    assert!(
        known_hosts.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", sshd.port())),
        "{known_hosts}"
    );
    assert_hello(&sshd);
}

#[test]
fn a_changed_host_key_is_refused() {
    let mut sshd = Sshd::start();
    assert_hello(&sshd);
    let port = sshd.port();
    sshd.change_host_key();
    assert_eq!(sshd.port(), port);
    let (out, _) = run(&sshd, "printf %s hello");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("Host key verification failed"),
        "{stderr}"
    );
}

#[test]
fn a_killed_sshd_refuses_connections_until_restarted() {
    let mut sshd = Sshd::start();
    assert_hello(&sshd);
    let listener = sshd.pid().unwrap();
    sshd.kill();
    assert_eq!(sshd.pid(), None);
    assert!(!is_alive(listener));
    let (out, took) = run(&sshd, "printf %s hello");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(took < Duration::from_secs(5), "ssh took {took:?}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    sshd.restart();
    assert!(sshd.pid().is_some());
    assert_hello(&sshd);
}

#[test]
fn kill_breaks_open_connections() {
    let mut sshd = Sshd::start();
    let mut session = open_session(&sshd);
    assert!(is_alive(session.connection));
    sshd.kill();
    assert!(
        !is_alive(session.connection),
        "the per-connection sshd {} survived kill",
        session.connection
    );
    assert!(
        wait_exit(session.client.id(), Duration::from_secs(10)),
        "the ssh client did not see its connection break"
    );
    let status = session.client.wait().unwrap();
    assert_eq!(status.code(), Some(255));
}

#[test]
fn drop_leaves_no_sshd_process() {
    let sshd = Sshd::start();
    let session = open_session(&sshd);
    let listener = sshd.pid().unwrap();
    let dir = sshd.client_config().parent().unwrap().to_path_buf();
    assert!(dir.is_dir());
    drop(sshd);
    // The listener was this process's child: reaped, so gone from /proc altogether.
    assert_eq!(
        process_state(listener),
        None,
        "sshd {listener} is still there"
    );
    assert!(
        !is_alive(session.connection),
        "the per-connection sshd {} survived the drop",
        session.connection
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
