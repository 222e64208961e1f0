//! Shared by the integration tests, the demo and the benchmarks: the test daemon, handles over
//! the test specs, and test helpers.

pub mod daemon;
pub mod handles;
pub mod harness;
pub mod sshd;
