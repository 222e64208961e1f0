//! The benchmark harness. Every figure is measured beside a baseline in the same run and
//! reported as a ratio or a difference, as Markdown tables for BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p lifecycle-bench -- all            # everything below
//! cargo run --release -p lifecycle-bench -- runtime [--runs N]
//! cargo run --release -p lifecycle-bench -- scale [--runs N] [--baseline-runs N]
//! cargo run --release -p lifecycle-bench -- remote [--runs N] [--fleet-runs N]
//! cargo run --release -p lifecycle-bench -- compile-time [--runs N]
//! cargo build --release -p lifecycle-cli && cargo run --release -p lifecycle-bench -- cli [--runs N] [--daemons N]
//! cargo run --release -p lifecycle-bench -- probes [--runs N]
//! cargo run --release -p lifecycle-bench -- peers [--runs N] [--scale-runs N]   # after lifecycle-bench/peers/install
//! cargo run --release -p lifecycle-bench -- check [FIGURES] [--targets BENCHMARKS.md] [--smoke]
//! ```
//!
//! Every run writes its figures to `--figures FILE` (default: `lifecycle-bench-figures.txt` in
//! the temporary directory), which `check` compares with the targets in BENCHMARKS.md. `--smoke`
//! runs every block once, small, so that the harness keeps working (CI runs it); its figures
//! mean nothing.
//!
//! The daemons are this program itself: with `--test-daemon` first, it runs the test daemon.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

mod baseline;
mod check;
mod cli;
mod compile_time;
mod figures;
mod handles;
mod machine;
mod peers;
mod probes;
mod remote;
mod runtime;
mod scale;
mod stats;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A count after `name`, or the default; at least 1 (a figure of no run would read 0).
fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// Hundreds of daemons need hundreds of descriptors (a pidfd each, sockets while probing).
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn runtime_block(runs: usize, idle: usize) -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async {
            let bench = runtime::Bench::new(runs)?;
            println!("| figure ({runs} runs, medians) | lifecycle | hand-written | ratio |");
            println!("|---|---|---|---|");
            bench.stop().await?;
            bench.kill().await?;
            bench.readiness().await?;
            bench.health_check().await?;
            // Last: its thousands of idle processes, gone at the end, slow what runs after.
            bench.foreign_stop(idle).await?;
            Ok(())
        })
}

fn child_block(mode: &str, n: usize) -> Result<(), Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async {
            match mode {
                "scale-worker" => runtime::scale_worker(n).await,
                _ => runtime::scale_baseline(n).await,
            }
        })
}

/// The settings of a run: the defaults, or `--smoke`'s (everything once, small), with any
/// flag given overriding either.
struct Settings {
    smoke: bool,
    runs: usize,
    baseline_runs: usize,
    sizes: Vec<usize>,
    cli_runs: usize,
    daemons: usize,
    idle: usize,
    probe_runs: usize,
    peer_runs: usize,
    peer_scale_runs: usize,
    peer_sizes: Vec<usize>,
    ready_after_ms: u64,
    fleet_runs: usize,
    compile_runs: usize,
}

impl Settings {
    fn from(args: &[String]) -> Settings {
        let smoke = args.iter().any(|a| a == "--smoke");
        let pick = |full: usize, small: usize| if smoke { small } else { full };
        let runs = flag(args, "--runs", pick(20, 1));
        Settings {
            smoke,
            runs,
            baseline_runs: flag(args, "--baseline-runs", pick(3, 1)),
            sizes: if smoke {
                vec![10]
            } else {
                vec![10, 100, 500, 1000]
            },
            cli_runs: flag(args, "--cli-runs", pick(30, 1)),
            daemons: flag(args, "--daemons", pick(100, 3)),
            idle: pick(3000, 50),
            probe_runs: flag(args, "--probe-runs", pick(10, 1)),
            peer_runs: flag(args, "--peer-runs", pick(10, 1)),
            peer_scale_runs: flag(args, "--scale-runs", pick(3, 1)),
            peer_sizes: if smoke {
                vec![10]
            } else {
                vec![10, 100, 500, 1000]
            },
            ready_after_ms: if smoke { 100 } else { 1000 },
            fleet_runs: flag(args, "--fleet-runs", pick(5, 1)),
            compile_runs: flag(args, "--compile-runs", 10),
        }
    }

    fn peers(&self, runs: usize) -> peers::Options {
        peers::Options {
            runs,
            sizes: self.peer_sizes.clone(),
            scale_runs: self.peer_scale_runs,
            ready_after_ms: self.ready_after_ms,
        }
    }
}

/// A value after `name`, or the default.
fn text_flag(args: &[String], name: &str) -> Option<PathBuf> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

fn figures_file(args: &[String]) -> PathBuf {
    text_flag(args, "--figures")
        .unwrap_or_else(|| std::env::temp_dir().join("lifecycle-bench-figures.txt"))
}

