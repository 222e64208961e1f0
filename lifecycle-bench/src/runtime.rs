//! The runtime figures: stop, kill after the grace, readiness latency, and many daemons at once;
//! each beside the hand-written pattern in the same run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifecycle_core::DaemonManager;
use lifecycle_tests::harness::is_alive;

use crate::baseline;
use crate::figures;
use crate::handles::{Fast, Http, Notify, Stubborn};
use crate::stats::{Sample, show};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the runtime benchmarks share.
pub(crate) struct Bench {
    pub(crate) binary: String,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) manager: DaemonManager,
    pub(crate) runs: usize,
}

/// `n` distinct ports free on loopback right now, below the ephemeral range (see
/// [`lifecycle_tests::harness::free_port`]).
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| lifecycle_tests::harness::free_port())
        .filter(|&p| p != 0)
        .collect()
}

/// Waits until the daemon by hand on `port` answers its health check.
pub(crate) async fn healthy(port: u16) -> Result<(), Error> {
    let url = format!("http://127.0.0.1:{port}/health");
    Ok(
        lifecycle_core::compat::poll_until_healthy(&url, Duration::from_secs(10), None, None)
            .await?,
    )
}

/// The CLOCK_MONOTONIC time now, in nanoseconds (the clock the daemon stamps readiness with).
pub(crate) fn monotonic_ns() -> i128 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()))
        .unwrap_or(0)
}

/// How long before `now` the daemon became ready (its stamp in `file`, which the daemon writes
/// just after signalling readiness: it may take a moment to appear).
pub(crate) async fn since_ready(file: &Path, now: i128) -> Result<Duration, Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        match std::fs::read_to_string(file) {
            Ok(text) => break text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && Instant::now() < deadline => {
                tokio::task::yield_now().await
            }
            Err(e) => return Err(e.into()),
        }
    };
    let ready_at: i128 = text.trim().parse()?;
    Ok(Duration::from_nanos(u64::try_from(
        (now - ready_at).max(0),
    )?))
}

/// A row of ours beside the hand-written pattern; records both medians as `runtime.ID.*`.
fn row(what: &str, id: &str, ours: &Sample, theirs: &Sample) {
    let (o, t) = (ours.median(), theirs.median());
    figures::time(format!("runtime.{id}.ours"), o);
    figures::time(format!("runtime.{id}.by_hand"), t);
    let ratio = t.as_secs_f64() / o.as_secs_f64().max(1e-9);
    let ratio = if ratio < 10.0 {
        format!("{ratio:.2}×")
    } else {
        format!("{ratio:.0}×")
    };
    println!("| {what} | {} | {} | {ratio} |", show(o), show(t));
}

