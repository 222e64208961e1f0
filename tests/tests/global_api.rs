//! The handles' own methods and the free functions of the proposal's API, both on the global
//! manager (set once for this test binary, in a temporary state directory).

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use lifecycle_core::{
    DaemonManager, Lifecycle, StartError, State, StopError, Stopped,
    compat::{
        ensure_daemon_running, graceful_shutdown, graceful_shutdown_by_pid, is_daemon_healthy,
        poll_until_healthy, spawn_daemon,
    },
};
use lifecycle_tests::handles::{HttpDaemon, PlainDaemon};
use lifecycle_tests::harness::{
    KillOnDrop, assert_backoff_schedule, free_port, is_alive, pid_in_file, process_state,
};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

fn global() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let manager = DaemonManager::builder().state_dir(dir).build().unwrap();
        DaemonManager::set_global(manager).unwrap();
    });
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/health")
}

fn args(port: u16, flags: &str) -> Vec<String> {
    let mut args = vec!["--port".to_owned(), port.to_string()];
    args.extend(flags.split_whitespace().map(str::to_owned));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_methods() {
    global();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "handle-methods".into(),
        flags: "--ready-after 100".into(),
    };
    let mut events = DaemonManager::global().unwrap().subscribe();
    let running = daemon.ensure_running().await.unwrap();
    let _guard = KillOnDrop::new(running.pid);
    assert!(running.started);
    // 503s for 100ms, on the spec's backoff (10ms doubling): ready at the 4th or 5th attempt.
    let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|t| t.daemon == "td-http@handle-methods")
        .collect();
    let backoff = lifecycle_core::spec::Backoff::new(
        Duration::from_millis(10),
        Duration::from_millis(100),
        2.0,
    );
    let failed = assert_backoff_schedule(&seen, backoff, Duration::from_millis(150));
    assert_eq!(running.attempts as usize, failed + 1);
    assert!((3..=6).contains(&running.attempts), "{running:?}");
    assert!(daemon.is_healthy().await);
    let status = daemon.status().await.unwrap();
    assert_eq!(
        (status.state, status.pid),
        (State::Ready, Some(running.pid))
    );
    let again = daemon.ensure_running().await.unwrap();
    assert_eq!((again.pid, again.started), (running.pid, false));
    assert!(matches!(
        daemon.start().await,
        Err(StartError::AlreadyRunning { .. })
    ));
    assert!(daemon.stop().await.unwrap().was_running());
    assert!(!daemon.is_healthy().await);
    assert!(!is_alive(running.pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_poll_check_and_shut_down_by_name() {
    global();
    let port = free_port();
    let pid = spawn_daemon(BINARY, args(port, "--ready-after 1000"))
        .await
        .unwrap();
    let _guard = KillOnDrop::new(pid);
    // Spawned, not ready: it answers 503 (or has not bound its port yet).
    assert!(is_alive(pid));
    assert!(!is_daemon_healthy(&url(port)).await);
    poll_until_healthy(
        &url(port),
        Duration::from_secs(10),
        Some(Duration::from_millis(10)),
        None,
    )
    .await
    .unwrap();
    assert!(is_daemon_healthy(&url(port)).await);
    // The URL is used as given: nothing is appended, so the base URL is not the health URL.
    assert!(!is_daemon_healthy(&format!("http://127.0.0.1:{port}")).await);
    // The same binary and arguments again: the same daemon.
    assert!(matches!(
        spawn_daemon(BINARY, args(port, "--ready-after 1000")).await,
        Err(StartError::AlreadyRunning { .. })
    ));
    // Other arguments: a second instance under the same name.
    let other_port = free_port();
    let other = spawn_daemon(BINARY, args(other_port, "")).await.unwrap();
    let _other_guard = KillOnDrop::new(other);
    assert_ne!(other, pid);
    // By name: every instance this library recorded under it (a record, not a process name).
    graceful_shutdown("test-daemon", None).await.unwrap();
    assert!(!is_alive(pid) && !is_alive(other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_daemon_running_is_idempotent_and_shutdown_honours_the_grace() {
    global();
    let port = free_port();
    let started = ensure_daemon_running(
        "ensured",
        &url(port),
        BINARY,
        args(port, "--ignore-sigterm"),
    )
    .await;
    assert!(!started.unwrap(), "it was not running before");
    assert!(
        ensure_daemon_running(
            "ensured",
            &url(port),
            BINARY,
            args(port, "--ignore-sigterm")
        )
        .await
        .unwrap()
    );
    let stop = Instant::now();
    graceful_shutdown("ensured", Some(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(
        stop.elapsed() >= Duration::from_millis(300) && stop.elapsed() < Duration::from_secs(3),
        "{:?}",
        stop.elapsed()
    );
    assert!(!is_daemon_healthy(&url(port)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_daemon_running_reports_a_crash_with_the_log_tail() {
    global();
    let port = free_port();
    let err = ensure_daemon_running(
        "crashing",
        &url(port),
        BINARY,
        args(port, "--print-lines 3 --crash-at-start 4"),
    )
    .await
    .unwrap_err();
    let StartError::Exited { exit, log_tail, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(exit.code, Some(4));
    assert_eq!(log_tail, &["line 1", "line 2", "line 3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_by_name_never_looks_at_process_names() {
    global();
    // A process whose command line mentions the name: a name-based kill would hit it.
    // Its argv[0] is the name: `pkill -f nobody-recorded` would hit it.
    let mut bystander =
        std::os::unix::process::CommandExt::arg0(&mut Command::new("sleep"), "nobody-recorded")
            .arg("60")
            .spawn()
            .unwrap();
    let err = graceful_shutdown("nobody-recorded", None)
        .await
        .unwrap_err();
    assert!(matches!(err, StopError::Unknown { .. }), "{err}");
    assert!(err.to_string().contains("nothing was signalled"));
    assert!(bystander.try_wait().unwrap().is_none());
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_by_name_takes_the_grandchild_too() {
    global();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("gc.pid");
    let flags = format!(
        "--fork-grandchild --grandchild-pid-file {}",
        pid_file.display()
    );
    ensure_daemon_running("with-grandchild", &url(port), BINARY, args(port, &flags))
        .await
        .unwrap();
    let grandchild: u32 = pid_in_file(&pid_file).unwrap();
    let _guard = KillOnDrop::new(grandchild);
    graceful_shutdown("with-grandchild", Some(Duration::from_millis(200)))
        .await
        .unwrap();
    assert!(!is_alive(grandchild));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The children are reaped by graceful_shutdown_by_pid: that is what the test checks.
#[allow(clippy::zombie_processes)]
async fn shutdown_by_pid_waits_for_the_exit_and_reaps() {
    global();
    let mut child = Command::new(BINARY)
        .args(["--exit-after-sigterm", "200", "--ready-line", "up"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Its SIGTERM handling is in place once it says so.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "up\n");
    let started = Instant::now();
    graceful_shutdown_by_pid(pid, None).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(200)
            && started.elapsed() < Duration::from_secs(2)
    );
    assert_eq!(process_state(pid), None, "exited and reaped: no zombie");

    let mut stubborn = Command::new(BINARY)
        .args(["--ignore-sigterm", "--ready-line", "up"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(stubborn.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let started = Instant::now();
    graceful_shutdown_by_pid(stubborn.id(), Some(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "SIGKILL came after the grace"
    );
    assert_eq!(process_state(stubborn.id()), None);

    assert!(matches!(
        graceful_shutdown_by_pid(i32::MAX as u32, None).await,
        Err(StopError::NoSuchProcess { .. })
    ));
    assert!(matches!(
        graceful_shutdown_by_pid(1, None).await,
        Err(StopError::Signal { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_gives_up_on_a_hung_or_failing_health_check() {
    global();
    let hung_port = free_port();
    let hung = Command::new(BINARY)
        .args(["--port", &hung_port.to_string(), "--hang-health"])
        .spawn()
        .unwrap();
    let _hung = KillOnDrop::new(hung.id());
    let failing_port = free_port();
    let failing = Command::new(BINARY)
        .args(["--port", &failing_port.to_string(), "--health-500"])
        .spawn()
        .unwrap();
    let _failing = KillOnDrop::new(failing.id());

    let started = Instant::now();
    let err = poll_until_healthy(&url(hung_port), Duration::from_millis(800), None, None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout bounds the whole wait"
    );
    assert!(
        err.last_error.contains("no answer within")
            || err.last_error.contains("Connection refused"),
        "{err}"
    );
    let err = poll_until_healthy(
        &url(failing_port),
        Duration::from_secs(3),
        Some(Duration::from_millis(10)),
        Some(Duration::from_millis(50)),
    )
    .await
    .unwrap_err();
    assert!(err.attempts > 2);
    assert!(err.last_error.contains("HTTP 500"), "{err}");
    assert!(!is_daemon_healthy(&url(failing_port)).await);
    for mut child in [hung, failing] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_of_what_is_not_running() {
    global();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "never-started".into(),
        flags: String::new(),
    };
    assert_eq!(
        daemon.stop().await.unwrap(),
        Stopped::NotRunning {
            key: "td-http@never-started".into()
        }
    );
    assert_eq!(daemon.status().await.unwrap().state, State::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_by_pid_of_a_daemon_of_ours_stops_it_for_good() {
    global();
    // Restarted on failure: a plain SIGTERM to its PID would look like a crash and restart it.
    let daemon = PlainDaemon {
        binary: BINARY.into(),
        test: "by-pid-ours".into(),
        flags: String::new(),
    };
    let running = daemon.ensure_running().await.unwrap();
    let _guard = KillOnDrop::new(running.pid);
    graceful_shutdown_by_pid(running.pid, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(!is_alive(running.pid));
    assert_eq!(daemon.status().await.unwrap().state, State::Stopped);
}
