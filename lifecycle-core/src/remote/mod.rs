//! Daemons on other hosts, over the system's OpenSSH client.
//!
//! One [`connection::Connection`] per destination (user, host, port) and manager: an `ssh`
//! master process (`ControlMaster`, so that an upload or a fallback channel rides the same
//! connection) whose own session runs the remote helper ([`helper.sh`](self)), a fixed POSIX sh
//! loop that answers framed requests on stdin, so that an operation costs one round trip, not
//! a remote login shell. Every value reaches the helper as a framed field ([`wire`]); no shell
//! line is ever built from one. The remote daemon's record lives on the remote host, in the same
//! format as a local one, written by the helper under the daemon's lock there; a daemon started
//! there is the child of a small keeper process that tells its exit the moment it happens.

pub(crate) mod connection;
mod destination;
mod error;
pub(crate) mod hosts;
pub(crate) mod install;
pub(crate) mod ops;
pub(crate) mod wire;

pub(crate) use destination::Destination;
pub use error::RemoteError;
