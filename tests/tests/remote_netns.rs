//! Daemons on test hosts that are network namespaces (`lifecycle_tests::netns`): each host has
//! its own network stack and a real sshd, so a daemon binding 127.0.0.1 there is out of the
//! manager's reach, as on a real remote host, while its processes stay visible in `/proc` here.
//! A spec with `location.ssh.probe: host` probes through a forward of the SSH connection; one
//! without probes from the manager and never sees the daemon ready.
//!
//! Each daemon's port is one free on this namespace's 127.0.0.1 (`free_port`), and the tests
//! check that nothing answers on it here while the daemon serves on its host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, Running, StartError, State, Stopped};
use lifecycle_tests::harness::{free_port, is_alive, processes, wait_exit};
use lifecycle_tests::netns::NetnsHost;
use lifecycle_tests::sshd::Sshd;

const BINARY: &str = env!("CARGO_BIN_EXE_test-daemon");

/// How long a test host has, once its managers are dropped, for what they left there (their
/// helper shells) to end.
const SETTLE: Duration = Duration::from_secs(5);

/// The test daemon binding 127.0.0.1:`port` on its host, probed from that host.
#[derive(lifecycle_core::Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_probe_host.yaml")]
struct ProbeFromHost {
    binary: String,
    port: u16,
    test: String,
    host: String,
    user: String,
    ssh_port: u16,
}

/// The same daemon probed from the manager (the default), with a 2 s deadline.
#[derive(lifecycle_core::Lifecycle, Clone, Debug)]
#[lifecycle(spec = "specs/remote_probe_manager.yaml")]
struct ProbeFromManager {
    binary: String,
    port: u16,
    test: String,
    host: String,
    user: String,
    ssh_port: u16,
}

/// A manager whose SSH connections use client configuration `ssh_config` and whose remote state
/// directory is `remote` under `dir` (the hosts share this machine's files).
fn manager(dir: &Path, ssh_config: &Path) -> DaemonManager {
    DaemonManager::builder()
        .state_dir(dir.join("local"))
        .remote_state_dir(dir.join("remote").to_string_lossy().into_owned())
        .ssh_config(ssh_config)
        .ssh_connect_timeout(Duration::from_secs(5))
        .stop_on_drop(true)
        .build()
        .unwrap()
}

fn probe_from_host(host: &NetnsHost, port: u16, test: &str) -> ProbeFromHost {
    ProbeFromHost {
        binary: BINARY.into(),
        port,
        test: test.into(),
        host: host.sshd().host().into(),
        user: host.sshd().user(),
        ssh_port: host.sshd().port(),
    }
}

fn record_path(dir: &Path, key: &str) -> PathBuf {
    dir.join("remote/daemons").join(format!("{key}.record"))
}

/// Asserts that nothing answers on 127.0.0.1:`port` here, in the test's namespace.
fn assert_refused_here(port: u16) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => panic!("something answers on {addr} in the test's namespace"),
        Err(err) => assert_eq!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{addr}: {err}"
        ),
    }
}

/// A command sending `GET /health` to 127.0.0.1:`port` inside `host` (bash's `/dev/tcp`, run
/// there with `ip netns exec`), printing the response.
fn health_inside_command(host: &NetnsHost, port: u16) -> Command {
    let mut command = host.command("bash");
    command
        .args([
            "-c",
            "exec 3<>/dev/tcp/127.0.0.1/\"$0\" && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
        ])
        .arg(port.to_string())
        .stdin(Stdio::null());
    command
}

/// Runs a [`health_inside_command`]: the response's status line, or bash's complaint.
fn health_inside(mut command: Command) -> String {
    let out = command.output().unwrap();
    if out.status.success() {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    } else {
        format!("failed: {}", String::from_utf8_lossy(&out.stderr).trim())
    }
}

