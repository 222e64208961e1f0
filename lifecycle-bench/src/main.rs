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
//! ```
//!
//! The daemons are this program itself: with `--test-daemon` first, it runs the test daemon.

#![allow(clippy::print_stdout)]

mod baseline;
mod cli;
mod compile_time;
mod handles;
mod remote;
mod runtime;
mod scale;
mod stats;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Hundreds of daemons need hundreds of descriptors (a pidfd each, sockets while probing).
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn runtime_block(runs: usize) -> Result<(), Error> {
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
            bench.foreign_stop(3000).await?;
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

fn main() {
    // First, before any thread: this may be a daemon.
    lifecycle_tests::daemon::run_if_requested();
    raise_fd_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes = [10, 50, 100, 200, 500];
    let result = match args.first().map(String::as_str) {
        Some("cli") => cli::run_block(flag(&args, "--runs", 30), flag(&args, "--daemons", 100)),
        Some("compile-time") => compile_time::run(flag(&args, "--runs", 10)).map_err(Error::from),
        Some("runtime") => runtime_block(flag(&args, "--runs", 20)),
        Some("remote") => remote::run(flag(&args, "--runs", 20), flag(&args, "--fleet-runs", 5)),
        Some("scale") => scale::run(
            &sizes,
            flag(&args, "--runs", 20),
            flag(&args, "--baseline-runs", 3),
        ),
        Some(mode @ ("scale-worker" | "scale-baseline")) => {
            child_block(mode, args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10))
        }
        // Scale and cli first: the runtime block ends with thousands of idle processes killed,
        // whose cleanup by the kernel slows what comes right after.
        Some("all") => scale::run(
            &sizes,
            flag(&args, "--runs", 20),
            flag(&args, "--baseline-runs", 3),
        )
        .and_then(|()| cli::run_block(flag(&args, "--cli-runs", 30), flag(&args, "--daemons", 100)))
        .and_then(|()| runtime_block(flag(&args, "--runs", 20)))
        .and_then(|()| remote::run(flag(&args, "--runs", 20), flag(&args, "--fleet-runs", 5)))
        .and_then(|()| compile_time::run(flag(&args, "--runs", 10)).map_err(Error::from)),
        _ => Err(
            "usage: lifecycle-bench all|runtime|scale|cli|remote|compile-time [--runs N] [--baseline-runs N] [--fleet-runs N] [--cli-runs N] [--daemons N]"
                .into(),
        ),
    };
    if let Err(err) = result {
        eprintln!("lifecycle-bench: {err}");
        std::process::exit(1);
    }
}
