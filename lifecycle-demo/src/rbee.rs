//! The rbee demo itself: queen, hive and two workers brought up in order, a worker's crash and
//! restart, everything stopped in reverse order, and a check that nothing is left.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use lifecycle_core::spec::Location;
use lifecycle_core::state::Event;
use lifecycle_core::{DaemonManager, Lifecycle, Running, State, StopError, Stopped};
use lifecycle_tests::harness::{free_port, is_alive, start_time};

use crate::progress::Progress;
use crate::table::{STATUS_COLUMNS, Table};
use crate::{
    Crash, DemoError, HiveHandle, HiveHost, Options, QueenHandle, Summary, WorkerHandle,
    WorkerKind, model_file,
};

/// The longest the demo awaits one transition (the crash, the restart).
const WAIT_AT_MOST: Duration = Duration::from_secs(30);
/// The hive's host when none is given: this machine, one of the hive spec's `local_hosts`.
const LOCAL_HIVE_HOST: &str = "127.0.0.1";
/// The model the workers serve: vLLM's by this name, llama.cpp's as a GGUF file of it.
const MODEL: &str = "llama-3-8b";
/// llama.cpp's model file.
const GGUF: &str = "llama-3-8b.Q4_K_M.gguf";

/// Writes a line of the demo's output, or returns [`DemoError::Output`].
macro_rules! say {
    ($out:expr) => {
        writeln!($out).map_err(DemoError::Output)?
    };
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*).map_err(DemoError::Output)?
    };
}

/// How long the workers' stand-ins take, and when the vLLM one crashes.
///
/// vLLM's readiness is probed (spec: backoff 250 ms, doubling) 0, 250, 750, 1750, 3750 ms after
/// its spawn. A crash before the manager sees it ready would fail the start instead of being
/// restarted, so the crash comes a whole second after the probe that sees it ready even when
/// that is the next one after the expected (a slow machine).
#[derive(Clone, Copy, Debug)]
struct Pace {
    /// vLLM loading its model: ready just before a probe.
    vllm_load: Duration,
    /// llama.cpp loading its model.
    llamacpp_load: Duration,
    /// When the vLLM stand-in exits with code 1, after its start.
    crash_at: Duration,
}

impl Pace {
    /// The pace of a normal run, or of a fast one (for the tests).
    fn of(fast: bool) -> Pace {
        let ms = Duration::from_millis;
        if fast {
            // Seen ready at 250 ms (or 750), crashing at 1.5 s.
            Pace {
                vllm_load: ms(100),
                llamacpp_load: ms(100),
                crash_at: ms(1500),
            }
        } else {
            // Seen ready at 1.75 s (or 3.75), crashing at 4.75 s.
            Pace {
                vllm_load: ms(1500),
                llamacpp_load: ms(1200),
                crash_at: ms(4750),
            }
        }
    }
}

