//! The state directory: records of running daemons, their locks, their default log directory,
//! the dependents markers. A forged record there would steer stops onto any process, so the
//! directory must be the user's own: it and its parents (up to the home directory or a
//! root-owned directory) owned by the effective user and not writable by group or others. It is
//! opened without following symbolic links, and everything in it is reached relative to the
//! opened directory.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};

/// The state directory could not be used; nothing was spawned.
///
/// ```
/// let err = lifecycle_core::error::StateDirError { path: "/proc/x".into(), source: std::io::Error::from(std::io::ErrorKind::PermissionDenied) };
/// assert!(err.to_string().starts_with("state directory /proc/x is not usable"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("state directory {} is not usable: {source}; set another with DaemonManager::builder().state_dir(…) or LIFECYCLE_STATE_DIR", path.display())]
pub struct StateDirError {
    /// The directory (or the parent, or the file in it, that is the problem).
    pub path: PathBuf,
    /// What went wrong.
    pub source: io::Error,
}

/// `$LIFECYCLE_STATE_DIR`, else `$XDG_STATE_HOME/lifecycle`, else `$HOME/.local/state/lifecycle`;
/// an error when none is set (never a shared directory such as `/tmp`).
pub(crate) fn default_root() -> Result<PathBuf, StateDirError> {
    let set = |name: &str| std::env::var_os(name).filter(|d| !d.is_empty());
    if let Some(dir) = set("LIFECYCLE_STATE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = set("XDG_STATE_HOME") {
        return Ok(PathBuf::from(dir).join("lifecycle"));
    }
    match set("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/lifecycle")),
        None => Err(StateDirError {
            path: PathBuf::from("$HOME/.local/state/lifecycle"),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "none of LIFECYCLE_STATE_DIR, XDG_STATE_HOME and HOME is set",
            ),
        }),
    }
}

/// A file name for a daemon key: `[A-Za-z0-9._@-]` kept, anything else `%XX`.
pub(crate) fn file_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"._@-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.starts_with('.') {
        out.replace_range(0..1, "%2E");
    }
    out
}

/// The layout of a state directory (mode 0700): `daemons/<key>.record`, `lock` (one byte-range
/// lock per daemon key), `logs/<key>.log`, and `dependents/<key>/<dependent key>`: one marker
/// per daemon started with a dependency on `<key>`, so that a stop finds the dependents without
/// reading every record; `remote/<key>`: where a daemon started on another host runs.
#[derive(Debug)]
pub(crate) struct StateDir {
    root: PathBuf,
    daemons: OwnedFd,
    dependents: OwnedFd,
    remote: OwnedFd,
    lock: File,
    euid: u32,
}

/// Why a directory (or file) is not trusted, if it is not.
fn distrust(uid: u32, mode: u32, euid: u32) -> Option<String> {
    if uid != euid {
        Some(format!(
            "it is owned by uid {uid}, not by this user (uid {euid})"
        ))
    } else if mode & 0o022 != 0 {
        Some(format!(
            "it is writable by group or others (mode {:o}); `chmod go-w` it",
            mode & 0o7777
        ))
    } else {
        None
    }
}

fn refused(path: &Path, why: String) -> StateDirError {
    StateDirError {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::PermissionDenied, why),
    }
}

