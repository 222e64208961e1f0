//! State records: the one truth about a daemon that every process shares. A record says what
//! this library started (PID, start time, boot, group), in which state it is (starting, ready,
//! stopping, restart pending, exited), and carries a generation: every write is made under the
//! daemon's lock after checking that the record is still the one the writer expects.

use std::io;
use std::path::PathBuf;

use crate::Exit;

/// The record of one daemon this library started.
///
/// Stored as `key=value` lines in `<state dir>/daemons/<key>.record` (mode 0600, owned by the
/// manager's user), ending with a checksum line. Written in place under the daemon's lock.
///
/// ```
/// use lifecycle_core::{record::{Record, RecordState}};
/// let record = Record {
///     key: "queen-rbee".into(),
///     name: "queen-rbee".into(),
///     state: RecordState::Ready,
///     generation: 2,
///     pid: 4242,
///     start_time: 98765,
///     boot_id: "0e6a3c1e-8c1f-4f5e-9e43-6f1e2b7d1a11".into(),
///     pgid: 4242,
///     session: 4000,
///     started_at_ms: 1_795_000_000_000,
///     parent: (4000, 1234),
///     manager: 77,
///     log: "/var/log/queen.log".into(),
///     log_offset: 0,
///     spec_file: "specs/queen.yaml".into(),
///     probe: Some("http://127.0.0.1:7833/health".into()),
///     command: "queen-rbee --port 7833".into(),
///     fingerprint: "5be2a0c1d3e4f607".into(),
///     restarts: 0,
///     depends_on: vec![],
///     stop: vec!["signal SIGTERM 5000".into()],
/// };
/// assert_eq!(Record::parse(&record.to_text()).unwrap(), record);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The daemon's key: its name, and `@instance` when the spec has an instance.
    pub key: String,
    /// The spec's name.
    pub name: String,
    /// Where the daemon is in its lifecycle.
    pub state: RecordState,
    /// Incremented by every write: a writer replaces only the generation it read.
    pub generation: u64,
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
    /// Its session (inherited from the process that spawned it): what is left of its group
    /// after it is gone is what is in this session and started after it.
    pub session: u32,
    /// When it was spawned, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// The process that spawned it (its parent: PID and start time), the only one that can
    /// read its exit status.
    pub parent: (u32, u64),
    /// The manager (of that process) that spawned it: the one to reap it.
    pub manager: u64,
    /// Its log file.
    pub log: PathBuf,
    /// Where its output begins in the log (for a log-line probe read by another process).
    pub log_offset: u64,
    /// The spec file it was started from.
    pub spec_file: String,
    /// Its readiness probe, rendered (`http://127.0.0.1:7833/health`), if it has one.
    pub probe: Option<String>,
    /// Its command line, for people (`queen-rbee --port 7833`).
    pub command: String,
    /// A hash of its binary, arguments, environment and probe: another handle with the same
    /// key but other values conflicts with it.
    pub fingerprint: String,
    /// How many restarts in a row led to this process (its restart policy's count, shared by
    /// every process that supervises it).
    pub restarts: u32,
    /// The keys of the daemons it depends on.
    pub depends_on: Vec<String>,
    /// Its stop chain, one step a line (`signal SIGTERM 5000`, `post 5000 URL`: grace in
    /// milliseconds), so that another process stops it the way its spec says.
    pub stop: Vec<String>,
}

/// Where a recorded daemon is in its lifecycle.
///
/// ```
/// assert!(lifecycle_core::record::RecordState::Ready.names_a_process());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordState {
    /// Spawned, not ready yet.
    Starting,
    /// Ready.
    Ready,
    /// A stop is under way, by process `by` (PID and start time), whose chain ends by
    /// `until_ms` (milliseconds since the Unix epoch): after that, or once `by` is gone, another
    /// process takes the stop over.
    Stopping {
        /// The stopping process.
        by: (u32, u64),
        /// When its chain is over at the latest.
        until_ms: u64,
    },
    /// The recorded process exited on its own; restart number `attempt` is due at `due_ms`
    /// (milliseconds since the Unix epoch).
    Backoff {
        /// The restart to come (1 for the first).
        attempt: u32,
        /// When.
        due_ms: u64,
        /// How the recorded process ended.
        exit: Exit,
    },
    /// The recorded process exited and is not restarted.
    Exited {
        /// How it ended.
        exit: Exit,
        /// Why this is a failure, if it is one.
        failure: Option<String>,
    },
}

