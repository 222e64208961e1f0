//! The library beside the supervisors people run today — supervisord, circus, pm2, s6 — in the
//! same run, on the same machine, with the same test daemon, each driven through its own
//! interface and configured as fairly as it allows (group kill where it has one, its kill
//! timeout equal to our grace, its fastest polling). A peer that is not installed is reported
//! with the reason (`lifecycle-bench/peers/install` installs them).

mod circus;
mod installed;
mod kind;
mod line_driver;
mod manager;
mod ours;
mod owned_child;
mod pm2;
mod proc_usage;
mod s6;
mod supervisord;
mod sweep;
mod waits;

use std::path::Path;
use std::time::{Duration, Instant};

use lifecycle_tests::harness::is_alive;

use crate::figures;
use crate::runtime::{free_ports, monotonic_ns};
use crate::stats::{Sample, show};

use kind::{Daemon, Kind};
use manager::{Error, Manager, Peer, Usage};
pub(crate) use owned_child::OwnedChild;
pub(crate) use waits::wait_for_path;

/// The grace from SIGTERM to SIGKILL, for every manager.
const GRACE: Duration = Duration::from_secs(1);

/// What the comparison runs.
#[derive(Clone)]
pub(crate) struct Options {
    /// Runs of each one-daemon figure.
    pub(crate) runs: usize,
    /// Numbers of daemons at once.
    pub(crate) sizes: Vec<usize>,
    /// Runs of each many-daemon figure (one above 100 daemons).
    pub(crate) scale_runs: usize,
    /// When the readiness figure's daemon becomes ready, in ms after its start.
    pub(crate) ready_after_ms: u64,
}

/// One column: a manager that could be measured.
struct Column {
    peer: Box<dyn Peer>,
    version: String,
}

/// One cell: a figure of a manager, or why there is none.
type Cell<T> = Result<T, String>;

/// The comparison, this process a child subreaper throughout (see [`sweep`]).
pub(crate) fn run(options: &Options) -> Result<(), Error> {
    sweep::begin()?;
    let result = compare(options);
    sweep::end();
    result
}

#[allow(clippy::print_stdout)]
fn compare(options: &Options) -> Result<(), Error> {
    let options = &Options {
        runs: options.runs.max(1),
        scale_runs: options.scale_runs.max(1),
        ..options.clone()
    };
    let binary = std::env::current_exe()?.to_string_lossy().into_owned();
    let mut columns = vec![Column {
        peer: Box::new(ours::Ours),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }];
    let mut missing = Vec::new();
    let peers: [Box<dyn Peer>; 4] = [
        Box::new(supervisord::Supervisord),
        Box::new(circus::Circus),
        Box::new(pm2::Pm2),
        Box::new(s6::S6),
    ];
    for peer in peers {
        match installed::status(peer.name()) {
            Ok(version) => columns.push(Column { peer, version }),
            Err(reason) => missing.push((peer.name(), reason)),
        }
    }
    println!("Managers, as configured here:");
    println!();
    for column in &columns {
        println!(
            "- **{} {}**: {}.",
            column.peer.name(),
            column.version,
            column.peer.configuration()
        );
    }
    for (name, reason) in &missing {
        println!("- **{name}**: not measured: {reason}.");
    }
    println!();

    let runs = options.runs;
    let header = |first: &str| {
        let names: Vec<&str> = columns.iter().map(|c| c.peer.name()).collect();
        println!("| {first} | {} |", names.join(" | "));
        println!("|---|{}", "---|".repeat(names.len()));
    };
    header(&format!(
        "one daemon ({runs} runs, medians; × = theirs / ours)"
    ));

    let stops: Vec<Cell<Sample>> = columns
        .iter()
        .map(|c| cell(c, |p| stop_after_50ms(p, &binary, runs)))
        .collect::<Result<_, _>>()?;
    print_times(
        "stop, daemon exits 50 ms after SIGTERM",
        &columns,
        &stops,
        "stop_exit_50ms",
    );

    let kills: Vec<Cell<(Sample, usize)>> = columns
        .iter()
        .map(|c| cell(c, |p| stop_stubborn(p, &binary, runs)))
        .collect::<Result<_, _>>()?;
    let kill_times: Vec<Cell<Sample>> = kills
        .iter()
        .map(|k| k.as_ref().map(|(s, _)| s.clone()).map_err(Clone::clone))
        .collect();
    print_times(
        "SIGTERM-ignoring daemon + grandchild, grace 1 s: stop returned",
        &columns,
        &kill_times,
        "stop_stubborn",
    );
    let survivors: Vec<String> = columns
        .iter()
        .zip(&kills)
        .map(|(c, k)| match k {
            Ok((_, left)) => {
                figures::count(format!("peers.{}.grandchildren_left", c.peer.name()), *left);
                format!("{left} of {runs}")
            }
            Err(e) => e.clone(),
        })
        .collect();
    println!("|  grandchildren left alive | {} |", survivors.join(" | "));

    let after = options.ready_after_ms;
    let readiness: Vec<Cell<Vec<i128>>> = columns
        .iter()
        .map(|c| cell(c, |p| readiness(p, &binary, runs, after)))
        .collect::<Result<_, _>>()?;
    let shown: Vec<String> = columns
        .iter()
        .zip(&readiness)
        .map(|(c, r)| match r {
            Ok(lags) => {
                let median = signed_median(lags);
                let (first, last) = (lags.first().copied(), lags.last().copied());
                let (first, last) = (first.unwrap_or(0), last.unwrap_or(0));
                figures::record(
                    format!("peers.{}.readiness_vs_real_min", c.peer.name()),
                    first as f64 / 1e9,
                    "s",
                );
                figures::record(
                    format!("peers.{}.readiness_vs_real", c.peer.name()),
                    median as f64 / 1e9,
                    "s",
                );
                format!(
                    "{} (from {} to {})",
                    signed(median),
                    signed(first),
                    signed(last)
                )
            }
            Err(e) => e.clone(),
        })
        .collect();
    println!(
        "| reported ready − really ready (ready {after} ms after its start; − = reported before) | {} |",
        shown.join(" | ")
    );
    println!();

    header("daemons at once (× = theirs / ours)");
    for &n in &options.sizes {
        let runs = if n > 100 { 1 } else { options.scale_runs };
        let figures: Vec<Cell<Scale>> = columns
            .iter()
            .map(|c| cell(c, |p| many(p, &binary, n, runs)))
            .collect::<Result<_, _>>()?;
        print_scale(n, runs, &columns, &figures);
    }
    println!();
    let left: Vec<String> = sweep::left()
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    println!(
        "Processes still running among what a manager started once it had ended (killed by the benchmark, a child subreaper for the block): {}.",
        left.join(", ")
    );
    println!();
    Ok(())
}

