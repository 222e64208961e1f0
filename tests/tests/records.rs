//! Records, the one truth across processes: what a real start writes, what a manager does with
//! stale ones (process gone, another boot, PID reused, malformed, another version), records it
//! must not believe (not owned by the user, a symbolic link), status read from a record, and
//! a descriptor shortage that must not make a live daemon look gone.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use lifecycle_core::{
    StartError, State, Stopped,
    record::{Record, RecordState},
};
use lifecycle_tests::handles::{HttpDaemon, Worker};
use lifecycle_tests::harness::{
    KillOnDrop, boot_id, free_port, is_alive, manager_in, record, setup, start_time, wait_exit,
    wait_for_record, wait_for_removal, write_record,
};

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");
const CLIENT: &str = env!("CARGO_BIN_EXE_client");

fn http(test: &str) -> HttpDaemon {
    HttpDaemon {
        binary: BINARY.into(),
        port: free_port(),
        test: test.into(),
        flags: String::new(),
    }
}

fn read_record(dir: &std::path::Path, key: &str) -> Record {
    Record::parse(&std::fs::read_to_string(dir.join(format!("daemons/{key}.record"))).unwrap())
        .unwrap()
}

/// A process that has exited and been reaped: its PID and start time name nothing now.
fn gone_process() -> (u32, u64) {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    let started = start_time(pid).unwrap_or(1);
    child.wait().unwrap();
    (pid, started)
}

