//! What several processes see: one daemon for concurrent ensures from many processes, a daemon
//! adopted or stopped from its record after its manager was SIGKILLed, and a record whose PID
//! now names an unrelated process, which is never signalled.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use lifecycle_core::{StartError, Stopped, record::Record};
use lifecycle_tests::handles::{HttpDaemon, RetryDaemon};
use lifecycle_tests::harness::{KillOnDrop, free_port, is_alive, manager_in};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

fn client(state: &std::path::Path, daemon: &HttpDaemon, calls: usize) -> Command {
    let mut command = Command::new(CLIENT);
    command
        .arg("ensure")
        .arg("--state")
        .arg(state)
        .args([
            "--kind",
            "http",
            "--binary",
            BINARY,
            "--port",
            &daemon.port.to_string(),
            "--test",
            &daemon.test,
            "--flags",
            &daemon.flags,
            "--calls",
            &calls.to_string(),
        ])
        .stdout(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_ensures_from_ten_processes_spawn_one_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "many-processes".into(),
        flags: "--ready-after 200".into(),
    };
    let children: Vec<_> = (0..10)
        .map(|_| client(dir.path(), &daemon, 5).spawn().unwrap())
        .collect();
    let mut spawned = Vec::new();
    let mut ready = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            let (what, pid) = line.split_once(' ').unwrap();
            match what {
                "spawned" => spawned.push(pid.to_owned()),
                _ => ready.push(pid.to_owned()),
            }
        }
    }
    let _guards: Vec<KillOnDrop> = spawned
        .iter()
        .filter_map(|p| p.parse().ok())
        .map(KillOnDrop::new)
        .collect();
    assert_eq!(spawned.len(), 1, "spawned: {spawned:?}");
    assert_eq!(ready.len(), 50);
    assert!(ready.iter().all(|pid| *pid == spawned[0]), "{ready:?}");
    let manager = manager_in(dir.path());
    let stopped = manager.stop(&daemon).await.unwrap();
    assert!(
        matches!(stopped, Stopped::Stopped { pid, .. } if pid.to_string() == spawned[0]),
        "{stopped:?}"
    );
}

