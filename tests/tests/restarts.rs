//! Restarts: the backoff's delays and growth, `always` restarting a clean exit, a pending
//! restart that other managers see, claim or cancel through the record, and a supervisor that
//! cannot take the lock after an exit (it must not stay `Ready`).

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lifecycle_core::{State, Stopped, Transition, record::RecordState, state::Event};
use lifecycle_tests::handles::{GrowthDaemon, ResetDaemon, SlowRestartDaemon};
use lifecycle_tests::harness::{
    LockHolder, manager_in, manager_with_lock_timeout, setup, transitions_until,
};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

/// A daemon restarted after a 1s backoff, started by `s`'s manager and killed (a crash, as far
/// as its supervisor can tell): returned in its backoff, with its first PID and `s`'s events.
async fn crashed_into_its_backoff(
    s: &lifecycle_tests::harness::Setup,
    test: &str,
) -> (
    SlowRestartDaemon,
    u32,
    tokio::sync::broadcast::Receiver<Transition>,
) {
    let daemon = SlowRestartDaemon {
        binary: BINARY.into(),
        test: test.into(),
        flags: String::new(),
    };
    let mut events = s.manager.subscribe();
    let first = s.manager.ensure_running(&daemon).await.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(first.pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    transitions_until(
        &mut events,
        &format!("td-slow-restart@{test}"),
        Duration::from_secs(10),
        |s| matches!(s, State::Backoff { .. }),
    )
    .await
    .unwrap();
    (daemon, first.pid, events)
}

fn gap(from: &Transition, to: &Transition) -> Duration {
    to.at.duration_since(from.at).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_delays_follow_the_backoff_and_grow() {
    let s = setup();
    let daemon = GrowthDaemon {
        binary: BINARY.into(),
        test: "growth".into(),
        flags: "--exit-after 50".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    let seen = transitions_until(
        &mut events,
        "td-growth@growth",
        Duration::from_secs(10),
        |s| matches!(s, State::Failed { .. }),
    )
    .await
    .expect("gives up within 10s");
    // Each backoff (entered at the exit) to the spawn that ends it.
    let mut delays = Vec::new();
    for (i, t) in seen.iter().enumerate() {
        if let State::Backoff { attempt } = t.to {
            let spawn = seen[i..]
                .iter()
                .find(|s| matches!(s.event, Event::Spawned { .. }))
                .unwrap();
            delays.push((attempt, gap(t, spawn)));
        }
    }
    assert_eq!(
        delays.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for ((_, delay), nominal) in delays.iter().zip([100, 200, 400]) {
        let nominal = Duration::from_millis(nominal);
        assert!(
            *delay >= nominal && *delay < nominal + Duration::from_millis(300),
            "restart after {delay:?}, the backoff says {nominal:?}: {delays:?}"
        );
    }
    let State::Failed { reason } = &seen.last().unwrap().to else {
        unreachable!()
    };
    assert!(reason.contains("gave up after 3 restarts"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_restarts_a_clean_exit() {
    let s = setup();
    let daemon = ResetDaemon {
        binary: BINARY.into(),
        test: "always-clean".into(),
        flags: "--exit-after 150 --exit-code 0".into(),
    };
    let first = s.manager.ensure_running(&daemon).await.unwrap();
    let mut events = s.manager.subscribe();
    let seen = transitions_until(
        &mut events,
        "td-reset@always-clean",
        Duration::from_secs(10),
        |s| *s == State::Ready,
    )
    .await
    .expect("restarted within 10s");
    assert!(
        seen.iter()
            .any(|t| matches!(&t.event, Event::Exited { success: true, .. })
                && t.to == State::Backoff { attempt: 1 }),
        "{seen:?}"
    );
    let again = s.manager.status(&daemon).await.unwrap();
    assert_ne!(again.pid, Some(first.pid));
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_restart_is_seen_claimed_and_cancelled_by_other_managers() {
    let s = setup();
    let daemon = SlowRestartDaemon {
        binary: BINARY.into(),
        test: "pending-restart".into(),
        flags: "--exit-after 100".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    transitions_until(
        &mut events,
        "td-slow-restart@pending-restart",
        Duration::from_secs(10),
        |s| matches!(s, State::Backoff { .. }),
    )
    .await
    .unwrap();
    // Another manager (another process, as far as records go) sees the pending restart.
    let other = manager_in(s.dir.path());
    assert_eq!(
        other.status(&daemon).await.unwrap().state,
        State::Backoff { attempt: 1 }
    );
    let record = lifecycle_core::record::Record::parse(
        &std::fs::read_to_string(
            s.dir
                .path()
                .join("daemons/td-slow-restart@pending-restart.record"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        matches!(record.state, RecordState::Backoff { attempt: 1, .. }),
        "{record:?}"
    );
    // Its stop cancels it: nothing is spawned when it was due (1s after the exit), and the
    // owner ends stopped.
    assert_eq!(
        other.stop(&daemon).await.unwrap(),
        Stopped::RestartCancelled {
            key: "td-slow-restart@pending-restart".into(),
            attempt: 1
        }
    );
    let seen = transitions_until(
        &mut events,
        "td-slow-restart@pending-restart",
        Duration::from_secs(5),
        |s| !matches!(s, State::Backoff { .. }),
    )
    .await
    .unwrap();
    assert!(
        seen.iter()
            .all(|t| !matches!(t.event, Event::Spawned { .. })),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap().to, State::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ensure_from_another_manager_during_the_backoff_claims_the_restart_once() {
    let s = setup();
    let (daemon, first, mut events) = crashed_into_its_backoff(&s, "claim-restart").await;
    let other = manager_in(s.dir.path());
    let mut other_events = other.subscribe();
    let claimed = other.ensure_running(&daemon).await.unwrap();
    assert!(claimed.started && claimed.pid != first, "{claimed:?}");
    // When its restart was due, the first manager finds it claimed and follows it.
    let seen = transitions_until(
        &mut events,
        "td-slow-restart@claim-restart",
        Duration::from_secs(5),
        |s| !matches!(s, State::Backoff { .. }),
    )
    .await
    .unwrap();
    assert!(
        seen.iter()
            .any(|t| t.event == Event::Adopted { pid: claimed.pid }),
        "{seen:?}"
    );
    let spawns = std::iter::from_fn(|| other_events.try_recv().ok())
        .filter(|t| matches!(t.event, Event::Spawned { .. }))
        .count()
        + seen
            .iter()
            .filter(|t| matches!(t.event, Event::Spawned { .. }))
            .count();
    assert_eq!(spawns, 1, "one process in the exited one's place");
    other.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ensure_during_the_backoff_restarts_at_once() {
    let s = setup();
    let daemon = SlowRestartDaemon {
        binary: BINARY.into(),
        test: "ensure-in-backoff".into(),
        flags: "--exit-after 50".into(),
    };
    let mut events = s.manager.subscribe();
    let first = s.manager.ensure_running(&daemon).await.unwrap();
    let seen = transitions_until(
        &mut events,
        "td-slow-restart@ensure-in-backoff",
        Duration::from_secs(10),
        |s| matches!(s, State::Backoff { .. }),
    )
    .await
    .unwrap();
    let again = s.manager.ensure_running(&daemon).await.unwrap();
    assert!(again.started && again.pid != first.pid, "{again:?}");
    let spawned = transitions_until(
        &mut events,
        "td-slow-restart@ensure-in-backoff",
        Duration::from_secs(5),
        |_| true,
    )
    .await
    .unwrap();
    // The backoff is 1s; at once means well before that.
    let waited = gap(seen.last().unwrap(), spawned.last().unwrap());
    assert!(waited < Duration::from_millis(700), "{waited:?}");
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_that_cannot_take_the_lock_does_not_stay_ready() {
    let dir = tempfile::tempdir().unwrap();
    let manager = manager_with_lock_timeout(dir.path(), Duration::from_millis(300));
    let daemon = SlowRestartDaemon {
        binary: BINARY.into(),
        test: "lock-held-at-exit".into(),
        flags: "--exit-after 1000".into(),
    };
    manager.ensure_running(&daemon).await.unwrap();
    let mut events = manager.subscribe();
    // Another process holds the daemon's lock when it exits.
    let holder = LockHolder::take(CLIENT, dir.path(), "td-slow-restart@lock-held-at-exit");
    let seen = transitions_until(
        &mut events,
        "td-slow-restart@lock-held-at-exit",
        Duration::from_secs(10),
        |s| *s != State::Ready,
    )
    .await
    .expect("the exit is reported within 10s");
    assert!(
        matches!(&seen.last().unwrap().to, State::Failed { reason } if reason.contains("exit code 1")),
        "{seen:?}"
    );
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_that_cannot_spawn_is_retried_then_gives_up_in_the_record() {
    let s = setup();
    // A copy of the test daemon that goes away after the first start: every restart then fails
    // before a process runs (the binary is not found).
    let binary = s.dir.path().join("vanishing-daemon");
    std::fs::copy(BINARY, &binary).unwrap();
    let daemon = GrowthDaemon {
        binary: binary.to_string_lossy().into_owned(),
        test: "cannot-spawn".into(),
        flags: "--exit-after 100".into(),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    std::fs::remove_file(&binary).unwrap();
    // Every transition until none comes for 1.5s (longer than any of its backoffs): it ends.
    let mut seen = Vec::new();
    while let Some(mut more) = transitions_until(
        &mut events,
        "td-growth@cannot-spawn",
        Duration::from_millis(1500),
        |_| true,
    )
    .await
    {
        seen.append(&mut more);
        assert!(seen.len() < 100, "it does not end: {seen:?}");
    }
    let backoffs: Vec<u32> = seen
        .iter()
        .filter_map(|t| match t.to {
            State::Backoff { attempt } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(backoffs, [1, 2, 3], "{seen:?}");
    assert!(
        seen.iter()
            .filter(|t| matches!(t.event, Event::SpawnFailed { .. }))
            .count()
            == 3,
        "{seen:?}"
    );
    let status = s.manager.status(&daemon).await.unwrap();
    assert!(matches!(status.state, State::Failed { .. }), "{status:?}");
    let record = lifecycle_core::record::Record::parse(
        &std::fs::read_to_string(s.dir.path().join("daemons/td-growth@cannot-spawn.record"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        matches!(&record.state, RecordState::Exited { failure: Some(f), .. } if f.contains("gave up")),
        "{record:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_backoff_stops_a_restart_that_came_elsewhere() {
    let s = setup();
    let (daemon, _, _) = crashed_into_its_backoff(&s, "stop-claimed").await;
    // Another manager restarts it during the backoff; this one, still in its backoff, is asked
    // to stop: it stops the process the record names now.
    let other = manager_in(s.dir.path());
    let claimed = other.ensure_running(&daemon).await.unwrap();
    let stopped = s.manager.stop(&daemon).await.unwrap();
    assert!(
        matches!(stopped, Stopped::Stopped { pid, .. } if pid == claimed.pid),
        "{stopped:?}"
    );
    assert!(lifecycle_tests::harness::wait_exit(
        claimed.pid,
        Duration::from_secs(5)
    ));
}
