//! Our readiness lag, by probe kind: how long after the daemon's real readiness (its own
//! CLOCK_MONOTONIC stamp, taken right before it signals) `ensure_running` returns. HTTP and TCP
//! probes poll, so their lag depends on the backoff step in force when the daemon becomes ready;
//! notify and log-line probes are awaited events, with no backoff at all.
//!
//! Each cell: `runs` daemons of one kind, one ready-after, started at once; stopped after.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lifecycle_core::Lifecycle;
use lifecycle_core::spec::{Backoff, DisplayDuration};

use crate::figures;
use crate::handles::{ProbeHttp, ProbeHttpTight, ProbeLog, ProbeNotify, ProbeTcp, ProbeTcpTight};
use crate::runtime::{Bench, free_ports, monotonic_ns, since_ready};
use crate::stats::{Sample, show};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The ready-afters of a full run, in ms.
const READY_AFTERS: [u64; 4] = [50, 250, 1000, 3000];
/// The ready-afters of a smoke run, in ms.
const SMOKE_READY_AFTERS: [u64; 1] = [50];

/// A poll this close before the nominal ready moment races it: the daemon counts its
/// ready-after from its own start, a few ms after the spawn, and every failed attempt's own
/// duration pushes the later polls back a little. Such a cell's lag is ≈0 or a whole step.
const RACE_WINDOW: Duration = Duration::from_millis(10);

/// The probe kinds, in the table's order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Tcp,
    Notify,
    Log,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Tcp => "tcp",
            Kind::Notify => "notify",
            Kind::Log => "log",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Http => "HTTP (503 until ready)",
            Kind::Tcp => "TCP (port bound when ready)",
            Kind::Notify => "notify (READY=1)",
            Kind::Log => "log line",
        }
    }

    /// Whether the probe is polled (and so paced by a backoff).
    fn polls(self) -> bool {
        matches!(self, Kind::Http | Kind::Tcp)
    }
}

/// Which spec of a kind: the library's default backoff, the tight one, or none (an event).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    Default,
    Tight,
    Event,
}

impl Pace {
    fn id(self) -> &'static str {
        match self {
            Pace::Default => "default",
            Pace::Tight => "tight",
            Pace::Event => "event",
        }
    }
}

const ROWS: [(Kind, Pace); 6] = [
    (Kind::Http, Pace::Default),
    (Kind::Http, Pace::Tight),
    (Kind::Tcp, Pace::Default),
    (Kind::Tcp, Pace::Tight),
    (Kind::Notify, Pace::Event),
    (Kind::Log, Pace::Event),
];

/// What one daemon of a cell is given.
struct Slot {
    id: String,
    port: u16,
    ready_after: u64,
    ready_file: String,
}

/// `100ms ×2 ≤ 3.2s`.
fn describe(backoff: &Backoff) -> String {
    format!(
        "{} ×{} ≤ {}",
        DisplayDuration(backoff.initial),
        backoff.factor,
        DisplayDuration(backoff.max)
    )
}

/// The readiness backoff of `handle`'s spec.
fn backoff_of(handle: &impl Lifecycle) -> Result<Backoff, Error> {
    handle
        .spec()
        .readiness
        .as_ref()
        .map(|r| r.backoff)
        .ok_or_else(|| format!("spec {} has no readiness probe", handle.spec().name).into())
}

/// The nominal poll times of `backoff` (first at 0, then after each delay), up to and including
/// the first one strictly after `until`.
fn poll_times(backoff: &Backoff, until: Duration) -> Result<Vec<Duration>, Error> {
    let mut times = vec![Duration::ZERO];
    let mut at = Duration::ZERO;
    let mut attempt: u32 = 0;
    while at <= until {
        let delay = backoff.delay(attempt);
        if delay.is_zero() {
            return Err(format!("backoff {} has a zero delay", describe(backoff)).into());
        }
        at += delay;
        attempt += 1;
        times.push(at);
    }
    Ok(times)
}

/// What the schedule predicts for a daemon ready `ready` after the spawn.
struct Expected {
    /// The next poll after `ready`, minus `ready`.
    lag: Duration,
    /// The step in force: the poll after `ready` minus the one before (the worst case).
    step: Duration,
    /// A poll falls within [`RACE_WINDOW`] before `ready`.
    races: bool,
    /// Which poll (1-based) is the first after `ready`.
    poll: usize,
}

fn expected(backoff: &Backoff, ready: Duration) -> Result<Expected, Error> {
    let times = poll_times(backoff, ready)?;
    let next_index = times
        .iter()
        .position(|&t| t > ready)
        .ok_or("the poll schedule ends before the ready moment")?;
    let next = times[next_index];
    let previous = times[next_index.saturating_sub(1)];
    Ok(Expected {
        lag: next - ready,
        step: next - previous,
        races: ready - previous < RACE_WINDOW,
        poll: next_index + 1,
    })
}