impl Bench {
    pub(crate) fn new(runs: usize) -> Result<Bench, Error> {
        let dir = tempfile::tempdir()?;
        let manager = DaemonManager::builder()
            .state_dir(dir.path().join("state"))
            .stop_on_drop(true)
            .build()?;
        // The free functions (is_daemon_healthy) use the global manager: this one.
        let _ = DaemonManager::set_global(manager.clone());
        let binary = std::env::current_exe()?.to_string_lossy().into_owned();
        Ok(Bench {
            binary,
            dir,
            manager,
            runs,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log_dir(&self) -> String {
        self.path("logs").to_string_lossy().into_owned()
    }

    fn http(&self, id: String, port: u16, ready_after: u64, exit_after_sigterm: u64) -> Http {
        let ready_file = self
            .path(&format!("{id}.ready"))
            .to_string_lossy()
            .into_owned();
        Http {
            binary: self.binary.clone(),
            id,
            port,
            ready_after,
            ready_file,
            exit_after_sigterm,
            log_dir: self.log_dir(),
        }
    }

    /// A daemon that exits 50 ms after SIGTERM: our stop against SIGTERM + fixed 5 s sleep.
    pub(crate) async fn stop(&self) -> Result<(), Error> {
        let mut ours = Vec::new();
        for (i, port) in free_ports(self.runs).into_iter().enumerate() {
            let daemon = self.http(format!("stop-{i}"), port, 0, 50);
            self.manager.ensure_running(&daemon).await?;
            let started = Instant::now();
            self.manager.stop(&daemon).await?;
            ours.push(started.elapsed());
        }
        let mut children = Vec::new();
        for port in free_ports(self.runs) {
            let args = [
                "--port".to_owned(),
                port.to_string(),
                "--exit-after-sigterm".to_owned(),
                "50".to_owned(),
            ];
            children.push((baseline::spawn(&self.binary, &args)?, port));
        }
        for (_, port) in &children {
            healthy(*port).await?;
        }
        let stops = children.into_iter().map(|(mut child, _)| {
            tokio::spawn(async move { baseline::stop_with_fixed_sleep(&mut child).await })
        });
        let mut theirs = Vec::new();
        for stop in stops.collect::<Vec<_>>() {
            theirs.push(stop.await?);
        }
        row(
            "stop, daemon exits 50 ms after SIGTERM",
            "stop_exit_50ms",
            &Sample(ours),
            &Sample(theirs),
        );
        Ok(())
    }

    /// A SIGTERM-ignoring daemon with a SIGTERM-ignoring grandchild, grace 1 s.
    pub(crate) async fn kill(&self) -> Result<(), Error> {
        let mut ours = Vec::new();
        for (i, port) in free_ports(self.runs).into_iter().enumerate() {
            let grandchild_file = self.path(&format!("kill-{i}.grandchild"));
            let daemon = Stubborn {
                binary: self.binary.clone(),
                id: format!("kill-{i}"),
                port,
                grandchild_file: grandchild_file.to_string_lossy().into_owned(),
                log_dir: self.log_dir(),
            };
            let running = self.manager.ensure_running(&daemon).await?;
            let grandchild: u32 = std::fs::read_to_string(&grandchild_file)?.trim().parse()?;
            let started = Instant::now();
            self.manager.stop(&daemon).await?;
            ours.push(started.elapsed());
            if is_alive(running.pid) || is_alive(grandchild) {
                return Err(format!("run {i}: something survived the stop").into());
            }
        }
        let mut children = Vec::new();
        for (i, port) in free_ports(self.runs).into_iter().enumerate() {
            let file = self.path(&format!("kill-baseline-{i}.grandchild"));
            let args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--ignore-sigterm",
                "--fork-grandchild",
                "--grandchild-pid-file",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([file.to_string_lossy().into_owned()])
            .collect();
            children.push((baseline::spawn(&self.binary, &args)?, port, file));
        }
        // Each grandchild pinned by a pidfd while its parent is our child: what is signalled
        // at the end is that process, whatever happens to its number.
        let mut grandchildren = Vec::new();
        for (child, port, file) in &children {
            healthy(*port).await?;
            let pid = std::fs::read_to_string(file)?.trim().parse::<u32>()?;
            grandchildren.push(
                lifecycle_tests::pidfd::child_of(child.id(), pid)
                    .ok_or_else(|| format!("{pid} is not the child of {}", child.id()))?,
            );
        }
        let stops: Vec<_> = children
            .into_iter()
            .map(|(mut child, _, _)| {
                tokio::spawn(async move { baseline::stop_with_fixed_sleep(&mut child).await })
            })
            .collect();
        let mut theirs = Vec::new();
        for stop in stops {
            theirs.push(stop.await?);
        }
        let survivors = grandchildren
            .iter()
            .filter(|pidfd| !lifecycle_tests::pidfd::wait_exit(pidfd, Duration::ZERO))
            .count();
        for pidfd in &grandchildren {
            let _ = lifecycle_tests::pidfd::signal(pidfd, nix::sys::signal::Signal::SIGKILL);
        }
        row(
            "SIGTERM-ignoring daemon + grandchild, grace 1 s: gone",
            "stop_stubborn",
            &Sample(ours),
            &Sample(theirs),
        );
        figures::count(
            "runtime.stop_stubborn.grandchildren_left_by_hand",
            survivors,
        );
        println!(
            "|  grandchildren left alive | 0 of {} | {survivors} of {} | |",
            self.runs, self.runs
        );
        Ok(())
    }

    /// Readiness latency: from the moment the daemon is ready to the moment the caller knows.
    pub(crate) async fn readiness(&self) -> Result<(), Error> {
        // Notify: awaited, one run after another for a clean figure.
        let mut notify = Vec::new();
        for i in 0..self.runs {
            let ready_file = self.path(&format!("notify-{i}.ready"));
            let daemon = Notify {
                binary: self.binary.clone(),
                id: format!("notify-{i}"),
                ready_after: 200,
                ready_file: ready_file.to_string_lossy().into_owned(),
                log_dir: self.log_dir(),
            };
            self.manager.ensure_running(&daemon).await?;
            let now = monotonic_ns();
            notify.push(since_ready(&ready_file, now).await?);
            self.manager.stop(&daemon).await?;
        }
        // HTTP, ready after 1 s: our default backoff against 200 ms × 1.5 with a new client each time.
        let mut http = Vec::new();
        let ports = free_ports(self.runs);
        let daemons: Vec<Http> = ports
            .iter()
            .enumerate()
            .map(|(i, &port)| self.http(format!("http-{i}"), port, 1000, 0))
            .collect();
        let ups: Vec<_> = daemons
            .iter()
            .map(|d| tokio::spawn(self.manager.ensure_running(d)))
            .collect();
        for (up, daemon) in ups.into_iter().zip(&daemons) {
            up.await??;
            let now = monotonic_ns();
            http.push(since_ready(Path::new(&daemon.ready_file), now).await?);
        }
        for daemon in &daemons {
            self.manager.stop(daemon).await?;
        }
        let mut children = Vec::new();
        for (i, port) in free_ports(self.runs).into_iter().enumerate() {
            let file = self.path(&format!("http-baseline-{i}.ready"));
            let args = [
                "--port".to_owned(),
                port.to_string(),
                "--ready-after".to_owned(),
                "1000".to_owned(),
                "--ready-time-file".to_owned(),
                file.to_string_lossy().into_owned(),
            ];
            children.push((baseline::spawn(&self.binary, &args)?, port, file));
        }
        let polls: Vec<_> = children
            .iter()
            .map(|(_, port, file)| {
                let (url, file) = (format!("http://127.0.0.1:{port}/health"), file.clone());
                tokio::spawn(async move {
                    let up =
                        baseline::poll_new_client_each_time(&url, Duration::from_secs(30)).await;
                    let now = monotonic_ns();
                    (up, since_ready(&file, now).await.ok())
                })
            })
            .collect();
        let mut theirs = Vec::new();
        for poll in polls {
            if let (true, Some(latency)) = poll.await? {
                theirs.push(latency);
            }
        }
        for (mut child, _, _) in children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let notify = Sample(notify);
        figures::time("runtime.readiness_notify.ours", notify.median());
        figures::time("runtime.readiness_notify.ours_max", notify.range().1);
        println!(
            "| readiness noticed after READY=1 (notify) | {} | — | max {} |",
            show(notify.median()),
            show(notify.range().1)
        );
        row(
            "readiness noticed after the daemon turned healthy (HTTP, ready at 1 s)",
            "readiness_http_1s",
            &Sample(http),
            &Sample(theirs),
        );
        Ok(())
    }

    /// A stop from a manager that is not the daemon's parent (a CLI `down`, an adopter), on a
    /// host with few processes and on one with `idle` more: how long after the daemon's exit
    /// the stop returns. Beside it, what one scan of `/proc` costs on that host (what a stop
    /// that looked for the group's members that way would pay after every exit).
    pub(crate) async fn foreign_stop(&self, idle: usize) -> Result<(), Error> {
        let mut rows = Vec::new();
        let mut sleepers: Vec<std::process::Child> = Vec::new();
        for extra in [0, idle] {
            while sleepers.len() < extra {
                sleepers.push(
                    std::process::Command::new("sleep")
                        .arg("600")
                        .stdin(std::process::Stdio::null())
                        .spawn()?,
                );
            }
            let processes = std::fs::read_dir("/proc")?
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                })
                .count();
            let other = DaemonManager::builder()
                .state_dir(self.dir.path().join("state"))
                .build()?;
            let (mut after_exit, mut scans) = (Vec::new(), Vec::new());
            for (i, port) in free_ports(self.runs).into_iter().enumerate() {
                let daemon = self.http(format!("foreign-{extra}-{i}"), port, 0, 50);
                let running = self.manager.ensure_running(&daemon).await?;
                let pid = running.pid;
                let exited = tokio::task::spawn_blocking(move || {
                    lifecycle_tests::harness::wait_exit(pid, Duration::from_secs(10));
                    Instant::now()
                });
                other.stop(&daemon).await?;
                let returned = Instant::now();
                let exited = exited.await?;
                after_exit.push(returned.saturating_duration_since(exited));
                let scan = Instant::now();
                let members = scan_proc_for_group(pid);
                scans.push(scan.elapsed());
                if members != 0 {
                    return Err(format!("{members} processes left in group {pid}").into());
                }
            }
            rows.push((processes, Sample(after_exit), Sample(scans)));
        }
        for mut sleeper in sleepers {
            let _ = sleeper.kill();
            let _ = sleeper.wait();
        }
        for (index, (processes, after_exit, scans)) in rows.into_iter().enumerate() {
            let host = if index == 0 { "few" } else { "many" };
            figures::time(
                format!("runtime.foreign_stop.{host}_processes.ours"),
                after_exit.median(),
            );
            figures::time(
                format!("runtime.foreign_stop.{host}_processes.ours_max"),
                after_exit.range().1,
            );
            println!(
                "| stop from another manager: returned after the daemon's exit ({processes} processes on the host) | {} | {} (one /proc scan) | max {} |",
                show(after_exit.median()),
                show(scans.median()),
                show(after_exit.range().1)
            );
        }
        Ok(())
    }

    /// One health check: the manager's shared client against a new client per check.
    pub(crate) async fn health_check(&self) -> Result<(), Error> {
        const CHECKS: usize = 200;
        let daemon = self.http(
            "health-check".to_owned(),
            free_ports(1).first().copied().ok_or("no port")?,
            0,
            0,
        );
        self.manager.ensure_running(&daemon).await?;
        let url = format!("http://127.0.0.1:{}/health", daemon.port);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..self.runs {
            let started = Instant::now();
            for _ in 0..CHECKS {
                if !lifecycle_core::compat::is_daemon_healthy(&url).await {
                    return Err("health check failed".into());
                }
            }
            ours.push(started.elapsed() / CHECKS as u32);
            let started = Instant::now();
            for _ in 0..CHECKS {
                let client = reqwest::Client::builder().no_proxy().build()?;
                if !client.get(&url).send().await?.status().is_success() {
                    return Err("health check failed".into());
                }
            }
            theirs.push(started.elapsed() / CHECKS as u32);
        }
        self.manager.stop(&daemon).await?;
        row(
            "one health check: `is_daemon_healthy` (shared client) vs a GET with a new client",
            "health_check",
            &Sample(ours),
            &Sample(theirs),
        );
        Ok(())
    }
}

/// `scale-worker N`: N daemons started to ready, then stopped, by this process alone; prints
/// `ready_ms stop_ms peak_rss_kb`. Run in a child process so the peak RSS is this work's own.
pub(crate) async fn scale_worker(n: usize) -> Result<(), Error> {
    let bench = Bench::new(0)?;
    let ports = free_ports(n);
    if ports.len() < n {
        return Err("not enough free ports".into());
    }
    let daemons: Vec<Fast> = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| Fast {
            binary: bench.binary.clone(),
            id: format!("scale-{i}"),
            port,
            log_dir: bench.log_dir(),
        })
        .collect();
    let started = Instant::now();
    let ups: Vec<_> = daemons
        .iter()
        .map(|d| tokio::spawn(bench.manager.ensure_running(d)))
        .collect();
    for up in ups {
        up.await??;
    }
    let ready = started.elapsed();

