//! After starts, crashes, timeouts, restarts and stops, no child of this process is left a
//! zombie: every exit is reaped when it happens.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lifecycle_core::State;
use lifecycle_tests::handles::{HttpDaemon, PlainDaemon, ShortDaemon};
use lifecycle_tests::harness::{free_port, manager_in, zombie_children};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_is_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let manager = manager_in(dir.path());
    let http = |test: &str, flags: &str| HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: test.into(),
        flags: flags.into(),
    };

    let ok = http("z-ok", "");
    manager.ensure_running(&ok).await.unwrap();
    manager.stop(&ok).await.unwrap();
    manager
        .ensure_running(&http("z-crash", "--crash-at-start 1"))
        .await
        .unwrap_err();
    let hang = ShortDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "z-hang".into(),
        flags: "--hang-health".into(),
    };
    manager.ensure_running(&hang).await.unwrap_err();
    let killed = ShortDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "z-kill".into(),
        flags: "--ignore-sigterm".into(),
    };
    manager.ensure_running(&killed).await.unwrap();
    manager.stop(&killed).await.unwrap();

    let restarting = PlainDaemon {
        binary: BINARY.into(),
        test: "z-restart".into(),
        flags: "--exit-after 50".into(),
    };
    let mut events = manager.subscribe();
    manager.ensure_running(&restarting).await.unwrap();
    loop {
        let t = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap();
        if t.daemon == "td-plain@z-restart" && matches!(t.to, State::Failed { .. }) {
            break;
        }
    }
    assert_eq!(zombie_children(), Vec::<u32>::new());
}