/// Starts a slow daemon from a client process and SIGKILLs the client as soon as it has
/// spawned the daemon; returns the daemon's PID.
fn kill_manager_mid_start(state: &std::path::Path, daemon: &HttpDaemon) -> u32 {
    let mut child = client(state, daemon, 1).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let pid: u32 = line.strip_prefix("spawned ").unwrap().parse().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(is_alive(pid), "the daemon outlives its manager");
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_manager_adopts_a_daemon_whose_manager_was_killed_mid_start() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "adopt".into(),
        flags: "--ready-after 1000".into(),
    };
    let pid = kill_manager_mid_start(dir.path(), &daemon);
    let _guard = KillOnDrop::new(pid);
    let manager = manager_in(dir.path());
    // Still starting: the new manager waits for its readiness, then adopts it.
    let running = manager.ensure_running(&daemon).await.unwrap();
    assert_eq!((running.pid, running.started), (pid, false));
    let stopped = manager.stop(&daemon).await.unwrap();
    assert!(
        matches!(stopped, Stopped::Stopped { pid: p, .. } if p == pid),
        "{stopped:?}"
    );
    assert!(!is_alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_manager_stops_a_daemon_whose_manager_was_killed() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "orphan".into(),
        flags: "--ready-after 1000".into(),
    };
    let pid = kill_manager_mid_start(dir.path(), &daemon);
    let _guard = KillOnDrop::new(pid);
    let manager = manager_in(dir.path());
    // By key, from the record alone: this process never saw the daemon.
    let stopped = manager.stop_by_key("td-http@orphan").await.unwrap();
    assert!(
        matches!(stopped, Stopped::Stopped { pid: p, killed: false, .. } if p == pid),
        "{stopped:?}"
    );
    assert!(!is_alive(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_naming_an_unrelated_process_is_never_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let manager = manager_in(dir.path());
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "reused".into(),
        flags: String::new(),
    };
    // An unrelated process, and a record that names its PID with another start time: the
    // record of an earlier process whose PID was reused.
    let mut unrelated = Command::new("sleep").arg("60").spawn().unwrap();
    let record = Record {
        key: "td-http@reused".into(),
        name: "td-http".into(),
        state: lifecycle_core::record::RecordState::Ready,
        generation: 1,
        parent: (1, 1),
        manager: 0,
        log_offset: 0,
        pid: unrelated.id(),
        start_time: 1,
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim()
            .to_owned(),
        pgid: unrelated.id(),
        session: lifecycle_tests::harness::this_session(),
        started_at_ms: 0,
        log: dir.path().join("x.log"),
        spec_file: "specs/http.yaml".into(),
        probe: None,
        command: "sleep 60".into(),
        fingerprint: "0000000000000000".into(),
        restarts: 0,
        depends_on: vec![],
        stop: vec!["signal SIGTERM 1000".into()],
    };
    std::fs::write(
        dir.path().join("daemons/td-http@reused.record"),
        record.to_text(),
    )
    .unwrap();

    let stopped = manager.stop(&daemon).await.unwrap();
    let Stopped::StaleRecord { pid, reason, .. } = &stopped else {
        panic!("{stopped:?}")
    };
    assert_eq!(*pid, unrelated.id());
    assert!(
        reason.contains("belongs to another process") && reason.contains("not signalled"),
        "{reason}"
    );
    assert!(
        unrelated.try_wait().unwrap().is_none(),
        "the unrelated process was signalled"
    );

    // The same through ensure: the stale record is dropped and a daemon of ours started.
    std::fs::write(
        dir.path().join("daemons/td-http@reused.record"),
        record.to_text(),
    )
    .unwrap();
    let running = manager.ensure_running(&daemon).await.unwrap();
    assert_ne!(running.pid, unrelated.id());
    assert!(
        unrelated.try_wait().unwrap().is_none(),
        "the unrelated process was signalled"
    );
    manager.stop(&daemon).await.unwrap();
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_running_daemon_that_ensure_adopts() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "start-twice".into(),
        flags: String::new(),
    };
    let first = manager_in(dir.path());
    let running = first.start(&daemon).await.unwrap();
    let _guard = KillOnDrop::new(running.pid);
    // Another manager on the same state directory: another process, as far as records go.
    let second = manager_in(dir.path());
    let err = second.start(&daemon).await.unwrap_err();
    assert!(
        matches!(err, StartError::AlreadyRunning { pid, .. } if pid == running.pid),
        "{err}"
    );
    let adopted = second.ensure_running(&daemon).await.unwrap();
    assert_eq!((adopted.pid, adopted.started), (running.pid, false));
    tokio::time::timeout(Duration::from_secs(10), first.stop(&daemon))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_of_one_daemon_restart_it_once_per_exit() {
    let dir = tempfile::tempdir().unwrap();
    // Exits 400ms after each start; restarted on failure, three times in a row at most.
    let daemon = RetryDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "two-supervisors".into(),
        flags: "--exit-after 400".into(),
    };
    let (a, b) = (manager_in(dir.path()), manager_in(dir.path()));
    let (mut a_events, mut b_events) = (a.subscribe(), b.subscribe());
    let first = a.ensure_running(&daemon).await.unwrap();
    let _guard = KillOnDrop::new(first.pid);
    // b adopts it: both supervise it from now on.
    let adopted = b.ensure_running(&daemon).await.unwrap();
    assert_eq!((adopted.pid, adopted.started), (first.pid, false));
    // Each exit is restarted once, by the supervisor that claims it (removes the record that
    // names the dead process); the other stands down. After three restarts, a gives up.
    // The first start's Spawned is on a's channel too.
    let mut spawns = 0;
    // Each manager's latest state is final (not running), and one of them gave up.
    let (mut a_final, mut b_final, mut gave_up) = (false, false, false);
    while !(gave_up && a_final && b_final) {
        let (from_a, t) = tokio::select! {
            t = a_events.recv() => (true, t.unwrap()),
            t = b_events.recv() => (false, t.unwrap()),
            () = tokio::time::sleep(Duration::from_secs(15)) => panic!("no end after 15s"),
        };
        spawns += usize::from(matches!(
            t.event,
            lifecycle_core::state::Event::Spawned { .. }
        ));
        gave_up |=
            matches!(&t.to, lifecycle_core::State::Failed { reason } if reason.contains("gave up"));
        let is_final = !t.to.is_running() && !matches!(t.to, lifecycle_core::State::Backoff { .. });
        if from_a {
            a_final = is_final;
        } else {
            b_final = is_final;
        }
    }
    assert_eq!(spawns, 4, "one start and three restarts in all");
}
