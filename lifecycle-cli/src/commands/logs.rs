//! `lifecycle logs`: the end of a daemon's log, and with `-f` what it writes next (inotify, and
//! the log's rotation followed).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use lifecycle_core::Listed;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::CliError;
use crate::commands::down::unknown;
use crate::commands::name_of;

/// The log of the daemon `name` (a key, or a name with one instance) among `known`.
///
/// ```
/// let err = lifecycle_cli::commands::logs::log_of("queen-rbee", &[]).unwrap_err();
/// assert_eq!(err.code(), 2);
/// ```
pub fn log_of(name: &str, known: &[Listed]) -> Result<(String, PathBuf), CliError> {
    let exact = known.iter().find(|d| d.key == name);
    let matching: Vec<&Listed> = match exact {
        Some(d) => vec![d],
        None => known.iter().filter(|d| name_of(&d.key) == name).collect(),
    };
    match matching.as_slice() {
        [] => Err(CliError::BadInput(unknown(name, known))),
        [d] => match &d.record {
            Some(record) => Ok((d.key.clone(), record.log.clone())),
            None => Err(CliError::BadInput(format!(
                "`{}` runs on {}: its log is in the remote state directory there",
                d.key, d.location
            ))),
        },
        several => {
            let keys: Vec<&str> = several.iter().map(|d| d.key.as_str()).collect();
            Err(CliError::BadInput(format!(
                "`{name}` has {} instances: name one of {}",
                keys.len(),
                keys.join(", ")
            )))
        }
    }
}

/// Opens a log: a regular file owned by this user, not through a symbolic link.
///
/// ```
/// assert!(lifecycle_cli::commands::logs::open_log("/no/such.log".as_ref()).is_err());
/// ```
pub fn open_log(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::other(format!(
            "{} is owned by uid {}, not by this user",
            path.display(),
            meta.uid()
        )));
    }
    Ok(file)
}

/// Writes the last `lines` lines of `file` to `out`; returns the offset of its end.
///
/// ```
/// let mut file = tempfile::tempfile().unwrap();
/// std::io::Write::write_all(&mut file, b"a\nb\nc\n").unwrap();
/// let mut out = Vec::new();
/// lifecycle_cli::commands::logs::tail(&mut file, 2, &mut out).unwrap();
/// assert_eq!(out, b"b\nc\n");
/// ```
pub fn tail(file: &mut File, lines: usize, out: &mut impl Write) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let end = file.seek(SeekFrom::End(0))?;
    // Back from the end a chunk at a time until `lines` line ends are behind the start (the
    // last byte's newline ends the last line: it does not count).
    let mut buf: Vec<u8> = Vec::new();
    let mut from = end;
    let mut newlines = 0;
    let mut cut = None;
    while from > 0 && cut.is_none() {
        let at = from.saturating_sub(CHUNK);
        let mut chunk = vec![0; (from - at) as usize];
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut chunk)?;
        for (i, byte) in chunk.iter().enumerate().rev() {
            if *byte == b'\n' && at + i as u64 + 1 != end {
                newlines += 1;
                if newlines == lines {
                    cut = Some(i + 1);
                    break;
                }
            }
        }
        chunk.extend_from_slice(&buf);
        buf = chunk;
        if let Some(cut) = cut {
            buf.drain(..cut);
        }
        from = at;
    }
    if lines > 0 {
        out.write_all(&buf)?;
    }
    out.flush()?;
    Ok(end)
}

/// Writes what is appended to the log at `path` from `offset` on, as it is written, until an
/// error (`out` closed). A rotated log (renamed, a new file in its place) is followed to the
/// new file; a truncated one is read from its start.
///
/// ```no_run
/// let mut out = std::io::stdout();
/// lifecycle_cli::commands::logs::follow("/home/me/.local/state/lifecycle/logs/queen-rbee.log".as_ref(), 0, &mut out)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn follow(path: &Path, offset: u64, out: &mut impl Write) -> io::Result<()> {
    let mut file = open_log(path)?;
    let mut offset = offset;
    // Without inotify (EMFILE, no watches left), a check a second.
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok();
    let watched = AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_DONT_FOLLOW;
    let add = |inotify: &Option<Inotify>| {
        inotify
            .as_ref()
            .and_then(|i| i.add_watch(path, watched).ok())
    };
    let mut watch = add(&inotify);
    let mut buf = vec![0; 64 * 1024];
    loop {
        // What is there now.
        let len = file.metadata()?.len();
        if len < offset {
            offset = 0;
        }
        file.seek(SeekFrom::Start(offset))?;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            offset += n as u64;
        }
        out.flush()?;
        // Then wait for more: an inotify event, or a second (a rotation renames the file: the
        // path may name a new one, which the old watch does not see).
        match &inotify {
            Some(inotify) => {
                let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(1000u16)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(err) => return Err(err.into()),
                }
                while let Ok(events) = inotify.read_events() {
                    if events.is_empty() {
                        break;
                    }
                }
            }
            None => std::thread::sleep(std::time::Duration::from_secs(1)),
        }
        let now = std::fs::symlink_metadata(path);
        let current = file.metadata()?;
        if let Ok(now) = now
            && (now.ino() != current.ino() || now.dev() != current.dev())
        {
            // Rotated: finish the old file, then the new one from its start.
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
            }
            if let (Some(inotify), Some(old)) = (&inotify, watch) {
                let _ = inotify.rm_watch(old);
            }
            file = open_log(path)?;
            watch = add(&inotify);
            offset = 0;
        }
    }
}
