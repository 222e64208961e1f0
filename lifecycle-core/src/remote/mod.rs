//! Daemons on other hosts, over the system's OpenSSH client.
//!
//! Behind the default `ssh` feature; without it, [`disabled`](self) keeps the seams and refuses
//! every connection.
//!
//! One [`connection::Connection`] per destination (user, host, port) and manager: an `ssh`
//! master process (`ControlMaster`, so that an upload or a fallback channel rides the same
//! connection) whose own session runs the remote helper ([`helper.sh`](self)), a fixed POSIX sh
//! loop that answers framed requests on stdin, so that an operation costs one round trip, not
//! a remote login shell. Every value reaches the helper as a framed field ([`wire`]); no shell
//! line is ever built from one. The remote daemon's record lives on the remote host, in the same
//! format as a local one, written by the helper under the daemon's lock there; a daemon started
//! there is the child of a small keeper process that tells its exit the moment it happens.

// Without `ssh`, the framing and the operations stay compiled (the owner's code is the same)
// but nothing calls the parts only a connection uses.
#![cfg_attr(not(feature = "ssh"), allow(dead_code))]

#[cfg(feature = "ssh")]
pub(crate) mod connection;
mod destination;
#[cfg(not(feature = "ssh"))]
mod disabled;
mod error;
pub(crate) mod hosts;
#[cfg(feature = "ssh")]
pub(crate) mod install;
pub(crate) mod ops;
mod settings;
pub(crate) mod wire;

#[cfg(not(feature = "ssh"))]
pub(crate) use disabled::{connection, install};

pub(crate) use destination::Destination;
pub use error::RemoteError;
