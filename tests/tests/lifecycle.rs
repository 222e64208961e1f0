//! The executor against real processes: every test-daemon behaviour through the manager (the
//! handles' own methods run the same code on the global manager: tests/tests/global_api.rs).
//! Each test has its own state directory and manager (killing what it started when dropped),
//! and waits on events, never on a fixed sleep.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, StartError, State, Stopped, state::Event};
use lifecycle_tests::handles::{
    AfterStarted, CrashGroupDaemon, HttpDaemon, LogDaemon, LogsDaemon, NotifyDaemon, PlainDaemon,
    ResetDaemon, RetryDaemon, ShortDaemon, ShutdownUrlDaemon, SingleDaemon, SlowRestartDaemon,
    TcpDaemon, Worker,
};
use lifecycle_tests::harness::{
    assert_backoff_schedule, free_port, is_alive, manager_in, pid_in_file, setup,
    transitions_until, wait_exit,
};

/// The readiness backoff of the HTTP and TCP test specs.
const SPEC_BACKOFF: lifecycle_core::spec::Backoff =
    lifecycle_core::spec::Backoff::new(Duration::from_millis(10), Duration::from_millis(100), 2.0);

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

fn http(test: &str, flags: &str) -> HttpDaemon {
    HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: test.into(),
        flags: flags.into(),
    }
}

