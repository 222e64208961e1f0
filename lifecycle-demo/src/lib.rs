//! The rbee demo: `cargo run --release --example rbee`.
//!
//! A queen, a hive and two workers (a vLLM one and a llama.cpp one), each a
//! `#[derive(Lifecycle)]` handle over the shipped specs (`specs/queen.yaml`, `specs/hive.yaml`,
//! and `specs/workers/`, whose files make [`WorkerKind`]), brought up in that order with every
//! transition printed; the status table; the vLLM worker's crash, restarted after its backoff
//! by its spec's `restart: on-failure`; then everything stopped in reverse order, and a check
//! that no process is left. The hive runs on this machine, or over SSH on the host given
//! (`--hive-host user@host:port`).
//!
//! The real binaries (queen-rbee, rbee-hive, vllm, llama-server) are not here: one executable
//! stands in for them all ([`stand_in_if_asked`]), the example's own (or the `rbee-stand-in`
//! binary, for the tests). Nothing is installed and nothing outside a temporary directory is
//! touched.
//!
//! ```no_run
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     lifecycle_demo::stand_in_if_asked(); // before any thread: this may be a daemon
//!     let mut options = lifecycle_demo::Options::new(std::env::current_exe()?);
//!     options.fast = true;
//!     let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//!     runtime.block_on(lifecycle_demo::rbee(options, &mut std::io::stdout()))?;
//!     Ok(())
//! }
//! ```

mod error;
mod handles;
mod hive_host;
mod model_file;
mod options;
mod progress;
mod rbee;
mod relay;
mod stand_in;
mod summary;
mod table;

pub use error::DemoError;
pub use handles::{HiveHandle, QueenHandle, WorkerHandle, WorkerKind};
pub use hive_host::{HiveHost, HiveHostError};
pub use options::Options;
pub use rbee::rbee;
pub use stand_in::stand_in_if_asked;
pub use summary::{Crash, Summary};
