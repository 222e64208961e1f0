//! The records directory: reading, writing and removing records, relative to the opened
//! directory, never through a symbolic link. Records not owned by this user are ignored (and
//! replaced by the next write): a forged record must not steer a stop onto anyone's process.
//!
//! A record is rewritten in place (write at offset 0, then cut to length): no file is created
//! or deleted per change of state (file creation is the costliest step of a start on some file
//! systems), and the checksum line tells a record read during a rewrite, or torn, from a whole
//! one. Decisions read records under the daemon's lock, where no rewrite runs; listings read
//! without it and read a record again when its checksum does not match. Records are not
//! fsynced: after a power loss they are of another boot, and name nothing anyway. Blocking.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::store::record::{Record, RecordError};
use crate::store::state_dir::{StateDir, record_name};

/// Records are small; anything bigger was not written by this library.
const MAX_RECORD: u64 = 1 << 20;

/// How often a listing reads a record again whose checksum does not match.
const TORN_RETRIES: usize = 3;

impl StateDir {
    /// Reads the record of `key`; `None` if there is none. A malformed record (torn by a crash,
    /// or written by hand) names nothing: it reads as none, with a warning, and is replaced by
    /// the next start. A record of another version is an error: it may name a daemon.
    pub(crate) fn read_record(&self, key: &str) -> Result<Option<Record>, RecordError> {
        self.read_record_file(&record_name(key))
    }

    fn read_record_file(&self, name: &str) -> Result<Option<Record>, RecordError> {
        let path = self.records().join(name);
        let io_err = |source: io::Error| RecordError::Io {
            path: path.clone(),
            source,
        };
        let mut malformed = None;
        for _ in 0..TORN_RETRIES {
            let Some(text) = self.read_file(name, &path).map_err(io_err)? else {
                return Ok(None);
            };
            match Record::parse(&text) {
                Ok(record) => return Ok(Some(record)),
                Err(RecordError::UnknownVersion { version, .. }) => {
                    return Err(RecordError::UnknownVersion { path, version });
                }
                Err(err) => malformed = Some(err),
            }
        }
        if let Some(err) = malformed {
            tracing::warn!(path = %path.display(), %err, "malformed record ignored");
        }
        Ok(None)
    }

    /// The text of record file `name`, if there is one that is ours.
    fn read_file(&self, name: &str, path: &Path) -> io::Result<Option<String>> {
        let fd = match openat(
            self.records_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => {
                tracing::warn!(path = %path.display(), "a symbolic link where a record belongs: ignored");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let stat = fstat(&fd)?;
        if stat.st_mode & libc::S_IFMT != libc::S_IFREG || stat.st_uid != self.euid() {
            tracing::warn!(path = %path.display(), uid = stat.st_uid, "a record not owned by this user (or not a file): ignored");
            return Ok(None);
        }
        // Room for the whole file and the end-of-file read: two reads, not a doubling series.
        let size = usize::try_from(stat.st_size).unwrap_or(usize::MAX);
        let mut text = String::with_capacity(size.saturating_add(64).min(1 << 16));
        File::from(fd)
            .take(MAX_RECORD)
            .read_to_string(&mut text)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData {
                    io::Error::new(io::ErrorKind::InvalidData, "not text")
                } else {
                    e
                }
            })?;
        Ok(Some(text))
    }

    /// Writes `record` in place (creating the file, mode 0600, if there is none). A file that
    /// is not ours, or not a regular file, is removed first.
    pub(crate) fn write_record(&self, record: &Record) -> Result<(), RecordError> {
        let name = record_name(&record.key);
        let path = self.records().join(&name);
        let err = |source: io::Error| RecordError::Io {
            path: path.clone(),
            source,
        };
        let open = |extra: OFlag| {
            openat(
                self.records_fd(),
                name.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC
                    | OFlag::O_NONBLOCK
                    | extra,
                Mode::from_bits_truncate(0o600),
            )
        };
        let fd = match open(OFlag::empty()) {
            Ok(fd)
                if fstat(&fd).is_ok_and(|s| {
                    s.st_mode & libc::S_IFMT == libc::S_IFREG && s.st_uid == self.euid()
                }) =>
            {
                fd
            }
            Ok(_) | Err(Errno::ELOOP | Errno::EACCES | Errno::EPERM | Errno::ENXIO) => {
                self.remove_file(&name).map_err(err)?;
                open(OFlag::O_EXCL).map_err(|e| err(e.into()))?
            }
            Err(e) => return Err(err(e.into())),
        };
        let file = File::from(fd);
        let text = record.to_text();
        file.write_all_at(text.as_bytes(), 0).map_err(err)?;
        file.set_len(text.len() as u64).map_err(err)?;
        Ok(())
    }