/// One cell: `runs` daemons made by `make`, ready `ready_after` ms after their start, started at
/// once; each one's lag; all stopped after (also when one failed). Returns the lags and the
/// spec's backoff.
async fn cell<H: Lifecycle>(
    bench: &Bench,
    kind: Kind,
    pace: Pace,
    ready_after: u64,
    runs: usize,
    make: impl Fn(Slot) -> H,
) -> Result<(Sample, Backoff), Error> {
    let ports = if kind.polls() {
        free_ports(runs)
    } else {
        vec![0; runs]
    };
    if ports.len() < runs {
        return Err(format!("only {} free ports of {runs}", ports.len()).into());
    }
    let (handles, files): (Vec<H>, Vec<PathBuf>) = ports
        .into_iter()
        .enumerate()
        .map(|(i, port)| {
            let id = format!("{}-{}-{ready_after}-{i}", kind.id(), pace.id());
            let file = bench.dir.path().join(format!("probe-{id}.ready"));
            let handle = make(Slot {
                id,
                port,
                ready_after,
                ready_file: file.to_string_lossy().into_owned(),
            });
            (handle, file)
        })
        .unzip();
    let backoff = handles
        .first()
        .map(backoff_of)
        .ok_or("a cell needs at least one run")??;
    // Each task stamps the moment its own ensure_running returned.
    let ups: Vec<_> = handles
        .iter()
        .map(|h| {
            let up = bench.manager.ensure_running(h);
            tokio::spawn(async move {
                let result = up.await;
                (result, monotonic_ns())
            })
        })
        .collect();
    let mut lags = Vec::new();
    let mut failure: Option<Error> = None;
    for (up, file) in ups.into_iter().zip(&files) {
        let lag = match up.await {
            Ok((Ok(_), now)) => since_ready(file, now).await,
            Ok((Err(e), _)) => Err(e.into()),
            Err(e) => Err(e.into()),
        };
        match lag {
            Ok(lag) => lags.push(lag),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    let downs: Vec<_> = handles
        .iter()
        .map(|h| tokio::spawn(bench.manager.stop(h)))
        .collect();
    for down in downs {
        let stopped = match down.await {
            Ok(result) => result.map(drop).map_err(Error::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = stopped {
            failure.get_or_insert(e);
        }
    }
    match failure {
        Some(e) => Err(format!(
            "{} {} ready after {ready_after} ms: {e}",
            kind.id(),
            pace.id()
        )
        .into()),
        None => Ok((Sample(lags), backoff)),
    }
}

/// One cell of row `(kind, pace)`.
async fn measure(
    bench: &Bench,
    kind: Kind,
    pace: Pace,
    ready_after: u64,
    runs: usize,
) -> Result<(Sample, Backoff), Error> {
    let binary = bench.binary.clone();
    let log_dir = bench.dir.path().join("logs").to_string_lossy().into_owned();
    // One closure per handle type; the fields are the same but for the port.
    macro_rules! polled {
        ($handle:ident) => {
            cell(bench, kind, pace, ready_after, runs, |s: Slot| $handle {
                binary: binary.clone(),
                id: s.id,
                port: s.port,
                ready_after: s.ready_after,
                ready_file: s.ready_file,
                log_dir: log_dir.clone(),
            })
            .await
        };
    }
    macro_rules! event {
        ($handle:ident) => {
            cell(bench, kind, pace, ready_after, runs, |s: Slot| $handle {
                binary: binary.clone(),
                id: s.id,
                ready_after: s.ready_after,
                ready_file: s.ready_file,
                log_dir: log_dir.clone(),
            })
            .await
        };
    }
    match (kind, pace) {
        (Kind::Http, Pace::Default) => polled!(ProbeHttp),
        (Kind::Http, Pace::Tight) => polled!(ProbeHttpTight),
        (Kind::Tcp, Pace::Default) => polled!(ProbeTcp),
        (Kind::Tcp, Pace::Tight) => polled!(ProbeTcpTight),
        (Kind::Notify, _) => event!(ProbeNotify),
        (Kind::Log, _) => event!(ProbeLog),
        (Kind::Http | Kind::Tcp, Pace::Event) => Err("a polled probe needs a backoff".into()),
    }
}

/// The probes block: the lag table, the schedule's expectation beside it, wall and CPU time.
pub(crate) fn run(runs: usize, smoke: bool) -> Result<(), Error> {
    let (runs, ready_afters): (usize, &[u64]) = if smoke {
        (1, &SMOKE_READY_AFTERS)
    } else {
        (runs.max(1), &READY_AFTERS)
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async {
            let bench = Bench::new(runs)?;
            let started = Instant::now();
            let (user_before, sys_before) = crate::stats::own_cpu_time()?;

            let columns: Vec<String> = ready_afters
                .iter()
                .map(|r| format!("ready after {r} ms"))
                .collect();
            println!(
                "| readiness lag, median (p90); daemons at once per cell: {runs} | backoff | {} |",
                columns.join(" | ")
            );
            println!("|---|---|{}", "---|".repeat(ready_afters.len()));
            // The polling backoffs met, for the expected rows: (pace, backoff).
            let mut paces: Vec<(Pace, Backoff)> = Vec::new();
            for (kind, pace) in ROWS {
                let mut cells = Vec::new();
                let mut backoff_label = String::from("none: an event, awaited");
                for &ready_after in ready_afters {
                    let (sample, backoff) = measure(&bench, kind, pace, ready_after, runs).await?;
                    if kind.polls() {
                        backoff_label = format!("{} ({})", pace.id(), describe(&backoff));
                        if !paces.iter().any(|(p, _)| *p == pace) {
                            paces.push((pace, backoff));
                        }
                    }
                    let id = if kind.polls() {
                        format!("probe.{}.{}.ready_{ready_after}ms", kind.id(), pace.id())
                    } else {
                        format!("probe.{}.ready_{ready_after}ms", kind.id())
                    };
                    figures::time(id, sample.median());
                    cells.push(format!(
                        "{} (p90 {})",
                        show(sample.median()),
                        show(sample.percentile(90.0))
                    ));
                }
                println!(
                    "| {} | {backoff_label} | {} |",
                    kind.label(),
                    cells.join(" | ")
                );
            }
            let mut races = false;
            for (pace, backoff) in &paces {
                let mut cells = Vec::new();
                for &ready_after in ready_afters {
                    let e = expected(backoff, Duration::from_millis(ready_after))?;
                    races |= e.races;
                    let mark = if e.races { " †" } else { "" };
                    cells.push(format!(
                        "{}{mark} (worst {}; poll {})",
                        show(e.lag),
                        show(e.step),
                        e.poll
                    ));
                }
                println!(
                    "| _expected for a polled probe_: next poll − ready (worst: the step in force) | {} ({}) | {} |",
                    pace.id(),
                    describe(backoff),
                    cells.join(" | ")
                );
            }
            println!();
            println!(
                "The lag of a polled probe (HTTP, TCP) is bounded by the backoff step in force when the \
                 daemon becomes ready: it is found ready by the first poll after that moment, so the lag is \
                 nominally that poll's time minus the ready-after, and at worst the whole step from the \
                 poll before to the poll after; the expected rows compute both from each spec's backoff \
                 (polls at 0, then after each delay). That schedule is nominal: each failed attempt's own \
                 duration and the timer's rounding push the later polls back (about a millisecond per \
                 poll), so after many polls (the tight backoff's 30-odd by 3 s) the phase is lost and \
                 only the worst case still holds."
            );
            let longest = Duration::from_millis(ready_afters.iter().copied().max().unwrap_or(0));
            for (pace, backoff) in &paces {
                let times = poll_times(backoff, longest)?;
                let shown: Vec<String> = times.iter().map(|t| t.as_millis().to_string()).collect();
                println!(
                    "Polls of the {} backoff ({}): at {} ms.",
                    pace.id(),
                    describe(backoff),
                    shown.join(", ")
                );
            }
            if races {
                println!(
                    "† a poll falls within {} before the ready moment and races it (the daemon counts \
                     its ready-after from its own start, a little after the spawn): the lag is then ≈0 \
                     or the whole next step.",
                    show(RACE_WINDOW)
                );
            }
            println!(
                "Notify and log-line probes are events (a READY=1 datagram on the notify socket; inotify \
                 on the log file), awaited, not polled: the backoff plays no part in them, so they are \
                 measured once per ready-after, with no backoff in their specs. The log probe's regex is \
                 anchored to the whole ready line; the daemon prints other lines first."
            );
            let wall = started.elapsed();
            let (user_after, sys_after) = crate::stats::own_cpu_time()?;
            let (user, sys) = (
                user_after.saturating_sub(user_before),
                sys_after.saturating_sub(sys_before),
            );
            figures::time("probe.block.wall", wall);
            figures::time("probe.block.manager_cpu", user + sys);
            println!();
            println!(
                "Block wall time {}; manager CPU (getrusage RUSAGE_SELF, user + sys) {} = {} + {} \
                 ({:.1} % of the wall time; the daemons' own CPU not included).",
                show(wall),
                show(user + sys),
                show(user),
                show(sys),
                100.0 * (user + sys).as_secs_f64() / wall.as_secs_f64().max(1e-9)
            );
            Ok(())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_default_schedule_gives_the_documented_lags() -> Result<(), Error> {
        let b = Backoff::new(ms(100), ms(3200), 2.0);
        let at_1000 = expected(&b, ms(1000))?;
        assert_eq!((at_1000.lag, at_1000.step), (ms(500), ms(800)));
        let at_50 = expected(&b, ms(50))?;
        assert_eq!((at_50.lag, at_50.step), (ms(50), ms(100)));
        assert!(!at_50.races);
        Ok(())
    }

    #[test]
    fn a_poll_at_the_ready_moment_races_it() -> Result<(), Error> {
        let b = Backoff::new(ms(10), ms(100), 2.0);
        let at_250 = expected(&b, ms(250))?;
        assert!(at_250.races);
        assert_eq!((at_250.lag, at_250.step), (ms(100), ms(100)));
        Ok(())
    }
}