/// Runs `measure` for a column; a peer's failure becomes its cell's text, ours is an error.
fn cell<T>(
    column: &Column,
    measure: impl FnOnce(&dyn Peer) -> Result<T, Error>,
) -> Result<Cell<T>, Error> {
    let name = column.peer.name();
    eprint!("{name} ");
    let started = Instant::now();
    let result = measure(column.peer.as_ref());
    eprintln!("{:?}", started.elapsed());
    match result {
        Err(e) if column.peer.is_ours() => Err(format!("{name}: {e}").into()),
        Err(e) => {
            eprintln!("{name}: {e}");
            Ok(Err(format!(
                "failed: {}",
                e.to_string().chars().take(80).collect::<String>()
            )))
        }
        Ok(value) => Ok(Ok(value)),
    }
}

/// A fresh directory and a manager in it with `daemons`; ended after `work`.
fn with_manager<T>(
    peer: &dyn Peer,
    binary: &str,
    daemons: &[Daemon],
    work: impl FnOnce(&mut dyn Manager, &Path) -> Result<T, Error>,
) -> Result<T, Error> {
    // In /tmp whatever TMPDIR says: the managers' Unix sockets live in it, and a socket's path
    // may not exceed 107 bytes.
    let dir = tempfile::Builder::new().prefix("lcp-").tempdir_in("/tmp")?;
    let result = peer
        .launch(binary, dir.path(), daemons, GRACE)
        .and_then(|mut manager| {
            let result = work(manager.as_mut(), dir.path());
            let ended = manager.shutdown();
            let value = result?;
            ended.map(|()| value)
        });
    let left = sweep::after(peer.name())?;
    if left > 0 {
        eprintln!("{}: {left} processes left running, killed", peer.name());
    }
    result
}

/// The path of `name` in `dir`, as the daemon's flags take it.
fn file_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

fn named(prefix: &str, kinds: impl IntoIterator<Item = Kind>) -> Vec<Daemon> {
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Daemon {
            name: format!("{prefix}{i}"),
            kind,
        })
        .collect()
}

/// Stop of a daemon that exits 50 ms after SIGTERM: from the stop request to the manager's
/// report that it stopped (the daemon gone by then, or it is an error).
fn stop_after_50ms(peer: &dyn Peer, binary: &str, runs: usize) -> Result<Sample, Error> {
    let daemons = named(
        "exit",
        free_ports(runs)
            .into_iter()
            .map(|port| Kind::Exit50 { port }),
    );
    with_manager(peer, binary, &daemons, |manager, _| {
        let mut times = Vec::new();
        for daemon in &daemons {
            let name = daemon.name.as_str();
            manager.start(&[name])?;
            waits::wait_healthy(daemon.kind.port(), Duration::from_secs(10))?;
            let pid = manager.pid(name)?;
            let started = Instant::now();
            manager.stop(&[name])?;
            times.push(started.elapsed());
            if is_alive(pid) {
                return Err(format!("{name} (pid {pid}) still runs after its stop").into());
            }
        }
        Ok(Sample(times))
    })
}

