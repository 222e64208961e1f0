//! `lifecycle`: declares, checks and runs the lifecycle of daemons from YAML specs. See
//! `lifecycle --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    lifecycle_cli::app::main(lifecycle_cli::Cli::parse())
}
