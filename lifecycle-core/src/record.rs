//! State records: what this library started, written so that another process can find, adopt
//! or stop it, and can tell when a PID no longer names it.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::pidfd::PidFd;
use crate::proc_stat;

/// The record of one daemon this library started.
///
/// Stored as `key=value` lines in `<state dir>/daemons/<key>.record`, mode 0600, written
/// atomically (temporary file, fsync, rename, fsync of the directory).
///
/// ```
/// let record = lifecycle_core::Record {
///     key: "queen-rbee".into(),
///     name: "queen-rbee".into(),
///     pid: 4242,
///     start_time: 98765,
///     boot_id: "0e6a3c1e-8c1f-4f5e-9e43-6f1e2b7d1a11".into(),
///     pgid: 4242,
///     started_at_ms: 1_795_000_000_000,
///     log: "/var/log/queen.log".into(),
///     spec_file: "specs/queen.yaml".into(),
///     probe: Some("http://127.0.0.1:7833/health".into()),
///     command: "queen-rbee --port 7833".into(),
///     fingerprint: "5be2a0c1d3e4f607".into(),
///     restarts: 0,
///     depends_on: vec![],
///     stop: vec!["signal SIGTERM 5000".into()],
/// };
/// assert_eq!(lifecycle_core::Record::parse(&record.to_text()).unwrap(), record);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The daemon's key: its name, and `@instance` when the spec has an instance.
    pub key: String,
    /// The spec's name.
    pub name: String,
    /// The daemon's PID (the leader of its process group).
    pub pid: u32,
    /// The process's start time (`/proc/<pid>/stat` field 22): with the PID and the boot, its
    /// identity.
    pub start_time: u64,
    /// The boot it was started in (`/proc/sys/kernel/random/boot_id`): a record from an earlier
    /// boot names no running process, whatever its PID and start time.
    pub boot_id: String,
    /// The daemon's process group (its own: equal to `pid`).
    pub pgid: u32,
    /// When it was spawned, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Its log file.
    pub log: PathBuf,
    /// The spec file it was started from.
    pub spec_file: String,
    /// Its readiness probe, rendered (`http://127.0.0.1:7833/health`), if it has one.
    pub probe: Option<String>,
    /// Its command line, for people (`queen-rbee --port 7833`).
    pub command: String,
    /// A hash of its binary, arguments, environment and probe: another handle with the same
    /// key but other values conflicts with it.
    pub fingerprint: String,
    /// The keys of the daemons it depends on.
    pub depends_on: Vec<String>,
    /// How many restarts in a row led to this process (its restart policy's count, shared by
    /// every process that supervises it).
    pub restarts: u32,
    /// Its stop chain, one step a line (`signal SIGTERM 5000`, `post 5000 URL`: grace in
    /// milliseconds), so that another process stops it the way its spec says.
    pub stop: Vec<String>,
}

/// A record could not be read or written.
///
/// ```
/// let err = lifecycle_core::Record::parse("version=1\npid=x\n").unwrap_err();
/// assert!(matches!(err, lifecycle_core::RecordError::Malformed(_)));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Reading or writing the file failed.
    #[error("record {}: {source}", path.display())]
    Io {
        /// The record file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file is not a record this library wrote.
    #[error("record is malformed: {0}")]
    Malformed(String),
    /// A record of another version of this library: it is left alone.
    #[error("record {} has version {version}, which this version of lifecycle does not read; it is left alone: stop the daemon with the version that started it, or remove the record once it is gone", path.display())]
    UnknownVersion {
        /// The record file.
        path: PathBuf,
        /// The version it says.
        version: String,
    },
}

/// Whether the process a record names is still that process.
#[derive(Debug)]
pub(crate) enum Liveness {
    /// Alive, and the same process (PID and start time match): a pidfd pins it.
    Alive(PidFd),
    /// No such process, or it has exited.
    Gone,
    /// The PID now belongs to another process (its start time differs).
    Reused {
        /// The start time found.
        found: u64,
    },
}

