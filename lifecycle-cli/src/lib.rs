//! The `lifecycle` command, as a library: its commands are functions of this crate, so that its
//! tests and the benchmark harness run the same code as the binary.
//!
//! ```text
//! lifecycle check specs/                     validate (exit 2 on an invalid spec)
//! lifecycle up specs/queen.yaml --set port=7900
//! lifecycle status [--json]
//! lifecycle logs queen-rbee -f
//! lifecycle down queen-rbee [--grace 2s]
//! lifecycle run specs/queen.yaml             supervise in the foreground until Ctrl-C
//! lifecycle schema > specs/schema.json
//! lifecycle export systemd specs/queen.yaml --user
//! ```
//!
//! Exit codes: 0 success, 1 a daemon failed, 2 bad input (nothing started or stopped).

pub mod app;
pub mod cli;
pub mod commands;
mod diagnostics;
mod error;
pub mod handle;
pub mod load;
pub mod progress;
pub mod schema;
pub mod systemd;

pub use cli::Cli;
pub use diagnostics::render_diagnostics;
pub use error::CliError;
pub use handle::SpecHandle;
