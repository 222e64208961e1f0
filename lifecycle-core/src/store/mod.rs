//! What the daemons' truth is kept in, shared by every process: the state directory, the
//! records, the per-daemon locks, the log files, the dependents markers. File work runs on the
//! blocking threads, never on the runtime's workers.

pub(crate) mod lock;
pub(crate) mod log_file;
pub(crate) mod markers;
pub(crate) mod pointers;
pub(crate) mod record;
pub(crate) mod record_watch;
pub(crate) mod records;
pub(crate) mod state_dir;

use std::path::Path;
use std::sync::{Arc, Mutex};
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
    locks: Arc<Locks>,
    lock_timeout: Duration,
}

/// Reads the record of `key`, applies `decide`, writes or removes. Blocking.
fn change<T>(
    dir: &StateDir,
    key: &str,
    decide: impl FnOnce(Option<Record>) -> (Change, T),
) -> Result<T, RecordError> {
    let current = dir.read_record(key)?;
    let (change, out) = decide(current);
    match change {
        Change::Keep => {}
        Change::Write(record) => dir.write_record(&record)?,
        Change::Remove => dir.remove_record(key)?,
    }
    Ok(out)
}

type Decide = Box<dyn FnOnce(Option<Record>) -> Change + Send>;

/// What an [`Owed`] change is made with: the decision, and the lock once `pay` has it; taken by
/// whoever makes the change.
type Slot = Arc<Mutex<Option<(Decide, Option<Held>)>>>;

/// A record change its owner owes even if it goes away before making it (the runtime shut
/// down right after a caller had its answer: a command-line `up` or `down` that exits at once).
/// [`Owed::pay`] makes it on a blocking thread, under the daemon's lock; if this is dropped
/// before that thread has started on it — cancelled, or the blocking pool shut down under it —
/// the destructor makes it, here and now, with the lock `pay` took (or, before that, the lock if
/// it is free: a destructor does not wait).
pub(crate) struct Owed {
    dir: Arc<StateDir>,
    locks: Arc<Locks>,
    lock_timeout: Duration,
    key: String,
    slot: Slot,
}

impl Owed {
    /// Makes the change; whether it was one (not [`Change::Keep`]).
    pub(crate) async fn pay(self) -> Result<bool, String> {
        let held = self
            .locks
            .acquire(&self.key, self.lock_timeout)
            .await
            .map_err(|e| e.to_string())?;
        if let Some((_, lock)) = self.slot.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            *lock = Some(held);
        }
        let (dir, key, slot) = (self.dir.clone(), self.key.clone(), self.slot.clone());
        let submitted = crate::blocking::submit(move || {
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            let Some((decide, held)) = taken else {
                return Ok(false);
            };
            let changed = change(&dir, &key, |current| {
                let change = decide(current);
                let changed = !matches!(change, Change::Keep);
                (change, changed)
            });
            drop(held);
            changed
        });
        match submitted.done().await {
            Ok(Ok(changed)) => Ok(changed),
            Ok(Err(err)) => Err(err.to_string()),
            Err(err) => Err(err.to_string()),
        }
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        let taken = self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some((decide, held)) = taken else {
            return;
        };
        let held = match held {
            Some(held) => held,
            None => match self.locks.try_acquire(&self.key) {
                Ok(Some(held)) => held,
                _ => return,
            },
        };
        let _ = change(&self.dir, &self.key, |current| (decide(current), ()));
        drop(held);
    }
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
            locks: Arc::new(Locks::new(dir.lock_path(), file)),
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
        crate::blocking::run(move || dir.read_record(&key))
            .await
            .map_err(|source| RecordError::Io { path, source })?
    }

    /// Reads the record of `key`, lets `decide` choose what becomes of it, and does that, in
    /// one trip to a blocking thread, holding `held` (the daemon's lock) until it is done — even
    /// if the caller stops waiting meanwhile. The lock comes back with the result.
    pub(crate) async fn update<T: Send + 'static>(
        &self,
        key: &str,
        held: Held,
        decide: impl FnOnce(Option<Record>) -> (Change, T) + Send + 'static,
    ) -> Result<(T, Held), RecordError> {
        let (dir, key) = (self.dir.clone(), key.to_owned());
        let path = self.dir.record_path(&key);
        crate::blocking::run(move || {
            let out = change(&dir, &key, decide)?;
            Ok((out, held))
        })
        .await
        .map_err(|source| RecordError::Io { path, source })?
    }

    /// Under `held` (the daemon's lock), makes `change` to the record of `key` if it is still
    /// generation `generation` (else leaves what is there now: someone changed it meanwhile).
    pub(crate) async fn change_if_generation(
        &self,
        key: &str,
        held: Held,
        generation: u64,
        change: Change,
    ) -> Result<(), RecordError> {
        self.update(key, held, move |current| match current {
            Some(r) if r.generation == generation => (change, ()),
            _ => (Change::Keep, ()),
        })
        .await
        .map(drop)
    }

    /// Under the daemon's lock, applies `change` to the record of `key` if it still names
    /// process `pid` started at `start_time` (else leaves it as it is).
    pub(crate) async fn change_if_names(
        &self,
        key: &str,
        pid: u32,
        start_time: u64,
        change: impl FnOnce(Record) -> Change + Send + 'static,
    ) -> Result<(), String> {
        let held = self.lock(key).await.map_err(|e| e.to_string())?;
        self.update(key, held, move |current| match current {
            Some(r) if r.names(pid, start_time) => (change(r), ()),
            _ => (Change::Keep, ()),
        })
        .await
        .map(drop)
        .map_err(|e| e.to_string())
    }

    /// A change of `key`'s record that its owner owes: see [`Owed`].
    pub(crate) fn owe(
        &self,
        key: &str,
        decide: impl FnOnce(Option<Record>) -> Change + Send + 'static,
    ) -> Owed {
        Owed {
            dir: self.dir.clone(),
            locks: self.locks.clone(),
            lock_timeout: self.lock_timeout,
            key: key.to_owned(),
            slot: Arc::new(Mutex::new(Some((Box::new(decide), None)))),
        }
    }

    /// Every readable record.
    pub(crate) async fn all_records(&self) -> Vec<Record> {
        let dir = self.dir.clone();
        crate::blocking::run(move || dir.all_records())
            .await
            .unwrap_or_default()
    }

    /// The dependents of `key` its markers name (and their records confirm).
    pub(crate) async fn marked_dependents(&self, key: &str) -> std::io::Result<Vec<String>> {
        let (dir, key) = (self.dir.clone(), key.to_owned());
        crate::blocking::run(move || dir.marked_dependents(&key)).await?
    }
}
