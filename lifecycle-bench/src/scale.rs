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
        println!("{}", growth_line(place, rows));
        println!();
    }
    Ok(())
}

/// One size's medians: (daemons, all ready, all stopped, peak RSS in KiB, CPU time).
type SizeFigures = (usize, Duration, Duration, u64, Duration);

/// How the cost grows with N, in words: each figure per daemon at each size, and how much
/// it grew from the second size to the last against the number of daemons (the first size's
/// figures are mostly the fixed cost of a process and a runtime).
fn growth_line(place: &str, rows: &[SizeFigures]) -> String {
    let sizes: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    let per = |value: &dyn Fn(&SizeFigures) -> Duration| {
        rows.iter()
            .map(|r| per_daemon(value(r), r.0))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut line = format!(
        "Growth with N, state on {place}: per daemon at {} daemons, all ready {}, all stopped {}, CPU {}",
        sizes.join(" / "),
        per(&|r| r.1),
        per(&|r| r.2),
        per(&|r| r.4),
    );
    if let (Some(from), Some(to)) = (rows.get(1), rows.last())
        && to.0 > from.0
    {
        let grew = |a: f64, b: f64| b / a.max(1e-12);
        line.push_str(&format!(
            "; from {} to {} daemons ({:.0}×), all ready grew {:.1}×, all stopped {:.1}×, CPU {:.1}×, peak RSS {:.1} → {:.1} MiB ({:.1} KiB per daemon more)",
            from.0,
            to.0,
            grew(from.0 as f64, to.0 as f64),
            grew(from.1.as_secs_f64(), to.1.as_secs_f64()),
            grew(from.2.as_secs_f64(), to.2.as_secs_f64()),
            grew(from.4.as_secs_f64(), to.4.as_secs_f64()),
            from.3 as f64 / 1024.0,
            to.3 as f64 / 1024.0,
            (to.3 as f64 - from.3 as f64) / (to.0 - from.0) as f64,
        ));
    }
    line.push('.');
    line
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