impl RecordState {
    /// Whether the record's process may be running (starting, ready, stopping).
    ///
    /// ```
    /// use lifecycle_core::{Exit, record::RecordState};
    /// assert!(!RecordState::Exited { exit: Exit::UNKNOWN, failure: None }.names_a_process());
    /// ```
    pub fn names_a_process(&self) -> bool {
        matches!(
            self,
            RecordState::Starting | RecordState::Ready | RecordState::Stopping { .. }
        )
    }

    fn word(&self) -> &'static str {
        match self {
            RecordState::Starting => "starting",
            RecordState::Ready => "ready",
            RecordState::Stopping { .. } => "stopping",
            RecordState::Backoff { .. } => "backoff",
            RecordState::Exited { .. } => "exited",
        }
    }
}

/// A record could not be read or written.
///
/// ```
/// let err = lifecycle_core::record::Record::parse("version=2\npid=x\n").unwrap_err();
/// assert!(matches!(err, lifecycle_core::error::RecordError::Malformed(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// Checking the recorded process failed (`EMFILE`, an unreadable `/proc`): nothing was
    /// concluded from it, nothing was signalled or removed.
    #[error("cannot check pid {pid} of record {}: {source}; nothing was signalled or removed", path.display())]
    Check {
        /// The record file.
        path: PathBuf,
        /// The recorded PID.
        pid: u32,
        /// The error.
        source: io::Error,
    },
}

/// The format version this library writes.
const VERSION: &str = "2";

/// Values are single lines: a newline or carriage return in a value (a failure reason quoting
/// output) becomes a space.
fn one_line(value: &str) -> String {
    value.replace(['\n', '\r'], " ")
}

