//! Another process using the library: `ensure-client STATE_DIR BINARY PORT TEST FLAGS CALLS`
//! makes CALLS concurrent `ensure_running` calls on an HTTP test daemon with a manager on
//! STATE_DIR, printing `spawned PID` when it spawns the daemon and `ready PID` for each call.
//! The daemon outlives this process.

#![allow(clippy::print_stdout)]

use std::io::Write;

use lifecycle_core::{DaemonManager, Event};
use lifecycle_tests::handles::HttpDaemon;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [state_dir, binary, port, test, flags, calls] = args.as_slice() else {
        eprintln!("usage: ensure-client STATE_DIR BINARY PORT TEST FLAGS CALLS");
        std::process::exit(2);
    };
    let (Ok(port), Ok(calls)) = (port.parse::<u16>(), calls.parse::<usize>()) else {
        eprintln!("PORT and CALLS are numbers");
        std::process::exit(2);
    };
    let manager = match DaemonManager::builder().state_dir(state_dir).build() {
        Ok(manager) => manager,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    let mut events = manager.subscribe();
    tokio::spawn(async move {
        while let Ok(t) = events.recv().await {
            if let Event::Spawned { pid } = t.event {
                println!("spawned {pid}");
                let _ = std::io::stdout().flush();
            }
        }
    });
    let daemon = HttpDaemon {
        binary: binary.clone(),
        port,
        test: test.clone(),
        flags: flags.clone(),
    };
    let tasks: Vec<_> = (0..calls)
        .map(|_| tokio::spawn(manager.ensure_running(&daemon)))
        .collect();
    let mut failed = false;
    for task in tasks {
        match task.await {
            Ok(Ok(running)) => println!("ready {}", running.pid),
            Ok(Err(err)) => {
                eprintln!("{err}");
                failed = true;
            }
            Err(err) => {
                eprintln!("{err}");
                failed = true;
            }
        }
    }
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(failed));
}
