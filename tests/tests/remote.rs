//! Daemons on another host, against a real sshd on loopback started by the test harness (its
//! own host and user keys, its own known_hosts: the user's `~/.ssh` is never touched). The
//! remote host is this machine, so each test can check the remote processes directly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, StartError, State, StopError, Stopped, error::RemoteError};
use lifecycle_tests::handles::{
    RemoteAcceptNew, RemoteArgv, RemoteDaemon, RemoteInstall, RemoteShort, RemoteWorker,
};
use lifecycle_tests::harness::{
    free_port, is_alive, pid_in_file, processes, transitions_until, wait_exit,
};
use lifecycle_tests::sshd::Sshd;

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

/// A manager of local state directory `dir/<local>` and remote state directory `dir/remote`
/// (under the test's temporary directory), whose SSH connections use client configuration
/// `config`.
fn manager_of(dir: &Path, local: &str, config: &Path, stop_on_drop: bool) -> DaemonManager {
    DaemonManager::builder()
        .state_dir(dir.join(local))
        .remote_state_dir(dir.join("remote").to_string_lossy().into_owned())
        .ssh_config(config)
        .ssh_connect_timeout(Duration::from_secs(5))
        .stop_on_drop(stop_on_drop)
        .build()
        .unwrap()
}

/// The usual manager: to `sshd` with the harness's client configuration, killing what it
/// started when it goes.
fn manager(dir: &Path, sshd: &Sshd) -> DaemonManager {
    manager_of(dir, "local", sshd.client_config(), true)
}

/// A test's host, its directory, and a manager of both (dropped in reverse: the manager first).
fn setup() -> (Sshd, tempfile::TempDir, DaemonManager) {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let manager = manager(dir.path(), &sshd);
    (sshd, dir, manager)
}

/// Another manager (its own local state directory, as on another machine) of the same remote
/// state directory.
fn second_manager(dir: &Path, sshd: &Sshd) -> DaemonManager {
    manager_of(dir, "second", sshd.client_config(), true)
}

fn daemon(sshd: &Sshd, test: &str, flags: &str) -> RemoteDaemon {
    RemoteDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: test.into(),
        flags: flags.into(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    }
}

fn record_path(dir: &Path, key: &str) -> PathBuf {
    dir.join("remote/daemons").join(format!("{key}.record"))
}

/// The `ssh` processes this test process runs to `sshd`.
fn ssh_children(sshd: &Sshd) -> Vec<u32> {
    ssh_children_on(sshd.port())
}