    let stopping = Instant::now();
    let downs: Vec<_> = daemons
        .iter()
        .map(|d| tokio::spawn(bench.manager.stop(d)))
        .collect();
    for down in downs {
        if !down.await??.was_running() {
            return Err("a daemon was not running at stop".into());
        }
    }
    let stopped = stopping.elapsed();
    print_scale_result(ready, stopped);
    Ok(())
}

/// `scale-baseline N`: the same by hand.
pub(crate) async fn scale_baseline(n: usize) -> Result<(), Error> {
    let binary = std::env::current_exe()?.to_string_lossy().into_owned();
    let ports = free_ports(n);
    let started = Instant::now();
    let mut children = Vec::new();
    for port in &ports {
        children.push(baseline::spawn(
            &binary,
            &["--port".to_owned(), port.to_string()],
        )?);
    }
    let polls: Vec<_> = ports
        .iter()
        .map(|port| {
            let url = format!("http://127.0.0.1:{port}/health");
            tokio::spawn(async move {
                baseline::poll_new_client_each_time(&url, Duration::from_secs(60)).await
            })
        })
        .collect();
    for poll in polls {
        if !poll.await? {
            return Err("a daemon never got healthy".into());
        }
    }
    let ready = started.elapsed();
    let stopping = Instant::now();
    let stops: Vec<_> = children
        .into_iter()
        .map(|mut c| tokio::spawn(async move { baseline::stop_with_fixed_sleep(&mut c).await }))
        .collect();
    for stop in stops {
        stop.await?;
    }
    print_scale_result(ready, stopping.elapsed());
    Ok(())
}

#[allow(clippy::print_stdout)]
fn print_scale_result(ready: Duration, stopped: Duration) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let cpu = crate::stats::own_cpu_time()
        .map(|(user, system)| (user + system).as_micros())
        .unwrap_or(0);
    println!("{} {} {rss} {cpu}", ready.as_micros(), stopped.as_micros());
}

/// The processes of group `pgid`, by reading every `/proc/<pid>/stat` (the scan a stop avoids).
fn scan_proc_for_group(pgid: u32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rfind(')').and_then(|at| {
                    stat[at + 1..]
                        .split_whitespace()
                        .nth(2)?
                        .parse::<u32>()
                        .ok()
                }) == Some(pgid)
            })
        })
        .count()
}
