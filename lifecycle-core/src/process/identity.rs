//! A process's identity: PID, start time and boot. A PID read from a file is a claim; it names
//! the recorded process only if it is the same boot and the process behind it started when the
//! record says, checked *after* a pidfd pins that process.

use std::io;

use crate::process::pidfd::PidFd;
use crate::process::proc_stat;

/// This boot's identifier (`/proc/sys/kernel/random/boot_id`; empty if the kernel does not say).
pub(crate) fn boot_id() -> &'static str {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

/// What a recorded identity names now.
#[derive(Debug)]
pub(crate) enum Liveness {
    /// The recorded process, running; the pidfd pins it.
    Alive(PidFd),
    /// The recorded process, exited but not reaped yet (a zombie still holding its PID, so its
    /// group ID too); the pidfd pins it.
    Exited(PidFd),
    /// No process has the PID (`ESRCH`): the recorded one is gone for good.
    Gone,
    /// The PID now belongs to another process (its start time differs).
    Reused {
        /// The start time found.
        found: u64,
    },
    /// The record is of another boot: its numbers name nothing of ours.
    OtherBoot,
}

/// Checks `pid` against the recorded start time and boot. Errors other than "no such process"
/// (`EMFILE`, an unreadable `/proc`) are errors: they say nothing about the process, and a
/// process they hide must not be taken for gone.
pub(crate) fn check(pid: u32, start_time: u64, boot: &str) -> io::Result<Liveness> {
    if boot != boot_id() {
        return Ok(Liveness::OtherBoot);
    }
    let pidfd = match PidFd::open(pid) {
        Ok(pidfd) => pidfd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(Liveness::Gone),
        Err(e) => return Err(e),
    };
    let stat = match proc_stat::read(pid) {
        Ok(stat) => stat,
        // Reaped between the two calls: the pidfd names a process that is gone.
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            return Ok(Liveness::Gone);
        }
        Err(e) => return Err(e),
    };
    if stat.start_time != start_time {
        // The pidfd may name a process that died in between, and the stat its successor: either
        // way not the recorded process.
        return Ok(Liveness::Reused {
            found: stat.start_time,
        });
    }
    // The stat was read while the pidfd's process held the PID, so it is that process's.
    if pidfd.has_exited() || stat.is_dead() {
        if pidfd.is_reaped() {
            return Ok(Liveness::Gone);
        }
        return Ok(Liveness::Exited(pidfd));
    }
    Ok(Liveness::Alive(pidfd))
}

/// Whether process `who` (PID and start time, recorded in boot `boot`) may still run: `false`
/// only when it is gone for sure. An error checking it is no proof it is gone.
pub(crate) fn may_live(who: (u32, u64), boot: &str) -> bool {
    !matches!(
        check(who.0, who.1, boot),
        Ok(Liveness::Gone | Liveness::Exited(_) | Liveness::Reused { .. } | Liveness::OtherBoot)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn alive_reused_gone_and_other_boot() {
        let me = std::process::id();
        let started = proc_stat::read(me).unwrap().start_time;
        assert!(matches!(
            check(me, started, boot_id()).unwrap(),
            Liveness::Alive(_)
        ));
        assert!(matches!(
            check(me, started + 1, boot_id()).unwrap(),
            Liveness::Reused { found } if found == started
        ));
        assert!(matches!(
            check(i32::MAX as u32, 1, boot_id()).unwrap(),
            Liveness::Gone
        ));
        assert!(matches!(
            check(me, started, "an earlier boot").unwrap(),
            Liveness::OtherBoot
        ));
    }

    #[tokio::test]
    async fn a_zombie_is_exited_not_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let started = proc_stat::read(pid).unwrap().start_time;
        let pidfd = PidFd::open(pid).unwrap();
        pidfd.exited().await;
        assert!(matches!(
            check(pid, started, boot_id()).unwrap(),
            Liveness::Exited(_)
        ));
        child.wait().unwrap();
        assert!(matches!(
            check(pid, started, boot_id()).unwrap(),
            Liveness::Gone | Liveness::Reused { .. }
        ));
    }
}
