//! The stand-in's model files: how the demo tells a worker's stand-in, a separate process it
//! does not start itself, how to behave. The worker's `model` is a path; the file there holds
//! how long "loading" it takes (milliseconds, in decimal); a file beside it named
//! `<model>.crash-once` holds when (milliseconds after its start) the next stand-in serving
//! that model exits with code 1. That stand-in removes the marker first, so exactly one
//! process crashes and its restart runs on.
//!
//! (Not an environment variable: in Rust 2024 setting one is `unsafe` once threads run, and
//! the manager passes its own environment, fixed at its start, to what it spawns.)

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the crash-once marker's name adds to the model's path.
const CRASH_ONCE_SUFFIX: &str = ".crash-once";

/// Writes the model file `path`: the stand-in serving it is ready `load` after its start.
pub(crate) fn write_model(path: &Path, load: Duration) -> io::Result<()> {
    fs::write(path, format!("{}\n", load.as_millis()))
}

/// Writes the crash-once marker of `model`: the next stand-in serving it exits with code 1
/// `exit_after` after its start.
pub(crate) fn write_crash_once(model: &Path, exit_after: Duration) -> io::Result<()> {
    fs::write(crash_marker(model), format!("{}\n", exit_after.as_millis()))
}

/// How long loading `model` takes, in milliseconds, if it is a model file.
pub(crate) fn load_millis(model: &str) -> Option<u64> {
    read_millis(Path::new(model))
}

/// Takes the crash-once marker of `model`: when this process is to exit (milliseconds after
/// its start), if the marker was there and this process removed it.
pub(crate) fn take_crash_once(model: &str) -> Option<u64> {
    let marker = crash_marker(Path::new(model));
    let millis = read_millis(&marker)?;
    fs::remove_file(&marker).ok()?;
    Some(millis)
}

/// `<model>.crash-once`.
fn crash_marker(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(CRASH_ONCE_SUFFIX);
    PathBuf::from(name)
}

/// The decimal number of milliseconds a file holds.
fn read_millis(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_marker_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("llama-3-8b.gguf");
        write_model(&model, Duration::from_millis(600)).unwrap();
        let model = model.to_str().unwrap();
        assert_eq!(load_millis(model), Some(600));
        assert_eq!(take_crash_once(model), None);
        write_crash_once(Path::new(model), Duration::from_millis(2750)).unwrap();
        assert!(dir.path().join("llama-3-8b.gguf.crash-once").exists());
        assert_eq!(take_crash_once(model), Some(2750));
        assert_eq!(take_crash_once(model), None);
        assert_eq!(load_millis("/nonexistent/model"), None);
    }
}
