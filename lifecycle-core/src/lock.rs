//! The per-daemon lock that makes `ensure_running` idempotent: an in-process async mutex (so
//! tasks queue without threads) and an `flock` on a file in the state directory (so processes
//! queue too).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nix::fcntl::{Flock, FlockArg};
use tokio::sync::OwnedMutexGuard;

/// The lock of one daemon could not be taken.
///
/// ```
/// let err = lifecycle_core::LockError { path: "/state/locks/q.lock".into(), source: std::io::Error::other("x") };
/// assert!(err.to_string().contains("q.lock"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("cannot lock {}: {source}", path.display())]
pub struct LockError {
    /// The lock file.
    pub path: PathBuf,
    /// Why.
    pub source: io::Error,
}

/// The lock table of one manager.
#[derive(Debug, Default)]
pub(crate) struct Locks {
    in_process: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

/// A held daemon lock; dropping it releases both levels.
#[derive(Debug)]
pub(crate) struct DaemonLock {
    // Field order: the flock is released before the in-process mutex.
    _file: Flock<File>,
    _task: OwnedMutexGuard<()>,
}

impl Locks {
    /// Takes the lock at `path`, waiting for other tasks and other processes that hold it.
    pub(crate) async fn acquire(&self, path: &Path) -> Result<DaemonLock, LockError> {
        let mutex = {
            let mut table = self
                .in_process
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            table.entry(path.to_path_buf()).or_default().clone()
        };
        let task = mutex.lock_owned().await;
        let err = |source| LockError {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        // Uncontended: no thread hop. Held by another process: wait on a blocking thread.
        let file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((file, nix::errno::Errno::EWOULDBLOCK)) => tokio::task::spawn_blocking(move || {
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))
            })
            .await
            .map_err(|e| err(io::Error::other(e)))?
            .map_err(err)?,
            Err((_, e)) => return Err(err(e.into())),
        };
        Ok(DaemonLock {
            _file: file,
            _task: task,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.lock");
        let locks = Arc::new(Locks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (locks, inside, path) = (locks.clone(), inside.clone(), path.clone());
                tokio::spawn(async move {
                    let _lock = locks.acquire(&path).await.unwrap();
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
    async fn another_open_file_waits_for_the_flock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.lock");
        // Two lock tables stand for two processes: flock locks are per open file.
        let (a, b) = (Locks::default(), Locks::default());
        let held = a.acquire(&path).await.unwrap();
        let waiter = tokio::spawn(async move { b.acquire(&path).await.map(|_| ()) });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        waiter.await.unwrap().unwrap();
    }
}