fn short(test: &str, flags: &str) -> ShortDaemon {
    ShortDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: test.into(),
        flags: flags.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ready_after_503s_then_stopped_by_sigterm() {
    let s = setup();
    let daemon = http("http-503", "--ready-after 300");
    let mut events = s.manager.subscribe();
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    assert!(running.started);
    // 503s come first, on the spec's backoff (10ms doubling to 100ms): attempts at about 0,
    // 10, 30, 70, 150, 250 and 350ms, the last one ready.
    let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    let failed = assert_backoff_schedule(&seen, SPEC_BACKOFF, Duration::from_millis(150));
    assert_eq!(running.attempts as usize, failed + 1, "{running:?}");
    assert!((5..=8).contains(&running.attempts), "{running:?}");
    assert!(
        running.elapsed >= Duration::from_millis(300)
            && running.elapsed < Duration::from_millis(300 + 100 + 300),
        "{running:?}"
    );
    assert_eq!(
        running.probe.as_deref(),
        Some(format!("http://127.0.0.1:{}/health", daemon.port).as_str())
    );
    assert!(s.manager.is_healthy(&daemon).await);
    let status = s.manager.status(&daemon).await.unwrap();
    assert_eq!(
        (status.state, status.pid, status.healthy),
        (State::Ready, Some(running.pid), Some(true))
    );

    let stopped = s.manager.stop(&daemon).await.unwrap();
    let Stopped::Stopped {
        pid,
        killed,
        elapsed,
        ..
    } = stopped
    else {
        panic!("{stopped:?}")
    };
    assert_eq!(pid, running.pid);
    assert!(!killed);
    assert!(
        elapsed < Duration::from_secs(2),
        "SIGTERM kills at once: {elapsed:?}"
    );
    assert!(!is_alive(pid));
    assert_eq!(
        s.manager.status(&daemon).await.unwrap().state,
        State::Stopped
    );
    assert_eq!(
        s.manager.stop(&daemon).await.unwrap(),
        Stopped::NotRunning {
            key: "td-http@http-503".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_bind_late_and_tcp_probe() {
    let s = setup();
    let late = http("http-late", "--ready-after 200 --ready-mode bind-late");
    let mut events = s.manager.subscribe();
    let running = s.manager.ensure_running(&late).await.unwrap();
    let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    let failed = assert_backoff_schedule(&seen, SPEC_BACKOFF, Duration::from_millis(150));
    assert_eq!(running.attempts as usize, failed + 1, "{running:?}");
    assert!(running.elapsed >= Duration::from_millis(200), "{running:?}");
    let tcp = TcpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "tcp".into(),
        flags: "--ready-after 200".into(),
    };
    let running = s.manager.ensure_running(&tcp).await.unwrap();
    assert!(running.elapsed >= Duration::from_millis(200), "{running:?}");
    s.manager.stop(&late).await.unwrap();
    s.manager.stop(&tcp).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_ready_is_an_event() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let stamp = dir.path().join("ready-at");
    let daemon = NotifyDaemon {
        binary: BINARY.into(),
        test: "notify".into(),
        flags: format!(
            "--notify --ready-after 200 --ready-time-file {}",
            stamp.display()
        ),
    };
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    assert_eq!(running.attempts, 1);
    assert!(running.elapsed >= Duration::from_millis(200), "{running:?}");
    // The daemon stamps CLOCK_MONOTONIC right before READY=1 and writes the stamp just after.
    let ready_at: i128 = loop {
        match std::fs::read_to_string(&stamp) {
            Ok(text) => break text.trim().parse().unwrap(),
            Err(_) => tokio::task::yield_now().await,
        }
    };
    let now = i128::from(now.tv_sec()) * 1_000_000_000 + i128::from(now.tv_nsec());
    let latency = Duration::from_nanos(u64::try_from(now - ready_at).unwrap());
    // Polling with any backoff (the library's starts at 100ms) would notice it ~100ms late.
    assert!(
        latency < Duration::from_millis(80),
        "notify is awaited, not polled: {latency:?}"
    );
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_from_another_process_is_refused() {
    let s = setup();
    // READY=1 sent by a forked child of the daemon: not the daemon's own process.
    let daemon = NotifyDaemon {
        binary: BINARY.into(),
        test: "notify-child".into(),
        flags: "--notify-from-child".into(),
    };
    // notify.yaml has a 10s deadline; a 10s test is long but proves the refusal.
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    let StartError::TimedOut { last_error, .. } = &err else {
        panic!("{err}")
    };
    assert!(last_error.contains("no READY=1 from pid"), "{err}");
    assert_eq!(
        s.manager.status(&daemon).await.unwrap().pid,
        None,
        "the daemon was stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_line_readiness() {
    let s = setup();
    let daemon = LogDaemon {
        binary: BINARY.into(),
        test: "log".into(),
        flags: "--ready-after 100".into(),
    };
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    assert!(running.elapsed >= Duration::from_millis(100), "{running:?}");
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_start_fails_at_once_quoting_the_log() {
    let s = setup();
    let daemon = http("crash", "--print-lines 30 --crash-at-start 3");
    let started = Instant::now();
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    // Noticed by the exit, not when polling gives up (deadline 10s).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let StartError::Exited { exit, log_tail, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(exit.code, Some(3));
    assert_eq!(log_tail.len(), 20);
    assert_eq!(log_tail.first().map(String::as_str), Some("line 11"));
    assert_eq!(log_tail.last().map(String::as_str), Some("line 30"));
    let message = err.to_string();
    assert!(
        message.contains("exit code 3") && message.contains("line 30"),
        "{message}"
    );
    assert!(matches!(
        s.manager.status(&daemon).await.unwrap().state,
        State::Failed { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_with_code_before_ready() {
    let s = setup();
    let daemon = http(
        "exit-code",
        "--ready-after 5000 --exit-after 200 --exit-code 7",
    );
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    let StartError::Exited { exit, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(exit.code, Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ignored_then_sigkill_after_the_grace() {
    let s = setup();
    let daemon = short("ignore-term", "--ignore-sigterm");
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    let stopped = s.manager.stop(&daemon).await.unwrap();
    let Stopped::Stopped {
        killed, elapsed, ..
    } = stopped
    else {
        panic!("{stopped:?}")
    };
    assert!(killed);
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(!is_alive(running.pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_returns_as_soon_as_the_daemon_exits() {
    let s = setup();
    let daemon = http("exit-after-term", "--exit-after-sigterm 300");
    s.manager.ensure_running(&daemon).await.unwrap();
    let stopped = s.manager.stop(&daemon).await.unwrap();
    let Stopped::Stopped {
        killed, elapsed, ..
    } = stopped
    else {
        panic!("{stopped:?}")
    };
    assert!(!killed);
    // Grace is 5s; the daemon leaves after 300ms and the stop returns then.
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grandchild_dies_with_the_group() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let daemon = short(
        "grandchild",
        &format!(
            "--fork-grandchild --grandchild-pid-file {}",
            pid_file.display()
        ),
    );
    s.manager.ensure_running(&daemon).await.unwrap();
    let grandchild: u32 = pid_in_file(&pid_file).unwrap();
    assert!(is_alive(grandchild));
    let stopped = s.manager.stop(&daemon).await.unwrap();
    // The daemon dies on SIGTERM; the grandchild ignores it and is killed after the 1s grace.
    let Stopped::Stopped { killed, .. } = stopped else {
        panic!("{stopped:?}")
    };
    assert!(killed);
    assert!(!is_alive(grandchild), "grandchild {grandchild} survived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_health_check_times_out_and_the_daemon_is_stopped() {
    let s = setup();
    let daemon = short("hang", "--hang-health");
    let started = Instant::now();
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    let StartError::TimedOut {
        last_error,
        attempts,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(last_error.contains("no answer within 300ms"), "{err}");
    assert!(*attempts >= 2);
    // Deadline 1.5s, then the stop (SIGTERM works at once).
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let status = s.manager.status(&daemon).await.unwrap();
    assert_eq!(status.pid, None, "nothing left running");
    assert!(
        matches!(status.state, State::Failed { ref reason } if reason.contains("not ready within the deadline"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_answering_500_times_out_with_the_status() {
    let s = setup();
    let daemon = short("h500", "--health-500");
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    let StartError::TimedOut { last_error, .. } = &err else {
        panic!("{err}")
    };
    assert!(last_error.contains("HTTP 500"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_ensures_spawn_one_daemon() {
    let s = setup();
    let daemon = Arc::new(http("fifty", "--ready-after 200"));
    let mut events = s.manager.subscribe();
    let calls: Vec<_> = (0..50)
        .map(|_| tokio::spawn(s.manager.ensure_running(&*daemon)))
        .collect();
    let mut pids = Vec::new();
    for call in calls {
        pids.push(call.await.unwrap().unwrap().pid);
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let mut spawns = 0;
    while let Ok(t) = events.try_recv() {
        spawns += usize::from(matches!(t.event, Event::Spawned { .. }));
    }
    assert_eq!(spawns, 1);
    s.manager.stop(&*daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_on_the_port_is_not_ours() {
    let s = setup();
    let daemon = http("stranger", "");
    // The same daemon binary, started by hand, outside the library.
    let mut stranger = std::process::Command::new(BINARY)
        .args(["--port", &daemon.port.to_string()])
        .spawn()
        .unwrap();
    lifecycle_core::compat::poll_until_healthy(
        &format!("http://127.0.0.1:{}/health", daemon.port),
        Duration::from_secs(10),
        None,
        None,
    )
    .await
    .unwrap();
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    assert!(matches!(err, StartError::PortTaken { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&daemon.port.to_string()) && message.contains("not ours"),
        "{message}"
    );
    // Nothing of ours was started, and the stranger was left alone.
    assert!(stranger.try_wait().unwrap().is_none());
    assert_eq!(
        s.manager.stop(&daemon).await.unwrap(),
        Stopped::NotRunning {
            key: "td-http@stranger".into()
        }
    );
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_binary_names_every_place_searched() {
    let s = setup();
    let daemon = HttpDaemon {
        binary: "no-such-daemon-binary".into(),
        ..http("unknown-binary", "")
    };
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    let StartError::BinaryNotFound(not_found) = &err else {
        panic!("{err}")
    };
    assert_eq!(not_found.spec, "td-http@unknown-binary");
    assert!(
        not_found
            .searched
            .iter()
            .any(|p| p.ends_with("debug/no-such-daemon-binary"))
    );
    let message = err.to_string();
    assert!(
        message.contains("/usr/bin/no-such-daemon-binary")
            && message.contains("target/release/no-such-daemon-binary"),
        "{message}"
    );
}

#[test]
fn an_unusable_state_dir_is_a_clear_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let err = DaemonManager::builder()
        .state_dir(file.join("state"))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("not-a-dir/state is not usable"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_url_first() {
    let s = setup();
    let daemon = ShutdownUrlDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "shutdown-url".into(),
    };
    s.manager.ensure_running(&daemon).await.unwrap();
    let stopped = s.manager.stop(&daemon).await.unwrap();
    // The daemon ignores SIGTERM: only the POST could have stopped it without SIGKILL.
    let Stopped::Stopped { killed, .. } = stopped else {
        panic!("{stopped:?}")
    };
    assert!(!killed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_start_first_and_stop_last() {
    let s = setup();
    let worker = Worker {
        binary: BINARY.into(),
        port: free_port(),
        queen_port: free_port(),
        test: "deps".into(),
    };
    let mut events = s.manager.subscribe();
    let running = s.manager.ensure_running(&worker).await.unwrap();
    let queen = HttpDaemon {
        binary: BINARY.into(),
        port: worker.queen_port,
        test: "deps-queen".into(),
        flags: String::new(),
    };
    assert!(s.manager.is_healthy(&queen).await, "the queen runs");
    // Stopping the queen stops its dependent worker first.
    s.manager.stop(&queen).await.unwrap();
    assert!(!is_alive(running.pid));
    let mut order = Vec::new();
    while let Ok(t) = events.try_recv() {
        if matches!(t.event, Event::ProbeOk | Event::Gone) {
            order.push(format!("{} {:?}", t.daemon, t.event));
        }
    }
    assert_eq!(
        order,
        [
            "td-http@deps-queen ProbeOk",
            "td-worker@deps ProbeOk",
            "td-worker@deps Gone",
            "td-http@deps-queen Gone"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_on_failure_then_gives_up() {
    let s = setup();
    let daemon = PlainDaemon {
        binary: BINARY.into(),
        test: "restart".into(),
        flags: "--exit-after 100 --exit-code 1".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    // max: 2 → two restarts, then Failed.
    let states = states_until(&mut events, "td-plain@restart", |s| {
        matches!(s, State::Failed { .. })
    })
    .await;
    let backoffs: Vec<&State> = states
        .iter()
        .filter(|s| matches!(s, State::Backoff { .. }))
        .collect();
    assert_eq!(
        backoffs,
        [
            &State::Backoff { attempt: 1 },
            &State::Backoff { attempt: 2 }
        ]
    );
    let State::Failed { reason } = states.last().unwrap() else {
        unreachable!()
    };
    assert!(
        reason.contains("exit code 1") && reason.contains("gave up after 2 restarts"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_exit_is_not_restarted_on_failure_policy() {
    let s = setup();
    let daemon = PlainDaemon {
        binary: BINARY.into(),
        test: "clean-exit".into(),
        flags: "--exit-after 100 --exit-code 0".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    let states = states_until(&mut events, "td-plain@clean-exit", |s| !s.is_running()).await;
    assert_eq!(states.last(), Some(&State::Stopped), "{states:?}");
}

/// The states `key` goes through (bounded wait: 10s for each), up to the first that is `done`.
async fn states_until(
    events: &mut tokio::sync::broadcast::Receiver<lifecycle_core::Transition>,
    key: &str,
    done: impl Fn(&State) -> bool,
) -> Vec<State> {
    transitions_until(events, key, Duration::from_secs(10), done)
        .await
        .expect("no such transition within 10s")
        .into_iter()
        .map(|t| t.to)
        .collect()
}

/// Waits (bounded) for a transition of `key` into a state `matches`; returns that state.
async fn until(
    events: &mut tokio::sync::broadcast::Receiver<lifecycle_core::Transition>,
    key: &str,
    matches: impl Fn(&State) -> bool,
) -> State {
    states_until(events, key, matches).await.pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_the_backoff_cancels_the_restart() {
    let s = setup();
    let daemon = SlowRestartDaemon {
        binary: BINARY.into(),
        test: "stop-in-backoff".into(),
        flags: "--exit-after 50".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    until(&mut events, "td-slow-restart@stop-in-backoff", |s| {
        matches!(s, State::Backoff { .. })
    })
    .await;
    assert_eq!(
        s.manager.stop(&daemon).await.unwrap(),
        Stopped::RestartCancelled {
            key: "td-slow-restart@stop-in-backoff".into(),
            attempt: 1,
        }
    );
    assert_eq!(
        s.manager.status(&daemon).await.unwrap().state,
        State::Stopped
    );
    // The restart was due 300ms later: well within this second, nothing is spawned.
    let spawned = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            if let Ok(t) = events.recv().await
                && matches!(t.event, Event::Spawned { .. })
            {
                return;
            }
        }
    })
    .await;
    assert!(spawned.is_err(), "a restart came after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stable_run_resets_the_restart_count() {
    let s = setup();
    // max 1 in a row; each run lasts 200ms, longer than reset_after (100ms): never gives up.
    let daemon = ResetDaemon {
        binary: BINARY.into(),
        test: "reset".into(),
        flags: "--exit-after 200".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    for _ in 0..3 {
        let state = until(&mut events, "td-reset@reset", |s| {
            matches!(s, State::Backoff { .. } | State::Failed { .. })
        })
        .await;
        assert_eq!(state, State::Backoff { attempt: 1 });
    }
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_log_is_rotated_at_the_next_start() {
    let s = setup();
    let daemon = LogsDaemon {
        binary: BINARY.into(),
        test: "rotate".into(),
        flags: "--log-bytes 100000".into(),
    };
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    let log = running.log.clone();
    s.manager.stop(&daemon).await.unwrap();
    assert!(std::fs::metadata(&log).unwrap().len() >= 100_000);
    s.manager.ensure_running(&daemon).await.unwrap();
    let rotated = log.with_extension("log.1");
    assert!(
        std::fs::metadata(&rotated).unwrap().len() >= 100_000,
        "the old log moved to {}",
        rotated.display()
    );
    assert!(
        std::fs::metadata(&log).unwrap().len() <= 100_016,
        "the new log is this start's only"
    );
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_outlive_their_manager_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = http("outlive", "");
    let kept = {
        let manager = DaemonManager::builder()
            .state_dir(dir.path())
            .build()
            .unwrap();
        manager.ensure_running(&daemon).await.unwrap().pid
    };
    assert!(
        is_alive(kept),
        "the default manager leaves its daemons running"
    );
    let manager = manager_in(dir.path());
    manager.stop(&daemon).await.unwrap();

    let killed = {
        let manager = DaemonManager::builder()
            .state_dir(dir.path())
            .stop_on_drop(true)
            .build()
            .unwrap();
        manager.ensure_running(&daemon).await.unwrap().pid
    };
    assert!(
        wait_exit(killed, Duration::from_secs(10)),
        "stop_on_drop kills what the manager spawned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_binary_name_is_found_in_the_workspace_target() {
    let found = DaemonManager::find_in_target("test-daemon").expect("test-daemon is built");
    assert!(
        found.ends_with("debug/test-daemon") || found.ends_with("release/test-daemon"),
        "{}",
        found.display()
    );
    let s = setup();
    // Not in $PATH: the spec names it, the library finds it under target/.
    let daemon = HttpDaemon {
        binary: "test-daemon".into(),
        ..http("bare-name", "")
    };
    s.manager.ensure_running(&daemon).await.unwrap();
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_started_does_not_wait_for_readiness() {
    let s = setup();
    let daemon = AfterStarted {
        binary: BINARY.into(),
        dep_port: free_port(),
        test: "after-started".into(),
    };
    let started = Instant::now();
    s.manager.ensure_running(&daemon).await.unwrap();
    // The dependency is ready only after 1.5s; the dependent did not wait for that.
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    let dep = HttpDaemon {
        binary: BINARY.into(),
        port: daemon.dep_port,
        test: "after-started-dep".into(),
        flags: "--ready-after 1500".into(),
    };
    let mut events = s.manager.subscribe();
    let status = s.manager.status(&dep).await.unwrap();
    assert!(
        status.pid.is_some(),
        "the dependency was spawned: {status:?}"
    );
    // Its readiness went on in the background.
    if status.state != State::Ready {
        until(&mut events, "td-http@after-started-dep", |s| {
            *s == State::Ready
        })
        .await;
    }
    s.manager.stop(&dep).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_before_ready_takes_its_forks_along() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grandchild");
    let flags = format!(
        "--fork-grandchild --grandchild-pid-file {} --exit-after 300 --ready-after 5000",
        file.display()
    );
    let err = s
        .manager
        .ensure_running(&short("forks-before-ready", &flags))
        .await
        .unwrap_err();
    assert!(matches!(err, StartError::Exited { .. }), "{err}");
    assert!(
        !is_alive(pid_in_file(&file).unwrap()),
        "the grandchild outlived its daemon's failed start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_ready_takes_its_forks_along() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grandchild");
    let flags = format!(
        "--fork-grandchild --grandchild-pid-file {} --exit-after 300",
        file.display()
    );
    let daemon = CrashGroupDaemon {
        binary: BINARY.into(),
        test: "forks-after-ready".into(),
        flags,
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    let grandchild = pid_in_file(&file).unwrap();
    until(&mut events, "td-crash-group@forks-after-ready", |s| {
        matches!(s, State::Failed { .. })
    })
    .await;
    assert!(!is_alive(grandchild), "the grandchild outlived its daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restart_is_retried_up_to_max() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash");
    let daemon = RetryDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "retry".into(),
        flags: format!("--exit-after 300 --crash-if-file {}", crash.display()),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    // From now on every start crashes: each restart fails before it is ready.
    std::fs::write(&crash, "").unwrap();
    let mut backoffs = Vec::new();
    loop {
        let state = until(&mut events, "td-retry@retry", |s| {
            matches!(s, State::Backoff { .. } | State::Failed { .. })
        })
        .await;
        match state {
            State::Backoff { attempt } => backoffs.push(attempt),
            State::Failed { ref reason } if backoffs.len() == 3 => {
                assert!(reason.contains("exit code 3"), "{reason}");
                break;
            }
            State::Failed { .. } => {}
            _ => unreachable!(),
        }
    }
    assert_eq!(backoffs, [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_stops_waiting_does_not_cut_the_operation_short() {
    let s = setup();
    let daemon = http("cancelled", "--ready-after 800");
    let mut events = s.manager.subscribe();
    assert!(
        tokio::time::timeout(
            Duration::from_millis(100),
            s.manager.ensure_running(&daemon)
        )
        .await
        .is_err()
    );
    // The start went on: a second call waits for it and finds it ready.
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    assert!(!running.started);
    let mut spawns = 0;
    while let Ok(t) = events.try_recv() {
        spawns += usize::from(matches!(t.event, Event::Spawned { .. }));
    }
    assert_eq!(spawns, 1);
    // A stop whose caller gives up finishes too; the next start is a clean one.
    let stubborn = short("cancelled-stop", "--ignore-sigterm");
    let first = s.manager.ensure_running(&stubborn).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), s.manager.stop(&stubborn))
            .await
            .is_err()
    );
    let second = s.manager.ensure_running(&stubborn).await.unwrap();
    assert!(
        second.started && second.pid != first.pid && !is_alive(first.pid),
        "{second:?}"
    );
    s.manager.stop(&daemon).await.unwrap();
    s.manager.stop(&stubborn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_with_other_values_is_a_conflict() {
    let s = setup();
    let first = SingleDaemon {
        binary: BINARY.into(),
        port: free_port(),
    };
    let running = s.manager.ensure_running(&first).await.unwrap();
    let other = SingleDaemon {
        binary: BINARY.into(),
        port: free_port(),
    };
    let err = s.manager.ensure_running(&other).await.unwrap_err();
    let StartError::Conflict {
        pid,
        running: command,
        wanted,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*pid, running.pid);
    assert!(
        command.ends_with(&first.port.to_string()) && wanted.ends_with(&other.port.to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("instance"), "{err}");
    // From another manager (another process, as far as records go): the same.
    let dir_manager = DaemonManager::builder()
        .state_dir(s.manager.state_dir())
        .build()
        .unwrap();
    assert!(matches!(
        dir_manager.ensure_running(&other).await,
        Err(StartError::Conflict { .. })
    ));
    s.manager.stop(&first).await.unwrap();
}
