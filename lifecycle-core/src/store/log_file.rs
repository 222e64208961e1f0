//! Per-daemon log files: stdout and stderr appended to one file, rotated by size, read back
//! for error messages and log probes. The log directory must be the user's own and not writable
//! by others; files in it are opened without following symbolic links (a planted
//! `queen.log -> ~/.bashrc` is refused, not appended to) and rotated files are created anew.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// `<log>.<n>`: rotated file number `n` (1 is the newest).
fn rotated_name(name: &str, n: u32) -> String {
    format!("{name}.{n}")
}

/// The directory and the file name of `path`.
fn split(path: &Path) -> io::Result<(&Path, &str)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    Ok((path.parent().unwrap_or(Path::new(".")), name))
}

fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{}: {why}; refusing to use it", path.display()),
    )
}

/// Checks that `fd` is the user's own (`dir`: a directory, not writable by others; else a
/// regular file).
fn check(fd: impl AsFd, path: &Path, dir: bool) -> io::Result<()> {
    let stat = fstat(fd)?;
    let kind = stat.st_mode & libc::S_IFMT;
    if dir && kind != libc::S_IFDIR || !dir && kind != libc::S_IFREG {
        return Err(refused(path, "not a regular file or directory of its own"));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if stat.st_uid != euid {
        return Err(refused(
            path,
            &format!(
                "owned by uid {}, not by this user (uid {euid})",
                stat.st_uid
            ),
        ));
    }
    if dir && stat.st_mode & 0o022 != 0 {
        return Err(refused(path, "writable by group or others"));
    }
    Ok(())
}

/// Opens (creating it, 0700) the log directory and checks it.
fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::ELOOP => refused(dir, "a symbolic link"),
        e => io::Error::from(e),
    })?;
    check(&fd, dir, true)?;
    Ok(fd)
}

/// Opens `name` in `dir` with `flags`, never through a symbolic link.
fn open_at(dir: &OwnedFd, name: &str, flags: OFlag, shown: &Path) -> io::Result<File> {
    let fd = openat(
        dir,
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| match e {
        Errno::ELOOP => refused(shown, "a symbolic link"),
        e => io::Error::from(e),
    })?;
    check(&fd, shown, false)?;
    Ok(File::from(fd))
}

