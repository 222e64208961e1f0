//! Where `lifecycle-bench/peers/install` put the peers, and which of them it could install.

use std::path::PathBuf;

/// The peers' directory: `$LIFECYCLE_BENCH_PEERS`, else `${XDG_CACHE_HOME:-~/.cache}/lifecycle-bench/peers`.
pub(crate) fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIFECYCLE_BENCH_PEERS") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("lifecycle-bench").join("peers")
}

/// The scripts beside the install script (the drivers).
pub(crate) fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// What the install script said of `peer`: `Ok(version)`, or `Err(reason)` it is missing.
pub(crate) fn status(peer: &str) -> Result<String, String> {
    let file = dir().join("status");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "not installed ({}: {e}); run lifecycle-bench/peers/install",
            file.display()
        )
    })?;
    let line = text
        .lines()
        .find(|l| l.split('\t').next() == Some(peer))
        .ok_or_else(|| {
            format!(
                "not in {}; run lifecycle-bench/peers/install",
                file.display()
            )
        })?;
    let mut fields = line.splitn(3, '\t').skip(1);
    match (fields.next(), fields.next()) {
        (Some("ok"), version) => Ok(version.unwrap_or("").to_owned()),
        (_, reason) => Err(reason.unwrap_or("not installed").to_owned()),
    }
}
