//! The cross-process lock of a daemon: a waiter that gives up leaves nothing behind — no
//! thread parked in the kernel that would later take or release the lock, or keep the process
//! from exiting.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, StartError};
use lifecycle_tests::handles::HttpDaemon;
use lifecycle_tests::harness::{LockHolder, free_port, manager_with_lock_timeout};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_elsewhere_times_out_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let manager = manager_with_lock_timeout(dir.path(), Duration::from_millis(300));
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "locked".into(),
        flags: String::new(),
    };
    let holder = LockHolder::take(CLIENT, dir.path(), "td-http@locked");
    let asked = Instant::now();
    let err = manager.ensure_running(&daemon).await.unwrap_err();
    assert!(
        matches!(&err, StartError::Lock(e) if e.source.kind() == std::io::ErrorKind::TimedOut),
        "{err}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // A process whose operation timed out exits at once: nothing waits on in it.
    let started = Instant::now();
    let output = Command::new(CLIENT)
        .arg("ensure")
        .arg("--state")
        .arg(dir.path())
        .args(["--kind", "http", "--binary", BINARY, "--test", "locked"])
        .args([
            "--port",
            &daemon.port.to_string(),
            "--lock-timeout-ms",
            "300",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("error cannot take the lock"), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the process took {:?} to exit while the lock was still held",
        started.elapsed()
    );
    drop(holder);
    // Free now, and the abandoned waits took nothing: another process takes it at once ...
    drop(LockHolder::take(CLIENT, dir.path(), "td-http@locked"));
    // ... and this one starts the daemon.
    let running = manager.ensure_running(&daemon).await.unwrap();
    assert!(running.started);
    // While a holder holds it again, a manager that has to read the record is kept out: the
    // lock still excludes.
    let holder = LockHolder::take(CLIENT, dir.path(), "td-http@locked");
    let other = DaemonManager::builder()
        .state_dir(dir.path())
        .lock_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert!(matches!(
        other.stop(&daemon).await,
        Err(lifecycle_core::StopError::Lock(_))
    ));
    drop(holder);
    assert!(manager.stop(&daemon).await.unwrap().was_running());
}
