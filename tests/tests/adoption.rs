//! Adoption: a manager takes over daemons another process started — ready ones at once,
//! starting ones within their deadline counted from their recorded start (by probe, by their
//! log, or by their record for `notify`), ones that exit while it waits; an adopter defers to
//! the daemon's parent on its exit; a failed adoption leaves nothing behind.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use lifecycle_core::{StartError, State, state::Event};
use lifecycle_tests::handles::{HttpDaemon, LogDaemon, NotifyDaemon, PlainDaemon, ShortDaemon};
use lifecycle_tests::harness::{
    KillOnDrop, free_port, is_alive, manager_in, transitions_until, wait_exit,
};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

/// Another process ensuring a daemon of `kind`; it stays until its stdin closes.
struct Client {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Client {
    fn start(state: &std::path::Path, kind: &str, test: &str, port: u16, flags: &str) -> Client {
        let mut child = Command::new(CLIENT)
            .arg("ensure")
            .arg("--state")
            .arg(state)
            .args(["--kind", kind, "--binary", BINARY, "--test", test])
            .args(["--port", &port.to_string(), "--flags", flags, "--stay"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Client { child, lines }
    }

    fn line(&mut self) -> String {
        self.lines.next().unwrap().unwrap()
    }

    /// The PID of the daemon it spawned.
    fn spawned(&mut self) -> u32 {
        let line = self.line();
        line.strip_prefix("spawned ")
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap()
    }

    /// Kills the client (a manager that dies mid-start).
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Lets the client exit normally, its daemon running on.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_counts_from_the_recorded_start() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = ShortDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "recorded-deadline".into(),
        flags: "--ready-after 10000".into(),
    };
    let mut client = Client::start(
        dir.path(),
        "short",
        &daemon.test,
        daemon.port,
        &daemon.flags,
    );
    let pid = client.spawned();
    let _guard = KillOnDrop::new(pid);
    client.kill();
    // The deadline is 1.5s from the spawn; a second of it has passed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let manager = manager_in(dir.path());
    let asked = Instant::now();
    let err = manager.ensure_running(&daemon).await.unwrap_err();
    let waited = asked.elapsed();
    assert!(
        matches!(&err, StartError::Unhealthy { pid: p, last_error, .. } if *p == pid && last_error.contains("503")),
        "{err}"
    );
    assert!(
        waited < Duration::from_millis(1200),
        "waited {waited:?}: the deadline was counted from now, not from the recorded start"
    );
    manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_exits_while_adopted_is_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started-once");
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "exits-while-adopted".into(),
        flags: format!(
            "--ready-after 3000 --exit-after 600 --crash-if-file {}",
            marker.display()
        ),
    };
    let mut client = Client::start(dir.path(), "http", &daemon.test, daemon.port, &daemon.flags);
    let first = client.spawned();
    let _guard = KillOnDrop::new(first);
    client.kill();
    // From now on every fresh start crashes at once: the fresh start is seen to happen.
    std::fs::write(&marker, "").unwrap();
    let manager = manager_in(dir.path());
    let mut events = manager.subscribe();
    let err = manager.ensure_running(&daemon).await.unwrap_err();
    assert!(
        matches!(&err, StartError::Exited { exit, .. } if exit.code == Some(3)),
        "the fresh start's crash: {err}"
    );
    assert!(!is_alive(first));
    let spawned: Vec<u32> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|t| match t.event {
            Event::Spawned { pid } => Some(pid),
            _ => None,
        })
        .collect();
    assert_eq!(spawned.len(), 1, "{spawned:?}");
    assert_ne!(spawned[0], first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_and_log_daemons_are_adopted() {
    let dir = tempfile::tempdir().unwrap();
    // Ready under another process, which then exits: their records say ready.
    let notify = NotifyDaemon {
        binary: BINARY.into(),
        test: "adopt-notify".into(),
        flags: "--notify".into(),
    };
    let mut client = Client::start(dir.path(), "notify", &notify.test, 0, &notify.flags);
    let notify_pid = client.spawned();
    let _n = KillOnDrop::new(notify_pid);
    assert_eq!(client.line(), format!("ready {notify_pid}"));
    client.finish();
    let log = LogDaemon {
        binary: BINARY.into(),
        test: "adopt-log".into(),
        flags: "--ready-after 1000".into(),
    };
    // Starting under a process that dies: the log tells when it is ready.
    let mut client = Client::start(dir.path(), "log", &log.test, 0, &log.flags);
    let log_pid = client.spawned();
    let _l = KillOnDrop::new(log_pid);
    client.kill();

    let manager = manager_in(dir.path());
    let adopted = manager.ensure_running(&notify).await.unwrap();
    assert_eq!((adopted.pid, adopted.started), (notify_pid, false));
    let asked = Instant::now();
    let adopted = manager.ensure_running(&log).await.unwrap();
    assert_eq!((adopted.pid, adopted.started), (log_pid, false));
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(manager.status(&log).await.unwrap().state, State::Ready);
    manager.stop(&notify).await.unwrap();
    manager.stop(&log).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_daemon_whose_starter_died_cannot_be_seen_ready() {
    let dir = tempfile::tempdir().unwrap();
    let notify = NotifyDaemon {
        binary: BINARY.into(),
        test: "orphan-notify".into(),
        flags: "--notify --ready-after 1000".into(),
    };
    let mut client = Client::start(dir.path(), "notify", &notify.test, 0, &notify.flags);
    let pid = client.spawned();
    let _guard = KillOnDrop::new(pid);
    client.kill();
    let manager = manager_in(dir.path());
    let asked = Instant::now();
    let err = manager.ensure_running(&notify).await.unwrap_err();
    assert!(
        matches!(&err, StartError::Unhealthy { last_error, .. } if last_error.contains("which is gone")),
        "{err}"
    );
    assert!(asked.elapsed() < Duration::from_secs(2), "said at once");
    manager.stop(&notify).await.unwrap();
    assert!(!is_alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopter_defers_to_the_parent_on_a_clean_exit() {
    let dir = tempfile::tempdir().unwrap();
    // on-failure: a clean exit is not restarted. The parent (a manager of this process) reads
    // the status; the adopter (a manager of another process) cannot, and must not restart it.
    let daemon = PlainDaemon {
        binary: BINARY.into(),
        test: "clean-exit-adopted".into(),
        flags: "--exit-after 1500 --exit-code 0".into(),
    };
    let parent = manager_in(dir.path());
    let mut parent_events = parent.subscribe();
    let running = parent.ensure_running(&daemon).await.unwrap();
    let mut adopter = Client::start(dir.path(), "plain", &daemon.test, 0, &daemon.flags);
    assert_eq!(adopter.line(), format!("ready {}", running.pid));
    // The parent's verdict: stopped, no restart.
    let seen = transitions_until(
        &mut parent_events,
        "td-plain@clean-exit-adopted",
        Duration::from_secs(10),
        |s| !s.is_running(),
    )
    .await
    .expect("the exit within 10s");
    assert_eq!(seen.last().unwrap().to, State::Stopped, "{seen:?}");
    // Nothing restarts it within a restart's backoff and more (10ms in this spec).
    let restarted = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(t) = parent_events.recv().await
                && matches!(t.event, Event::Spawned { .. })
            {
                return;
            }
        }
    })
    .await;
    assert!(restarted.is_err(), "restarted by someone");
    assert_eq!(
        parent.status(&daemon).await.unwrap().state,
        State::Stopped,
        "nothing runs under the key"
    );
    adopter.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_adoptions_leave_no_descriptor_behind() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "wedged".into(),
        flags: "--unhealthy-after 300".into(),
    };
    let starter = manager_in(dir.path());
    let running = starter.ensure_running(&daemon).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let manager = manager_in(dir.path());
    // Warm up: the first call makes what every call shares (its owner, the HTTP client).
    assert!(matches!(
        manager.ensure_running(&daemon).await,
        Err(StartError::Unhealthy { .. })
    ));
    let before = open_fds();
    for _ in 0..30 {
        let err = manager.ensure_running(&daemon).await.unwrap_err();
        assert!(matches!(err, StartError::Unhealthy { .. }), "{err}");
    }
    let after = open_fds();
    assert!(
        after <= before + 2,
        "descriptors grew from {before} to {after} over 30 failed adoptions"
    );
    starter.stop(&daemon).await.unwrap();
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
}