/// Stop of a SIGTERM-ignoring daemon with a SIGTERM-ignoring grandchild, grace 1 s: the time,
/// and how many grandchildren were left alive (then killed here).
fn stop_stubborn(peer: &dyn Peer, binary: &str, runs: usize) -> Result<(Sample, usize), Error> {
    let scratch = tempfile::tempdir()?;
    let daemons = named(
        "stubborn",
        free_ports(runs)
            .into_iter()
            .enumerate()
            .map(|(i, port)| Kind::Stubborn {
                port,
                grandchild_file: file_in(&scratch, &format!("{i}.grandchild")),
            }),
    );
    with_manager(peer, binary, &daemons, |manager, _| {
        let (mut times, mut left) = (Vec::new(), 0);
        for daemon in &daemons {
            let name = daemon.name.as_str();
            let Kind::Stubborn {
                port,
                grandchild_file,
            } = &daemon.kind
            else {
                return Err("not a stubborn daemon".into());
            };
            manager.start(&[name])?;
            waits::wait_healthy(*port, Duration::from_secs(10))?;
            let pid = manager.pid(name)?;
            let grandchild: u32 = std::fs::read_to_string(grandchild_file)?.trim().parse()?;
            let started = Instant::now();
            manager.stop(&[name])?;
            times.push(started.elapsed());
            if is_alive(pid) {
                return Err(format!("{name} (pid {pid}) still runs after its stop").into());
            }
            // A group SIGKILL may still be on its way when the manager reports the stop: the
            // grandchild counts as left if it still runs 200 ms later. One left alive is
            // reparented to this process (a subreaper) and killed by the sweep.
            if !lifecycle_tests::harness::wait_exit(grandchild, Duration::from_millis(200)) {
                left += 1;
            }
        }
        Ok((Sample(times), left))
    })
}

/// Readiness as the manager reports it against the daemon's own stamp: the moment the start
/// returned less the moment the daemon became ready, in ns (negative: reported before).
fn readiness(
    peer: &dyn Peer,
    binary: &str,
    runs: usize,
    after_ms: u64,
) -> Result<Vec<i128>, Error> {
    let scratch = tempfile::tempdir()?;
    let daemons = named(
        "ready",
        free_ports(runs)
            .into_iter()
            .enumerate()
            .map(|(i, port)| Kind::ReadyLate {
                port,
                after_ms,
                ready_file: file_in(&scratch, &format!("{i}.ready")),
            }),
    );
    with_manager(peer, binary, &daemons, |manager, _| {
        let mut lags = Vec::new();
        for daemon in &daemons {
            let Kind::ReadyLate { ready_file, .. } = &daemon.kind else {
                return Err("not a late daemon".into());
            };
            manager.start(&[daemon.name.as_str()])?;
            let reported = monotonic_ns();
            let file = Path::new(ready_file);
            wait_for_path(
                file,
                Duration::from_millis(after_ms) + Duration::from_secs(10),
            )?;
            let ready_at: i128 = std::fs::read_to_string(file)?.trim().parse()?;
            lags.push(reported - ready_at);
            manager.stop(&[daemon.name.as_str()])?;
        }
        lags.sort_unstable();
        Ok(lags)
    })
}

/// N daemons at once.
struct Scale {
    /// Start of all until the manager reported them all running.
    reported: Sample,
    /// Until every daemon answered its health check.
    healthy: Sample,
    /// Stop of all until the manager reported them all stopped.
    stopped: Sample,
    /// Peak memory of the manager over the runs, KiB.
    memory_kib: u64,
    /// The manager's CPU time for the start and the stop (median).
    cpu: Sample,
}

