//! Many daemons at once: N started to ready and stopped by one process, for N from 10 to 500,
//! ours and by hand, each run in a child process of its own (a clean peak RSS).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::stats::{Sample, show};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One run: (ready, stopped, peak RSS in KiB). `tmpdir`: where its state directory goes.
fn run_child(
    mode: &str,
    n: usize,
    tmpdir: Option<&str>,
) -> Result<(Duration, Duration, u64), Error> {
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
    let [ready, stopped, rss] = fields.as_slice() else {
        return Err(format!("{mode} {n}: unexpected output {text:?}").into());
    };
    Ok((
        Duration::from_micros(*ready),
        Duration::from_micros(*stopped),
        *rss,
    ))
}

struct Figures {
    ready: Sample,
    stopped: Sample,
    peak_rss_kib: u64,
}

fn measure(mode: &str, n: usize, runs: usize, tmpdir: Option<&str>) -> Result<Figures, Error> {
    let (mut ready, mut stopped, mut rss) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let (r, s, kib) = run_child(mode, n, tmpdir)?;
        ready.push(r);
        stopped.push(s);
        rss = rss.max(kib);
        eprint!(".");
    }
    eprintln!();
    Ok(Figures {
        ready: Sample(ready),
        stopped: Sample(stopped),
        peak_rss_kib: rss,
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
        "| daemons | state dir | all ready | per daemon | all stopped | per daemon | peak RSS | by hand: all ready | by hand: all stopped | ready: by hand / ours | stop: by hand / ours |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
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
            let (or, os) = (ours.ready.median(), ours.stopped.median());
            println!(
                "| {n} | {place} | {} | {} | {} | {} | {:.1} MiB | {} | {} | {:.2}× | {:.0}× |",
                show(or),
                per_daemon(or, n),
                show(os),
                per_daemon(os, n),
                ours.peak_rss_kib as f64 / 1024.0,
                show(tr),
                show(ts),
                tr.as_secs_f64() / or.as_secs_f64().max(1e-9),
                ts.as_secs_f64() / os.as_secs_f64().max(1e-9),
            );
        }
    }
    println!();
    println!(
        "By hand: {baseline_runs} runs per size (its stop is a fixed 5 s sleep); ours: {runs} runs per size and place; medians; peak RSS: the largest of the runs."
    );
    Ok(())
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
