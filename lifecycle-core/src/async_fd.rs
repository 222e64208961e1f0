//! Registering descriptors this crate owns with the tokio reactor.

// tokio's registration is `unsafe` because it cannot know that the descriptor stays open and
// the same; an `OwnedFd` guarantees both.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Registers `fd` for readability.
pub(crate) fn readable(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: `fd` is an open descriptor owned by the `OwnedFd`, which the `AsyncFd` owns for its
    // whole life: it stays open and refers to the same file description until dropped.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}
