//! Finding the program a spec names: an absolute path; else `$PATH`; else the workspace's
//! `target/{release,debug}` (the newer build wins).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The binary was found nowhere.
///
/// ```
/// let err = lifecycle_core::error::BinaryNotFound {
///     spec: "queen-rbee".into(),
///     binary: "queen-rbee".into(),
///     searched: vec!["/usr/bin/queen-rbee".into()],
/// };
/// assert!(err.to_string().contains("searched: /usr/bin/queen-rbee"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("daemon `{spec}`: binary `{binary}` not found; searched: {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
pub struct BinaryNotFound {
    /// The spec whose `command.binary` it is.
    pub spec: String,
    /// The binary as rendered.
    pub binary: String,
    /// Every place looked at, in order.
    pub searched: Vec<PathBuf>,
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The workspace root above `start`: the nearest directory with a `Cargo.lock`.
fn workspace_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map(Path::to_path_buf)
}

/// The `target` directories to search: `$CARGO_TARGET_DIR`, and `target/` of the workspace
/// above the current directory and above the running program.
fn target_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for root in starts.iter().flatten().filter_map(|s| workspace_root(s)) {
        let target = root.join("target");
        if !dirs.contains(&target) {
            dirs.push(target);
        }
    }
    dirs
}

/// The candidates in the workspace's target directories, and the newest executable among them.
fn search_targets(binary: &str, searched: &mut Vec<PathBuf>) -> Option<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for dir in target_dirs() {
        for profile in ["release", "debug"] {
            let candidate = dir.join(profile).join(binary);
            searched.push(candidate.clone());
            if !is_executable(&candidate) {
                continue;
            }
            let modified = std::fs::metadata(&candidate)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            if best.as_ref().is_none_or(|(t, _)| modified > *t) {
                best = Some((modified, candidate));
            }
        }
    }
    best.map(|(_, path)| path)
}

/// Finds `binary` in the workspace's `target/release` or `target/debug` (the newer wins).
pub(crate) fn find_in_target(binary: &str) -> Option<PathBuf> {
    search_targets(binary, &mut Vec::new())
}

/// Resolves a spec's binary: a path with a `/` is used as is (relative to the current
/// directory); a bare name is looked up in `$PATH`, then in the workspace's target directories.
pub(crate) fn resolve(spec: &str, binary: &str) -> Result<PathBuf, BinaryNotFound> {
    let mut searched = Vec::new();
    if binary.contains('/') {
        let path = PathBuf::from(binary);
        if is_executable(&path) {
            return Ok(path);
        }
        searched.push(path);
    } else {
        for dir in std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let candidate = dir.join(binary);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
            searched.push(candidate);
        }
        if let Some(found) = search_targets(binary, &mut searched) {
            return Ok(found);
        }
    }
    Err(BinaryNotFound {
        spec: spec.to_owned(),
        binary: binary.to_owned(),
        searched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_and_path_lookup() {
        assert_eq!(resolve("s", "/bin/sh").unwrap(), Path::new("/bin/sh"));
        let sh = resolve("s", "sh").unwrap();
        assert!(sh.ends_with("sh") && sh.is_absolute());
    }

    #[test]
    fn not_found_lists_every_place() {
        let err = resolve("queen", "no-such-binary-xyz").unwrap_err();
        assert_eq!(err.spec, "queen");
        assert!(
            err.searched
                .iter()
                .any(|p| p.ends_with("release/no-such-binary-xyz"))
        );
        assert!(
            err.searched
                .iter()
                .any(|p| p.ends_with("debug/no-such-binary-xyz"))
        );
        assert!(err.searched.len() >= 3);
        let err = resolve("queen", "/nonexistent/bin").unwrap_err();
        assert_eq!(err.searched, [PathBuf::from("/nonexistent/bin")]);
    }
}
