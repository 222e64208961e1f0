//! The benchmark harness. Every figure is measured against a baseline in the same run and
//! reported as a ratio or a difference, as a Markdown table for BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p lifecycle-bench -- compile-time [--rounds N]
//! ```

#![allow(clippy::print_stdout)]

mod compile_time;
mod stats;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    let result = match args.first().map(String::as_str) {
        Some("compile-time") => compile_time::run(rounds.unwrap_or(10)),
        _ => Err("usage: lifecycle-bench compile-time [--rounds N]".to_owned()),
    };
    if let Err(err) = result {
        eprintln!("lifecycle-bench: {err}");
        std::process::exit(1);
    }
}
