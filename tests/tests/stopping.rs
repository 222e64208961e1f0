//! Stops: dependents first (found through markers by a process that did not start them, and
//! independent ones concurrently), every step of a chain, an HTTP step nobody answers, a stop
//! during a start, two stops at once, a manager dropped mid-operation, sweeps that never send
//! the HTTP step, and a conflicting handle that stops the daemon the way it was started.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, StartError, State, Stopped, state::Event};
use lifecycle_tests::handles::{
    ChainDaemon, DrainWorker, HttpDaemon, LogDaemon, PostStopDaemon, ShutdownUrlDaemon, Worker,
};
use lifecycle_tests::harness::{
    KillOnDrop, free_port, is_alive, manager_in, pid_in_file, record, setup, transitions_until,
    wait_exit, wait_for_removal, write_record,
};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

/// A TCP listener on loopback that counts the connections it gets (a stranger on a port).
struct Stranger {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Stranger {
    fn listen() -> Stranger {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Stranger { port, connections }
    }

    fn heard(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_stops_the_dependents_it_did_not_start_first() {
    let dir = tempfile::tempdir().unwrap();
    let worker = Worker {
        binary: BINARY.into(),
        port: free_port(),
        queen_port: free_port(),
        test: "deps-elsewhere".into(),
    };
    // Another process starts the worker (and so its queen), then exits.
    let output = Command::new(CLIENT)
        .arg("ensure")
        .arg("--state")
        .arg(dir.path())
        .args([
            "--kind",
            "worker",
            "--binary",
            BINARY,
            "--test",
            &worker.test,
        ])
        .args(["--port", &worker.port.to_string()])
        .args(["--queen-port", &worker.queen_port.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let pids: Vec<u32> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("spawned ")?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{stdout}");
    let _guards: Vec<KillOnDrop> = pids.iter().map(|&p| KillOnDrop::new(p)).collect();
    // This process never saw either: stopping the queen finds the worker by its marker.
    let manager = manager_in(dir.path());
    let mut events = manager.subscribe();
    let queen = HttpDaemon {
        binary: BINARY.into(),
        port: worker.queen_port,
        test: "deps-elsewhere-queen".into(),
        flags: String::new(),
    };
    assert!(manager.stop(&queen).await.unwrap().was_running());
    assert!(pids.iter().all(|&p| !is_alive(p)));
    let gone: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|t| t.event == Event::Gone)
        .map(|t| t.daemon)
        .collect();
    assert_eq!(
        gone,
        ["td-worker@deps-elsewhere", "td-http@deps-elsewhere-queen"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_dependents_stop_concurrently() {
    let s = setup();
    let queen_port = free_port();
    // Each worker takes 700ms to drain after SIGTERM.
    let workers: Vec<DrainWorker> = (0..3)
        .map(|i| DrainWorker {
            binary: BINARY.into(),
            test: format!("drain-{i}"),
            queen_port,
            queen: "drain-queen".into(),
            flags: "--exit-after-sigterm 700".into(),
        })
        .collect();
    for worker in &workers {
        s.manager.ensure_running(worker).await.unwrap();
    }
    let queen = HttpDaemon {
        binary: BINARY.into(),
        port: queen_port,
        test: "drain-queen".into(),
        flags: String::new(),
    };
    let started = Instant::now();
    s.manager.stop(&queen).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_millis(1800),
        "three 700ms drains took {took:?}: one after another would take 2.1s"
    );
    for worker in &workers {
        assert_eq!(
            s.manager.status(worker).await.unwrap().state,
            State::Stopped
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_step_nobody_answers_moves_on_at_once() {
    let s = setup();
    let closed = free_port();
    let daemon = PostStopDaemon {
        binary: BINARY.into(),
        port: free_port(),
        stop_port: closed,
        test: "deaf-post".into(),
        flags: String::new(),
    };
    s.manager.ensure_running(&daemon).await.unwrap();
    let stopped = s.manager.stop(&daemon).await.unwrap();
    let Stopped::Stopped {
        elapsed, killed, ..
    } = stopped
    else {
        panic!("{stopped:?}")
    };
    assert!(!killed);
    assert!(
        elapsed < Duration::from_secs(2),
        "the POST's 5s grace was waited for: {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_a_chain_with_its_own_signal() {
    let s = setup();
    // The PID file is written once SIGINT is ignored: the chain must not race the daemon's own
    // start (the spec has no probe, so the ensure returns at the spawn).
    let pid_file = s.dir.path().join("chain.pid");
    let daemon = ChainDaemon {
        binary: BINARY.into(),
        test: "chain".into(),
        flags: format!("--ignore-sigint --pid-file {}", pid_file.display()),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    assert!(pid_in_file(&pid_file).is_some());
    let stopped = s.manager.stop(&daemon).await.unwrap();
    let Stopped::Stopped {
        elapsed, killed, ..
    } = stopped
    else {
        panic!("{stopped:?}")
    };
    // SIGINT ignored for its 300ms grace; SIGTERM ends it at once; no SIGKILL.
    assert!(!killed);
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    let steps: Vec<Event> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|t| t.event)
        .filter(|e| matches!(e, Event::GraceExpired { .. } | Event::Gone))
        .collect();
    assert_eq!(steps, [Event::GraceExpired { step: 0 }, Event::Gone]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_start_cuts_it_short() {
    let s = setup();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "stop-while-starting".into(),
        flags: "--ready-after 5000".into(),
    };
    let mut events = s.manager.subscribe();
    let start = tokio::spawn(s.manager.ensure_running(&daemon));
    let seen = transitions_until(
        &mut events,
        "td-http@stop-while-starting",
        Duration::from_secs(10),
        |_| true,
    )
    .await
    .unwrap();
    assert_eq!(seen[0].to, State::Starting);
    let asked = Instant::now();
    let stopped = s.manager.stop(&daemon).await.unwrap();
    assert!(stopped.was_running(), "{stopped:?}");
    assert!(asked.elapsed() < Duration::from_secs(2));
    let err = start.await.unwrap().unwrap_err();
    assert!(matches!(err, StartError::Cancelled { .. }), "{err}");
    assert_eq!(
        s.manager.status(&daemon).await.unwrap().state,
        State::Stopped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stops_at_once_are_one_stop() {
    let s = setup();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "two-stops".into(),
        flags: "--exit-after-sigterm 300".into(),
    };
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    let mut events = s.manager.subscribe();
    let (a, b) = tokio::join!(s.manager.stop(&daemon), s.manager.stop(&daemon));
    for stopped in [a.unwrap(), b.unwrap()] {
        assert!(
            matches!(stopped, Stopped::Stopped { pid, killed: false, .. } if pid == running.pid),
            "{stopped:?}"
        );
    }
    let stops = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|t| t.event == Event::Stop)
        .count();
    assert_eq!(stops, 1, "one chain ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_dropped_mid_start_finishes_it_then_kills_with_stop_on_drop_only() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "dropped-mid-start".into(),
        flags: "--ready-after 800".into(),
    };
    for kill in [true, false] {
        let manager = DaemonManager::builder()
            .state_dir(dir.path())
            .stop_on_drop(kill)
            .build()
            .unwrap();
        let mut events = manager.subscribe();
        let start = tokio::spawn(manager.ensure_running(&daemon));
        let pid = loop {
            let t = events.recv().await.unwrap();
            if let Event::Spawned { pid } = t.event {
                break pid;
            }
        };
        let _guard = KillOnDrop::new(pid);
        // The operation under way keeps what it needs of the manager: it ends, then the
        // manager's drop takes effect.
        drop(manager);
        let running = start.await.unwrap().unwrap();
        assert_eq!(running.pid, pid);
        if kill {
            assert!(wait_exit(pid, Duration::from_secs(10)), "stop_on_drop");
            assert!(
                wait_for_removal(
                    &dir.path().join("daemons/td-http@dropped-mid-start.record"),
                    Duration::from_secs(10)
                ),
                "the record of the killed daemon is removed"
            );
        } else {
            assert!(is_alive(pid), "the daemon outlives its manager");
            let manager = manager_in(dir.path());
            let adopted = manager.ensure_running(&daemon).await.unwrap();
            assert_eq!((adopted.pid, adopted.started), (pid, false));
            manager.stop(&daemon).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_after_a_crash_or_a_stale_record_never_send_the_http_step() {
    let s = setup();
    let stranger = Stranger::listen();
    // A daemon whose chain posts to the stranger's port first, and that crashes.
    let daemon = PostStopDaemon {
        binary: BINARY.into(),
        port: free_port(),
        stop_port: stranger.port,
        test: "crash-no-post".into(),
        flags: "--exit-after 300 --exit-code 4".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    let seen = transitions_until(
        &mut events,
        "td-post-stop@crash-no-post",
        Duration::from_secs(10),
        |s| !s.is_running(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&seen.last().unwrap().to, State::Failed { reason } if reason.contains("exit code 4")),
        "{seen:?}"
    );
    // A stale record with the same chain, whose process is gone.
    let mut stale = record("td-post-stop@stale-no-post", 1, 1);
    let mut child = Command::new("true").spawn().unwrap();
    stale.pid = child.id();
    stale.pgid = child.id();
    child.wait().unwrap();
    stale.stop = vec![
        format!("post 5000 http://127.0.0.1:{}/shutdown", stranger.port),
        "signal SIGTERM 1000".into(),
    ];
    write_record(s.dir.path(), &stale);
    let stopped = s
        .manager
        .stop_by_key("td-post-stop@stale-no-post")
        .await
        .unwrap();
    assert!(
        matches!(stopped, Stopped::StaleRecord { .. }),
        "{stopped:?}"
    );
    assert_eq!(
        stranger.heard(),
        0,
        "the stranger on the shutdown port was posted to"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_handle_stops_the_daemon_as_it_was_started() {
    let s = setup();
    let running_port = free_port();
    let started = ShutdownUrlDaemon {
        binary: BINARY.into(),
        port: running_port,
        test: "conflict-stop".into(),
    };
    let running = s.manager.ensure_running(&started).await.unwrap();
    // Another manager, a handle of the same key with another port: its URL reaches nobody.
    let other = manager_in(s.dir.path());
    let conflicting = ShutdownUrlDaemon {
        port: free_port(),
        ..started.clone()
    };
    assert!(matches!(
        other.ensure_running(&conflicting).await,
        Err(StartError::Conflict { .. })
    ));
    let stopped = other.stop(&conflicting).await.unwrap();
    // The record's chain: POST to the running daemon's own URL, which it obeys (it ignores
    // SIGTERM: the handle's chain would have ended in SIGKILL after its grace).
    assert!(
        matches!(stopped, Stopped::Stopped { pid, killed: false, .. } if pid == running.pid),
        "{stopped:?}"
    );
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_log_probe_fails_the_start_at_once() {
    let s = setup();
    let daemon = LogDaemon {
        binary: BINARY.into(),
        test: "broken-log-probe".into(),
        flags: "--ready-after 2000".into(),
    };
    let mut events = s.manager.subscribe();
    let start = tokio::spawn(s.manager.ensure_running(&daemon));
    // Spawned: its log exists.
    while !matches!(events.recv().await.unwrap().event, Event::Spawned { .. }) {}
    // The log the probe reads is gone (and can be read no more).
    let log = s.dir.path().join("logs/td-log@broken-log-probe.log");
    let asked = Instant::now();
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &log).unwrap();
    let err = start.await.unwrap().unwrap_err();
    assert!(matches!(err, StartError::Probe { .. }), "{err}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "not a timeout: {:?}",
        asked.elapsed()
    );
    assert_eq!(s.manager.status(&daemon).await.unwrap().pid, None);
}

/// Rewrites the record of `key` in `dir` as a stop under way by a process that is gone.
fn abandoned_stop(dir: &std::path::Path, key: &str) {
    let path = dir.join(format!("daemons/{key}.record"));
    let mut record =
        lifecycle_core::record::Record::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let stopper = (
        gone.id(),
        lifecycle_tests::harness::start_time(gone.id()).unwrap_or(1),
    );
    gone.wait().unwrap();
    record.state = lifecycle_core::record::RecordState::Stopping {
        by: stopper,
        until_ms: u64::MAX,
    };
    record.generation += 1;
    write_record(dir, &record);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_whose_stopper_is_gone_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "abandoned-stop".into(),
        flags: String::new(),
    };
    // Started by one manager, then a stop began by a process that died mid-chain.
    let starter = manager_in(dir.path());
    let first = starter.ensure_running(&daemon).await.unwrap();
    let _guard = KillOnDrop::new(first.pid);
    lifecycle_tests::harness::wait_for_record(
        dir.path(),
        "td-http@abandoned-stop",
        Duration::from_secs(5),
        |r| r.state == lifecycle_core::record::RecordState::Ready,
    )
    .unwrap();
    abandoned_stop(dir.path(), "td-http@abandoned-stop");
    // A start takes the stop over, then starts afresh: no wait, no `Busy`.
    let manager = manager_in(dir.path());
    let asked = Instant::now();
    let running = manager.ensure_running(&daemon).await.unwrap();
    assert!(running.started && running.pid != first.pid, "{running:?}");
    assert!(!is_alive(first.pid));
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    // A stop takes it over too.
    lifecycle_tests::harness::wait_for_record(
        dir.path(),
        "td-http@abandoned-stop",
        Duration::from_secs(5),
        |r| r.state == lifecycle_core::record::RecordState::Ready,
    )
    .unwrap();
    abandoned_stop(dir.path(), "td-http@abandoned-stop");
    let other = manager_in(dir.path());
    let stopped = other.stop(&daemon).await.unwrap();
    assert!(
        matches!(stopped, Stopped::Stopped { pid, .. } if pid == running.pid),
        "{stopped:?}"
    );
}

#[test]
fn a_manager_outlives_the_runtimes_it_is_used_from() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle_tests::harness::strict_tracing();
    // Daemons outlive the runtime (and the owner) they were started from.
    let manager = DaemonManager::builder()
        .state_dir(dir.path())
        .build()
        .unwrap();
    let daemon = PostStopDaemon {
        binary: BINARY.into(),
        port: free_port(),
        stop_port: free_port(),
        test: "two-runtimes".into(),
        flags: "--exit-after 1500 --exit-code 0".into(),
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    // One runtime per call, as a blocking wrapper would do: the first one's owner is gone.
    let pid = runtime()
        .block_on(manager.ensure_running(&daemon))
        .unwrap()
        .pid;
    let _guard = KillOnDrop::new(pid);
    runtime().block_on(async {
        let mut events = manager.subscribe();
        let again = manager.ensure_running(&daemon).await.unwrap();
        assert_eq!((again.pid, again.started), (pid, false));
        // Its exit is seen, and it is reaped by this process, its parent.
        let seen = transitions_until(
            &mut events,
            "td-post-stop@two-runtimes",
            Duration::from_secs(10),
            |s| !s.is_running(),
        )
        .await
        .expect("its exit is handled");
        assert_eq!(seen.last().unwrap().to, State::Stopped, "{seen:?}");
    });
    assert_eq!(
        lifecycle_tests::harness::process_state(pid),
        None,
        "reaped: no zombie"
    );
}
