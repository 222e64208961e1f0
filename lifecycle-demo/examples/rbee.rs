//! The rbee demo: a queen, a hive and two workers (vLLM, llama.cpp), each a
//! `#[derive(Lifecycle)]` handle over the shipped `specs/`, brought up in order, a worker's
//! crash restarted with backoff, everything stopped in reverse order.
//!
//! ```text
//! cargo run --release --example rbee                      # the hive on this machine
//! cargo run --release --example rbee -- --hive-host rbee@gpu1:22
//! ```
//!
//! This program stands in for the real binaries: the handles point `binary` at this very
//! executable, which, started with a daemon's command line, runs the test daemon instead (see
//! `lifecycle_demo::stand_in_if_asked`). With `--hive-host`, the hive runs over SSH through
//! the system's OpenSSH client (`~/.ssh/config`, the agent and known hosts as for `ssh`, or the
//! file of `--ssh-config`): this executable must be at the same path on that host, and the
//! hive's port reachable from here (its readiness is probed at `http://HOST:PORT/health`).

#![allow(clippy::print_stdout)] // its output is the point

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use lifecycle_demo::Options;

const USAGE: &str = "usage: rbee [--fast] [--hive-host [USER@]HOST[:PORT]] [--ssh-config FILE]
            [--state-dir DIR] [--remote-state-dir DIR]

  --fast               shorter stand-in delays (models load in 100 ms)
  --hive-host ...      run the hive there over SSH (default: this machine, 127.0.0.1);
                       this executable must be at the same path on that host
  --ssh-config FILE    the ssh client configuration to use (ssh -F FILE)
  --state-dir DIR      the manager's records and logs (default: a temporary directory)
  --remote-state-dir DIR
                       records and logs on the hive's host
                       (default: ~/.local/state/lifecycle-remote/MACHINE-ID there)";

fn main() -> ExitCode {
    // Before the runtime's threads exist: this may be a stand-in daemon.
    lifecycle_demo::stand_in_if_asked();
    let options = match parse(std::env::args_os().skip(1).collect()) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("rbee: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rbee: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(lifecycle_demo::rbee(options, &mut std::io::stdout())) {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rbee: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The options of the command line `args`; `None` for `--help`.
fn parse(args: Vec<OsString>) -> Result<Option<Options>, String> {
    let exe = std::env::current_exe()
        .map_err(|err| format!("cannot find this executable (the stand-in): {err}"))?;
    let mut options = Options::new(exe);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|arg| format!("unknown argument {arg:?}"))?;
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--fast" => options.fast = true,
            "--hive-host" => {
                let text = value()?
                    .into_string()
                    .map_err(|v| format!("--hive-host {v:?}: not UTF-8"))?;
                let host = text
                    .parse()
                    .map_err(|err| format!("--hive-host {text}: {err}"))?;
                options.hive_host = Some(host);
            }
            "--ssh-config" => options.ssh_config = Some(PathBuf::from(value()?)),
            "--state-dir" => options.state_dir = Some(PathBuf::from(value()?)),
            "--remote-state-dir" => {
                let dir = value()?
                    .into_string()
                    .map_err(|v| format!("--remote-state-dir {v:?}: not UTF-8"))?;
                options.remote_state_dir = Some(dir);
            }
            _ => return Err(format!("unknown argument `{arg}`")),
        }
    }
    Ok(Some(options))
}