/// Every block, in an order that keeps each from slowing the next: the many-daemon blocks
/// first, the runtime block (thousands of idle processes killed at its end) after them, the
/// compile-time block (builds) last; in a smoke run, no compile-time block and no `cli` block
/// when the `lifecycle` binary is not built.
#[allow(clippy::print_stdout)]
fn all(settings: &Settings) -> Result<(), Error> {
    println!("{}", machine::describe());
    println!();
    println!("## Many daemons");
    println!();
    scale::run(&settings.sizes, settings.runs, settings.baseline_runs)?;
    println!("## Beside supervisord, circus, pm2 and s6");
    println!();
    peers::run(&settings.peers(settings.peer_runs))?;
    println!("## Readiness by probe kind");
    println!();
    probes::run(settings.probe_runs, settings.smoke)?;
    println!();
    println!("## The `lifecycle` command");
    println!();
    match cli::run_block(settings.cli_runs, settings.daemons) {
        Err(e) if settings.smoke => println!("Not run: {e}"),
        other => other?,
    }
    println!();
    println!("## Lifecycle operations");
    println!();
    runtime_block(settings.runs, settings.idle)?;
    println!();
    println!("## Remote daemons");
    println!();
    remote::run(settings.runs, settings.fleet_runs, !settings.smoke)?;
    if !settings.smoke {
        println!();
        println!("## Compile time");
        println!();
        compile_time::run(settings.compile_runs).map_err(Error::from)?;
    }
    Ok(())
}

const USAGE: &str = "usage: lifecycle-bench all|scale|peers|probes|cli|runtime|remote|compile-time [--smoke] [--figures FILE] [--runs N] [--baseline-runs N] [--peer-runs N] [--scale-runs N] [--probe-runs N] [--cli-runs N] [--daemons N] [--fleet-runs N] [--compile-runs N]\n       lifecycle-bench check [FIGURES] [--targets BENCHMARKS.md] [--smoke]";

fn main() {
    // First, before any thread: this may be a daemon.
    lifecycle_tests::daemon::run_if_requested();
    raise_fd_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::from(&args);
    // A run that fails leaves no figures behind: never those of an earlier run, which `check`
    // would take for its own.
    let measuring = args
        .first()
        .is_some_and(|m| m != "check" && !m.starts_with("scale-"));
    if measuring {
        let _ = std::fs::remove_file(figures_file(&args));
    }
    let result = match args.first().map(String::as_str) {
        Some("check") => {
            // The first word after `check` that is neither a flag nor a flag's value.
            let file = args
                .iter()
                .enumerate()
                .skip(1)
                .find(|(i, a)| {
                    !a.starts_with("--")
                        && !matches!(
                            args.get(i - 1).map(String::as_str),
                            Some("--targets" | "--figures")
                        )
                })
                .map(|(_, a)| PathBuf::from(a))
                .unwrap_or_else(|| figures_file(&args));
            let targets = text_flag(&args, "--targets")
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md"));
            std::process::exit(check::run(&file, &targets, settings.smoke));
        }
        Some("all") => all(&settings),
        Some("cli") => cli::run_block(flag(&args, "--runs", 30), settings.daemons),
        Some("compile-time") => {
            compile_time::run(flag(&args, "--runs", settings.compile_runs)).map_err(Error::from)
        }
        Some("runtime") => runtime_block(settings.runs, settings.idle),
        Some("probes") => probes::run(flag(&args, "--runs", settings.probe_runs), settings.smoke),
        Some("peers") => peers::run(&settings.peers(flag(&args, "--runs", settings.peer_runs))),
        Some("remote") => remote::run(settings.runs, settings.fleet_runs, !settings.smoke),
        Some("scale") => scale::run(&settings.sizes, settings.runs, settings.baseline_runs),
        Some(mode @ ("scale-worker" | "scale-baseline")) => {
            child_block(mode, args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10))
        }
        _ => Err(USAGE.into()),
    };
    if let Err(err) = result {
        eprintln!("lifecycle-bench: {err}");
        std::process::exit(1);
    }
    if measuring {
        let file = figures_file(&args);
        // `full` only for a whole run: the gate compares nothing else with the targets.
        let kind = match args.first().map(String::as_str) {
            _ if settings.smoke => "smoke",
            Some("all") => "full",
            Some(block) => block,
            None => "none",
        };
        match figures::save(&file, kind) {
            Ok(()) => eprintln!(
                "lifecycle-bench: figures in {}; `lifecycle-bench check {}` compares them with BENCHMARKS.md's targets",
                file.display(),
                file.display()
            ),
            Err(e) => {
                eprintln!("lifecycle-bench: cannot write {}: {e}", file.display());
                std::process::exit(1);
            }
        }
    }
}