/// Runs the rbee demo, writing its progress to `out`: the queen, the hive (here, or over SSH
/// on `options.hive_host`), a vLLM worker and a llama.cpp worker brought up in that order,
/// every transition printed with the time since the start; the status table; the vLLM
/// worker's crash, its backoff and its restart, awaited on the manager's event stream; then
/// the workers, the hive and the queen stopped, in that order; then every process seen is
/// checked gone (by PID and start time here; on the hive's host by its status there).
///
/// `options.stand_in` is every daemon's binary (see [`stand_in_if_asked`]); over SSH the same
/// path must hold it on the hive's host. The manager kills what it started if the demo fails
/// half-way (`stop_on_drop`).
///
/// [`stand_in_if_asked`]: crate::stand_in_if_asked
///
/// ```no_run
/// # async fn demo() -> Result<(), lifecycle_demo::DemoError> {
/// let options = lifecycle_demo::Options::new("/usr/local/bin/rbee-stand-in".into());
/// let summary = lifecycle_demo::rbee(options, &mut std::io::stdout()).await?;
/// println!("done in {:?}; {} crashed and came back", summary.elapsed, summary.crash.key);
/// # Ok(()) }
/// ```
pub async fn rbee(options: Options, out: &mut impl Write) -> Result<Summary, DemoError> {
    let began = Instant::now();
    let stand_in = options
        .stand_in
        .to_str()
        .ok_or_else(|| DemoError::NonUtf8Path(options.stand_in.clone()))?
        .to_owned();
    let pace = Pace::of(options.fast);
    let scratch = tempfile::Builder::new()
        .prefix("rbee-demo-")
        .tempdir()
        .map_err(DemoError::io("cannot make a temporary directory"))?;
    let (vllm_model, gguf) = models(scratch.path(), pace)?;
    let state_dir = options
        .state_dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("state"));
    let mut builder = DaemonManager::builder()
        .state_dir(&state_dir)
        .stop_on_drop(true);
    if let Some(config) = &options.ssh_config {
        builder = builder.ssh_config(config);
    }
    if let Some(dir) = &options.remote_state_dir {
        builder = builder.remote_state_dir(dir.clone());
    }
    let manager = builder.build().map_err(DemoError::Manager)?;
    let mut progress = Progress::new(manager.subscribe(), SystemTime::now());

    let queen = QueenHandle {
        port: free_port(),
        binary: stand_in.clone(),
    };
    let hive = hive_handle(options.hive_host.as_ref(), &stand_in)?;
    let worker = |kind, model: &str, device: &str| WorkerHandle {
        kind,
        port: free_port(),
        model: model.to_owned(),
        device: device.to_owned(),
        binary: stand_in.clone(),
        queen_binary: stand_in.clone(),
        queen_port: queen.port,
    };
    let vllm = worker(WorkerKind::Vllm, &vllm_model, "cuda:0");
    let llamacpp = worker(WorkerKind::LlamaCpp, &gguf, "cpu");
    let hive_location = location(&hive);
    let hive_remote = hive_location != "local";

    say!(
        out,
        "rbee demo: queen -> hive -> workers, each a #[derive(Lifecycle)] handle over specs/"
    );
    let kinds: Vec<&str> = WorkerKind::ALL.iter().map(|k| k.name()).collect();
    say!(out, "  worker types (specs/workers/): {}", kinds.join(", "));
    say!(out, "  every daemon's binary: {stand_in}");
    say!(
        out,
        "    (standing in for queen-rbee, rbee-hive, vllm and llama-server)"
    );
    if hive_remote {
        say!(out, "  the hive: over SSH, {hive_location}");
    } else {
        say!(
            out,
            "  the hive: local ({} is one of the hive spec's local_hosts)",
            hive.host
        );
    }
    say!(out, "  state and logs: {}", state_dir.display());

    let mut probes = HashMap::new();

    say!(out, "\n[1/5] the queen");
    let up = progress.during(out, manager.ensure_running(&queen)).await?;
    report_up(out, &mut probes, up, &queen)?;

    say!(out, "\n[2/5] the hive, {}", hive_location);
    let up = progress.during(out, manager.ensure_running(&hive)).await?;
    let hive_key = report_up(out, &mut probes, up, &hive)?.key;
    let remote_key = hive_remote.then_some(hive_key.as_str());

    say!(
        out,
        "\n[3/5] two workers at once: vllm (restart: on-failure) and llamacpp"
    );
    let (vllm_up, llamacpp_up) = progress
        .during(out, async {
            tokio::join!(
                manager.ensure_running(&vllm),
                manager.ensure_running(&llamacpp)
            )
        })
        .await?;
    let vllm_up = report_up(out, &mut probes, vllm_up, &vllm)?;
    report_up(out, &mut probes, llamacpp_up, &llamacpp)?;

    let daemons: [(&dyn Lifecycle, &str); 4] = [
        (&queen, "local"),
        (&hive, &hive_location),
        (&vllm, "local"),
        (&llamacpp, "local"),
    ];
    say!(out, "\nstatus:");
    status_table(out, &manager, &progress, &daemons, &probes).await?;

    say!(
        out,
        "\n[4/5] a crash: {}'s stand-in exits with code 1 {} ms after its start (its model's crash-once marker)",
        vllm_up.key,
        pace.crash_at.as_millis()
    );
    let crash = crash_and_restart(out, &manager, &mut progress, &vllm, &vllm_up).await?;
    say!(out, "\nstatus:");
    status_table(out, &manager, &progress, &daemons, &probes).await?;

    say!(
        out,
        "\n[5/5] stopping in reverse order: the workers, the hive, the queen"
    );
    say!(
        out,
        "  (the queen's stop alone would stop the workers that depend on it first)"
    );
    for (daemon, _) in daemons.iter().rev() {
        let stopped = progress.during(out, manager.stop(*daemon)).await?;
        report_stopped(out, stopped, *daemon)?;
    }

    say!(out, "\nchecking that nothing is left:");
    let left = leftovers(&manager, &progress, &daemons, remote_key).await?;
    let (remote_pids, local_pids): (Vec<_>, Vec<_>) = progress
        .processes()
        .iter()
        .map(|seen| (seen.key.clone(), seen.pid))
        .partition(|(key, _)| Some(key.as_str()) == remote_key);
    say!(
        out,
        "  {} processes on this machine, by PID and start time{}",
        local_pids.len(),
        if hive_remote {
            format!(
                "; {} on the hive's host, by the hive's status there",
                remote_pids.len()
            )
        } else {
            String::new()
        }
    );
    if !left.is_empty() {
        say!(out, "processes left running: {left:?}");
        return Err(DemoError::LeftRunning { pids: left });
    }
    say!(out, "processes left running: none");
    let elapsed = began.elapsed();
    say!(out, "\ndone in {:.1} s", elapsed.as_secs_f64());
    Ok(Summary {
        local_pids,
        remote_pids,
        hive_location,
        crash,
        elapsed,
    })
}