/// A stranger: a process in a group of its own, not started by the library.
fn stranger() -> std::process::Child {
    Command::new("sleep")
        .arg("60")
        .process_group(0)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_start_records_state_identity_chain_and_dependencies() {
    let s = setup();
    let worker = Worker {
        binary: BINARY.into(),
        port: free_port(),
        queen_port: free_port(),
        test: "record-contents".into(),
    };
    let running = s.manager.ensure_running(&worker).await.unwrap();
    let path = s
        .dir
        .path()
        .join("daemons/td-worker@record-contents.record");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Ready one write after the caller was told.
    let r = wait_for_record(
        s.dir.path(),
        "td-worker@record-contents",
        Duration::from_secs(5),
        |r| r.state == RecordState::Ready,
    )
    .expect("the record says ready");
    assert_eq!(r.generation, 2, "written starting, then ready");
    assert_eq!((r.pid, r.pgid), (running.pid, running.pid));
    assert_eq!(Some(r.start_time), start_time(running.pid));
    assert_eq!(r.boot_id, boot_id());
    assert_eq!(r.parent.0, std::process::id(), "this process spawned it");
    assert_eq!(r.restarts, 0);
    assert_eq!(r.depends_on, ["td-http@record-contents-queen"]);
    assert_eq!(r.stop, ["signal SIGTERM 5000"]);
    assert_eq!(
        r.probe.as_deref(),
        Some(format!("http://127.0.0.1:{}/health", worker.port).as_str())
    );
    assert!(r.command.ends_with(&format!("--port {}", worker.port)));
    s.manager.stop(&worker).await.unwrap();
    assert!(
        wait_for_removal(&path, Duration::from_secs(5)),
        "a stop removes the record (one write after its answer)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_of_another_boot_is_removed_and_nothing_is_signalled() {
    let s = setup();
    let daemon = http("other-boot");
    // The numbers of the record are a live stranger's group now: after a reboot they are
    // whoever has them.
    let mut stranger = stranger();
    let mut r = record(
        "td-http@other-boot",
        stranger.id(),
        start_time(stranger.id()).unwrap(),
    );
    r.boot_id = "an-earlier-boot".into();
    let path = write_record(s.dir.path(), &r);
    let stopped = s.manager.stop(&daemon).await.unwrap();
    assert!(
        matches!(&stopped, Stopped::StaleRecord { reason, .. } if reason.contains("another boot")),
        "{stopped:?}"
    );
    assert!(!path.exists());
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "the stranger was signalled"
    );
    // Through a start: the same, and a daemon of ours is started.
    write_record(s.dir.path(), &r);
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    assert!(running.started);
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "the stranger was signalled"
    );
    s.manager.stop(&daemon).await.unwrap();
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_whose_process_is_gone_is_removed() {
    let s = setup();
    let daemon = http("gone");
    let (pid, started) = gone_process();
    let path = write_record(s.dir.path(), &record("td-http@gone", pid, started));
    let stopped = s.manager.stop(&daemon).await.unwrap();
    assert!(
        matches!(&stopped, Stopped::StaleRecord { pid: p, reason, .. } if *p == pid && reason.contains("gone")),
        "{stopped:?}"
    );
    assert!(!path.exists());
    write_record(s.dir.path(), &record("td-http@gone", pid, started));
    assert!(s.manager.ensure_running(&daemon).await.unwrap().started);
    s.manager.stop(&daemon).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_record_names_nothing_and_another_version_is_left_alone() {
    let s = setup();
    let daemon = http("malformed");
    let path = s.dir.path().join("daemons/td-http@malformed.record");
    std::fs::write(&path, "version=2\nkey=td-http@malformed\npid=").unwrap();
    let running = s.manager.ensure_running(&daemon).await.unwrap();
    assert!(
        running.started,
        "a torn record is replaced by the next start"
    );
    s.manager.stop(&daemon).await.unwrap();
    // The stopped process's record goes after the answer, before the owner takes its next
    // command: a second stop finds none, and nothing of ours writes the file after this.
    let again = s.manager.stop(&daemon).await.unwrap();
    assert!(matches!(again, Stopped::NotRunning { .. }), "{again:?}");

    std::fs::write(&path, "version=9\nkey=td-http@malformed\n").unwrap();
    let err = s.manager.ensure_running(&daemon).await.unwrap_err();
    assert!(
        matches!(&err, StartError::Record { source, .. } if source.to_string().contains("version 9")),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "version=9\nkey=td-http@malformed\n",
        "left alone"
    );
    assert!(s.manager.stop(&daemon).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_managers_own_group_is_never_swept() {
    // A process in a group of its own writes a record naming a gone process whose group is
    // that process's own, and stops it: a sweep of that group would kill the stopper.
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(CLIENT)
        .arg("own-group-stop")
        .arg("--state")
        .arg(dir.path())
        .process_group(0)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{:?}: {stdout}", output.status);
    assert!(stdout.contains("stopped StaleRecord"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_read_from_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = HttpDaemon {
        flags: "--ready-after 1500".into(),
        ..http("status-record")
    };
    // Started by another process, which stays (a manager elsewhere).
    let mut child = Command::new(CLIENT)
        .arg("ensure")
        .arg("--state")
        .arg(dir.path())
        .args(["--kind", "http", "--binary", BINARY, "--test", &daemon.test])
        .args(["--port", &daemon.port.to_string(), "--flags", &daemon.flags])
        .arg("--stay")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let pid: u32 = lines.next().unwrap().unwrap()["spawned ".len()..]
        .parse()
        .unwrap();
    let _guard = KillOnDrop::new(pid);
    let manager = manager_in(dir.path());
    let status = manager.status(&daemon).await.unwrap();
    assert_eq!((status.state, status.pid), (State::Starting, Some(pid)));
    assert_eq!(status.healthy, None);
    assert_eq!(lines.next().unwrap().unwrap(), format!("ready {pid}"));
    wait_for_record(
        dir.path(),
        "td-http@status-record",
        Duration::from_secs(5),
        |r| r.state == RecordState::Ready,
    )
    .expect("the record says ready");
    let status = manager.status(&daemon).await.unwrap();
    assert_eq!(
        (status.state, status.pid, status.healthy),
        (State::Ready, Some(pid), Some(true))
    );
    drop(child.stdin.take());
    child.wait().unwrap();
    // An exit recorded as a failure reads as one. (The stop's record goes one write after its
    // answer: this test writes without the daemon's lock, so it waits for that first.)
    manager.stop(&daemon).await.unwrap();
    assert!(wait_for_removal(
        &dir.path().join("daemons/td-http@status-record.record"),
        Duration::from_secs(5)
    ));
    let mut failed = record("td-http@status-record", 1, 1);
    failed.state = RecordState::Exited {
        exit: lifecycle_core::Exit {
            code: Some(3),
            signal: None,
        },
        failure: Some("exited on its own: exit code 3".into()),
    };
    write_record(dir.path(), &failed);
    let status = manager.status(&daemon).await.unwrap();
    assert_eq!(
        status.state,
        State::Failed {
            reason: "exited on its own: exit code 3".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_that_are_links_or_not_ours_are_ignored() {
    let s = setup();
    let daemon = http("forged");
    let mut stranger = stranger();
    let forged = record(
        "td-http@forged",
        stranger.id(),
        start_time(stranger.id()).unwrap(),
    );
    // A symbolic link where the record belongs, to a record naming the stranger.
    let elsewhere = s.dir.path().join("elsewhere.record");
    std::fs::write(&elsewhere, forged.to_text()).unwrap();
    std::os::unix::fs::symlink(
        &elsewhere,
        s.dir.path().join("daemons/td-http@forged.record"),
    )
    .unwrap();
    assert_eq!(
        s.manager.stop(&daemon).await.unwrap(),
        Stopped::NotRunning {
            key: "td-http@forged".into()
        }
    );
    assert!(stranger.try_wait().unwrap().is_none());
    // A record owned by another user (root can make one; others cannot plant one in a 0700
    // directory anyway).
    if nix::unistd::geteuid().is_root() {
        std::fs::remove_file(s.dir.path().join("daemons/td-http@forged.record")).unwrap();
        let path = write_record(s.dir.path(), &forged);
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        assert_eq!(
            s.manager.stop(&daemon).await.unwrap(),
            Stopped::NotRunning {
                key: "td-http@forged".into()
            }
        );
        let running = s.manager.ensure_running(&daemon).await.unwrap();
        assert!(running.started && running.pid != stranger.id());
        s.manager.stop(&daemon).await.unwrap();
    } else {
        eprintln!("not root: the foreign-owner case needs chown; skipped");
    }
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "the stranger was signalled"
    );
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_shortage_is_an_error_not_a_dead_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = http("emfile");
    let output = Command::new(CLIENT)
        .arg("emfile")
        .arg("--state")
        .arg(dir.path())
        .args(["--binary", BINARY, "--test", &daemon.test])
        .args(["--port", &daemon.port.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = stdout.lines();
    let first: u32 = lines
        .next()
        .and_then(|l| l.strip_prefix("ready "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    let _guard = KillOnDrop::new(first);
    let second = lines.next().unwrap_or_default();
    assert!(
        second.starts_with("error ") || second == format!("ready {first}"),
        "{stdout}"
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("spawned")),
        "a second copy was spawned: {stdout}"
    );
    assert!(is_alive(first));
    let r = read_record(dir.path(), "td-http@emfile");
    assert_eq!(r.pid, first, "the record of the live daemon is kept");
    let manager = manager_in(dir.path());
    assert!(manager.stop(&daemon).await.unwrap().was_running());
    assert!(wait_exit(first, Duration::from_secs(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_dead_leader_left_in_its_group_is_swept() {
    let s = setup();
    lifecycle_tests::harness::assert_a_dead_leaders_group_is_swept(&s.manager, s.dir.path()).await;
}