    /// Removes the record of `key`, if any.
    pub(crate) fn remove_record(&self, key: &str) -> Result<(), RecordError> {
        let name = record_name(key);
        self.remove_file(&name).map_err(|source| RecordError::Io {
            path: self.records().join(&name),
            source,
        })
    }

    fn remove_file(&self, name: &str) -> io::Result<()> {
        match unlinkat(self.records_fd(), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every readable record (a listing: records of other versions and unreadable files are
    /// left out).
    pub(crate) fn all_records(&self) -> Vec<Record> {
        self.list_records().unwrap_or_default()
    }

    /// Every readable record; an error if the directory itself cannot be read (EMFILE, EIO):
    /// a listing that is empty because it failed would say that nothing runs.
    pub(crate) fn list_records(&self) -> Result<Vec<Record>, Errno> {
        let dir = nix::dir::Dir::openat(
            self.records_fd(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut names = Vec::new();
        for entry in dir.into_iter().flatten() {
            if let Ok(name) = entry.file_name().to_str()
                && name.ends_with(".record")
            {
                names.push(name.to_owned());
            }
        }
        Ok(names
            .iter()
            .filter_map(|name| self.read_record_file(name).ok().flatten())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::record::RecordState;

    fn sample(key: &str, pid: u32) -> Record {
        Record {
            key: key.into(),
            name: "d".into(),
            state: RecordState::Starting,
            generation: 1,
            pid,
            start_time: 2,
            boot_id: "b".into(),
            pgid: pid,
            session: pid,
            started_at_ms: 1,
            parent: (1, 1),
            manager: 0,
            log: "/tmp/d.log".into(),
            log_offset: 0,
            spec_file: "specs/d.yaml".into(),
            probe: None,
            command: "d --flag".into(),
            fingerprint: "0123456789abcdef".into(),
            restarts: 0,
            depends_on: vec![],
            stop: vec![],
        }
    }

    #[test]
    fn written_in_place_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let mut record = sample("d@1", 7);
        record.command = "a much longer command line than the next one".into();
        state.write_record(&record).unwrap();
        let path = state.record_path("d@1");
        let inode = std::fs::metadata(&path).unwrap();
        let shorter = sample("d@1", 8);
        state.write_record(&shorter).unwrap();
        assert_eq!(state.read_record("d@1").unwrap(), Some(shorter));
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&after),
            std::os::unix::fs::MetadataExt::ino(&inode),
            "rewritten in place"
        );
        assert_eq!(after.permissions().mode() & 0o777, 0o600);
        assert_eq!(state.all_records().len(), 1);
        state.remove_record("d@1").unwrap();
        assert_eq!(state.read_record("d@1").unwrap(), None);
        state.remove_record("d@1").unwrap();
    }

    #[test]
    fn torn_and_foreign_records_name_nothing_and_another_version_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let path = state.record_path("d");
        std::fs::write(&path, "version=2\nkey=d\npid=12").unwrap();
        assert_eq!(state.read_record("d").unwrap(), None);
        std::fs::write(&path, "version=7\n").unwrap();
        assert!(
            matches!(state.read_record("d"), Err(RecordError::UnknownVersion { version, .. }) if version == "7")
        );
        // A symbolic link where the record belongs: ignored, and replaced by the next write.
        std::fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, sample("d", 3).to_text()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert_eq!(state.read_record("d").unwrap(), None);
        state.write_record(&sample("d", 4)).unwrap();
        assert_eq!(state.read_record("d").unwrap().map(|r| r.pid), Some(4));
        assert_eq!(
            std::fs::read_to_string(&elsewhere).unwrap(),
            sample("d", 3).to_text(),
            "the link's target was not written through"
        );
    }
}