/// Writes the workers' model files under `dir`: vLLM's and llama.cpp's, with their load times,
/// and vLLM's crash-once marker. Their paths.
fn models(dir: &Path, pace: Pace) -> Result<(String, String), DemoError> {
    let models = dir.join("models");
    std::fs::create_dir(&models).map_err(DemoError::io("cannot make the models directory"))?;
    let (vllm, gguf) = (models.join(MODEL), models.join(GGUF));
    model_file::write_model(&vllm, pace.vllm_load)
        .and_then(|()| model_file::write_model(&gguf, pace.llamacpp_load))
        .and_then(|()| model_file::write_crash_once(&vllm, pace.crash_at))
        .map_err(DemoError::io("cannot write the model files"))?;
    let text = |path: &Path| {
        path.to_str()
            .map(str::to_owned)
            .ok_or_else(|| DemoError::NonUtf8Path(path.to_owned()))
    };
    Ok((text(&vllm)?, text(&gguf)?))
}

/// The hive on `host` (this machine when `None`), the spec's defaults filling the user and SSH
/// port it does not give, on a free port.
fn hive_handle(host: Option<&HiveHost>, binary: &str) -> Result<HiveHandle, DemoError> {
    let mut hive = HiveHandle {
        host: LOCAL_HIVE_HOST.to_owned(),
        user: String::new(),
        ssh_port: 0,
        port: free_port(),
        binary: binary.to_owned(),
    };
    let spec = hive.spec();
    let default = |var: &str| {
        spec.default_var(var)
            .ok_or_else(|| DemoError::Unexpected(format!("the hive spec has no default `{var}`")))
    };
    hive.user = match host.and_then(|h| h.user.clone()) {
        Some(user) => user,
        None => default("user")?.to_owned(),
    };
    hive.ssh_port = match host.and_then(|h| h.port) {
        Some(port) => port,
        None => default("ssh_port")?.parse().map_err(|_| {
            DemoError::Unexpected("the hive spec's default `ssh_port` is no port".to_owned())
        })?,
    };
    if let Some(host) = host {
        hive.host.clone_from(&host.host);
    }
    Ok(hive)
}

