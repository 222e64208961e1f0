//! Per-daemon log files: stdout and stderr appended to one file, rotated by size, read back
//! for error messages and log probes.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `<log>.<n>`: rotated file number `n` (1 is the newest).
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Moves `log.1 … log.(keep-1)` to `log.2 … log.keep`, making room for a new `log.1` (the
/// oldest beyond `keep` is overwritten).
fn shift_rotated(path: &Path, keep: u32) -> io::Result<()> {
    for n in (1..keep).rev() {
        let from = rotated(path, n);
        if from.exists() {
            std::fs::rename(&from, rotated(path, n + 1))?;
        }
    }
    Ok(())
}

/// Shifts `log.1 … log.(keep-1)` up by one and moves `log` to `log.1`; with `keep == 0` the log
/// is removed instead.
pub(crate) fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    if keep == 0 {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    shift_rotated(path, keep)?;
    match std::fs::rename(path, rotated(path, 1)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Opens the log for a daemon about to start, rotating first if it has reached `max_size`.
/// Returns the file (append mode, 0600) and its length, where this start's output begins.
pub(crate) fn open_for_start(path: &Path, max_size: u64, keep: u32) -> io::Result<(File, u64)> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= max_size) {
        rotate(path, keep)?;
    }
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// Keeps a running daemon's log under `max_size`: copies it to `log.1` (after rotating the
/// older ones) and truncates it in place. The daemon writes with `O_APPEND`, so its next write
/// lands at the new end; what it writes between the copy and the truncation is lost (the price
/// of rotating a file the manager does not sit between).
pub(crate) fn copy_truncate_if_over(path: &Path, max_size: u64, keep: u32) -> io::Result<bool> {
    if !std::fs::metadata(path).is_ok_and(|m| m.len() >= max_size) {
        return Ok(false);
    }
    if keep > 0 {
        shift_rotated(path, keep)?;
        std::fs::copy(path, rotated(path, 1))?;
    }
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(true)
}

/// The last `lines` lines of the log from byte `from` on (this start's output), lossily decoded.
pub(crate) fn tail(path: &Path, from: u64, lines: usize) -> Vec<String> {
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A rotation since the start leaves a shorter file: then read it from its beginning.
    let from = if from > len { 0 } else { from };
    let start = len.saturating_sub(WINDOW).max(from);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    // A window that starts mid-line drops that partial first line.
    let skip = usize::from(start > from && !all.is_empty());
    let all = &all[skip.min(all.len())..];
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn rotates_by_size_keeping_n() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        for round in 0..4 {
            let (mut file, _) = open_for_start(&log, 10, 2).unwrap();
            writeln!(file, "round {round} ........").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "round 3 ........\n");
        assert_eq!(
            std::fs::read_to_string(rotated(&log, 1)).unwrap(),
            "round 2 ........\n"
        );
        assert_eq!(
            std::fs::read_to_string(rotated(&log, 2)).unwrap(),
            "round 1 ........\n"
        );
        assert!(!rotated(&log, 3).exists());
    }

    #[test]
    fn copy_truncate_keeps_the_file_open_for_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let (mut file, _) = open_for_start(&log, 1 << 20, 1).unwrap();
        file.write_all(&[b'x'; 100]).unwrap();
        assert!(copy_truncate_if_over(&log, 50, 1).unwrap());
        file.write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "after\n");
        assert_eq!(std::fs::metadata(rotated(&log, 1)).unwrap().len(), 100);
        assert!(!copy_truncate_if_over(&log, 50, 1).unwrap());
    }

    #[test]
    fn tail_reads_this_start_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        std::fs::write(&log, "old 1\nold 2\n").unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        let mut text = String::new();
        for i in 1..=30 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let last = tail(&log, from, 20);
        assert_eq!(last.len(), 20);
        assert_eq!(last[0], "line 11");
        assert_eq!(last[19], "line 30");
        assert_eq!(tail(&log, 0, 100).len(), 32);
    }
}
