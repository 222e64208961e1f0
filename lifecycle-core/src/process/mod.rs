//! The processes of daemons on this machine: spawning, identity (PID, start time, boot), exit
//! and reaping, pidfds, `/proc`, the process group as one [`group::Group`], and finding binaries.

pub(crate) mod binary;
pub(crate) mod exit;
pub(crate) mod group;
pub(crate) mod identity;
pub(crate) mod pidfd;
pub(crate) mod proc_stat;
pub(crate) mod spawn;
