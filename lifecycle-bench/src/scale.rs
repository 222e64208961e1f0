//! Many daemons at once: N started to ready and stopped by one process, for N from 10 to 500,
//! ours and by hand, each run in a child process of its own (a clean peak RSS).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::figures;
use crate::stats::{Sample, show};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One run of a child process of the benchmark (`scale-worker` or `scale-baseline`).
pub(crate) struct ChildRun {
    /// Spawn of all until all were ready.
    pub(crate) ready: Duration,
    /// Stop of all until all were gone.
    pub(crate) stopped: Duration,
    /// The child's peak RSS.
    pub(crate) peak_rss_kib: u64,
    /// The child's CPU time, user + system.
    pub(crate) cpu: Duration,
}

/// One run. `tmpdir`: where its state directory goes.
pub(crate) fn run_child(mode: &str, n: usize, tmpdir: Option<&str>) -> Result<ChildRun, Error> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args([mode, &n.to_string()]);
    if let Some(dir) = tmpdir {
        command.env("TMPDIR", dir);
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "{mode} {n} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let text = String::from_utf8(output.stdout)?;
    let fields: Vec<u64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [ready, stopped, rss, cpu] = fields.as_slice() else {
        return Err(format!("{mode} {n}: unexpected output {text:?}").into());
    };
    Ok(ChildRun {
        ready: Duration::from_micros(*ready),
        stopped: Duration::from_micros(*stopped),
        peak_rss_kib: *rss,
        cpu: Duration::from_micros(*cpu),
    })
}

struct Figures {
    ready: Sample,
    stopped: Sample,
    peak_rss_kib: u64,
    cpu: Sample,
}

fn measure(mode: &str, n: usize, runs: usize, tmpdir: Option<&str>) -> Result<Figures, Error> {
    let (mut ready, mut stopped, mut rss, mut cpu) = (Vec::new(), Vec::new(), 0, Vec::new());
    for _ in 0..runs {
        let run = run_child(mode, n, tmpdir)?;
        ready.push(run.ready);
        stopped.push(run.stopped);
        rss = rss.max(run.peak_rss_kib);
        cpu.push(run.cpu);
        eprint!(".");
    }
    eprintln!();
    Ok(Figures {
        ready: Sample(ready),
        stopped: Sample(stopped),
        peak_rss_kib: rss,
        cpu: Sample(cpu),
    })
}

fn per_daemon(d: Duration, n: usize) -> String {
    show(d / u32::try_from(n).unwrap_or(1))
}

