//! The lifecycle demo lives in `examples/demo.rs`: `cargo run --release --example demo`.
//! This library holds the part of it that stands in for the real daemons.

/// If the command line is a daemon's (it has `--port`), runs the test daemon on that port and
/// exits; else returns. Call it first thing in `main`, before any thread starts: the test
/// daemon's signal handling needs every thread to inherit its signal mask.
///
/// The delay before the stand-in is ready mimics the real daemon: `serve MODEL …` (vllm) loads
/// a model, `--model …` (llama-server) too, a queen only binds a port.
///
/// ```no_run
/// lifecycle_demo::stand_in_if_asked();
/// ```
pub fn stand_in_if_asked() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(port) = args.iter().skip_while(|a| *a != "--port").nth(1) else {
        return;
    };
    let ready_after = match args.first().map(String::as_str) {
        Some("serve") => "900",
        Some("--model") => "500",
        _ => "150",
    };
    let flags = [
        "--port",
        port,
        "--ready-after",
        ready_after,
        "--exit-after-sigterm",
        "30",
    ];
    let flags: Vec<String> = flags.iter().map(|s| (*s).to_owned()).collect();
    std::process::exit(lifecycle_tests::daemon::run(&flags))
}
