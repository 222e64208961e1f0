//! Shared by the integration tests, the demo and the benchmarks: the test daemon, handles over
//! the test specs, and test helpers.

pub mod daemon;
pub mod handles;
pub mod harness;
/// Test hosts as network namespaces, each with its own network stack and an sshd: remote hosts
/// whose `127.0.0.1` is not this process's.
pub mod netns;
pub mod pidfd;
pub mod sshd;
