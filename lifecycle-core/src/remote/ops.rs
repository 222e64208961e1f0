//! The helper's operations, typed: start, status, put (replace a record), remove, stop, tail.
//! Each is one request and one answer over the host's connection.

use std::time::Duration;

use tokio::sync::oneshot;

use super::RemoteError;
use super::connection::Connection;
use super::wire;
use lifecycle_spec::InheritEnv;

use crate::store::record::Record;

/// The bound of a short operation's answer.
pub(crate) const SHORT: Duration = Duration::from_secs(15);

fn nul(c: &Connection, what: &str) -> RemoteError {
    RemoteError::Nul {
        destination: c.shown().to_owned(),
        what: what.to_owned(),
    }
}

fn protocol(c: &Connection, operation: &str, answer: &str) -> RemoteError {
    RemoteError::Protocol {
        destination: c.shown().to_owned(),
        operation: operation.to_owned(),
        answer: answer.to_owned(),
    }
}

fn field(c: &Connection, value: &str, what: &str) -> Result<String, RemoteError> {
    wire::field(value).ok_or_else(|| nul(c, what))
}

/// What a start did.
#[derive(Debug)]
pub(crate) enum Started {
    /// Spawned: the daemon's identity on its host, and its exit to come.
    Spawned {
        pid: u32,
        start_time: u64,
        exit: oneshot::Receiver<i32>,
    },
    /// Its record names a live process already (not spawned).
    Exists(Box<Record>),
}

/// What a start needs.
pub(crate) struct StartRequest<'a> {
    /// The record's file name (the daemon's key made safe).
    pub(crate) name: &'a str,
    /// The helper kills the daemon when the manager's connection ends (a manager that stops
    /// what it started when it goes).
    pub(crate) kill_on_disconnect: bool,
    /// The record to write, whose PID, start time, boot, group and session the helper fills in.
    pub(crate) template: &'a Record,
    pub(crate) log: &'a str,
    pub(crate) binary: &'a str,
    /// Which of the helper's environment variables the daemon inherits.
    pub(crate) inherit: &'a InheritEnv,
    pub(crate) env: &'a [(String, String)],
    pub(crate) args: &'a [String],
}

/// Starts a daemon under its lock there, unless its record names a live process.
pub(crate) async fn start(
    c: &Connection,
    request: StartRequest<'_>,
) -> Result<Started, RemoteError> {
    let mut fields = vec![
        field(c, request.name, "the daemon's name")?,
        u8::from(request.kill_on_disconnect).to_string(),
        field(c, &request.template.to_text(), "the record")?,
        field(c, request.log, "the log path")?,
        field(c, request.binary, "the binary")?,
    ];
    match request.inherit {
        InheritEnv::All => fields.extend(["all".to_owned(), "0".to_owned()]),
        InheritEnv::Only(names) => {
            fields.push("none".to_owned());
            fields.push(names.len().to_string());
            for name in names.iter() {
                fields.push(field(c, name, "an inherited variable")?);
            }
        }
    }
    fields.push(request.env.len().to_string());
    for (name, value) in request.env {
        fields.push(field(
            c,
            &format!("{name}={value}"),
            "an environment variable",
        )?);
    }
    for arg in request.args {
        fields.push(field(c, arg, "an argument")?);
    }
    let id = c.request_id();
    let exit = c.watch_exit(id);
    let answer = c.call_as(id, "start", &fields, SHORT).await?;
    let words: Vec<&str> = answer.splitn(3, ' ').collect();
    let failed = |message: &str| RemoteError::Start {
        destination: c.shown().to_owned(),
        message: message.to_owned(),
    };
    match words.as_slice() {
        ["ok", pid, rest] => {
            let start_time = rest.split(' ').next().and_then(|s| s.parse().ok());
            match (pid.parse(), start_time) {
                (Ok(pid), Some(start_time)) => Ok(Started::Spawned {
                    pid,
                    start_time,
                    exit,
                }),
                _ => Err(protocol(c, "start", &answer)),
            }
        }
        ["exists", _live, text] => Record::parse(&wire::record_text(text))
            .map(|r| Started::Exists(Box::new(r)))
            .map_err(|_| protocol(c, "start", &answer)),
        ["err", "nobinary", ..] => Err(RemoteError::MissingBinary {
            destination: c.shown().to_owned(),
            binary: request.binary.to_owned(),
        }),
        ["err", "binary", ..] => Err(failed(
            "the binary's name holds `=`, which env(1) would take for a variable",
        )),
        ["err", "log", ..] => Err(failed(&format!(
            "its log `{}` cannot be made or appended to there (or is a symbolic link)",
            request.log
        ))),
        ["err", "lock", ..] => Err(failed(
            "its lock there is held by another process (for more than 5 s)",
        )),
        ["err", "record", ..] => Err(failed("its record cannot be written there (disk full?)")),
        ["err", "spawn", ..] => Err(failed(
            "its keeper process could not be made there (no process or file left?)",
        )),
        ["died", status] => Err(failed(&format!(
            "the start process there ended (status {status}) before it answered"
        ))),
        _ => Err(protocol(c, "start", &answer)),
    }
}

