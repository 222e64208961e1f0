//! An operator's machine is shared: the state directory must be the user's own (and never a
//! guess under `/tmp`), a planted log symlink is refused, a daemon gets the environment its
//! spec allows (no inherited `NOTIFY_SOCKET`) and stdin from `/dev/null`, and probes follow no
//! redirects.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use lifecycle_core::{DaemonManager, StartError};
use lifecycle_tests::handles::{HttpDaemon, InheritDaemon, PlainDaemon};
use lifecycle_tests::harness::{free_port, setup, wait_for_file};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

fn private_dir(path: &std::path::Path) {
    std::fs::DirBuilder::new().mode(0o700).create(path).unwrap();
}

#[test]
fn a_state_directory_others_could_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    private_dir(&state);
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o770)).unwrap();
    let err = DaemonManager::builder()
        .state_dir(&state)
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("writable by group or others"),
        "{err}"
    );
    let shared = dir.path().join("shared");
    private_dir(&shared);
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = DaemonManager::builder()
        .state_dir(shared.join("state"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("its parent"), "{err}");
    if nix::unistd::geteuid().is_root() {
        let foreign = dir.path().join("foreign");
        private_dir(&foreign);
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        let err = DaemonManager::builder()
            .state_dir(&foreign)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    } else {
        eprintln!("not root: the foreign-owner case needs chown; skipped");
    }
}

#[test]
fn without_home_the_default_state_directory_is_an_error_not_tmp() {
    let output = Command::new(CLIENT)
        .arg("default-state-dir")
        .env_clear()
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("HOME"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_log_symlink_is_refused() {
    let s = setup();
    let precious = s.dir.path().join("bashrc");
    std::fs::write(&precious, "precious\n").unwrap();
    std::os::unix::fs::symlink(&precious, s.dir.path().join("logs/td-http@planted.log")).unwrap();
    let daemon = HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: "planted".into(),
        flags: String::new(),
    };
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    assert!(
        matches!(&err, StartError::Spawn { source, .. } if source.to_string().contains("symbolic link")),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "precious\n");
    assert_eq!(s.manager.status(&daemon).await.unwrap().pid, None);
    assert!(!s.dir.path().join("daemons/td-http@planted.record").exists());
}

/// The report the test daemon wrote at its start: its stdin and its environment.
fn report(path: &std::path::Path) -> (String, HashMap<String, String>) {
    assert!(wait_for_file(path, Duration::from_secs(10)), "no report");
    let text = std::fs::read_to_string(path).unwrap();
    let mut stdin = String::new();
    let mut env = HashMap::new();
    for line in text.lines() {
        if let Some(target) = line.strip_prefix("stdin=") {
            stdin = target.to_owned();
        } else if let Some((k, v)) = line.strip_prefix("env=").and_then(|kv| kv.split_once('=')) {
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    (stdin, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_gets_dev_null_and_the_environment_its_spec_allows() {
    let s = setup();
    let file = s.dir.path().join("allowlist.report");
    let restricted = InheritDaemon {
        binary: BINARY.into(),
        test: "allowlist".into(),
        flags: format!("--report {}", file.display()),
    };
    s.manager.ensure_running(&restricted).await.unwrap();
    let (stdin, env) = report(&file);
    assert_eq!(stdin, "/dev/null");
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["PATH", "SET_BY_SPEC", "TEST_DAEMON_FLAGS"]);
    assert_eq!(env["SET_BY_SPEC"], "yes");
    s.manager.stop(&restricted).await.unwrap();

    // By default everything is inherited, but never NOTIFY_SOCKET: the manager runs in a
    // process that has one.
    let file = s.dir.path().join("default.report");
    let flags = format!("--report {}", file.display());
    let output = Command::new(CLIENT)
        .arg("ensure")
        .arg("--state")
        .arg(s.dir.path())
        .args([
            "--kind",
            "plain",
            "--binary",
            BINARY,
            "--test",
            "inherit-all",
        ])
        .args(["--flags", &flags])
        .env("NOTIFY_SOCKET", "@not-for-the-daemon")
        .env("LIFECYCLE_TEST_MARKER", "inherited")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let (stdin, env) = report(&file);
    assert_eq!(stdin, "/dev/null");
    assert_eq!(
        env.get("LIFECYCLE_TEST_MARKER").map(String::as_str),
        Some("inherited")
    );
    assert!(!env.contains_key("NOTIFY_SOCKET"), "{env:?}");
    let daemon = PlainDaemon {
        binary: BINARY.into(),
        test: "inherit-all".into(),
        flags,
    };
    assert!(s.manager.stop(&daemon).await.unwrap().was_running());
}

/// A server on loopback that answers every request with `response`.
fn answering(response: &'static str) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_follow_no_redirect() {
    let s = setup();
    let _ = DaemonManager::set_global(s.manager.clone());
    let ok = answering("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    let target = format!("http://127.0.0.1:{ok}/health");
    let redirect: &'static str = Box::leak(
        format!("HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .into_boxed_str(),
    );
    let moved = answering(redirect);
    assert!(lifecycle_core::compat::is_daemon_healthy(&target).await);
    let url = format!("http://127.0.0.1:{moved}/health");
    assert!(!lifecycle_core::compat::is_daemon_healthy(&url).await);
    let err =
        lifecycle_core::compat::poll_until_healthy(&url, Duration::from_millis(300), None, None)
            .await
            .unwrap_err();
    assert!(err.last_error.contains("HTTP 302"), "{err}");
}