/// Writes `bytes` as file `name` in open directory `dir` (made, or cut to nothing first; mode
/// 0600; a symbolic link there is not followed, but an error).
pub(crate) fn write_file_at(dir: impl AsFd, name: &str, bytes: &[u8]) -> io::Result<()> {
    let fd = openat(
        &dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    io::Write::write_all(&mut File::from(fd), bytes)
}

/// The names of the entries of open directory `dir` (`.` and `..` aside, names that are not
/// UTF-8 skipped: none of ours is).
pub(crate) fn names_in(dir: impl AsFd) -> io::Result<Vec<String>> {
    let listing = nix::dir::Dir::openat(
        &dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in listing {
        if let Ok(name) = entry?.file_name().to_str()
            && name != "."
            && name != ".."
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Opens directory `name` in `dir` without following a symbolic link, creating it (0700) if
/// asked, and checks it is the user's own.
pub(crate) fn open_dir_at(
    dir: impl AsFd,
    name: &str,
    create: bool,
    euid: u32,
    shown: &Path,
) -> Result<OwnedFd, StateDirError> {
    let err = |e: Errno| StateDirError {
        path: shown.to_path_buf(),
        source: io::Error::from(e),
    };
    if create {
        match nix::sys::stat::mkdirat(&dir, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(err(e)),
        }
    }
    let fd = match openat(
        &dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            return Err(refused(
                shown,
                "it is a symbolic link or not a directory".to_owned(),
            ));
        }
        Err(e) => return Err(err(e)),
    };
    check_owned(&fd, euid, shown)?;
    Ok(fd)
}

/// Checks that the open file or directory `fd` is the user's own and not writable by others.
pub(crate) fn check_owned(fd: impl AsFd, euid: u32, shown: &Path) -> Result<(), StateDirError> {
    let stat = fstat(fd).map_err(|e| StateDirError {
        path: shown.to_path_buf(),
        source: e.into(),
    })?;
    match distrust(stat.st_uid, stat.st_mode, euid) {
        Some(why) => Err(refused(shown, why)),
        None => Ok(()),
    }
}

/// Checks the parents of `dir` (canonical) up to the user's home or a root-owned directory
/// (for root itself: a root-owned directory with the sticky bit, such as `/tmp`, where nobody
/// else can move our entries).
fn check_parents(dir: &Path, euid: u32) -> Result<(), StateDirError> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|h| h.canonicalize().ok());
    for parent in dir.ancestors().skip(1) {
        if home.as_deref() == Some(parent) {
            return Ok(());
        }
        let meta = std::fs::metadata(parent).map_err(|source| StateDirError {
            path: parent.to_path_buf(),
            source,
        })?;
        let sticky = meta.mode() & 0o1000 != 0;
        if meta.uid() == 0 && (euid != 0 || sticky) {
            return Ok(());
        }
        if let Some(why) = distrust(meta.uid(), meta.mode(), euid) {
            return Err(refused(
                parent,
                format!("its parent {}: {why}", parent.display()),
            ));
        }
    }
    Ok(())
}

impl StateDir {
    /// Creates (mode 0700) and checks the directory and its subdirectories.
    pub(crate) fn open(root: &Path) -> Result<StateDir, StateDirError> {
        let euid = nix::unistd::geteuid().as_raw();
        let err = |path: &Path, source| StateDirError {
            path: path.to_path_buf(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| err(root, e))?;
        let canonical = root.canonicalize().map_err(|e| err(root, e))?;
        check_parents(&canonical, euid)?;
        let root_fd = nix::fcntl::open(
            &canonical,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err(root, e.into()))?;
        let stat = fstat(&root_fd).map_err(|e| err(root, e.into()))?;
        if let Some(why) = distrust(stat.st_uid, stat.st_mode, euid) {
            return Err(refused(root, why));
        }
        // Ours and closed to others' writes; tighten reading too: records name processes.
        if stat.st_mode & 0o077 != 0 {
            nix::sys::stat::fchmod(&root_fd, Mode::from_bits_truncate(0o700))
                .map_err(|e| err(root, e.into()))?;
        }
        let daemons = open_dir_at(&root_fd, "daemons", true, euid, &root.join("daemons"))?;
        open_dir_at(&root_fd, "logs", true, euid, &root.join("logs"))?;
        let dependents = open_dir_at(&root_fd, "dependents", true, euid, &root.join("dependents"))?;
        let remote = open_dir_at(&root_fd, "remote", true, euid, &root.join("remote"))?;
        let lock_path = root.join("lock");
        let lock: File = openat(
            &root_fd,
            "lock",
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| match e {
            Errno::ELOOP => refused(&lock_path, "it is a symbolic link".to_owned()),
            e => err(&lock_path, e.into()),
        })?
        .into();
        check_owned(&lock, euid, &lock_path)?;
        Ok(StateDir {
            root: root.to_path_buf(),
            daemons,
            dependents,
            remote,
            lock,
            euid,
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The records directory, as a path (for messages) and opened.
    pub(crate) fn records(&self) -> PathBuf {
        self.root.join("daemons")
    }

    pub(crate) fn records_fd(&self) -> &OwnedFd {
        &self.daemons
    }

    pub(crate) fn dependents_fd(&self) -> &OwnedFd {
        &self.dependents
    }

    /// The pointers to remote daemons, opened.
    pub(crate) fn remote_fd(&self) -> &OwnedFd {
        &self.remote
    }

    /// The record file of `key`, as a path (for messages).
    pub(crate) fn record_path(&self, key: &str) -> PathBuf {
        self.records().join(record_name(key))
    }

    /// The shared lock file.
    pub(crate) fn lock_file(&self) -> &File {
        &self.lock
    }

    pub(crate) fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// The default log directory.
    pub(crate) fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The effective user that owns everything here.
    pub(crate) fn euid(&self) -> u32 {
        self.euid
    }
}

/// The record file name of `key`.
pub(crate) fn record_name(key: &str) -> String {
    format!("{}.record", file_name(key))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn keys_become_safe_file_names() {
        assert_eq!(file_name("vllm@8080"), "vllm@8080");
        assert_eq!(file_name("hive@gpu/1"), "hive@gpu%2F1");
        assert_eq!(file_name(".."), "%2E.");
    }

    #[test]
    fn creates_private_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        let state = StateDir::open(&root).unwrap();
        let mode = std::fs::metadata(state.root())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        assert!(state.records().is_dir());
    }

    #[test]
    fn unwritable_directory_is_an_error() {
        let err = StateDir::open(Path::new("/proc/lifecycle-state")).unwrap_err();
        assert_eq!(err.path, Path::new("/proc/lifecycle-state"));
    }

    #[test]
    fn a_directory_others_may_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(&root).unwrap_err();
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
        // A parent others may write: the same.
        let parent = dir.path().join("shared");
        std::fs::create_dir(&parent).unwrap();
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(&parent.join("state")).unwrap_err();
        assert!(err.to_string().contains("its parent"), "{err}");
    }

    #[test]
    fn a_symlinked_subdirectory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("daemons")).unwrap();
        let err = StateDir::open(&root).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