impl Record {
    /// The record as `key=value` lines.
    ///
    /// ```
    /// # let record = lifecycle_core::Record::parse("version=1\nkey=q\nname=q\npid=7\nstart_time=1\nboot_id=b\npgid=7\nstarted_at_ms=0\nlog=/l\nspec_file=q.yaml\ncommand=q\nfingerprint=f\n").unwrap();
    /// assert!(record.to_text().contains("pid=7\n"));
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "version=1\nkey={}\nname={}\npid={}\nstart_time={}\nboot_id={}\npgid={}\nstarted_at_ms={}\nlog={}\nspec_file={}\n",
            self.key,
            self.name,
            self.pid,
            self.start_time,
            self.boot_id,
            self.pgid,
            self.started_at_ms,
            self.log.display(),
            self.spec_file
        );
        if let Some(probe) = &self.probe {
            out.push_str(&format!("probe={probe}\n"));
        }
        out.push_str(&format!(
            "command={}\nfingerprint={}\nrestarts={}\n",
            self.command, self.fingerprint, self.restarts
        ));
        for dep in &self.depends_on {
            out.push_str(&format!("depends_on={dep}\n"));
        }
        for step in &self.stop {
            out.push_str(&format!("stop={step}\n"));
        }
        out
    }

    /// Parses `key=value` lines; every required key must be present, unknown keys are refused.
    ///
    /// ```
    /// let text = "version=1\nkey=q\nname=q\npid=7\nstart_time=1\nboot_id=b\npgid=7\nstarted_at_ms=0\nlog=/l\nspec_file=q.yaml\ncommand=q\nfingerprint=f\n";
    /// assert_eq!(lifecycle_core::Record::parse(text).unwrap().pid, 7);
    /// ```
    pub fn parse(text: &str) -> Result<Record, RecordError> {
        let bad = |what: String| RecordError::Malformed(what);
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| bad(format!("line `{line}` is not key=value")))?;
            fields.push((k, v));
        }
        let one = |k: &str| -> Result<&str, RecordError> {
            fields
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| *v)
                .ok_or_else(|| bad(format!("no `{k}`")))
        };
        let number = |k: &str| -> Result<u64, RecordError> {
            one(k)?
                .parse::<u64>()
                .map_err(|_| bad(format!("`{k}` is not a number")))
        };
        let version = one("version")?;
        if version != "1" {
            return Err(RecordError::UnknownVersion {
                path: PathBuf::new(),
                version: version.to_owned(),
            });
        }
        for (k, _) in &fields {
            let known = [
                "version",
                "key",
                "name",
                "pid",
                "start_time",
                "boot_id",
                "pgid",
                "started_at_ms",
                "log",
                "spec_file",
                "probe",
                "command",
                "fingerprint",
                "restarts",
                "depends_on",
                "stop",
            ];
            if !known.contains(k) {
                return Err(bad(format!("unknown key `{k}`")));
            }
        }
        let pid = u32::try_from(number("pid")?).map_err(|_| bad("`pid` is out of range".into()))?;
        let pgid =
            u32::try_from(number("pgid")?).map_err(|_| bad("`pgid` is out of range".into()))?;
        if pid == 0 || pgid == 0 {
            return Err(bad("`pid` and `pgid` must be positive".into()));
        }
        Ok(Record {
            key: one("key")?.to_owned(),
            name: one("name")?.to_owned(),
            pid,
            start_time: number("start_time")?,
            boot_id: one("boot_id")?.to_owned(),
            pgid,
            started_at_ms: number("started_at_ms")?,
            log: PathBuf::from(one("log")?),
            spec_file: one("spec_file")?.to_owned(),
            probe: one("probe").ok().map(str::to_owned),
            command: one("command")?.to_owned(),
            fingerprint: one("fingerprint")?.to_owned(),
            restarts: match one("restarts") {
                Ok(n) => n
                    .parse()
                    .map_err(|_| bad("`restarts` is not a number".into()))?,
                Err(_) => 0,
            },
            depends_on: fields
                .iter()
                .filter(|(k, _)| *k == "depends_on")
                .map(|(_, v)| (*v).to_owned())
                .collect(),
            stop: fields
                .iter()
                .filter(|(k, _)| *k == "stop")
                .map(|(_, v)| (*v).to_owned())
                .collect(),
        })
    }

    /// Checks the recorded process: same boot, then a pidfd is opened, then the start time
    /// compared, so a match proves the pidfd names the recorded process.
    pub(crate) fn liveness(&self) -> Liveness {
        if self.boot_id != boot_id() {
            return Liveness::Gone;
        }
        let Ok(pidfd) = PidFd::open(self.pid) else {
            return Liveness::Gone;
        };
        match proc_stat::read(self.pid) {
            Ok(stat) if stat.is_dead() => Liveness::Gone,
            Ok(stat) if stat.start_time == self.start_time => Liveness::Alive(pidfd),
            Ok(stat) => Liveness::Reused {
                found: stat.start_time,
            },
            Err(_) => Liveness::Gone,
        }
    }
}

