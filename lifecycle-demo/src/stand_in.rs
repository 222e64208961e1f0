//! The stand-in for the real binaries (queen-rbee, rbee-hive, vllm, llama-server): the demo's
//! own executable, run by the manager with a daemon's command line, runs the test daemon
//! (`lifecycle_tests::daemon`) on that command line's `--port` instead.

use crate::{model_file, relay};

/// How long a queen or a hive stand-in takes to be ready, in milliseconds: it only binds a
/// port.
const PLAIN_READY_MS: u64 = 150;
/// How long a vLLM stand-in takes when its model is no model file of the demo's.
const VLLM_READY_MS: u64 = 900;
/// How long a llama-server stand-in takes when its model is no model file of the demo's.
const LLAMACPP_READY_MS: u64 = 500;
/// How long a stand-in takes to exit after SIGTERM or SIGINT (a daemon that drains).
const EXIT_AFTER_SIGNAL_MS: &str = "30";
/// The exit code of the crash-once stand-in.
const CRASH_EXIT_CODE: &str = "1";

/// If the command line is a daemon's (it has `--port`), runs the test daemon on that port and
/// exits; else returns. Call it first thing in `main`, before any thread starts: the test
/// daemon's signal handling needs every thread to inherit its signal mask (the stand-in's own
/// relay thread blocks the same signals).
///
/// What it stands in for is read from the command line the specs give:
///
/// - `serve MODEL --port P …` (vllm) and `--model MODEL --port P …` (llama-server): ready
///   once the model is "loaded", after the milliseconds the model file holds (900 and 500
///   when `MODEL` is no file of the demo's); if `MODEL.crash-once` exists, the stand-in
///   removes it and exits with code 1 the milliseconds it holds after its start — once: the
///   restarted process finds no marker and runs on.
/// - `--port P` (queen-rbee, rbee-hive): ready after 150 ms. Started over SSH (the library's
///   remote helper: `SSH_CONNECTION` set, a session of its own), it also answers at the
///   address SSH reached, relaying to `127.0.0.1` (the test daemon serves there only; the
///   hive is probed at `http://{host}:{port}/health`).
///
/// Every stand-in exits 30 ms after SIGTERM or SIGINT. Its output goes to the daemon's log.
///
/// ```no_run
/// lifecycle_demo::stand_in_if_asked();
/// ```
pub fn stand_in_if_asked() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(port) = args.iter().skip_while(|a| *a != "--port").nth(1) else {
        return;
    };
    let mut flags: Vec<String> = vec!["--port".into(), port.clone()];
    let ready_ms = match args.first().map(String::as_str) {
        Some(kind @ ("serve" | "--model")) => {
            let model = args.get(1).map_or("", String::as_str);
            let default = if kind == "serve" {
                VLLM_READY_MS
            } else {
                LLAMACPP_READY_MS
            };
            if let Some(exit_ms) = model_file::take_crash_once(model) {
                eprintln!(
                    "stand-in: found {model}.crash-once (removed): exiting with code {CRASH_EXIT_CODE} {exit_ms} ms after the start"
                );
                flags.extend([
                    "--exit-after".into(),
                    exit_ms.to_string(),
                    "--exit-code".into(),
                    CRASH_EXIT_CODE.into(),
                ]);
            }
            model_file::load_millis(model).unwrap_or(default)
        }
        _ => {
            if let Some(address) = relay::ssh_address()
                && let Ok(port) = port.parse::<u16>()
                && let Err(err) = relay::start(address, port)
            {
                eprintln!("stand-in: cannot start the relay from {address}:{port}: {err}");
            }
            PLAIN_READY_MS
        }
    };
    flags.extend([
        "--ready-after".into(),
        ready_ms.to_string(),
        "--exit-after-sigterm".into(),
        EXIT_AFTER_SIGNAL_MS.into(),
    ]);
    std::process::exit(lifecycle_tests::daemon::run(&flags))
}
