//! The log readiness probe: each new line of the daemon's log, as it is written (inotify, not
//! polling), matched against a regex.

use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

/// How much of the log one read takes (a log written before the watch began is read a piece
/// at a time).
const CHUNK: u64 = 256 * 1024;

/// Follows a log file from an offset, line by line.
pub(crate) struct LogWatch {
    /// `None` only in [`Drop`], which hands it to a blocking thread.
    inotify: Option<AsyncFd<OwnedFd>>,
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogWatch {
    /// Starts following `path` from byte `offset` (where this start's output begins).
    pub(crate) fn new(path: &Path, offset: u64) -> io::Result<LogWatch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(path, AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_ATTRIB)?;
        Ok(LogWatch {
            inotify: Some(crate::async_fd::readable(OwnedFd::from(inotify))?),
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
        })
    }

    /// Waits for a line matching `regex`; returns it.
    pub(crate) async fn matching_line(&mut self, regex: &regex_lite::Regex) -> io::Result<String> {
        loop {
            // Read first, then wait: lines written before the watch began count too.
            let (lines, more) = self.read_new_lines()?;
            if let Some(line) = lines.into_iter().find(|l| regex.is_match(l)) {
                return Ok(line);
            }
            if more {
                tokio::task::yield_now().await;
                continue;
            }
            let Some(inotify) = &self.inotify else {
                return Err(io::Error::other("the log watch is closed"));
            };
            let mut guard = inotify.readable().await?;
            // Drain the events; what changed is read from the file itself.
            let mut events = [0u8; 4096];
            match guard
                .try_io(|fd| nix::unistd::read(fd.get_ref(), &mut events).map_err(io::Error::from))
            {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(err)) => return Err(err),
            }
        }
    }

    /// The complete lines in the next [`CHUNK`] bytes appended since the last read, and whether
    /// more is there already. Reads of the page cache, kept short: the caller yields between them.
    fn read_new_lines(&mut self) -> io::Result<(Vec<String>, bool)> {
        let mut file = crate::store::log_file::open_read(&self.path)?;
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated by a rotation: start over.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.take(CHUNK).read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        let more = self.offset < len;
        self.partial.extend_from_slice(&bytes);
        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok((Vec::new(), more));
        };
        let complete: Vec<u8> = self.partial.drain(..=last_newline).collect();
        let lines = String::from_utf8_lossy(&complete)
            .lines()
            .map(str::to_owned)
            .collect();
        Ok((lines, more))
    }
}

impl Drop for LogWatch {
    /// Closing an inotify instance waits for a kernel grace period (SRCU): 8 ms measured here,
    /// and more when several close at once. The descriptor leaves the reactor here and is
    /// closed on a blocking thread of its own — not a runtime worker, and not the short-work
    /// lane of [`crate::blocking`], where a burst of closes would hold up the spawns and
    /// record writes of other daemons — so a daemon found ready is reported at once. Outside a
    /// runtime, or in one shutting down, it is closed here.
    fn drop(&mut self) {
        if let Some(inotify) = self.inotify.take() {
            let fd = inotify.into_inner();
            match tokio::runtime::Handle::try_current() {
                // A runtime that refuses the task (shutting down) drops it, closing the fd.
                Ok(runtime) => drop(runtime.spawn_blocking(move || drop(fd))),
                Err(_) => drop(fd),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn finds_a_line_written_later_and_ignores_older_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        std::fs::write(&path, "ready on port 1 (an earlier run)\n").unwrap();
        let offset = std::fs::metadata(&path).unwrap().len();
        let mut watch = LogWatch::new(&path, offset).unwrap();
        let regex = regex_lite::Regex::new(r"ready on port \d+$").unwrap();
        let writer = {
            let path = path.clone();
            tokio::spawn(async move {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                f.write_all(b"loading\nready on ").unwrap();
                tokio::task::yield_now().await;
                f.write_all(b"port 7\n").unwrap();
            })
        };
        let line = tokio::time::timeout(Duration::from_secs(5), watch.matching_line(&regex))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, "ready on port 7");
        writer.await.unwrap();
    }

    /// How many inotify watches of this process are on the file with inode `ino` (from
    /// `/proc/self/fdinfo`: whatever other tests open meanwhile, a watch names its inode).
    fn watches_on(ino: u64) -> usize {
        let needle = format!(" ino:{ino:x} ");
        std::fs::read_dir("/proc/self/fdinfo")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .map(|info| {
                info.lines()
                    .filter(|l| l.starts_with("inotify wd:") && l.contains(&needle))
                    .count()
            })
            .sum()
    }

    fn watched_file() -> (tempfile::TempDir, PathBuf, u64) {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        std::fs::write(&path, "").unwrap();
        let ino = std::fs::metadata(&path).unwrap().ino();
        (dir, path, ino)
    }

    #[test]
    fn a_watch_dropped_in_a_runtime_is_closed_by_the_time_the_runtime_ends() {
        let (_dir, path, ino) = watched_file();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let watch = LogWatch::new(&path, 0).unwrap();
            assert_eq!(watches_on(ino), 1);
            drop(watch);
        });
        // The close runs on a blocking thread, which the runtime's end waits for.
        drop(runtime);
        assert_eq!(watches_on(ino), 0);
    }

    #[test]
    fn a_watch_dropped_outside_a_runtime_is_closed_at_once() {
        let (_dir, path, ino) = watched_file();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let watch = runtime.block_on(async { LogWatch::new(&path, 0).unwrap() });
        assert_eq!(watches_on(ino), 1);
        drop(watch);
        assert_eq!(watches_on(ino), 0);
    }
}