/// The `ssh` processes this test process runs to port `port` (`-p PORT`): tests in parallel
/// each have their own sshd.
fn ssh_children_on(port: u16) -> Vec<u32> {
    let port = port.to_string();
    processes("ssh", Some(std::process::id()), |args| {
        args.windows(2)
            .any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_ready_stop_on_the_remote_host() {
    let (sshd, dir, manager) = setup();
    let handle = daemon(&sshd, "start-ready-stop", "");
    let running = manager.ensure_running(&handle).await.unwrap();
    assert!(running.started);
    assert!(is_alive(running.pid));
    let record = std::fs::read_to_string(record_path(dir.path(), "td-remote@start-ready-stop"))
        .expect("the record is kept on the remote host");
    assert!(
        record.contains(&format!("pid={}\n", running.pid)),
        "{record}"
    );
    assert!(record.contains("state=ready\n"), "{record}");
    // Idempotent: the second ensure finds it.
    let again = manager.ensure_running(&handle).await.unwrap();
    assert!(!again.started);
    assert_eq!(again.pid, running.pid);
    let status = manager.status(&handle).await.unwrap();
    assert_eq!(status.state, State::Ready);
    assert_eq!(status.healthy, Some(true));
    let stopped = manager.stop(&handle).await.unwrap();
    match stopped {
        Stopped::Stopped { pid, killed, .. } => {
            assert_eq!(pid, running.pid);
            assert!(!killed);
        }
        other => panic!("{other:?}"),
    }
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    assert!(!record_path(dir.path(), "td-remote@start-ready-stop").exists());
    assert!(matches!(
        manager.stop(&handle).await.unwrap(),
        Stopped::NotRunning { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_start_fails_at_once_with_the_remote_log_tail() {
    let (sshd, dir, manager) = setup();
    let handle = daemon(&sshd, "crash", "--print-lines 3 --crash-at-start 7");
    let began = Instant::now();
    let err = manager.ensure_running(&handle).await.unwrap_err();
    // Well before the 10 s deadline: the keeper tells the exit the moment it happens.
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    match &err {
        StartError::Exited {
            exit,
            log_tail,
            log,
            ..
        } => {
            assert_eq!(exit.code, Some(7));
            assert!(
                log_tail.iter().any(|l| l.contains("line 3")),
                "{log_tail:?}"
            );
            assert!(
                log.to_string_lossy().contains(&sshd.port().to_string()),
                "{}",
                log.display()
            );
        }
        other => panic!("{other}"),
    }
    assert!(!record_path(dir.path(), "td-remote@crash").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_ignores_sigterm_is_killed_after_its_grace_with_its_grandchild() {
    let (sshd, dir, manager) = setup();
    let grandchild_file = dir.path().join("grandchild.pid");
    let flags = format!(
        "--ignore-sigterm --fork-grandchild --grandchild-pid-file {}",
        grandchild_file.display()
    );
    let handle = daemon(&sshd, "stubborn", &flags);
    let running = manager.ensure_running(&handle).await.unwrap();
    let grandchild = pid_in_file(&grandchild_file).expect("the grandchild's pid");
    assert!(is_alive(grandchild));
    let began = Instant::now();
    let stopped = manager.stop(&handle).await.unwrap();
    assert!(
        matches!(stopped, Stopped::Stopped { killed: true, .. }),
        "{stopped:?}"
    );
    // The grace is 1 s: SIGKILL after it, not long after.
    let took = began.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    assert!(wait_exit(grandchild, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_of_one_binary_stopping_one_leaves_the_other() {
    let (sshd, _dir, manager) = setup();
    let one = daemon(&sshd, "one", "");
    let two = daemon(&sshd, "two", "");
    let (a, b) = tokio::join!(manager.ensure_running(&one), manager.ensure_running(&two));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.pid, b.pid);
    manager.stop(&one).await.unwrap();
    assert!(wait_exit(a.pid, Duration::from_secs(5)));
    assert!(is_alive(b.pid));
    assert_eq!(manager.status(&two).await.unwrap().healthy, Some(true));
    manager.stop(&two).await.unwrap();
    assert!(wait_exit(b.pid, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_arrive_byte_for_byte() {
    let (sshd, dir, manager) = setup();
    let out = dir.path().join("argv");
    let canary = dir.path().join("canary");
    let hostile = [
        "two words".to_owned(),
        "'single' \"double\" \\back".to_owned(),
        format!("$(touch {})", canary.display()),
        format!("; touch {} ;", canary.display()),
        "* ? [a-z] ~ %s %d %% \\0101".to_owned(),
        "line one\nline two\n".to_owned(),
    ];
    // The script writes each argument followed by a NUL, then waits to be stopped.
    let script = format!(
        "for a; do printf '%s\\0' \"$a\"; done > {}.tmp && mv {}.tmp {} && exec sleep 60",
        out.display(),
        out.display(),
        out.display()
    );
    let handle = RemoteArgv {
        script,
        a1: hostile[0].clone(),
        a2: hostile[1].clone(),
        a3: hostile[2].clone(),
        a4: hostile[3].clone(),
        a5: hostile[4].clone(),
        a6: hostile[5].clone(),
        test: "argv".into(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    };
    manager.ensure_running(&handle).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !out.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let written = std::fs::read(&out).expect("the remote script wrote its arguments");
    let got: Vec<&[u8]> = written
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    let want: Vec<&[u8]> = hostile.iter().map(|a| a.as_bytes()).collect();
    assert_eq!(got, want);
    assert!(!canary.exists(), "an argument was run as code");
    manager.stop(&handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_hostnames_are_refused_before_ssh_runs() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    // An "ssh" that leaves a mark when it runs: it must never run.
    let ran = dir.path().join("ssh-ran");
    let fake_ssh = dir.path().join("fake-ssh");
    std::fs::write(
        &fake_ssh,
        format!("#!/bin/sh\necho \"$@\" >> {}\nexit 255\n", ran.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &fake_ssh,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let manager = DaemonManager::builder()
        .state_dir(dir.path().join("local"))
        .ssh_program(&fake_ssh)
        .build()
        .unwrap();
    for host in [
        "-oProxyCommand=touch /tmp/x",
        "a b",
        "a;b",
        "$(id)",
        "host\nname",
        "",
    ] {
        let mut handle = daemon(&sshd, "hostile", "");
        handle.host = host.into();
        let err = manager.ensure_running(&handle).await.unwrap_err();
        assert!(matches!(err, StartError::Plan(_)), "{host:?}: {err}");
    }
    let mut handle = daemon(&sshd, "hostile", "");
    handle.user = "-lroot".into();
    assert!(matches!(
        manager.ensure_running(&handle).await.unwrap_err(),
        StartError::Plan(_)
    ));
    assert!(
        !ran.exists(),
        "ssh ran: {:?}",
        std::fs::read_to_string(&ran)
    );
    // A good host does run it: the mark can appear, so its absence above means something.
    let handle = daemon(&sshd, "hostile", "");
    assert!(manager.ensure_running(&handle).await.is_err());
    assert!(ran.exists(), "the fake ssh was never used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_refused() {
    let mut sshd = Sshd::start();
    sshd.change_host_key();
    let dir = tempfile::tempdir().unwrap();
    let manager = manager(dir.path(), &sshd);
    let handle = daemon(&sshd, "changed-key", "");
    let err = manager.ensure_running(&handle).await.unwrap_err();
    match &err {
        StartError::Remote {
            source: RemoteError::HostKey { destination, .. },
            ..
        } => assert!(destination.contains(&sshd.port().to_string()), "{err}"),
        other => panic!("{other}"),
    }
    assert!(
        !dir.path().join("remote/daemons").exists()
            || std::fs::read_dir(dir.path().join("remote/daemons"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_remote_binary_is_named() {
    let (sshd, dir, manager) = setup();
    let mut handle = daemon(&sshd, "missing", "");
    handle.binary = "/nonexistent/test-daemon".into();
    let err = manager.ensure_running(&handle).await.unwrap_err();
    match &err {
        StartError::Remote {
            source: RemoteError::MissingBinary { binary, .. },
            ..
        } => assert_eq!(binary, "/nonexistent/test-daemon"),
        other => panic!("{other}"),
    }
    assert!(!record_path(dir.path(), "td-remote@missing").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_master_connection_serves_every_operation() {
    let (sshd, _dir, manager) = setup();
    let handles: Vec<RemoteDaemon> = (0..4)
        .map(|i| daemon(&sshd, &format!("shared-{i}"), ""))
        .collect();
    for handle in &handles {
        manager.ensure_running(handle).await.unwrap();
    }
    for handle in &handles {
        assert_eq!(manager.status(handle).await.unwrap().state, State::Ready);
    }
    assert_eq!(
        ssh_children(&sshd).len(),
        1,
        "one ssh process for 4 daemons"
    );
    for handle in &handles {
        manager.stop(handle).await.unwrap();
    }
    assert_eq!(
        ssh_children(&sshd).len(),
        1,
        "still one after 12 operations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_manager_stops_a_remote_daemon_from_its_record_there() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let first = manager(dir.path(), &sshd);
    let handle = daemon(&sshd, "fresh", "");
    let running = first.ensure_running(&handle).await.unwrap();
    // Another manager (another local state directory: as another machine would be).
    let second = manager_of(dir.path(), "second", sshd.client_config(), false);
    let status = second.status(&handle).await.unwrap();
    assert_eq!(
        (status.state, status.pid),
        (State::Ready, Some(running.pid))
    );
    let found = second.ensure_running(&handle).await.unwrap();
    assert!(!found.started);
    assert_eq!(found.pid, running.pid);
    match second.stop(&handle).await.unwrap() {
        Stopped::Stopped { pid, .. } => assert_eq!(pid, running.pid),
        other => panic!("{other:?}"),
    }
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshd_killed_mid_operation_is_a_clear_error_not_a_hang() {
    let mut sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    // Not `stop_on_drop`: a manager that stops what it starts has the host kill its daemons
    // when its connection ends, and this one is to outlive it.
    let manager = manager_of(dir.path(), "local", sshd.client_config(), false);
    let handle = daemon(&sshd, "sshd-killed", "");
    let running = manager.ensure_running(&handle).await.unwrap();
    sshd.kill();
    let began = Instant::now();
    let err = manager.stop(&handle).await.unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    assert!(matches!(err, StopError::Remote { .. }), "{err}");
    assert!(err.to_string().contains(&sshd.port().to_string()), "{err}");
    // The daemon runs on; once sshd is back, the next operation reconnects and stops it.
    assert!(is_alive(running.pid));
    sshd.restart();
    // The failed stop left it as it was: running, this owner's.
    let status = manager.status(&handle).await.unwrap();
    assert_eq!(
        (status.state, status.pid),
        (State::Ready, Some(running.pid))
    );
    assert_eq!(
        manager.ensure_running(&handle).await.unwrap().pid,
        running.pid
    );
    let stopped = manager.stop(&handle).await.unwrap();
    assert!(matches!(stopped, Stopped::Stopped { .. }), "{stopped:?}");
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_that_stops_on_drop_kills_what_it_started_there() {
    let (sshd, dir, manager) = setup();
    let handle = daemon(&sshd, "on-drop", "--ignore-sigterm");
    let running = manager.ensure_running(&handle).await.unwrap();
    drop(manager);
    assert!(wait_exit(running.pid, Duration::from_secs(10)));
    let record = record_path(dir.path(), "td-remote@on-drop");
    let deadline = Instant::now() + Duration::from_secs(5);
    while record.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!record.exists());
}

/// A client configuration like the harness's, but with a known_hosts file of its own (empty
/// at first).
fn config_with_own_known_hosts(dir: &Path, sshd: &Sshd) -> PathBuf {
    let known = dir.join("known_hosts");
    std::fs::write(&known, "").unwrap();
    let config = dir.join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  UpdateHostKeys no\n",
            sshd.identity_file().display(),
            known.display()
        ),
    )
    .unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_unless_the_spec_accepts_new_ones() {
    let mut sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_own_known_hosts(dir.path(), &sshd);
    let manager = manager_of(dir.path(), "local", &config, true);
    // Strict (the default): an unknown key is refused, and nothing is recorded of it.
    let strict = daemon(&sshd, "strict-keys", "");
    let err = manager.ensure_running(&strict).await.unwrap_err();
    assert!(
        matches!(
            err,
            StartError::Remote {
                source: RemoteError::HostKey { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("known_hosts")).unwrap(),
        ""
    );
    // `host_keys: accept-new`: trusted and recorded.
    let new_keys = RemoteAcceptNew {
        binary: BINARY.into(),
        port: free_port(),
        test: "accept-new".into(),
        flags: String::new(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    };
    let running = manager.ensure_running(&new_keys).await.unwrap();
    let known = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "{known}"
    );
    manager.stop(&new_keys).await.unwrap();
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    // A key that changed is refused all the same.
    sshd.change_host_key();
    let later = manager_of(dir.path(), "local", &config, true);
    let err = later.ensure_running(&new_keys).await.unwrap_err();
    assert!(
        matches!(
            err,
            StartError::Remote {
                source: RemoteError::HostKey { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_an_authentication_error_naming_the_destination() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    // An identity the server does not know.
    let stranger = dir.path().join("stranger");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(made.success());
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            stranger.display(),
            sshd.known_hosts().display()
        ),
    )
    .unwrap();
    let manager = manager_of(dir.path(), "local", &config, true);
    let handle = daemon(&sshd, "refused", "");
    let err = manager.ensure_running(&handle).await.unwrap_err();
    match &err {
        StartError::Remote {
            source: RemoteError::Auth { destination, .. },
            ..
        } => assert_eq!(
            destination,
            &format!("{}@127.0.0.1:{}", sshd.user(), sshd.port())
        ),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("authorized_keys"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_is_reported_within_the_connect_timeout() {
    let (sshd, _dir, manager) = setup();
    let mut handle = daemon(&sshd, "unreachable", "");
    // Nothing listens there.
    handle.ssh_port = free_port();
    let began = Instant::now();
    let err = manager.ensure_running(&handle).await.unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "{:?}",
        began.elapsed()
    );
    match &err {
        StartError::Remote {
            source: RemoteError::Unreachable { destination, .. },
            ..
        } => assert!(
            destination.ends_with(&format!(":{}", handle.ssh_port)),
            "{err}"
        ),
        other => panic!("{other}"),
    }
    assert!(ssh_children_on(handle.ssh_port).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_is_installed_atomically_and_only_when_it_changed() {
    use std::os::unix::fs::MetadataExt;
    let (sshd, dir, manager) = setup();
    let target = dir.path().join("remote-bin/td");
    let mut handle = RemoteInstall {
        local: BINARY.into(),
        target: target.to_string_lossy().into_owned(),
        port: free_port(),
        test: "install".into(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    };
    let first = manager.ensure_running(&handle).await.unwrap();
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(BINARY).unwrap()
    );
    assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o755);
    let inode = std::fs::metadata(&target).unwrap().ino();
    manager.stop(&handle).await.unwrap();
    assert!(wait_exit(first.pid, Duration::from_secs(5)));
    // The same file: not uploaded again.
    let second = manager.ensure_running(&handle).await.unwrap();
    assert_eq!(std::fs::metadata(&target).unwrap().ino(), inode);
    // Another file while the old one runs: uploaded beside it and renamed into place.
    let changed = dir.path().join("td-changed");
    let mut bytes = std::fs::read(BINARY).unwrap();
    bytes.extend_from_slice(b"\n# a newer build\n");
    std::fs::write(&changed, &bytes).unwrap();
    manager.stop(&handle).await.unwrap();
    assert!(wait_exit(second.pid, Duration::from_secs(5)));
    handle.local = changed.to_string_lossy().into_owned();
    let third = manager.ensure_running(&handle).await.unwrap();
    assert_ne!(std::fs::metadata(&target).unwrap().ino(), inode);
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    manager.stop(&handle).await.unwrap();
    assert!(wait_exit(third.pid, Duration::from_secs(5)));
    // A local file that is not there: an install error, and nothing started or recorded.
    handle.local = dir
        .path()
        .join("no-such-build")
        .to_string_lossy()
        .into_owned();
    let err = manager.ensure_running(&handle).await.unwrap_err();
    assert!(
        matches!(
            err,
            StartError::Remote {
                source: RemoteError::Install { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(!record_path(dir.path(), "td-remote-install@install").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_after_ready_is_seen_at_once_and_its_record_goes() {
    let (sshd, dir, manager) = setup();
    let handle = daemon(&sshd, "exits", "--exit-after 300 --exit-code 4");
    let mut events = manager.subscribe();
    let running = manager.ensure_running(&handle).await.unwrap();
    let seen = transitions_until(
        &mut events,
        "td-remote@exits",
        Duration::from_secs(10),
        |s| matches!(s, State::Failed { .. }),
    )
    .await
    .expect("the exit is seen");
    let last = seen.last().unwrap();
    assert!(last.to.to_string().contains("exit code 4"), "{last:?}");
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    let record = record_path(dir.path(), "td-remote@exits");
    let deadline = Instant::now() + Duration::from_secs(5);
    while record.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!record.exists());
    // And it starts again.
    let again = manager.ensure_running(&handle).await.unwrap();
    assert!(again.started);
    assert_ne!(again.pid, running.pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_never_ready_is_killed_its_record_removed_and_the_next_start_works() {
    let (sshd, dir, manager) = setup();
    let short = |flags: &str| RemoteShort {
        binary: BINARY.into(),
        port: free_port(),
        test: "never-ready".into(),
        flags: flags.into(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    };
    let pid_file = dir.path().join("never.pid");
    let slow = short(&format!("--health-500 --pid-file {}", pid_file.display()));
    let err = manager.ensure_running(&slow).await.unwrap_err();
    assert!(matches!(err, StartError::TimedOut { .. }), "{err}");
    let pid = pid_in_file(&pid_file).unwrap();
    assert!(wait_exit(pid, Duration::from_secs(5)));
    assert!(!record_path(dir.path(), "td-remote-short@never-ready").exists());
    assert_eq!(manager.status(&slow).await.unwrap().pid, None);
    // The state machine is back at rest: the next start is a start, with its events.
    let mut events = manager.subscribe();
    let fine = short("");
    let running = manager.ensure_running(&fine).await.unwrap();
    assert!(running.started);
    let seen = transitions_until(
        &mut events,
        "td-remote-short@never-ready",
        Duration::from_secs(1),
        |s| *s == State::Ready,
    )
    .await;
    assert!(seen.is_some(), "no transition to Ready was published");
    assert_eq!(manager.status(&fine).await.unwrap().state, State::Ready);
    manager.stop(&fine).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_manager_waits_for_a_starting_daemon_to_be_ready() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let first = manager(dir.path(), &sshd);
    let second = second_manager(dir.path(), &sshd);
    let handle = daemon(&sshd, "slow-start", "--ready-after 1500");
    let starting = tokio::spawn({
        let (first, handle) = (first.clone(), handle.clone());
        async move { first.ensure_running(&handle).await }
    });
    // The first one's record is there, `starting`.
    let record = record_path(dir.path(), "td-remote@slow-start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !record.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let found = second.ensure_running(&handle).await.unwrap();
    assert!(!found.started);
    assert!(
        second.is_healthy(&handle).await,
        "the second manager answered before the daemon was ready"
    );
    let started = starting.await.unwrap().unwrap();
    assert_eq!(started.pid, found.pid);
    first.stop(&handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_found_there_that_died_is_not_reported_running() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let first = manager(dir.path(), &sshd);
    let second = second_manager(dir.path(), &sshd);
    let handle = daemon(&sshd, "found-dead", "");
    let running = first.ensure_running(&handle).await.unwrap();
    assert_eq!(
        second.ensure_running(&handle).await.unwrap().pid,
        running.pid
    );
    // It dies behind both managers' backs (the test kills it: the library never would).
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(running.pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    let again = second.ensure_running(&handle).await.unwrap();
    assert_ne!(
        again.pid, running.pid,
        "the dead process was reported running"
    );
    assert!(is_alive(again.pid));
    second.stop(&handle).await.unwrap();
}

/// The `ssh` processes anywhere (ours or orphaned) that are masters to `sshd`.
fn masters_to(sshd: &Sshd) -> Vec<u32> {
    let port = sshd.port().to_string();
    processes("ssh", None, |args| {
        args.contains(&b"-M".as_slice())
            && args
                .windows(2)
                .any(|w| w[0] == b"-p" && w[1] == port.as_bytes())
    })
}

fn remote_exit_client(dir: &Path, sshd: &Sshd, test: &str, stop_on_drop: bool) -> u32 {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_client"));
    command
        .arg("remote-exit")
        .arg("--state")
        .arg(dir.join("client"))
        .arg("--remote-state")
        .arg(dir.join("remote"))
        .arg("--ssh-config")
        .arg(sshd.client_config())
        .args(["--host", sshd.host(), "--user", &sshd.user()])
        .args(["--ssh-port", &sshd.port().to_string(), "--binary", BINARY])
        .args(["--port", &free_port().to_string(), "--test", test]);
    if stop_on_drop {
        command.args(["--stop-on-drop", "yes"]);
    }
    let output = command.output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    said.lines()
        .find_map(|l| l.strip_prefix("ready "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "client said: {said} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_ends_without_dropping_its_manager_leaves_no_ssh_behind() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let pid = remote_exit_client(dir.path(), &sshd, "no-drop", false);
    // Its connection ended with it; the daemon runs on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !masters_to(&sshd).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        masters_to(&sshd).is_empty(),
        "an ssh master outlived its process"
    );
    assert!(is_alive(pid));
    let manager = manager(dir.path(), &sshd);
    let handle = daemon(&sshd, "no-drop", "");
    assert!(matches!(
        manager.stop(&handle).await.unwrap(),
        Stopped::Stopped { pid: p, .. } if p == pid
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_that_stops_on_drop_has_its_host_kill_its_daemons_when_it_is_gone() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let pid = remote_exit_client(dir.path(), &sshd, "killed-with-it", true);
    assert!(
        wait_exit(pid, Duration::from_secs(10)),
        "the daemon of a stop-on-drop manager outlived it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_by_key_on_this_machine_finds_the_daemon_on_its_host() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let first = manager_of(dir.path(), "local", sshd.client_config(), false);
    let handle = daemon(&sshd, "by-key", "");
    let running = first.ensure_running(&handle).await.unwrap();
    let pointer = dir.path().join("local/remote/td-remote@by-key");
    assert!(pointer.exists(), "no pointer to the remote daemon");
    drop(first);
    // A later process on this machine, with only the key.
    let later = manager_of(dir.path(), "local", sshd.client_config(), false);
    match later.stop_by_key("td-remote@by-key").await.unwrap() {
        Stopped::Stopped { pid, .. } => assert_eq!(pid, running.pid),
        other => panic!("{other:?}"),
    }
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    assert!(!pointer.exists());
    assert!(matches!(
        later.stop_by_key("td-remote@by-key").await.unwrap(),
        Stopped::NotRunning { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshd_killed_during_a_stop_is_an_error_at_once_not_a_hang() {
    let mut sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let manager = manager_of(dir.path(), "local", sshd.client_config(), false);
    // It ignores SIGTERM: the stop waits out its 1 s grace there.
    let handle = daemon(&sshd, "killed-during-stop", "--ignore-sigterm");
    let running = manager.ensure_running(&handle).await.unwrap();
    let stop = tokio::spawn({
        let (manager, handle) = (manager.clone(), handle.clone());
        async move { manager.stop(&handle).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    sshd.kill();
    let err = stop.await.unwrap().unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    assert!(
        matches!(
            err,
            StopError::Remote {
                source: RemoteError::Lost { .. },
                ..
            }
        ),
        "{err}"
    );
    // Once sshd is back, a stop ends it (or finds that the chain already did there).
    sshd.restart();
    let again = manager.stop(&handle).await.unwrap();
    assert!(
        matches!(
            again,
            Stopped::Stopped { .. } | Stopped::NotRunning { .. } | Stopped::StaleRecord { .. }
        ),
        "{again:?}"
    );
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_worker_of_a_local_queen_starts_after_it_and_stops_before_it() {
    let (sshd, _dir, manager) = setup();
    let worker = RemoteWorker {
        binary: BINARY.into(),
        port: free_port(),
        queen_port: free_port(),
        test: "rbee".into(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    };
    let queen = lifecycle_tests::handles::HttpDaemon {
        binary: BINARY.into(),
        port: worker.queen_port,
        test: "rbee-queen".into(),
        flags: String::new(),
    };
    let mut events = manager.subscribe();
    let running = manager.ensure_running(&worker).await.unwrap();
    assert_eq!(manager.status(&queen).await.unwrap().state, State::Ready);
    let queen_pid = manager.status(&queen).await.unwrap().pid.unwrap();
    // Stopping the queen stops the worker there first.
    manager.stop(&queen).await.unwrap();
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    assert!(wait_exit(queen_pid, Duration::from_secs(5)));
    let order: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|t| t.to == State::Stopped)
        .map(|t| t.daemon)
        .collect();
    assert_eq!(
        order,
        ["td-remote-worker@rbee", "td-http@rbee-queen"],
        "{order:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_large_starts_and_exits_keep_every_line_whole() {
    // Requests of tens of kilobytes (every space is four bytes on the wire) while daemons exit
    // and their exits are told: no request or answer may be cut by another line.
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let manager = manager_of(dir.path(), "local", sshd.client_config(), true);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let out = dir.path().join(format!("argv{i}"));
        let big = |k: usize| format!("{i}-{k}-{}", " ".repeat(1500));
        let args = [big(1), big(2), big(3), big(4), big(5), big(6)];
        let script = format!(
            "for a; do printf '%s\\0' \"$a\"; done > {o}.tmp && mv {o}.tmp {o} && {end}",
            o = out.display(),
            end = if i % 2 == 0 {
                "exit 3"
            } else {
                "exec sleep 60"
            }
        );
        let handle = RemoteArgv {
            script,
            a1: args[0].clone(),
            a2: args[1].clone(),
            a3: args[2].clone(),
            a4: args[3].clone(),
            a5: args[4].clone(),
            a6: args[5].clone(),
            test: format!("many-{i}"),
            host: sshd.host().into(),
            user: sshd.user(),
            ssh_port: sshd.port(),
        };
        let manager = manager.clone();
        tasks.push(tokio::spawn(async move {
            let started = manager.ensure_running(&handle).await;
            (out, args, started.map_err(|e| e.to_string()))
        }));
    }
    for task in tasks {
        let (out, args, started) = task.await.unwrap();
        started.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !out.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let written = std::fs::read(&out).unwrap();
        let got: Vec<&[u8]> = written
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .collect();
        let want: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        assert_eq!(got, want, "{}", out.display());
    }
    assert_eq!(ssh_children(&sshd).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_that_stops_on_drop_leaves_what_it_only_found_running() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let owner = manager_of(dir.path(), "local", sshd.client_config(), false);
    let handle = daemon(&sshd, "found-only", "");
    let running = owner.ensure_running(&handle).await.unwrap();
    let visitor = second_manager(dir.path(), &sshd);
    assert_eq!(
        visitor.ensure_running(&handle).await.unwrap().pid,
        running.pid
    );
    drop(visitor);
    // Its connection is gone by now, and its helper with it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while ssh_children(&sshd).len() > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ssh_children(&sshd).len(), 1);
    assert!(
        !wait_exit(running.pid, Duration::from_millis(500)),
        "killed by a manager that only found it"
    );
    owner.stop(&handle).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_record_crosses_in_pieces_and_is_read_whole() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let first = manager(dir.path(), &sshd);
    // Its command line (in its record) runs to kilobytes of two-byte characters.
    let long = "é".repeat(1000);
    let handle = RemoteArgv {
        script: "exec sleep 60".into(),
        a1: long.clone(),
        a2: long.clone(),
        a3: long.clone(),
        a4: String::new(),
        a5: String::new(),
        a6: String::new(),
        test: "long-record".into(),
        host: sshd.host().into(),
        user: sshd.user(),
        ssh_port: sshd.port(),
    };
    let running = first.ensure_running(&handle).await.unwrap();
    // Another manager finds it (the whole record, in the start's answer) and stops it by its
    // record (read whole by a status).
    let second = second_manager(dir.path(), &sshd);
    assert_eq!(
        second.ensure_running(&handle).await.unwrap().pid,
        running.pid
    );
    let third = manager_of(dir.path(), "third", sshd.client_config(), false);
    match third.stop(&handle).await.unwrap() {
        Stopped::Stopped { pid, .. } => assert_eq!(pid, running.pid),
        other => panic!("{other:?}"),
    }
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_shell_that_does_not_run_the_helper_is_a_clear_error() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    // The real ssh, whose remote command the "login shell" there does not understand (as a
    // shell that is not POSIX, or a forced command, would answer).
    let fake_ssh = dir.path().join("ssh-to-odd-shell");
    std::fs::write(
        &fake_ssh,
        "#!/bin/sh\n\
         for last; do :; done\n\
         n=$(($# - 1)); i=0\n\
         for a; do i=$((i + 1)); [ \"$i\" -le \"$n\" ] && set -- \"$@\" \"$a\"; done\n\
         shift $(($n + 1))\n\
         exec ssh \"$@\" 'echo \"odd-shell: Unknown command\" >&2; exit 127'\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &fake_ssh,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let manager = DaemonManager::builder()
        .state_dir(dir.path().join("local"))
        .ssh_config(sshd.client_config())
        .ssh_program(&fake_ssh)
        .build()
        .unwrap();
    let handle = daemon(&sshd, "odd-shell", "");
    let err = manager.ensure_running(&handle).await.unwrap_err();
    match &err {
        StartError::Remote {
            source:
                RemoteError::Helper {
                    destination,
                    message,
                },
            ..
        } => {
            assert!(destination.ends_with(&format!(":{}", sshd.port())), "{err}");
            assert!(message.contains("odd-shell"), "{err}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("/bin/sh -c"), "{err}");
}
