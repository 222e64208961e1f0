//! The process-group signals of kernels older than 6.9 (one pidfd per member, only while the
//! group is provably ours), forced on whatever kernel runs the tests: the same stops and sweeps
//! as elsewhere, the same result.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lifecycle_core::{State, Stopped};
use lifecycle_tests::handles::{CrashGroupDaemon, ShortDaemon};
use lifecycle_tests::harness::{
    free_port, is_alive, manager_in, pid_in_file, setup, transitions_until, wait_exit,
};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

fn fallback() {
    lifecycle_core::__private::force_group_signal_fallback(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_takes_the_whole_group_and_so_does_a_stop_from_another_manager() {
    fallback();
    let s = setup();
    for (test, other_manager) in [("fallback-stop", false), ("fallback-adopted-stop", true)] {
        let file = s.dir.path().join(format!("{test}.grandchild"));
        let daemon = ShortDaemon {
            binary: BINARY.into(),
            port: free_port(),
            test: test.into(),
            flags: format!("--fork-grandchild --grandchild-pid-file {}", file.display()),
        };
        let running = s.manager.ensure_running(&daemon).await.unwrap();
        let grandchild = pid_in_file(&file).unwrap();
        let stopper = if other_manager {
            manager_in(s.dir.path())
        } else {
            s.manager.clone()
        };
        let stopped = stopper.stop(&daemon).await.unwrap();
        assert!(
            matches!(stopped, Stopped::Stopped { killed: true, .. }),
            "the grandchild ignores SIGTERM: {stopped:?}"
        );
        assert!(!is_alive(running.pid) && !is_alive(grandchild), "{test}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_sweeps_the_forks() {
    fallback();
    let s = setup();
    let file = s.dir.path().join("grandchild");
    let daemon = CrashGroupDaemon {
        binary: BINARY.into(),
        test: "fallback-crash".into(),
        flags: format!(
            "--fork-grandchild --grandchild-pid-file {} --exit-after 300",
            file.display()
        ),
    };
    let mut events = s.manager.subscribe();
    s.manager.ensure_running(&daemon).await.unwrap();
    let grandchild = pid_in_file(&file).unwrap();
    transitions_until(
        &mut events,
        "td-crash-group@fallback-crash",
        Duration::from_secs(10),
        |s| matches!(s, State::Failed { .. }),
    )
    .await
    .unwrap();
    assert!(wait_exit(grandchild, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_dead_leader_left_in_its_group_is_swept() {
    fallback();
    let s = setup();
    lifecycle_tests::harness::assert_a_dead_leaders_group_is_swept(&s.manager, s.dir.path()).await;
}
