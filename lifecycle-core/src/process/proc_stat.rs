//! Reading `/proc/<pid>/stat`: a process's identity (start time) and its process group.

use std::io;

/// What this library needs from `/proc/<pid>/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: `R`, `S`, `Z` (zombie), …
    pub(crate) state: char,
    /// Field 4: the parent.
    pub(crate) ppid: u32,
    /// Field 5: the process group.
    pub(crate) pgrp: u32,
    /// Field 6: the session.
    pub(crate) session: u32,
    /// Field 22: start time in clock ticks since boot. With the PID it names one process for
    /// the life of the system: a reused PID has a different start time.
    pub(crate) start_time: u64,
}

impl ProcStat {
    /// Whether the process has exited (a zombie or being reaped).
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads and parses `/proc/<pid>/stat`.
pub(crate) fn read(pid: u32) -> io::Result<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected /proc/{pid}/stat"),
        )
    })
}

/// Parses a stat line. The command name (field 2) is in parentheses and may itself contain
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3.
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Whether any process or thread holds `pid` now (zombies included): `/proc/<pid>` exists.
pub(crate) fn pid_in_use(pid: u32) -> io::Result<bool> {
    match std::fs::symlink_metadata(format!("/proc/{pid}")) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The live (not zombie) processes of process group `pgid`, by a scan of `/proc`: the cost grows
/// with the number of processes on the host, so it is the exception (a group that outlives its
/// leader, or a kernel without `PIDFD_SIGNAL_PROCESS_GROUP`), never the common path. Blocking.
pub(crate) fn group_members(pgid: u32) -> io::Result<Vec<u32>> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        match read(pid) {
            Ok(stat) if stat.pgrp == pgid && !stat.is_dead() => members.push(pid),
            Ok(_) => {}
            // Exited between the listing and the read.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            }
            Err(e) => return Err(e),
        }
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100 18446744073709551615";
        let stat = parse(line).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                session: 4242,
                start_time: 98765
            }
        );
    }

    #[test]
    fn reads_this_process() {
        let me = read(std::process::id()).unwrap();
        assert!(!me.is_dead());
        assert!(me.start_time > 0);
        assert_eq!(me.pgrp, nix::unistd::getpgrp().as_raw() as u32);
    }

    #[test]
    fn this_group_has_this_process_and_pids_in_use_are_seen() {
        let me = std::process::id();
        let pgrp = nix::unistd::getpgrp().as_raw() as u32;
        assert!(group_members(pgrp).unwrap().contains(&me));
        assert!(pid_in_use(me).unwrap());
        assert!(!pid_in_use(i32::MAX as u32).unwrap());
    }

    #[test]
    fn truncated_lines_are_refused() {
        assert_eq!(parse("1 (x) S 0"), None);
        assert_eq!(parse("garbage"), None);
    }
}
