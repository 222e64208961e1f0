//! The per-daemon lock that makes `ensure_running` idempotent: an in-process async mutex (so
//! tasks queue without threads) and an open-file-description byte-range lock (`F_OFD_SETLKW`)
//! on one shared file in the state directory (so processes queue too). Each daemon key locks
//! one byte, at an offset given by a stable 63-bit hash of the key: no file per daemon to
//! create (file creation is the costliest step of a start on some file systems).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use tokio::sync::OwnedMutexGuard;

/// The lock of one daemon could not be taken.
///
/// ```
/// let err = lifecycle_core::LockError { path: "/state/lock".into(), key: "queen".into(), source: std::io::Error::other("x") };
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

/// The lock table of one manager.
#[derive(Debug)]
pub(crate) struct Locks {
    path: PathBuf,
    file: Arc<File>,
    in_process: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A held daemon lock; dropping it releases both levels.
#[derive(Debug)]
pub(crate) struct DaemonLock {
    file: Arc<File>,
    offset: i64,
    _task: OwnedMutexGuard<()>,
}

/// The byte of the lock file that stands for `key`: a stable hash cut to 63 bits, a valid offset.
fn offset_of(key: &str) -> i64 {
    (crate::stable_hash::stable_hash([key]) >> 1) as i64
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
    /// Opens (creating, mode 0600) the shared lock file at `path`.
    pub(crate) fn open(path: &Path) -> io::Result<Locks> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        Ok(Locks {
            path: path.to_path_buf(),
            file: Arc::new(file),
            in_process: Mutex::new(HashMap::new()),
        })
    }

    /// Takes the lock of `key`, waiting for other tasks and other processes that hold it, for
    /// at most `patience`.
    pub(crate) async fn acquire(
        &self,
        key: &str,
        patience: Duration,
    ) -> Result<DaemonLock, LockError> {
        let err = |source| LockError {
            path: self.path.clone(),
            key: key.to_owned(),
            source,
        };
        let mutex = {
            let mut table = self
                .in_process
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            table.entry(key.to_owned()).or_default().clone()
        };
        let deadline = crate::stop::deadline_in(patience);
        let held_too_long = || {
            err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "held by another caller for more than {}",
                    lifecycle_spec::DisplayDuration(patience)
                ),
            ))
        };
        let task = tokio::time::timeout_at(deadline, mutex.lock_owned())
            .await
            .map_err(|_| held_too_long())?;
        let offset = offset_of(key);
        // Uncontended: no thread hop. Held by another process: wait on a blocking thread, which
        // hands the lock over, or gives it back if nobody waits for it any more.
        match fcntl(
            &*self.file,
            FcntlArg::F_OFD_SETLK(&range(libc::F_WRLCK, offset)),
        ) {
            Ok(_) => {}
            Err(Errno::EAGAIN | Errno::EACCES) => {
                let file = self.file.clone();
                let (handover, taken) = tokio::sync::oneshot::channel::<io::Result<()>>();
                tokio::task::spawn_blocking(move || {
                    let lock = range(libc::F_WRLCK, offset);
                    let result = loop {
                        match fcntl(&*file, FcntlArg::F_OFD_SETLKW(&lock)) {
                            Err(Errno::EINTR) => continue,
                            other => break other.map(drop).map_err(io::Error::from),
                        }
                    };
                    if let Err(Ok(())) = handover.send(result) {
                        let _ = fcntl(&*file, FcntlArg::F_OFD_SETLK(&range(libc::F_UNLCK, offset)));
                    }
                });
                match tokio::time::timeout_at(deadline, taken).await {
                    Ok(Ok(result)) => result.map_err(err)?,
                    Ok(Err(closed)) => return Err(err(io::Error::other(closed))),
                    Err(_) => return Err(held_too_long()),
                }
            }
            Err(e) => return Err(err(e.into())),
        }
        Ok(DaemonLock {
            file: self.file.clone(),
            offset,
            _task: task,
        })
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        // Released before the in-process mutex (a field, dropped after this body).
        let unlock = range(libc::F_UNLCK, self.offset);
        let _ = fcntl(&*self.file, FcntlArg::F_OFD_SETLK(&unlock));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn offsets_are_stable_and_valid() {
        assert_eq!(offset_of("queen-rbee"), offset_of("queen-rbee"));
        assert_ne!(offset_of("vllm@8080"), offset_of("vllm@8081"));
        assert!(offset_of("x") >= 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Arc::new(Locks::open(&dir.path().join("lock")).unwrap());
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (locks, inside) = (locks.clone(), inside.clone());
                tokio::spawn(async move {
                    let _lock = locks.acquire("d", Duration::from_secs(10)).await.unwrap();
                    assert_eq!(
                        inside.fetch_add(1, Ordering::SeqCst),
                        0,
                        "two holders at once"
                    );
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    #[tokio::test]
    async fn another_open_file_waits_and_other_keys_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // Two lock tables stand for two processes: OFD locks belong to the open file.
        let (a, b) = (
            Locks::open(&path).unwrap(),
            Arc::new(Locks::open(&path).unwrap()),
        );
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_that_gives_up_leaves_no_lock_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let (a, b) = (Locks::open(&path).unwrap(), Locks::open(&path).unwrap());
        let held = a.acquire("d", Duration::from_secs(10)).await.unwrap();
        let err = b.acquire("d", Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::TimedOut);
        drop(held);
        // The abandoned wait takes the lock and gives it back at once: a takes it again.
        a.acquire("d", Duration::from_secs(10)).await.unwrap();
    }
}
