//! What the daemons' truth is kept in, shared by every process: the state directory, the
//! records, the per-daemon locks, the log files, the dependents markers. File work runs on the
//! blocking threads, never on the runtime's workers.

pub(crate) mod lock;
pub(crate) mod log_file;
pub(crate) mod markers;
pub(crate) mod record;
pub(crate) mod record_watch;
pub(crate) mod records;
pub(crate) mod state_dir;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::store::lock::{Held, LockError, Locks};
use crate::store::record::{Record, RecordError};
use crate::store::state_dir::{StateDir, StateDirError};

/// What a decision does to a record.
#[derive(Debug)]
pub(crate) enum Change {
    /// Leave it as it is.
    Keep,
    /// Write this record (a new generation of it).
    Write(Box<Record>),
    /// Remove it.
    Remove,
}

/// The state directory with its locks.
#[derive(Debug)]
pub(crate) struct Store {
    dir: Arc<StateDir>,
    locks: Locks,
    lock_timeout: Duration,
}

/// How many blocking operations of this library run at once, in the whole process: enough to
/// keep a disk and two cores busy, few enough that hundreds of concurrent starts do not grow
/// the runtime's blocking pool (and the process's memory) by a thread each.
const BLOCKING_AT_ONCE: usize = 8;

/// Blocking file work handed to a blocking thread: it runs to its end even if nobody awaits
/// it any more (a runtime that shuts down waits for it).
pub(crate) struct Submitted<T>(tokio::task::JoinHandle<T>);

impl<T> Submitted<T> {
    /// Waits for the work's end.
    pub(crate) async fn done(self) -> std::io::Result<T> {
        self.0.await.map_err(std::io::Error::other)
    }
}

/// Hands blocking file work to a blocking thread (at most [`BLOCKING_AT_ONCE`] at a time) and
/// returns once it is on its way.
pub(crate) async fn submit<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Submitted<T>> {
    static PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BLOCKING_AT_ONCE);
    let permit = PERMITS.acquire().await.map_err(std::io::Error::other)?;
    Ok(Submitted(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })))
}

/// Runs blocking file work off the runtime's workers (see [`submit`]).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    submit(work).await?.done().await
}

impl Store {
    /// Opens (creating it) the state directory at `root`.
    pub(crate) fn open(root: &Path, lock_timeout: Duration) -> Result<Store, StateDirError> {
        let dir = StateDir::open(root)?;
        let file = dir
            .lock_file()
            .try_clone()
            .map_err(|source| StateDirError {
                path: dir.lock_path(),
                source,
            })?;
        Ok(Store {
            locks: Locks::new(dir.lock_path(), file),
            dir: Arc::new(dir),
            lock_timeout,
        })
    }

    /// The state directory.
    pub(crate) fn dir(&self) -> &Arc<StateDir> {
        &self.dir
    }

    /// Takes the lock of daemon `key`, waiting at most the manager's lock timeout.
    pub(crate) async fn lock(&self, key: &str) -> Result<Held, LockError> {
        self.locks.acquire(key, self.lock_timeout).await
    }

    /// Takes lock `name` if it is free.
    pub(crate) fn try_lock(&self, name: &str) -> std::io::Result<Option<Held>> {
        self.locks.try_acquire(name)
    }

    /// Reads the record of `key` (the caller holds its lock for a decision).
    pub(crate) async fn read(&self, key: &str) -> Result<Option<Record>, RecordError> {
        let (dir, key) = (self.dir.clone(), key.to_owned());
        let path = self.dir.record_path(&key);
        blocking(move || dir.read_record(&key))
            .await
            .map_err(|source| RecordError::Io { path, source })?
    }

    /// Reads the record of `key`, lets `decide` choose what becomes of it, and does that, in
    /// one trip to a blocking thread. The caller holds the daemon's lock.
    pub(crate) async fn update<T: Send + 'static>(
        &self,
        key: &str,
        decide: impl FnOnce(Option<Record>) -> (Change, T) + Send + 'static,
    ) -> Result<T, RecordError> {
        let path = self.dir.record_path(key);
        self.submit_update(key, None, decide)
            .await
            .map_err(|source| RecordError::Io {
                path: path.clone(),
                source,
            })?
            .done()
            .await
            .map_err(|source| RecordError::Io { path, source })?
    }

    /// [`Store::update`], handed to a blocking thread and returned once on its way: it ends
    /// even if the runtime shuts down meanwhile. `held`: the daemon's lock, released when the
    /// update is done.
    pub(crate) async fn submit_update<T: Send + 'static>(
        &self,
        key: &str,
        held: Option<Held>,
        decide: impl FnOnce(Option<Record>) -> (Change, T) + Send + 'static,
    ) -> std::io::Result<Submitted<Result<T, RecordError>>> {
        let (dir, key) = (self.dir.clone(), key.to_owned());
        submit(move || {
            let current = dir.read_record(&key)?;
            let (change, out) = decide(current);
            match change {
                Change::Keep => {}
                Change::Write(record) => dir.write_record(&record)?,
                Change::Remove => dir.remove_record(&key)?,
            }
            drop(held);
            Ok(out)
        })
        .await
    }

    /// Every readable record.
    pub(crate) async fn all_records(&self) -> Vec<Record> {
        let dir = self.dir.clone();
        blocking(move || dir.all_records())
            .await
            .unwrap_or_default()
    }

    /// The dependents of `key` its markers name (and their records confirm).
    pub(crate) async fn marked_dependents(&self, key: &str) -> Vec<String> {
        let (dir, key) = (self.dir.clone(), key.to_owned());
        blocking(move || dir.marked_dependents(&key))
            .await
            .unwrap_or_default()
    }
}
