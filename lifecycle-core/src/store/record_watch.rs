//! Watching one record for changes (inotify on the records directory, through the descriptor
//! the state directory was opened with): how a process waits for another one's verdict (a
//! daemon's parent deciding about its exit, a starting daemon turning ready) without polling.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

use crate::store::state_dir::{StateDir, record_name};

/// Changes to one record, from the moment the watch was made.
pub(crate) struct RecordWatch {
    inotify: AsyncFd<OwnedFd>,
    name: String,
}

impl RecordWatch {
    /// Watches the record of `key`.
    pub(crate) fn new(state: &StateDir, key: &str) -> io::Result<RecordWatch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        // The directory we opened, whatever its path names now.
        let dir = format!("/proc/self/fd/{}", state.records_fd().as_raw_fd());
        inotify.add_watch(
            dir.as_str(),
            AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM,
        )?;
        Ok(RecordWatch {
            inotify: crate::async_fd::readable(OwnedFd::from(inotify))?,
            name: record_name(key),
        })
    }

    /// Waits for the next change of the record (written, removed, replaced).
    pub(crate) async fn changed(&self) -> io::Result<()> {
        loop {
            let mut guard = self.inotify.readable().await?;
            let mut buf = [0u8; 4096];
            let read = guard
                .try_io(|fd| nix::unistd::read(fd.get_ref(), &mut buf).map_err(io::Error::from));
            let n = match read {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            };
            if events_name(&buf[..n]).any(|name| name == self.name.as_bytes()) {
                return Ok(());
            }
        }
    }
}

/// The names in a buffer of `inotify_event`s.
fn events_name(mut buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    // struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; }
    const HEADER: usize = 16;
    std::iter::from_fn(move || {
        if buf.len() < HEADER {
            return None;
        }
        let len = u32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]) as usize;
        let end = (HEADER + len).min(buf.len());
        let name = &buf[HEADER..end];
        buf = &buf[end..];
        Some(name.split(|&b| b == 0).next().unwrap_or(&[]))
    })
}
