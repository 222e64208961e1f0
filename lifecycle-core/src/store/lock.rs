//! The cross-process lock of one daemon: an open-file-description lock (`F_OFD_SETLK`) on one
//! byte of the state directory's `lock` file, at an offset given by a stable 63-bit hash of the
//! daemon's key. No file per daemon to create (file creation is the costliest step of a start
//! on some file systems), and the lock goes with the open file: a process that dies releases it.
//!
//! The lock guards short critical sections only (read a record, decide, write it): nobody holds
//! it across a readiness wait or a stop chain. Waiting for it never blocks a thread: a taken
//! lock is tried again, yielding to the runtime for half a millisecond, then at growing
//! intervals (1 ms doubling to 16 ms) until the caller's timeout, so a waiter that gives up
//! leaves nothing behind that could later take or release the lock.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};

/// How long a taken lock is tried again without sleeping.
const SPIN: Duration = Duration::from_micros(500);

/// The lock of one daemon could not be taken.
///
/// ```
/// let err = lifecycle_core::error::LockError { path: "/state/lock".into(), key: "queen".into(), source: std::io::Error::other("x") };
/// assert!(err.to_string().contains("`queen`"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("cannot take the lock of `{key}` in {}: {source}", path.display())]
pub struct LockError {
    /// The lock file.
    pub path: PathBuf,
    /// The daemon key.
    pub key: String,
    /// Why.
    pub source: io::Error,
}

/// The lock table of one state directory, shared by the daemons of one manager.
#[derive(Debug)]
pub(crate) struct Locks {
    path: PathBuf,
    file: Arc<File>,
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub(crate) struct Held {
    file: Arc<File>,
    offset: i64,
}

/// The byte of the lock file that stands for `name`: a stable hash cut to 63 bits, a valid
/// offset.
pub(crate) fn offset_of(name: &str) -> i64 {
    (crate::stable_hash::stable_hash([name]) >> 1) as i64
}

fn range(kind: libc::c_int, offset: i64) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: offset,
        l_len: 1,
        l_pid: 0,
    }
}

impl Locks {
    /// The table over the open lock file `file` (at `path`, for messages).
    pub(crate) fn new(path: PathBuf, file: File) -> Locks {
        Locks {
            path,
            file: Arc::new(file),
        }
    }

    /// Takes the lock `name` if it is free; `None` if another open file holds it.
    pub(crate) fn try_acquire(&self, name: &str) -> io::Result<Option<Held>> {
        let offset = offset_of(name);
        match fcntl(
            &*self.file,
            FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, offset)),
        ) {
            Ok(_) => Ok(Some(Held {
                file: self.file.clone(),
                offset,
            })),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(None),
            Err(Errno::EINTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the lock `name`, waiting for other processes (and other managers of this process)
    /// that hold it, for at most `timeout`.
    pub(crate) async fn acquire(&self, name: &str, timeout: Duration) -> Result<Held, LockError> {
        let err = |source| LockError {
            path: self.path.clone(),
            key: name.to_owned(),
            source,
        };
        let deadline = crate::deadline::deadline_in(timeout);
        // The sections it guards take tens of microseconds: try again at once for a moment
        // (yielding to the runtime), before the timer's millisecond steps.
        let spin_until = std::time::Instant::now() + SPIN;
        let mut delay = Duration::from_millis(1);
        loop {
            if let Some(held) = self.try_acquire(name).map_err(err)? {
                return Ok(held);
            }
            if std::time::Instant::now() < spin_until {
                tokio::task::yield_now().await;
                continue;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "held by another process for more than {}",
                        lifecycle_spec::DisplayDuration(timeout)
                    ),
                )));
            }
            tokio::time::sleep(delay.min(deadline - now)).await;
            delay = (delay * 2).min(Duration::from_millis(16));
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let unlock = range(libc::F_UNLCK, self.offset);
        let _ = fcntl(&*self.file, FcntlArg::F_OFD_SETLK(&unlock));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locks(path: &std::path::Path) -> Locks {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap();
        Locks::new(path.to_path_buf(), file)
    }

    #[test]
    fn offsets_are_stable_and_valid() {
        assert_eq!(offset_of("queen-rbee"), offset_of("queen-rbee"));
        assert_ne!(offset_of("vllm@8080"), offset_of("vllm@8081"));
        assert!(offset_of("x") >= 0);
    }

    #[tokio::test]
    async fn another_open_file_waits_and_other_keys_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // Two lock tables stand for two processes: OFD locks belong to the open file.
        let (a, b) = (locks(&path), Arc::new(locks(&path)));
        let held = a.acquire("d", Duration::from_secs(10)).await.unwrap();
        b.acquire("other", Duration::from_secs(10)).await.unwrap();
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire("d", Duration::from_secs(10)).await.map(drop) })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        waiter.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let (a, b) = (locks(&path), locks(&path));
        let held = a.acquire("d", Duration::from_millis(10)).await.unwrap();
        let err = b.acquire("d", Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::TimedOut);
        drop(held);
        // b takes it now, and a cannot while b holds it: nothing of b's abandoned wait remains
        // to release it under b.
        let b_holds = b.acquire("d", Duration::from_millis(10)).await.unwrap();
        assert!(a.try_acquire("d").unwrap().is_none());
        drop(b_holds);
        assert!(a.try_acquire("d").unwrap().is_some());
    }
}