/// Whether process `pid` started at `start_time` runs there (a zombie does not).
pub(crate) async fn alive(c: &Connection, pid: u32, start_time: u64) -> Result<bool, RemoteError> {
    let fields = [pid.to_string(), start_time.to_string()];
    let answer = c.call("alive", &fields, SHORT).await?;
    match answer.as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(protocol(c, "alive", &answer)),
    }
}

/// The exit of a process this connection did not start (status unknown: `-1`), told within
/// a second of it.
pub(crate) async fn watch(
    c: &Connection,
    pid: u32,
    start_time: u64,
) -> Result<oneshot::Receiver<i32>, RemoteError> {
    let id = c.request_id();
    let exit = c.watch_exit(id);
    c.send_as(id, "watch", &[pid.to_string(), start_time.to_string()])
        .await?;
    Ok(exit)
}

/// Whether a recorded process runs on its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    Live,
    /// Exited, or its PID is someone else's now.
    Gone,
    /// Recorded in an earlier boot of the host.
    OtherBoot,
}

impl Liveness {
    /// The helper's word for it: `live`, `gone`, `otherboot`.
    fn parse(word: &str) -> Option<Liveness> {
        match word {
            "live" => Some(Liveness::Live),
            "gone" => Some(Liveness::Gone),
            "otherboot" => Some(Liveness::OtherBoot),
            _ => None,
        }
    }
}

/// The daemon's record on its host, and whether it names a live process.
pub(crate) async fn status(
    c: &Connection,
    name: &str,
) -> Result<Option<(Record, Liveness)>, RemoteError> {
    let answer = c
        .call("status", &[field(c, name, "the daemon's name")?], SHORT)
        .await?;
    let words: Vec<&str> = answer.splitn(3, ' ').collect();
    match words.as_slice() {
        ["none"] => Ok(None),
        ["rec", live, text] => {
            let liveness = Liveness::parse(live).ok_or_else(|| protocol(c, "status", &answer))?;
            let record = Record::parse(&wire::record_text(text))
                .map_err(|_| protocol(c, "status", &answer))?;
            Ok(Some((record, liveness)))
        }
        _ => Err(protocol(c, "status", &answer)),
    }
}

/// The head of a record there: what a status shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) liveness: Liveness,
    /// The record's state word (`starting`, `ready`, `stopping`, …).
    pub(crate) state: String,
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
}

/// The head of the daemon's record there (read only as far as it goes), and whether it names
/// a live process.
pub(crate) async fn head(c: &Connection, name: &str) -> Result<Option<Head>, RemoteError> {
    let answer = c
        .call("state", &[field(c, name, "the daemon's name")?], SHORT)
        .await?;
    let words: Vec<&str> = answer.split(' ').collect();
    match words.as_slice() {
        ["none"] => Ok(None),
        ["st", live, state, pid, start_time] => {
            let liveness = Liveness::parse(live).ok_or_else(|| protocol(c, "state", &answer))?;
            match (pid.parse(), start_time.parse()) {
                (Ok(pid), Ok(start_time)) => Ok(Some(Head {
                    liveness,
                    state: (*state).to_owned(),
                    pid,
                    start_time,
                })),
                _ => Err(protocol(c, "state", &answer)),
            }
        }
        _ => Err(protocol(c, "state", &answer)),
    }
}

/// Replaces the record if its generation there is `expected` (0: there is none); whether it did.
pub(crate) async fn put(
    c: &Connection,
    name: &str,
    expected: u64,
    record: &Record,
) -> Result<bool, RemoteError> {
    let fields = [
        field(c, name, "the daemon's name")?,
        expected.to_string(),
        field(c, &record.to_text(), "the record")?,
    ];
    let answer = c.call("put", &fields, SHORT).await?;
    match answer.split(' ').next() {
        Some("ok") => Ok(true),
        Some("conflict") => Ok(false),
        _ => Err(protocol(c, "put", &answer)),
    }
}

