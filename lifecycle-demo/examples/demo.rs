//! The lifecycle demo: a queen and one worker of each kind, declared with `#[derive(Lifecycle)]`
//! over the shipped `specs/`, brought up with their dependencies and down again, visibly.
//!
//! ```text
//! cargo run --release --example demo
//! ```
//!
//! The real binaries (queen-rbee, vllm, llama-server) are not here: this program stands in for
//! them. The handles point `binary` at this very executable; started with a daemon's command
//! line (it has a `--port`), it runs the test daemon on that port instead, ready after a delay
//! that mimics the real thing (a model takes longer to load than a queen to bind). Nothing is
//! installed and nothing outside a temporary directory is touched.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use lifecycle_core::{DaemonManager, Lifecycle, State, Stopped, state::Event};
use lifecycle_tests::harness::{free_port, is_alive};

#[derive(Lifecycle)]
#[lifecycle(spec = "../specs/queen.yaml")]
struct QueenHandle {
    port: u16,
    binary: String,
}

#[derive(Lifecycle)]
struct WorkerHandle {
    #[lifecycle(spec_dir = "../specs/workers")]
    kind: WorkerKind,
    port: u16,
    model: String,
    device: String,
    binary: String,
    queen_binary: String,
    queen_port: u16,
}

fn ms(d: Duration) -> String {
    format!("{:>5} ms", d.as_millis())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before the runtime's threads exist: this may be a stand-in daemon.
    lifecycle_demo::stand_in_if_asked();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(demo())
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?.to_string_lossy().into_owned();
    let state = tempfile::tempdir()?;
    let manager = DaemonManager::builder().state_dir(state.path()).build()?;
    DaemonManager::set_global(manager.clone()).map_err(|_| "global manager already set")?;

    println!("lifecycle demo — the specs in specs/, this program standing in for the daemons");
    println!("state and logs in {}\n", state.path().display());

    // Every transition, as it happens.
    let t0 = Instant::now();
    let mut events = manager.subscribe();
    let printer = tokio::spawn(async move {
        let mut spawned_at = std::collections::HashMap::new();
        while let Ok(t) = events.recv().await {
            let what = match &t.event {
                Event::Spawned { pid } => {
                    spawned_at.insert(t.daemon.clone(), Instant::now());
                    format!("spawned, pid {pid}")
                }
                Event::ProbeOk => match spawned_at.get(&t.daemon) {
                    Some(at) => format!("ready, {} after its spawn", ms(at.elapsed()).trim()),
                    None => "ready".to_owned(),
                },
                Event::ProbeFailed { .. } => continue,
                Event::GraceExpired { step } => format!("grace of stop step {} ran out", step + 1),
                other => format!("{other:?}"),
            };
            let (from, to) = (t.from.to_string(), t.to.to_string());
            println!(
                "  {} {:<22} {from:<9} -> {to:<9} {what}",
                ms(t0.elapsed()),
                t.daemon
            );
        }
    });

    let queen_port = free_port();
    let workers: Vec<WorkerHandle> = WorkerKind::ALL
        .iter()
        .map(|kind| WorkerHandle {
            kind: *kind,
            port: free_port(),
            model: "llama-3-8b".into(),
            device: "cpu".into(),
            binary: me.clone(),
            queen_binary: me.clone(),
            queen_port,
        })
        .collect();

    println!(
        "bringing up {} workers ({}); each needs the queen, which comes first:",
        workers.len(),
        WorkerKind::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // All at once: the queen is started once, whoever asks first.
    let ups: Vec<_> = workers
        .iter()
        .map(|w| tokio::spawn(w.ensure_running()))
        .collect();
    let mut running = Vec::new();
    for up in ups {
        running.push(up.await??);
    }
    let queen = QueenHandle {
        port: queen_port,
        binary: me.clone(),
    };
    let queen_status = queen.status().await?;

    println!("\nrunning:");
    let queen_pid = queen_status.pid.unwrap_or(0);
    println!(
        "  {:<22} pid {queen_pid:<7} http://127.0.0.1:{queen_port}/health",
        queen.spec().name
    );
    for r in &running {
        println!(
            "  {:<22} pid {:<7} {}",
            r.key,
            r.pid,
            r.probe.as_deref().unwrap_or("-")
        );
    }
    let mut pids: Vec<u32> = running.iter().map(|r| r.pid).collect();
    pids.extend(queen_status.pid);

    println!("\nstopping the queen: the workers that depend on it stop first.");
    let stopped = queen.stop().await?;
    if let Stopped::Stopped { elapsed, .. } = stopped {
        println!("  queen gone {} after its stop began", ms(elapsed).trim());
    }
    for w in &workers {
        assert_eq!(w.status().await?.state, State::Stopped);
    }
    tokio::task::yield_now().await;
    printer.abort();

    let left: Vec<u32> = pids.iter().copied().filter(|&pid| is_alive(pid)).collect();
    println!(
        "\nprocesses left running: {}",
        if left.is_empty() {
            "none".to_owned()
        } else {
            format!("{left:?}")
        }
    );
    if !left.is_empty() {
        return Err("something was left running".into());
    }
    Ok(())
}