/// The live test daemons (on any host: this machine's `/proc` shows them all) started with
/// `--port PORT`.
fn test_daemons_on(port: u16) -> Vec<u32> {
    let port = port.to_string();
    let mut found = Vec::new();
    for pid in lifecycle_tests::harness::pids() {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let is_daemon = args.first().is_some_and(|a| a.ends_with(b"test-daemon"));
        let on_port = args
            .windows(2)
            .any(|w| w[0] == b"--port" && w[1] == port.as_bytes());
        if is_daemon && on_port && is_alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// The `ssh` connections this test process runs to `host` (its children named `ssh` with the
/// host's address among their arguments, control requests `-O` aside).
fn ssh_children(host: &NetnsHost) -> Vec<u32> {
    let address = host.address().to_string();
    processes("ssh", Some(std::process::id()), |args| {
        // `ssh -O forward|cancel` talks to a master's control socket: no connection of its own.
        args.contains(&address.as_bytes()) && !args.contains(&b"-O".as_slice())
    })
}

/// Whether `ssh` process `pid` is a master (`-M`).
fn is_master(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .any(|a| a == b"-M")
}

/// The TCP sockets in LISTEN state that the `ssh` processes of `host` hold (its masters'
/// local forwards), waiting up to 5 s for them to be `want` (a cancel is asynchronous).
fn forward_listeners(host: &NetnsHost, want: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut inodes = Vec::new();
        for pid in ssh_children(host) {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    let target = target.to_string_lossy().into_owned();
                    if let Some(inode) = target
                        .strip_prefix("socket:[")
                        .and_then(|t| t.strip_suffix(']'))
                    {
                        inodes.push(inode.to_owned());
                    }
                }
            }
        }
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default()
            + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
        let listening = table
            .lines()
            .skip(1)
            .filter(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.get(3) == Some(&"0A")
                    && cols.get(9).is_some_and(|i| inodes.iter().any(|n| n == i))
            })
            .count();
        if listening == want || std::time::Instant::now() > deadline {
            return listening;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Drops `manager` (its connections end, and their helper shells on the hosts), then asserts
/// that nothing is left on `hosts` but their sshd.
fn assert_nothing_left(manager: DaemonManager, hosts: &[&NetnsHost]) {
    drop(manager);
    for host in hosts {
        let left = host.wait_leftovers(SETTLE);
        assert!(
            left.is_empty(),
            "left running in {} ({}):\n{}",
            host.name(),
            host.address(),
            left.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_from_the_host_reaches_a_port_the_manager_cannot() {
    let host = NetnsHost::start();
    let dir = tempfile::tempdir().unwrap();
    let manager = manager(dir.path(), host.sshd().client_config());
    let port = free_port();
    assert_refused_here(port);
    let handle = probe_from_host(&host, port, "probe-host");

    let running = manager.ensure_running(&handle).await.unwrap();
    assert!(running.started);
    assert!(is_alive(running.pid));
    assert!(
        host.processes().contains(&running.pid),
        "daemon {} does not run in {}",
        running.pid,
        host.name()
    );
    // It serves there, and still nothing answers here: the probe went through the host.
    let inside = health_inside(health_inside_command(&host, port));
    assert!(inside.contains(" 200"), "{inside}");
    assert_refused_here(port);
    let record = std::fs::read_to_string(record_path(dir.path(), "td-netns@probe-host"))
        .expect("the record is kept on the host");
    assert!(record.contains("state=ready\n"), "{record}");

    // The probe's forward went with the wait: no listener of the master is left here for
    // another local user to reach the host's loopback through.
    assert_eq!(forward_listeners(&host, 0), 0);
    let status = manager.status(&handle).await.unwrap();
    assert_eq!(status.state, State::Ready);
    assert_eq!(status.pid, Some(running.pid));
    assert_eq!(status.healthy, Some(true), "{status:?}");
    assert_eq!(forward_listeners(&host, 0), 0);

    match manager.stop(&handle).await.unwrap() {
        Stopped::Stopped { pid, killed, .. } => {
            assert_eq!(pid, running.pid);
            assert!(!killed, "SIGTERM is enough for the test daemon");
        }
        other => panic!("{other:?}"),
    }
    assert!(wait_exit(running.pid, Duration::from_secs(5)));
    assert!(!is_alive(running.pid));
    assert_eq!(test_daemons_on(port), Vec::<u32>::new());
    assert!(!record_path(dir.path(), "td-netns@probe-host").exists());
    assert_nothing_left(manager, &[&host]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_host_probe_the_same_daemon_is_never_ready_from_here() {
    let host = NetnsHost::start();
    let dir = tempfile::tempdir().unwrap();
    let manager = manager(dir.path(), host.sshd().client_config());
    let port = free_port();
    let handle = ProbeFromManager {
        binary: BINARY.into(),
        port,
        test: "probe-manager".into(),
        host: host.sshd().host().into(),
        user: host.sshd().user(),
        ssh_port: host.sshd().port(),
    };
    let began = Instant::now();
    let start = tokio::spawn({
        let manager = manager.clone();
        let handle = handle.clone();
        async move { manager.ensure_running(&handle).await }
    });

    // Meanwhile the daemon does come up on its host: ready there, never from here.
    let mut seen = String::new();
    while !start.is_finished() && !seen.contains(" 200") {
        let command = health_inside_command(&host, port);
        seen = tokio::task::spawn_blocking(move || health_inside(command))
            .await
            .unwrap();
        if !seen.contains(" 200") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        seen.contains(" 200"),
        "the daemon never served inside {} before the start ended: {seen}",
        host.name()
    );
    assert_refused_here(port);

    let err = start.await.unwrap().unwrap_err();
    let took = began.elapsed();
    match &err {
        StartError::TimedOut {
            deadline,
            attempts,
            last_error,
            ..
        } => {
            assert_eq!(*deadline, Duration::from_secs(2));
            assert!(*attempts > 1, "{err}");
            assert!(last_error.contains("refused"), "{last_error}");
        }
        other => panic!("{other}"),
    }
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");

    // Nothing is left running: the daemon was killed on its host, its record removed.
    assert_eq!(test_daemons_on(port), Vec::<u32>::new());
    assert!(!record_path(dir.path(), "td-netns-manager@probe-manager").exists());
    let status = manager.status(&handle).await.unwrap();
    assert_eq!(status.pid, None, "{status:?}");
    assert_nothing_left(manager, &[&host]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_hosts_in_parallel() {
    const HOSTS: usize = 3;
    const PER_HOST: usize = 3;
    let hosts: Vec<NetnsHost> = (0..HOSTS).map(|_| NetnsHost::start()).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ssh_config");
    let servers: Vec<&Sshd> = hosts.iter().map(NetnsHost::sshd).collect();
    Sshd::shared_client_config(&servers, &config);
    let manager = manager(dir.path(), &config);

    let mut handles: Vec<(usize, ProbeFromHost)> = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        for d in 0..PER_HOST {
            let test = format!("parallel-{h}-{d}");
            handles.push((h, probe_from_host(host, free_port(), &test)));
        }
    }

    // Every start at once, through one manager.
    let starts: Vec<_> = handles
        .iter()
        .map(|(_, handle)| {
            let manager = manager.clone();
            let handle = handle.clone();
            tokio::spawn(async move { manager.ensure_running(&handle).await })
        })
        .collect();
    let mut running: Vec<Running> = Vec::new();
    for ((h, handle), start) in handles.iter().zip(starts) {
        let started = start
            .await
            .unwrap()
            .unwrap_or_else(|err| panic!("{} on host {h}: {err}", handle.test));
        assert!(started.started, "{}", handle.test);
        assert!(
            hosts[*h].processes().contains(&started.pid),
            "{} ({}) does not run in {}",
            handle.test,
            started.pid,
            hosts[*h].name()
        );
        running.push(started);
    }
    for (h, handle) in &handles {
        assert_refused_here(handle.port);
        let status = manager.status(handle).await.unwrap();
        assert_eq!(status.state, State::Ready, "{}", handle.test);
        assert_eq!(status.healthy, Some(true), "{} on host {h}", handle.test);
    }
    for host in &hosts {
        let ssh = ssh_children(host);
        assert_eq!(ssh.len(), 1, "ssh processes to {}: {ssh:?}", host.address());
        assert!(is_master(ssh[0]), "{} is not a master", ssh[0]);
    }

    // Every stop at once.
    let stops: Vec<_> = handles
        .iter()
        .map(|(_, handle)| {
            let manager = manager.clone();
            let handle = handle.clone();
            tokio::spawn(async move { manager.stop(&handle).await })
        })
        .collect();
    for (((_, handle), stop), started) in handles.iter().zip(stops).zip(&running) {
        match stop.await.unwrap().unwrap() {
            Stopped::Stopped { pid, .. } => assert_eq!(pid, started.pid, "{}", handle.test),
            other => panic!("{}: {other:?}", handle.test),
        }
    }
    for ((_, handle), started) in handles.iter().zip(&running) {
        assert!(
            wait_exit(started.pid, Duration::from_secs(5)),
            "{} ({}) still runs",
            handle.test,
            started.pid
        );
        assert_eq!(test_daemons_on(handle.port), Vec::<u32>::new());
        assert!(!record_path(dir.path(), &format!("td-netns@{}", handle.test)).exists());
    }
    for host in &hosts {
        assert_eq!(
            ssh_children(host).len(),
            1,
            "still one master to {} after the stops",
            host.address()
        );
    }
    assert_nothing_left(manager, &hosts.iter().collect::<Vec<_>>());
    for host in &hosts {
        assert!(
            ssh_children(host).is_empty(),
            "the master to {} outlived its manager",
            host.address()
        );
    }
}