#[allow(clippy::print_stdout)]
pub(crate) fn run(sizes: &[usize], runs: usize, baseline_runs: usize) -> Result<(), Error> {
    let disk = std::env::temp_dir();
    let tmpfs = Path::new("/dev/shm").is_dir().then_some("/dev/shm");
    println!(
        "State directory on disk: {} ({}); on tmpfs: {}.",
        disk.display(),
        file_system(&disk),
        tmpfs.unwrap_or("none")
    );
    println!();
    println!(
        "| daemons | state dir | all ready | per daemon | all stopped | per daemon | peak RSS | CPU, up + down | by hand: all ready | by hand: all stopped | ready: by hand / ours | stop: by hand / ours |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    // (n, ready, stopped, rss, cpu) of each size, per place, for the growth line.
    let mut growth: Vec<(&str, Vec<SizeFigures>)> = Vec::new();
    // One run of each, not counted: the first spawns of a freshly built binary read it from
    // disk, and would be measured against warm runs.
    eprintln!("warming up");
    run_child("scale-baseline", 10, None)?;
    run_child("scale-worker", 10, None)?;
    for &n in sizes {
        eprint!("{n} daemons, by hand ");
        let theirs = measure("scale-baseline", n, baseline_runs, None)?;
        let (tr, ts) = (theirs.ready.median(), theirs.stopped.median());
        for (place, tmpdir) in [("disk", None), ("tmpfs", tmpfs)] {
            if place == "tmpfs" && tmpdir.is_none() {
                continue;
            }
            eprint!("{n} daemons, ours, state on {place} ");
            let ours = measure("scale-worker", n, runs, tmpdir)?;
            let (or, os, oc) = (
                ours.ready.median(),
                ours.stopped.median(),
                ours.cpu.median(),
            );
            figures::time(format!("scale.n{n}.{place}.ready"), or);
            figures::time(format!("scale.n{n}.{place}.stopped"), os);
            figures::mebibytes(format!("scale.n{n}.{place}.peak_rss"), ours.peak_rss_kib);
            figures::time(format!("scale.n{n}.{place}.cpu"), oc);
            match growth.iter_mut().find(|(p, _)| *p == place) {
                Some((_, rows)) => rows.push((n, or, os, ours.peak_rss_kib, oc)),
                None => growth.push((place, vec![(n, or, os, ours.peak_rss_kib, oc)])),
            }
            println!(
                "| {n} | {place} | {} | {} | {} | {} | {:.1} MiB | {} | {} | {} | {:.2}× | {:.0}× |",
                show(or),
                per_daemon(or, n),
                show(os),
                per_daemon(os, n),
                ours.peak_rss_kib as f64 / 1024.0,
                show(oc),
                show(tr),
                show(ts),
                tr.as_secs_f64() / or.as_secs_f64().max(1e-9),
                ts.as_secs_f64() / os.as_secs_f64().max(1e-9),
            );
        }
    }
    println!();
    println!(
        "By hand: {baseline_runs} runs per size (its stop is a fixed 5 s sleep); ours: {runs} runs per size and place; medians; peak RSS: the largest of the runs; CPU: the worker process's own (getrusage), user + system, for the start and the stop."
    );
    println!();
    for (place, rows) in &growth {
        let fit = |value: &dyn Fn(&SizeFigures) -> f64| {
            Line::fit(
                &rows
                    .iter()
                    .map(|r| (r.0 as f64, value(r)))
                    .collect::<Vec<_>>(),
            )
        };
        let ready = fit(&|r| r.1.as_secs_f64() * 1e3);
        let stopped = fit(&|r| r.2.as_secs_f64() * 1e3);
        let rss = fit(&|r| r.3 as f64);
        let cpu = fit(&|r| r.4.as_secs_f64() * 1e3);
        println!(
            "Growth with N, state on {place} (least squares over the sizes above; worst point off the line in brackets): all ready {:.1} ms + {:.3} ms per daemon ({:.0} %); all stopped {:.1} ms + {:.3} ms per daemon ({:.0} %); peak RSS {:.1} MiB + {:.1} KiB per daemon ({:.0} %); CPU {:.1} ms + {:.3} ms per daemon ({:.0} %).",
            ready.fixed,
            ready.per_unit,
            ready.worst_off * 100.0,
            stopped.fixed,
            stopped.per_unit,
            stopped.worst_off * 100.0,
            rss.fixed / 1024.0,
            rss.per_unit,
            rss.worst_off * 100.0,
            cpu.fixed,
            cpu.per_unit,
            cpu.worst_off * 100.0,
        );
        println!();
    }
    Ok(())
}

/// One size's medians: (daemons, all ready, all stopped, peak RSS in KiB, CPU time).
type SizeFigures = (usize, Duration, Duration, u64, Duration);

/// `fixed + per_unit × n`, fitted by least squares, and the worst relative distance of a
/// point from it.
struct Line {
    fixed: f64,
    per_unit: f64,
    worst_off: f64,
}

impl Line {
    fn fit(points: &[(f64, f64)]) -> Line {
        let n = points.len() as f64;
        let (sx, sy) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let (mx, my) = (sx / n.max(1.0), sy / n.max(1.0));
        let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
        let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let per_unit = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let fixed = my - per_unit * mx;
        let worst_off = points
            .iter()
            .map(|(x, y)| ((fixed + per_unit * x) - y).abs() / y.abs().max(1e-12))
            .fold(0.0, f64::max);
        Line {
            fixed,
            per_unit,
            worst_off,
        }
    }
}

/// The file system type of `path`, from /proc/mounts (longest matching mount point).
fn file_system(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, fs) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point)
                .then(|| (point.len(), fs.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
        .unwrap_or_else(|| "unknown".to_owned())
}