/// This boot's identifier (empty if the kernel does not say).
pub(crate) fn boot_id() -> &'static str {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
}

/// Reads the record at `path`; `None` if there is none. A malformed record (torn by a crash
/// of the machine, or written by hand) names nothing: it reads as none, with a warning, and is
/// replaced by the next start. A record of another version is an error: it may name a daemon.
pub(crate) fn read(path: &Path) -> Result<Option<Record>, RecordError> {
    match std::fs::read_to_string(path) {
        Ok(text) => match Record::parse(&text) {
            Ok(record) => Ok(Some(record)),
            Err(RecordError::UnknownVersion { version, .. }) => Err(RecordError::UnknownVersion {
                path: path.to_path_buf(),
                version,
            }),
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "malformed record ignored");
                Ok(None)
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RecordError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Every readable record in `dir`.
pub(crate) fn read_all(dir: &Path) -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".record"))
        })
        .filter_map(|e| read(&e.path()).ok().flatten())
        .collect()
}

/// Writes `record` to `path` atomically: temporary file (0600) in the same directory, fsync,
/// rename over `path`. Readers see the old record or the new one, never a part. The directory
/// is not fsynced: that would only make the rename survive a power loss, after which the record
/// is stale anyway (another boot); it costs a disk flush per start.
pub(crate) fn write(path: &Path, record: &Record) -> Result<(), RecordError> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let err = |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("record");
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(record.to_text().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(err)
}

/// Removes the record at `path`, if any.
pub(crate) fn remove(path: &Path) -> Result<(), RecordError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(RecordError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn sample(pid: u32, start_time: u64) -> Record {
        Record {
            key: "d@1".into(),
            name: "d".into(),
            pid,
            start_time,
            boot_id: boot_id().to_owned(),
            pgid: pid,
            started_at_ms: 1,
            log: "/tmp/d.log".into(),
            spec_file: "specs/d.yaml".into(),
            probe: None,
            command: "d --flag".into(),
            fingerprint: "0123456789abcdef".into(),
            restarts: 2,
            depends_on: vec!["q".into(), "r@2".into()],
            stop: vec!["signal SIGINT 2000".into(), "signal SIGTERM 5000".into()],
        }
    }

    #[test]
    fn writes_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.record");
        write(&path, &sample(1, 2)).unwrap();
        write(&path, &sample(3, 4)).unwrap();
        assert_eq!(read(&path).unwrap(), Some(sample(3, 4)));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn malformed_records_are_refused() {
        assert!(Record::parse("").is_err());
        let text = sample(1, 2).to_text();
        assert!(Record::parse(&text.replace("pid=1\n", "pid=-1\n")).is_err());
        assert!(Record::parse(&text.replace("pid=1\n", "pid=0\n")).is_err());
        assert!(Record::parse(&format!("{text}extra=1\n")).is_err());
        assert!(matches!(
            Record::parse(&text.replace("version=1", "version=2")),
            Err(RecordError::UnknownVersion { .. })
        ));
    }

    #[test]
    fn a_torn_record_reads_as_none_and_another_version_as_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.record");
        std::fs::write(&path, "version=1\nkey=d\npid=12").unwrap();
        assert_eq!(read(&path).unwrap(), None);
        std::fs::write(&path, "version=7\n").unwrap();
        assert!(
            matches!(read(&path), Err(RecordError::UnknownVersion { version, .. }) if version == "7")
        );
    }

    #[tokio::test]
    async fn liveness_tells_alive_gone_and_reused() {
        let me = proc_stat::read(std::process::id()).unwrap();
        let alive = sample(std::process::id(), me.start_time);
        assert!(matches!(alive.liveness(), Liveness::Alive(_)));
        let reused = sample(std::process::id(), me.start_time + 1);
        assert!(matches!(reused.liveness(), Liveness::Reused { found } if found == me.start_time));
        let gone = sample(i32::MAX as u32, 1);
        assert!(matches!(gone.liveness(), Liveness::Gone));
        let earlier_boot = Record {
            boot_id: "an earlier boot".into(),
            ..alive
        };
        assert!(matches!(earlier_boot.liveness(), Liveness::Gone));
    }
}
