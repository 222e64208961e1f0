//! The state directory: records of running daemons, their locks, their default log directory.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The state directory could not be used; nothing was spawned.
///
/// ```
/// let err = lifecycle_core::StateDirError { path: "/proc/x".into(), source: std::io::Error::from(std::io::ErrorKind::PermissionDenied) };
/// assert!(err.to_string().starts_with("state directory /proc/x is not usable"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("state directory {} is not usable: {source}; set another with DaemonManager::builder().state_dir(…) or LIFECYCLE_STATE_DIR", path.display())]
pub struct StateDirError {
    /// The directory.
    pub path: PathBuf,
    /// What went wrong.
    pub source: io::Error,
}

/// The layout of a state directory (mode 0700): `daemons/<key>.record`, `lock` (one byte-range
/// lock per daemon key), `logs/<key>.log`, and `dependents/<key>/<dependent key>`: one empty-named marker per daemon
/// started with a dependency on `<key>`, so that a stop finds the dependents without reading
/// every record.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    root: PathBuf,
}

/// `$LIFECYCLE_STATE_DIR`, else `$XDG_STATE_HOME/lifecycle`, else `~/.local/state/lifecycle`.
pub(crate) fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIFECYCLE_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("lifecycle");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/lifecycle")
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

impl StateDir {
    /// Creates (mode 0700) and checks the directory and its subdirectories.
    pub(crate) fn open(root: &Path) -> Result<StateDir, StateDirError> {
        let err = |path: &Path, source| StateDirError {
            path: path.to_path_buf(),
            source,
        };
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for dir in [root.to_path_buf(), root.join("daemons"), root.join("logs")] {
            builder.create(&dir).map_err(|e| err(&dir, e))?;
            nix::unistd::access(
                &dir,
                nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
            )
            .map_err(|e| err(&dir, io::Error::from(e)))?;
        }
        // Tighten a directory someone else created looser; records name PIDs we may signal.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| err(root, e))?;
        Ok(StateDir {
            root: root.to_path_buf(),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn records(&self) -> PathBuf {
        self.root.join("daemons")
    }

    pub(crate) fn record(&self, key: &str) -> PathBuf {
        self.records().join(format!("{}.record", file_name(key)))
    }

    /// The shared lock file.
    pub(crate) fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub(crate) fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The directory of markers of the daemons that depend on `key`.
    pub(crate) fn dependents(&self, key: &str) -> PathBuf {
        self.root.join("dependents").join(file_name(key))
    }
}

#[cfg(test)]
mod tests {
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
}