impl Record {
    /// The record as `key=value` lines, the last one a checksum of the others.
    ///
    /// ```
    /// # let record = lifecycle_core::record::Record::parse("version=2\nkey=q\nname=q\nstate=ready\ngeneration=1\npid=7\nstart_time=1\nboot_id=b\npgid=7\nsession=7\nstarted_at_ms=0\nparent=1:1\nmanager=1\nlog=/l\nlog_offset=0\nspec_file=q.yaml\ncommand=q\nfingerprint=f\nrestarts=0\n").unwrap();
    /// assert!(record.to_text().contains("pid=7\n"));
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(512);
        let mut line = |k: &str, v: &str| {
            out.push_str(k);
            out.push('=');
            out.push_str(&one_line(v));
            out.push('\n');
        };
        line("version", VERSION);
        line("key", &self.key);
        line("name", &self.name);
        line("state", self.state.word());
        match &self.state {
            RecordState::Stopping { by, until_ms } => {
                line("stopper", &format!("{}:{}", by.0, by.1));
                line("until_ms", &until_ms.to_string());
            }
            RecordState::Backoff {
                attempt,
                due_ms,
                exit,
            } => {
                line("attempt", &attempt.to_string());
                line("due_ms", &due_ms.to_string());
                line("exit", &exit.to_string());
            }
            RecordState::Exited { exit, failure } => {
                line("exit", &exit.to_string());
                if let Some(failure) = failure {
                    line("failure", failure);
                }
            }
            _ => {}
        }
        line("generation", &self.generation.to_string());
        line("pid", &self.pid.to_string());
        line("start_time", &self.start_time.to_string());
        line("boot_id", &self.boot_id);
        line("pgid", &self.pgid.to_string());
        line("session", &self.session.to_string());
        line("started_at_ms", &self.started_at_ms.to_string());
        line("parent", &format!("{}:{}", self.parent.0, self.parent.1));
        line("manager", &format!("{:016x}", self.manager));
        line("log", &self.log.to_string_lossy());
        line("log_offset", &self.log_offset.to_string());
        line("spec_file", &self.spec_file);
        if let Some(probe) = &self.probe {
            line("probe", probe);
        }
        line("command", &self.command);
        line("fingerprint", &self.fingerprint);
        line("restarts", &self.restarts.to_string());
        for dep in &self.depends_on {
            line("depends_on", dep);
        }
        for step in &self.stop {
            line("stop", step);
        }
        let sum = checksum(&out);
        out.push_str(&format!("sum={sum:016x}\n"));
        out
    }

    /// Parses a record. Every required key must be present, unknown keys are refused, and a
    /// checksum line, when present, must match (a record read while being rewritten, or torn).
    ///
    /// ```
    /// let text = "version=2\nkey=q\nname=q\nstate=starting\ngeneration=1\npid=7\nstart_time=1\nboot_id=b\npgid=7\nsession=7\nstarted_at_ms=0\nparent=1:1\nmanager=1\nlog=/l\nlog_offset=0\nspec_file=q.yaml\ncommand=q\nfingerprint=f\nrestarts=0\n";
    /// assert_eq!(lifecycle_core::record::Record::parse(text).unwrap().pid, 7);
    /// ```
    pub fn parse(text: &str) -> Result<Record, RecordError> {
        let bad = |what: String| RecordError::Malformed(what);
        // The first checksum line ends the record: what follows it is the tail of a longer
        // record that a rewrite in place did not get to cut.
        let sum_at = if text.starts_with("sum=") {
            Some(0)
        } else {
            text.find("\nsum=").map(|at| at + 1)
        };
        let body = match sum_at {
            Some(at) => {
                let line = text[at + 4..].lines().next().unwrap_or("");
                let expected = u64::from_str_radix(line.trim(), 16)
                    .map_err(|_| bad("`sum` is not a checksum".into()))?;
                if checksum(&text[..at]) != expected {
                    return Err(bad("its checksum does not match (torn, or edited)".into()));
                }
                &text[..at]
            }
            None => text,
        };
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in body.lines().filter(|l| !l.is_empty()) {
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
        let small = |k: &str| -> Result<u32, RecordError> {
            u32::try_from(number(k)?).map_err(|_| bad(format!("`{k}` is out of range")))
        };
        let pair = |k: &str| -> Result<(u32, u64), RecordError> {
            one(k)?
                .split_once(':')
                .and_then(|(p, s)| Some((p.parse().ok()?, s.parse().ok()?)))
                .ok_or_else(|| bad(format!("`{k}` is not PID:START_TIME")))
        };
        let version = one("version")?;
        if version != VERSION {
            return Err(RecordError::UnknownVersion {
                path: PathBuf::new(),
                version: version.to_owned(),
            });
        }
        const KNOWN: &[&str] = &[
            "version",
            "key",
            "name",
            "state",
            "attempt",
            "due_ms",
            "exit",
            "failure",
            "stopper",
            "until_ms",
            "generation",
            "pid",
            "start_time",
            "boot_id",
            "pgid",
            "session",
            "started_at_ms",
            "parent",
            "manager",
            "log",
            "log_offset",
            "spec_file",
            "probe",
            "command",
            "fingerprint",
            "restarts",
            "depends_on",
            "stop",
        ];
        if let Some((k, _)) = fields.iter().find(|(k, _)| !KNOWN.contains(k)) {
            // Whole (its checksum matched) but with a key this version does not know: written by
            // a newer version, and it may name a running daemon. Left alone, not taken for none.
            return Err(RecordError::UnknownVersion {
                path: PathBuf::new(),
                version: format!("{VERSION} with a key this version does not know (`{k}`)"),
            });
        }
        let state = match one("state")? {
            "starting" => RecordState::Starting,
            "ready" => RecordState::Ready,
            "stopping" => RecordState::Stopping {
                by: pair("stopper")?,
                until_ms: number("until_ms")?,
            },
            "backoff" => RecordState::Backoff {
                attempt: small("attempt")?,
                due_ms: number("due_ms")?,
                exit: Exit::parse(one("exit")?),
            },
            "exited" => RecordState::Exited {
                exit: Exit::parse(one("exit")?),
                failure: one("failure").ok().map(str::to_owned),
            },
            other => return Err(bad(format!("unknown state `{other}`"))),
        };
        let pid = small("pid")?;
        let pgid = small("pgid")?;
        if pid == 0 || pgid == 0 {
            return Err(bad("`pid` and `pgid` must be positive".into()));
        }
        let parent = pair("parent")?;
        let all = |k: &str| -> Vec<String> {
            fields
                .iter()
                .filter(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
                .collect()
        };
        Ok(Record {
            key: one("key")?.to_owned(),
            name: one("name")?.to_owned(),
            state,
            generation: number("generation")?,
            pid,
            start_time: number("start_time")?,
            boot_id: one("boot_id")?.to_owned(),
            pgid,
            session: small("session")?,
            started_at_ms: number("started_at_ms")?,
            parent,
            manager: u64::from_str_radix(one("manager")?, 16)
                .map_err(|_| bad("`manager` is not a number".into()))?,
            log: PathBuf::from(one("log")?),
            log_offset: number("log_offset")?,
            spec_file: one("spec_file")?.to_owned(),
            probe: one("probe").ok().map(str::to_owned),
            command: one("command")?.to_owned(),
            fingerprint: one("fingerprint")?.to_owned(),
            restarts: small("restarts")?,
            depends_on: all("depends_on"),
            stop: all("stop"),
        })
    }

    /// Whether this record names process `pid` started at `start_time`.
    pub(crate) fn names(&self, pid: u32, start_time: u64) -> bool {
        self.pid == pid && self.start_time == start_time
    }
}

fn checksum(text: &str) -> u64 {
    crate::stable_hash::stable_hash([text])
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(state: RecordState) -> Record {
        Record {
            key: "d@1".into(),
            name: "d".into(),
            state,
            generation: 3,
            pid: 10,
            start_time: 20,
            boot_id: "b".into(),
            pgid: 10,
            session: 9,
            started_at_ms: 1,
            parent: (5, 6),
            manager: 0xabc,
            log: "/tmp/d.log".into(),
            log_offset: 12,
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
    fn every_state_reads_back() {
        for state in [
            RecordState::Starting,
            RecordState::Ready,
            RecordState::Stopping {
                by: (77, 88),
                until_ms: 1234,
            },
            RecordState::Backoff {
                attempt: 2,
                due_ms: 99,
                exit: Exit {
                    code: Some(1),
                    signal: None,
                },
            },
            RecordState::Exited {
                exit: Exit {
                    code: None,
                    signal: Some("SIGKILL".into()),
                },
                failure: Some("exited on its own:\nkilled".into()),
            },
        ] {
            let record = sample(state);
            let back = Record::parse(&record.to_text()).unwrap();
            if let RecordState::Exited { failure, .. } = &back.state {
                assert_eq!(failure.as_deref(), Some("exited on its own: killed"));
            } else {
                assert_eq!(back, record);
            }
        }
    }

    #[test]
    fn malformed_records_are_refused() {
        assert!(Record::parse("").is_err());
        let text = sample(RecordState::Ready).to_text();
        let body = &text[..text.rfind("sum=").unwrap()];
        assert!(Record::parse(&body.replace("pid=10\n", "pid=-1\n")).is_err());
        assert!(Record::parse(&body.replace("pid=10\n", "pid=0\n")).is_err());
        assert!(matches!(
            Record::parse(&format!("{body}extra=1\n")),
            Err(RecordError::UnknownVersion { .. })
        ));
        assert!(matches!(
            Record::parse(&body.replace("version=2", "version=7")),
            Err(RecordError::UnknownVersion { .. })
        ));
        // A record rewritten while it was read: the checksum no longer matches.
        let torn = text.replace("pid=10\n", "pid=11\n");
        assert!(
            matches!(Record::parse(&torn), Err(RecordError::Malformed(m)) if m.contains("checksum"))
        );
        assert_eq!(Record::parse(body).unwrap(), sample(RecordState::Ready));
        // A rewrite in place that was not cut to its new length: the stale tail is ignored.
        let longer = sample(RecordState::Exited {
            exit: Exit::UNKNOWN,
            failure: Some("a long reason ".repeat(10)),
        })
        .to_text();
        let shorter = sample(RecordState::Ready).to_text();
        let uncut = format!("{shorter}{}", &longer[shorter.len()..]);
        assert_eq!(Record::parse(&uncut).unwrap(), sample(RecordState::Ready));
    }
}
