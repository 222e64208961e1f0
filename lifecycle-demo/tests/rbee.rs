//! The rbee demo runs to completion, fast, with the hive here and with the hive over SSH (a
//! real sshd on a loopback address, started by the tests' harness). The `rbee-stand-in` binary
//! stands in for the daemons (a test binary cannot). Each run is bounded; afterwards no
//! process of the demo's is left.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::net::Ipv4Addr;
use std::time::Duration;

use lifecycle_demo::{Options, Summary};
use lifecycle_tests::harness::{is_alive, processes};
use lifecycle_tests::sshd::Sshd;

const STAND_IN: &str = env!("CARGO_BIN_EXE_rbee-stand-in");

/// A whole run, generously: a fast run takes about 4 s.
const RUN_WITHIN: Duration = Duration::from_secs(120);

/// One run at a time: each checks that no stand-in process at all is left afterwards.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the demo with `options` (fast); its summary and its output (printed too, for a failing
/// test's log).
async fn run(mut options: Options) -> (Summary, String) {
    options.fast = true;
    let mut out = Vec::new();
    let result = tokio::time::timeout(RUN_WITHIN, lifecycle_demo::rbee(options, &mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    println!("{text}");
    match result {
        Ok(Ok(summary)) => (summary, text),
        Ok(Err(err)) => panic!("the demo failed: {err}"),
        Err(_) => panic!("the demo did not finish within {RUN_WITHIN:?}"),
    }
}

/// The live processes of the stand-in binary (daemons and relays).
fn stand_ins() -> Vec<u32> {
    processes("rbee-stand-in", None, |args| {
        args.first() == Some(&STAND_IN.as_bytes())
    })
}

/// What every run shows and leaves: the table, the crash and restart, the stops in reverse
/// order, nothing running.
fn check_run(summary: &Summary, text: &str) {
    for line in [
        "[1/5] the queen",
        "[2/5] the hive",
        "[3/5] two workers",
        "[4/5] a crash",
        "[5/5] stopping in reverse order",
    ] {
        assert!(text.contains(line), "no `{line}`");
    }
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("daemon "))
        .expect("a status table");
    for column in ["state", "pid", "uptime", "location", "ready at"] {
        assert!(header.contains(column), "{header}");
    }
    // Every daemon's row, Ready, with its probe URL.
    for name in ["queen-rbee ", "rbee-hive@", "vllm@", "llamacpp@"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(name)
                && l.contains(" Ready ")
                && l.contains("/health")),
            "no Ready row for {name}"
        );
    }
    let crash = &summary.crash;
    assert!(crash.key.starts_with("vllm@"), "{crash:?}");
    assert_eq!(crash.status, "exit code 1");
    assert_eq!(crash.attempt, 1);
    assert_ne!(crash.old_pid, crash.new_pid);
    assert!(text.contains(&format!(
        "{}{}Ready     -> Backoff#1 exited: exit code 1; restart 1 after its backoff",
        crash.key,
        " ".repeat(22 - crash.key.len() + 1)
    )));
    assert!(text.contains("Backoff#1 -> Starting  backoff over: restarting"));
    assert!(text.contains(&format!("is ready again: pid {}", crash.new_pid)));
    // The stops, in reverse order.
    let stopped: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("-> "))
        .filter(|l| l.contains(" stopped in "))
        .collect();
    let order: Vec<&str> = stopped
        .iter()
        .map(|l| l.split(['@', ' ']).next().unwrap())
        .collect();
    assert_eq!(
        order,
        ["llamacpp", "vllm", "rbee-hive", "queen-rbee"],
        "{stopped:?}"
    );
    assert!(text.contains("\nprocesses left running: none\n"));
    // Five processes at least (queen, hive, two workers, the restart); all gone.
    let all: Vec<u32> = summary
        .local_pids
        .iter()
        .chain(&summary.remote_pids)
        .map(|(_, pid)| *pid)
        .collect();
    assert!(all.len() >= 5, "{summary:?}");
    assert!(all.contains(&crash.old_pid) && all.contains(&crash.new_pid));
    let alive: Vec<u32> = all.into_iter().filter(|&pid| is_alive(pid)).collect();
    assert!(alive.is_empty(), "left running: {alive:?}");
    assert_eq!(stand_ins(), Vec::<u32>::new(), "stand-in processes left");
    assert!(summary.elapsed < Duration::from_secs(30), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_with_a_local_hive() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (summary, text) = run(Options::new(STAND_IN.into())).await;
    check_run(&summary, &text);
    assert_eq!(summary.hive_location, "local");
    assert!(summary.remote_pids.is_empty(), "{summary:?}");
    assert!(text.contains("the hive: local (127.0.0.1 is one of the hive spec's local_hosts)"));
}

/// The hive over SSH to a real sshd on 127.0.0.2: not one of the hive spec's `local_hosts`
/// (127.0.0.1 is), so the hive runs through `ssh`, and its readiness is probed at
/// `http://127.0.0.2:PORT/health`, which the stand-in's relay answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_with_the_hive_over_ssh() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sshd = Sshd::start_in(None, Ipv4Addr::new(127, 0, 0, 2));
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote");
    let destination = format!("{}@{}:{}", sshd.user(), sshd.host(), sshd.port());
    let mut options = Options::new(STAND_IN.into());
    options.hive_host = Some(destination.parse().unwrap());
    options.ssh_config = Some(sshd.client_config().to_owned());
    options.remote_state_dir = Some(remote.to_string_lossy().into_owned());
    let (summary, text) = run(options).await;
    check_run(&summary, &text);
    assert_eq!(summary.hive_location, destination);
    assert!(text.contains(&format!("the hive: over SSH, {destination}")));
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("rbee-hive@127.0.0.2")
                && l.contains(&destination)
                && l.contains("http://127.0.0.2:")),
        "the hive's row names its host"
    );
    let hive: Vec<&(String, u32)> = summary.remote_pids.iter().collect();
    assert!(
        !hive.is_empty() && hive.iter().all(|(key, _)| key == "rbee-hive@127.0.0.2"),
        "{summary:?}"
    );
    assert!(
        summary
            .local_pids
            .iter()
            .all(|(key, _)| !key.starts_with("rbee-hive"))
    );
    // The hive's log is on "the host", in the remote state directory: it started over SSH and
    // answered on 127.0.0.2 through its relay.
    let log = std::fs::read_to_string(remote.join("logs/rbee-hive@127.0.0.2.log"))
        .expect("the hive's log in the remote state directory");
    assert!(log.contains("rbee relay: 127.0.0.2:"), "{log}");
}