/// Where the hive runs, as its spec decides: `local` when its host is one of the spec's
/// `local_hosts`, else `user@host:port`.
fn location(hive: &HiveHandle) -> String {
    match &hive.spec().location {
        Location::Ssh(ssh) if !ssh.is_local_host(&hive.host) => {
            format!("{}@{}:{}", hive.user, hive.host, hive.ssh_port)
        }
        _ => "local".to_owned(),
    }
}

/// Says that `daemon` is up (or why not), noting its probe for the status table.
fn report_up(
    out: &mut impl Write,
    probes: &mut HashMap<String, String>,
    up: Result<Running, lifecycle_core::StartError>,
    daemon: &dyn Lifecycle,
) -> Result<Running, DemoError> {
    let running = up.map_err(|source| DemoError::Start {
        daemon: daemon.spec().name.to_string(),
        source,
    })?;
    let probe = running.probe.clone().unwrap_or_else(|| "-".to_owned());
    say!(
        out,
        "  -> {} ready: pid {}, {} ms from spawn to ready, {} probes, at {probe}",
        running.key,
        running.pid,
        running.elapsed.as_millis(),
        running.attempts
    );
    probes.insert(running.key.clone(), probe);
    Ok(running)
}

/// Awaits the crash of `worker` (up as `up`) and its restart on the event stream, printing
/// every transition meanwhile: its exit, its backoff, the restart's spawn, ready again.
async fn crash_and_restart(
    out: &mut impl Write,
    manager: &DaemonManager,
    progress: &mut Progress,
    worker: &WorkerHandle,
    up: &Running,
) -> Result<Crash, DemoError> {
    let (exit_index, exit) = progress
        .wait_for(out, 0, "the vllm worker's crash", WAIT_AT_MOST, |t| {
            t.daemon == up.key && matches!(t.event, Event::Exited { .. })
        })
        .await?;
    let (State::Backoff { attempt }, Event::Exited { status, .. }) = (&exit.to, &exit.event) else {
        return Err(DemoError::Unexpected(format!(
            "{} exited and went {} -> {}, not to Backoff",
            exit.daemon, exit.from, exit.to
        )));
    };
    let (status, attempt) = (status.clone(), *attempt);
    progress
        .wait_for(
            out,
            exit_index + 1,
            "the vllm worker's restart",
            WAIT_AT_MOST,
            |t| t.daemon == up.key && t.to == State::Ready,
        )
        .await?;
    let new_pid = manager
        .status(worker)
        .await
        .map_err(|source| DemoError::Status {
            daemon: up.key.clone(),
            source,
        })?
        .pid
        .ok_or_else(|| DemoError::Unexpected(format!("{} is ready without a pid", up.key)))?;
    let crash = Crash {
        key: up.key.clone(),
        status,
        old_pid: up.pid,
        new_pid,
        attempt,
    };
    say!(
        out,
        "  -> {} crashed ({}), waited out its backoff and is ready again: pid {} (was {}), restart {}",
        crash.key,
        crash.status,
        crash.new_pid,
        crash.old_pid,
        crash.attempt
    );
    Ok(crash)
}

/// Says what the stop of `daemon` did.
fn report_stopped(
    out: &mut impl Write,
    stopped: Result<Stopped, StopError>,
    daemon: &dyn Lifecycle,
) -> Result<(), DemoError> {
    let stopped = stopped.map_err(|source| DemoError::Stop {
        daemon: daemon.spec().name.to_string(),
        source,
    })?;
    match stopped {
        Stopped::Stopped {
            key,
            pid,
            elapsed,
            killed,
        } => say!(
            out,
            "  -> {key} stopped in {} ms (pid {pid}{})",
            elapsed.as_millis(),
            if killed { ", SIGKILL needed" } else { "" }
        ),
        Stopped::NotRunning { key } => say!(out, "  -> {key} was not running"),
        Stopped::RestartCancelled { key, attempt } => {
            say!(
                out,
                "  -> {key}: its pending restart {attempt} is cancelled"
            )
        }
        Stopped::StaleRecord { key, pid, reason } => {
            say!(
                out,
                "  -> {key}: a stale record (pid {pid}: {reason}) removed"
            )
        }
    }
    Ok(())
}