/// Removes the record if it still names process `pid` started at `start_time`.
pub(crate) async fn remove(
    c: &Connection,
    name: &str,
    pid: u32,
    start_time: u64,
) -> Result<bool, RemoteError> {
    let fields = [
        field(c, name, "the daemon's name")?,
        pid.to_string(),
        start_time.to_string(),
    ];
    let answer = c.call("remove", &fields, SHORT).await?;
    match answer.as_str() {
        "ok" => Ok(true),
        "other" => Ok(false),
        _ => Err(protocol(c, "remove", &answer)),
    }
}

/// One step of a remote stop chain: a signal (its name without `SIG`) or a plain wait (after
/// an HTTP step the manager sent), then up to `grace` for the group to be gone.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) signal: Option<&'static str>,
    pub(crate) grace: Duration,
}

/// How a remote stop chain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopAnswer {
    Gone {
        killed: bool,
    },
    /// The PID is someone else's now: nothing was signalled.
    NotOurs,
    /// Something of the group outlived SIGKILL.
    Alive,
}

/// Runs the stop chain inside the host (polling every 10 ms there): one round trip.
pub(crate) async fn stop(
    c: &Connection,
    pid: u32,
    start_time: u64,
    steps: &[Step],
    confirm: Duration,
) -> Result<StopAnswer, RemoteError> {
    let mut fields = vec![
        pid.to_string(),
        start_time.to_string(),
        confirm.as_millis().to_string(),
    ];
    let mut bound = confirm + SHORT;
    for step in steps {
        fields.push(step.signal.unwrap_or("wait").to_owned());
        fields.push(step.grace.as_millis().to_string());
        bound += step.grace;
    }
    let answer = c.call("stop", &fields, bound).await?;
    match answer.as_str() {
        "gone 0" => Ok(StopAnswer::Gone { killed: false }),
        "gone 1" => Ok(StopAnswer::Gone { killed: true }),
        "notours" => Ok(StopAnswer::NotOurs),
        "alive" => Ok(StopAnswer::Alive),
        _ => Err(protocol(c, "stop", &answer)),
    }
}

/// The last `bytes` of a file there (a log), lossily as text.
pub(crate) async fn tail(c: &Connection, path: &str, bytes: u64) -> Result<String, RemoteError> {
    let fields = [field(c, path, "the log path")?, bytes.to_string()];
    let answer = c.call("tail", &fields, SHORT).await?;
    match answer.split_once(' ') {
        Some(("ok", hex)) => Ok(String::from_utf8_lossy(&wire::unhex(hex)).into_owned()),
        None if answer == "ok" => Ok(String::new()),
        _ => Err(protocol(c, "tail", &answer)),
    }
}

/// The records there whose file names begin with `prefix`: each one's file name and the
/// daemon key it is of.
pub(crate) async fn list(
    c: &Connection,
    prefix: &str,
) -> Result<Vec<(String, String)>, RemoteError> {
    let answer = c
        .call("list", &[field(c, prefix, "the name listed")?], SHORT)
        .await?;
    let mut words = answer.split(' ');
    if words.next() != Some("ok") {
        return Err(protocol(c, "list", &answer));
    }
    let words: Vec<&str> = words.collect();
    // `+more`: more records than one answer holds (no file name starts with `+`).
    if words.contains(&"+more") {
        return Err(RemoteError::Start {
            destination: c.shown().to_owned(),
            message: format!(
                "more daemons named `{prefix}…` there than one answer lists; stop them by key"
            ),
        });
    }
    Ok(words
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|file| (file.to_owned(), key_of_file_name(file)))
        .collect())
}

/// The key a record file name stands for (the inverse of `file_name`: `%XX` is byte XX).
fn key_of_file_name(file: &str) -> String {
    let bytes = file.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::key_of_file_name;
    use crate::store::state_dir::file_name;

    #[test]
    fn file_names_turn_back_into_keys() {
        for key in ["queen-rbee", "vllm@8080", "w@a b/c%d", ".hidden@é"] {
            assert_eq!(key_of_file_name(&file_name(key)), key);
        }
    }
}
