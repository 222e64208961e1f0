//! Dependents markers: `dependents/<key>/<dependent>` says that `dependent` was started with a
//! dependency on `key`, so that a stop in any process finds the daemons to stop first without
//! reading every record. A marker is a claim: it is believed only while the dependent's record
//! still lists `key` among its dependencies. Blocking.

use std::io::{self, Read};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::store::state_dir::{StateDir, file_name, names_in, open_dir_at, write_file_at};

impl StateDir {
    /// Leaves a marker that `dependent` depends on `key`.
    pub(crate) fn mark_dependent(&self, key: &str, dependent: &str) {
        let shown = self.root().join("dependents").join(file_name(key));
        let result = open_dir_at(
            self.dependents_fd(),
            &file_name(key),
            true,
            self.euid(),
            &shown,
        )
        .map_err(|e| e.source)
        .and_then(|dir| write_file_at(&dir, &file_name(dependent), dependent.as_bytes()));
        if let Err(err) = result {
            tracing::warn!(key, dependent, %err, "cannot record the dependency; stopping {key} will not stop {dependent} first");
        }
    }

    /// The dependents of `key` that its markers name and whose records confirm it; stale
    /// markers are removed. An error (a descriptor shortage, an unreadable record) is an error,
    /// not "no dependents": a stop must not go on without stopping them first.
    pub(crate) fn marked_dependents(&self, key: &str) -> io::Result<Vec<String>> {
        let shown = self.root().join("dependents").join(file_name(key));
        let dir = match open_dir_at(
            self.dependents_fd(),
            &file_name(key),
            false,
            self.euid(),
            &shown,
        ) {
            Ok(dir) => dir,
            Err(e) if e.source.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.source),
        };
        let names = names_in(&dir)?;
        let mut keys = Vec::new();
        for name in names {
            let fd = match openat(
                &dir,
                name.as_str(),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ELOOP) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut dependent = String::new();
            std::fs::File::from(fd)
                .take(4096)
                .read_to_string(&mut dependent)?;
            match self.read_record(&dependent) {
                Ok(Some(r)) if r.depends_on.iter().any(|d| d == key) => keys.push(dependent),
                Ok(_) => match unlinkat(&dir, name.as_str(), UnlinkatFlags::NoRemoveDir) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(err) => {
                        tracing::warn!(key, dependent, %err, "cannot remove a stale dependents marker")
                    }
                },
                Err(err) => return Err(io::Error::other(err.to_string())),
            }
        }
        Ok(keys)
    }
}