/// Renames `from` to `to` in `dir`; a missing `from` is not an error.
fn rename_in(dir: &OwnedFd, from: &str, to: &str) -> io::Result<()> {
    match renameat(dir, from, dir, to) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Moves `log.1 … log.(keep-1)` to `log.2 … log.keep`, making room for a new `log.1` (the
/// oldest beyond `keep` is overwritten).
fn shift_rotated(dir: &OwnedFd, name: &str, keep: u32) -> io::Result<()> {
    for n in (1..keep).rev() {
        rename_in(dir, &rotated_name(name, n), &rotated_name(name, n + 1))?;
    }
    Ok(())
}

/// Opens the log for a daemon about to start, rotating first if it has reached `max_size`
/// (`log` becomes `log.1`; with `keep == 0` it is removed). Returns the file (append mode,
/// 0600) and its length, where this start's output begins. Blocking.
pub(crate) fn open_for_start(path: &Path, max_size: u64, keep: u32) -> io::Result<(File, u64)> {
    let (dir_path, name) = split(path)?;
    let dir = open_dir(dir_path)?;
    let size = match nix::sys::stat::fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => Some(stat.st_size),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(e.into()),
    };
    if size.is_some_and(|s| u64::try_from(s).unwrap_or(0) >= max_size) {
        if keep == 0 {
            match unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            shift_rotated(&dir, name, keep)?;
            rename_in(&dir, name, &rotated_name(name, 1))?;
        }
    }
    let file = open_at(
        &dir,
        name,
        OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
        path,
    )?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// Opens the log for reading, never through a symbolic link.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    let (dir_path, name) = split(path)?;
    let dir = nix::fcntl::open(
        dir_path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    open_at(&dir, name, OFlag::O_RDONLY, path)
}

/// Keeps a running daemon's log under `max_size`: copies it to a new `log.1` (after shifting
/// the older ones) and truncates it in place. The daemon writes with `O_APPEND`, so its next
/// write lands at the new end. Everything the daemon wrote before the rotation began is kept:
/// the copy catches up with the file until nothing new came during the last pass, then
/// truncates; only what is written in the instant between that last pass and the truncation
/// can be lost (the price of rotating a file the manager does not sit between). The caller
/// makes sure only one rotation of a log runs at a time. Blocking.
pub(crate) fn copy_truncate_if_over(path: &Path, max_size: u64, keep: u32) -> io::Result<bool> {
    let (dir_path, name) = split(path)?;
    let dir = open_dir(dir_path)?;
    let mut log = open_at(&dir, name, OFlag::O_RDWR, path)?;
    if log.metadata()?.len() < max_size {
        return Ok(false);
    }
    if keep == 0 {
        log.set_len(0)?;
        return Ok(true);
    }
    // The copy is made under a name of its own and becomes `log.1` once complete (and the log
    // cut): a reader never sees half a rotated file.
    let partial = format!("{name}.rotating");
    match unlinkat(&dir, partial.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let mut copy = open_at(
        &dir,
        &partial,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        &dir_path.join(&partial),
    )?;
    let mut copied: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        log.seek(SeekFrom::Start(copied))?;
        let mut pass: u64 = 0;
        loop {
            let n = log.read(&mut buf)?;
            if n == 0 {
                break;
            }
            copy.write_all(&buf[..n])?;
            pass += n as u64;
        }
        copied += pass;
        if pass == 0 {
            break;
        }
    }
    log.set_len(0)?;
    shift_rotated(&dir, name, keep)?;
    // `renameat` replaces whatever is at `log.1` (a planted link included) without following it.
    renameat(&dir, partial.as_str(), &dir, rotated_name(name, 1).as_str())?;
    Ok(true)
}

/// The last `lines` lines of the log from byte `from` on (this start's output), lossily decoded.
pub(crate) fn tail(path: &Path, from: u64, lines: usize) -> Vec<String> {
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut file) = open_read(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A rotation since the start leaves a shorter file: then read it from its beginning.
    let from = if from > len { 0 } else { from };
    let start = len.saturating_sub(WINDOW).max(from);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    // A window that starts mid-line drops that partial first line.
    let skip = usize::from(start > from && !all.is_empty());
    let all = &all[skip.min(all.len())..];
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// `<log>.<n>` as a path.
#[cfg(test)]
fn rotated(path: &Path, n: u32) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    std::path::PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn rotates_by_size_keeping_n() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        for round in 0..4 {
            let (mut file, _) = open_for_start(&log, 10, 2).unwrap();
            writeln!(file, "round {round} ........").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "round 3 ........\n");
        assert_eq!(
            std::fs::read_to_string(rotated(&log, 1)).unwrap(),
            "round 2 ........\n"
        );
        assert_eq!(
            std::fs::read_to_string(rotated(&log, 2)).unwrap(),
            "round 1 ........\n"
        );
        assert!(!rotated(&log, 3).exists());
    }

    #[test]
    fn copy_truncate_keeps_the_file_open_for_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let (mut file, _) = open_for_start(&log, 1 << 20, 1).unwrap();
        file.write_all(&[b'x'; 100]).unwrap();
        assert!(copy_truncate_if_over(&log, 50, 1).unwrap());
        file.write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "after\n");
        assert_eq!(std::fs::metadata(rotated(&log, 1)).unwrap().len(), 100);
        assert!(!copy_truncate_if_over(&log, 50, 1).unwrap());
    }

    #[test]
    fn a_planted_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bashrc");
        std::fs::write(&target, "precious\n").unwrap();
        let logs = dir.path().join("logs");
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&logs)
            .unwrap();
        let log = logs.join("queen.log");
        std::os::unix::fs::symlink(&target, &log).unwrap();
        let err = open_for_start(&log, 1 << 20, 1).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        // A planted `log.1` is replaced by a new file, not written through.
        std::fs::remove_file(&log).unwrap();
        let (mut file, _) = open_for_start(&log, 1 << 20, 1).unwrap();
        file.write_all(&[b'x'; 100]).unwrap();
        std::os::unix::fs::symlink(&target, rotated(&log, 1)).unwrap();
        assert!(copy_truncate_if_over(&log, 50, 1).unwrap());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert_eq!(std::fs::metadata(rotated(&log, 1)).unwrap().len(), 100);
    }

    #[test]
    fn tail_reads_this_start_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        std::fs::write(&log, "old 1\nold 2\n").unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        let mut text = String::new();
        for i in 1..=30 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let last = tail(&log, from, 20);
        assert_eq!(last.len(), 20);
        assert_eq!(last[0], "line 11");
        assert_eq!(last[19], "line 30");
        assert_eq!(tail(&log, 0, 100).len(), 32);
    }
}
