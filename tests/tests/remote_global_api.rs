//! The proposal's remote free functions (`spawn_daemon_remote`, `is_daemon_healthy_remote`,
//! `stop_daemon_remote`, `graceful_shutdown_remote`) on the process-wide manager, against a real
//! sshd on loopback. One test: the global manager is set once per process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use lifecycle_core::{
    DaemonManager, StartError, StopError,
    compat::{
        SshConfig, graceful_shutdown_remote, is_daemon_healthy_remote, spawn_daemon_remote,
        stop_daemon_remote,
    },
};
use lifecycle_tests::harness::{free_port, is_alive, wait_exit};
use lifecycle_tests::sshd::Sshd;

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_free_functions_spawn_check_and_stop_by_record() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let manager = DaemonManager::builder()
        .state_dir(dir.path().join("local"))
        .remote_state_dir(dir.path().join("remote").to_string_lossy().into_owned())
        .ssh_config(sshd.client_config())
        .build()
        .unwrap();
    DaemonManager::set_global(manager).unwrap();
    let ssh = SshConfig {
        hostname: sshd.host().into(),
        ssh_user: sshd.user(),
        ssh_port: sshd.port(),
    };
    let port = free_port();
    let args = vec![
        "--port".to_owned(),
        port.to_string(),
        "--ignore-sigterm".to_owned(),
    ];
    let pid = spawn_daemon_remote(BINARY, args.clone(), &ssh)
        .await
        .unwrap();
    assert!(is_alive(pid));
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_daemon_healthy_remote(&url, &ssh).await {
        assert!(Instant::now() < deadline, "never healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The same binary and arguments again: refused, not a second copy.
    assert!(matches!(
        spawn_daemon_remote(BINARY, args, &ssh).await,
        Err(StartError::AlreadyRunning { pid: p, .. }) if p == pid
    ));
    // Not graceful: SIGKILL at once, though it ignores SIGTERM.
    let began = Instant::now();
    stop_daemon_remote("test-daemon", &ssh, false)
        .await
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    assert!(wait_exit(pid, Duration::from_secs(5)));
    assert!(!is_daemon_healthy_remote(&url, &ssh).await);

    // Graceful: SIGTERM (ignored here), the grace given, then SIGKILL.
    let port = free_port();
    let args = vec![
        "--port".to_owned(),
        port.to_string(),
        "--ignore-sigterm".to_owned(),
    ];
    let pid = spawn_daemon_remote(BINARY, args, &ssh).await.unwrap();
    let began = Instant::now();
    graceful_shutdown_remote("test-daemon", &ssh, Some(Duration::from_millis(300)))
        .await
        .unwrap();
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(wait_exit(pid, Duration::from_secs(5)));

    // The local free function finds it too: this state directory points to its host.
    let pid = spawn_daemon_remote(
        BINARY,
        vec!["--port".to_owned(), free_port().to_string()],
        &ssh,
    )
    .await
    .unwrap();
    lifecycle_core::compat::graceful_shutdown("test-daemon", Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(wait_exit(pid, Duration::from_secs(5)));

    // Nothing recorded under that name any more: nothing signalled, and said so.
    assert!(matches!(
        graceful_shutdown_remote("test-daemon", &ssh, None).await,
        Err(StopError::Unknown { .. })
    ));
    // A hostile host is refused before ssh runs.
    let hostile = SshConfig {
        hostname: "-oProxyCommand=id".into(),
        ..ssh.clone()
    };
    assert!(matches!(
        spawn_daemon_remote(BINARY, vec![], &hostile).await,
        Err(StartError::Plan(_))
    ));
    assert!(matches!(
        stop_daemon_remote("test-daemon", &hostile, true).await,
        Err(StopError::Plan(_))
    ));
}
