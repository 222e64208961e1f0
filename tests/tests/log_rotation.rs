//! A running daemon's log kept under its size cap: every line it wrote before a rotation began
//! is kept (in the rotated file or the live one), and one rotation runs at a time across every
//! process that watches the daemon.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lifecycle_tests::handles::LogsDaemon;
use lifecycle_tests::harness::{LockHolder, setup, wait_for_file};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_log_is_rotated_and_no_line_written_before_is_lost() {
    let s = setup();
    // 8000 numbered lines (about 80 KiB) over a 64 KiB cap, then quiet.
    let daemon = LogsDaemon {
        binary: BINARY.into(),
        test: "rotate-running".into(),
        flags: "--print-lines 8000".into(),
    };
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    let rotated = running.log.with_extension("log.1");
    assert!(
        wait_for_file(&rotated, Duration::from_secs(10)),
        "rotated within 10s (checked every 2s)"
    );
    let mut lines: Vec<String> = std::fs::read_to_string(&rotated)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.extend(
        std::fs::read_to_string(&running.log)
            .unwrap()
            .lines()
            .map(str::to_owned),
    );
    let numbered: Vec<&String> = lines.iter().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(numbered.len(), 8000, "every line is kept");
    for (i, line) in numbered.iter().enumerate() {
        assert_eq!(**line, format!("line {}", i + 1));
    }
    assert!(std::fs::metadata(&running.log).unwrap().len() < 64 * 1024);
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rotation_while_another_process_rotates() {
    let s = setup();
    let daemon = LogsDaemon {
        binary: BINARY.into(),
        test: "rotate-once".into(),
        flags: "--log-bytes 100000".into(),
    };
    // Another process holds the rotation lock: this manager leaves the log to it.
    let holder = LockHolder::take(CLIENT, s.dir.path(), "log:td-logs@rotate-once");
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    let rotated = running.log.with_extension("log.1");
    assert!(
        !wait_for_file(&rotated, Duration::from_secs(5)),
        "rotated while another process held the rotation"
    );
    drop(holder);
    assert!(wait_for_file(&rotated, Duration::from_secs(10)));
    assert!(std::fs::metadata(&rotated).unwrap().len() >= 100_000);
    s.manager.stop(&daemon).await.unwrap();
}