/// `n` daemons started and stopped `runs` times, each run with a fresh manager. Ours runs in
/// a process of its own (`scale-worker`), so its memory is its own.
fn many(peer: &dyn Peer, binary: &str, n: usize, runs: usize) -> Result<Scale, Error> {
    let mut scale = Scale {
        reported: Sample(Vec::new()),
        healthy: Sample(Vec::new()),
        stopped: Sample(Vec::new()),
        memory_kib: 0,
        cpu: Sample(Vec::new()),
    };
    for _ in 0..runs {
        if peer.is_ours() {
            let run = crate::scale::run_child("scale-worker", n, None)?;
            scale.reported.0.push(run.ready);
            scale.healthy.0.push(run.ready);
            scale.stopped.0.push(run.stopped);
            scale.memory_kib = scale.memory_kib.max(run.peak_rss_kib);
            scale.cpu.0.push(run.cpu);
            continue;
        }
        let ports = free_ports(n);
        if ports.len() < n {
            return Err("not enough free ports".into());
        }
        let daemons = named("d", ports.iter().map(|&port| Kind::Plain { port }));
        with_manager(peer, binary, &daemons, |manager, _| {
            let before = manager.usage()?;
            let started = Instant::now();
            manager.start_all()?;
            scale.reported.0.push(started.elapsed());
            waits::wait_all_healthy(&ports, Duration::from_secs(60))?;
            scale.healthy.0.push(started.elapsed());
            let up = manager.usage()?;
            let stopping = Instant::now();
            manager.stop_all()?;
            scale.stopped.0.push(stopping.elapsed());
            let listening = waits::still_listening(&ports);
            if listening > 0 {
                return Err(
                    format!("{listening} of {n} daemons still listen after the stop").into(),
                );
            }
            let after: Usage = manager.usage()?;
            scale.memory_kib = scale.memory_kib.max(up.memory_kib).max(after.memory_kib);
            scale.cpu.0.push(after.cpu.saturating_sub(before.cpu));
            Ok(())
        })?;
    }
    Ok(scale)
}

fn ratio(theirs: f64, ours: f64) -> String {
    let r = theirs / ours.max(1e-12);
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A row of medians, each peer's with its ratio to ours (the first column); records them.
#[allow(clippy::print_stdout)]
fn print_times(what: &str, columns: &[Column], cells: &[Cell<Sample>], id: &str) {
    let ours = cells
        .first()
        .and_then(|c| c.as_ref().ok())
        .map(|s| s.median().as_secs_f64());
    let shown: Vec<String> = columns
        .iter()
        .zip(cells)
        .enumerate()
        .map(|(i, (column, cell))| match cell {
            Ok(sample) => {
                let median = sample.median();
                figures::time(format!("peers.{}.{id}", column.peer.name()), median);
                match (i, ours) {
                    (0, _) | (_, None) => show(median),
                    (_, Some(o)) => {
                        format!("{} ({})", show(median), ratio(median.as_secs_f64(), o))
                    }
                }
            }
            Err(e) => e.clone(),
        })
        .collect();
    println!("| {what} | {} |", shown.join(" | "));
}

#[allow(clippy::print_stdout)]
fn print_scale(n: usize, runs: usize, columns: &[Column], cells: &[Cell<Scale>]) {
    let ours = cells.first().and_then(|c| c.as_ref().ok());
    let row = |what: &str,
               (id, unit): (&str, &'static str),
               value: &dyn Fn(&Scale) -> f64,
               fmt: &dyn Fn(f64) -> String| {
        let shown: Vec<String> = columns
            .iter()
            .zip(cells)
            .enumerate()
            .map(|(i, (column, cell))| match cell {
                Ok(scale) => {
                    let v = value(scale);
                    figures::record(format!("peers.{}.n{n}.{id}", column.peer.name()), v, unit);
                    match (i, ours) {
                        (0, _) | (_, None) => fmt(v),
                        (_, Some(o)) => format!("{} ({})", fmt(v), ratio(v, value(o))),
                    }
                }
                Err(e) => e.clone(),
            })
            .collect();
        println!("| {n}: {what} | {} |", shown.join(" | "));
    };
    let secs = |d: Duration| d.as_secs_f64();
    let time = |v: f64| show(Duration::from_secs_f64(v));
    let runs_note = if runs == 1 {
        "1 run".to_owned()
    } else {
        format!("median of {runs}")
    };
    row(
        &format!("all reported running ({runs_note})"),
        ("reported", "s"),
        &|s| secs(s.reported.median()),
        &time,
    );
    row(
        "all answering /health",
        ("healthy", "s"),
        &|s| secs(s.healthy.median()),
        &time,
    );
    row(
        "all reported stopped",
        ("stopped", "s"),
        &|s| secs(s.stopped.median()),
        &time,
    );
    row(
        "manager memory (peak RSS; s6: PSS summed)",
        ("memory", "MiB"),
        &|s| s.memory_kib as f64 / 1024.0,
        &|v| format!("{v:.1} MiB"),
    );
    row(
        "manager CPU, start + stop",
        ("cpu", "s"),
        &|s| secs(s.cpu.median()),
        &time,
    );
}

fn signed_median(sorted: &[i128]) -> i128 {
    match sorted.len() {
        0 => 0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// `+1.2 ms` / `−998.1 ms`.
fn signed(ns: i128) -> String {
    let sign = if ns < 0 { "−" } else { "+" };
    let magnitude = Duration::from_nanos(u64::try_from(ns.unsigned_abs()).unwrap_or(u64::MAX));
    format!("{sign}{}", show(magnitude))
}