/// Writes the status table of `daemons` (each with its location): state and PID as the manager
/// tells them now, uptime since the spawn event, the probe each came up with.
async fn status_table(
    out: &mut impl Write,
    manager: &DaemonManager,
    progress: &Progress,
    daemons: &[(&dyn Lifecycle, &str)],
    probes: &HashMap<String, String>,
) -> Result<(), DemoError> {
    let mut table = Table::new(STATUS_COLUMNS);
    for (daemon, location) in daemons {
        let status = status_of(manager, *daemon).await?;
        let running = status.state.is_running();
        let uptime = progress
            .uptime(&status.key)
            .filter(|_| running)
            .map_or_else(|| "-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        table.push([
            status.key.clone(),
            status.state.to_string(),
            status
                .pid
                .map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
            uptime,
            (*location).to_owned(),
            probes
                .get(&status.key)
                .cloned()
                .unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    table.write(out).map_err(DemoError::Output)
}

/// The PIDs of what is left of the demo's processes: each daemon must be stopped by the
/// manager's account; each process seen spawned here must be gone (the same PID with the same
/// start time); the daemon `remote_key`, over SSH, must have no process by its status on its
/// host (its PIDs are not this machine's).
async fn leftovers(
    manager: &DaemonManager,
    progress: &Progress,
    daemons: &[(&dyn Lifecycle, &str)],
    remote_key: Option<&str>,
) -> Result<Vec<u32>, DemoError> {
    let mut left = Vec::new();
    for (daemon, _) in daemons {
        let status = status_of(manager, *daemon).await?;
        if status.state != State::Stopped {
            return Err(DemoError::Unexpected(format!(
                "{} is {} after its stop",
                status.key, status.state
            )));
        }
        left.extend(status.pid);
    }
    for seen in progress.processes() {
        if remote_key != Some(seen.key.as_str())
            && seen.start_time.is_some()
            && is_alive(seen.pid)
            && start_time(seen.pid) == seen.start_time
        {
            left.push(seen.pid);
        }
    }
    left.sort_unstable();
    left.dedup();
    Ok(left)
}

/// A daemon's status, or the demo's error naming it.
async fn status_of(
    manager: &DaemonManager,
    daemon: &dyn Lifecycle,
) -> Result<lifecycle_core::Status, DemoError> {
    manager
        .status(daemon)
        .await
        .map_err(|source| DemoError::Status {
            daemon: daemon.spec().name.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_hive_spec_decides_where_the_hive_runs() {
        let here = hive_handle(None, "/bin/stand-in").unwrap();
        assert_eq!(
            (here.host.as_str(), here.user.as_str(), here.ssh_port),
            ("127.0.0.1", "rbee", 22)
        );
        assert_eq!(location(&here), "local");
        // 127.0.0.1 and localhost are among the spec's `local_hosts`: user and port are unused.
        for host in ["root@127.0.0.1:2222", "localhost"] {
            let hive = hive_handle(Some(&host.parse().unwrap()), "/bin/stand-in").unwrap();
            assert_eq!(location(&hive), "local", "{host}");
        }
        let there = hive_handle(Some(&"gpu1".parse().unwrap()), "/bin/stand-in").unwrap();
        assert_eq!(location(&there), "rbee@gpu1:22");
        let there = hive_handle(Some(&"root@127.0.0.2:2222".parse().unwrap()), "/b").unwrap();
        assert_eq!(location(&there), "root@127.0.0.2:2222");
    }
}
