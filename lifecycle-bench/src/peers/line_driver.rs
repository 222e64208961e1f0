//! A peer's client, as a child process driven one line at a time (`peers/driver.py`,
//! `peers/pm2-driver.js`): the benchmark times a request from the write of its line to the
//! read of the answer, without a command-line client's start-up.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::peers::manager::{Error, Manager, Usage};
use crate::peers::{OwnedChild, proc_usage};

/// How long one request may take: a manager that has not answered by then has hung (the
/// slowest seen here, pm2 stopping 1000 daemons, takes about 20 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(180);

/// A running driver.
pub(crate) struct LineDriver {
    what: &'static str,
    child: Child,
    input: ChildStdin,
    /// Its answers, read by a thread of their own so that a wait for one is bounded; the
    /// thread ends when the driver's standard output closes (at the latest, when it is
    /// killed on drop).
    answers: Receiver<std::io::Result<String>>,
}

impl LineDriver {
    /// Starts `command` (its standard error goes to `log`).
    pub(crate) fn spawn(
        what: &'static str,
        mut command: Command,
        log: &std::path::Path,
    ) -> Result<LineDriver, Error> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?)
            .spawn()?;
        let input = child.stdin.take().ok_or("no stdin")?;
        let output = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let (sender, answers) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(format!("{what}-answers"))
            .spawn(move || {
                for line in output.lines() {
                    if sender.send(line).is_err() {
                        return;
                    }
                }
            })?;
        Ok(LineDriver {
            what,
            child,
            input,
            answers,
        })
    }

    /// Reads one answer: the text after `ok`, or the error after `err`.
    pub(crate) fn answer(&mut self) -> Result<String, Error> {
        let line = match self.answers.recv_timeout(ANSWER_WITHIN) {
            Ok(line) => line?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(format!("{}: the driver ended", self.what).into());
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!("{}: no answer in {ANSWER_WITHIN:?}", self.what).into());
            }
        };
        let line = line.trim_end();
        match line.split_once(' ').unwrap_or((line, "")) {
            ("ok", rest) => Ok(rest.to_owned()),
            (_, rest) => Err(format!("{}: {rest}", self.what).into()),
        }
    }

    /// Sends one request and waits for its answer.
    pub(crate) fn request(&mut self, line: &str) -> Result<String, Error> {
        writeln!(self.input, "{line}")?;
        self.input.flush()?;
        self.answer()
    }
}

impl Drop for LineDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The manager's own process, whose memory and CPU time are its figures.
pub(crate) enum ManagerProcess {
    /// Our child (supervisord, circusd), ended by SIGTERM.
    Child(OwnedChild),
    /// A daemon of its own (pm2's), ended by its driver's `kill` request.
    Detached(u32),
}

/// A manager driven through a [`LineDriver`]; ended when dropped, if not before.
pub(crate) struct Driven {
    pub(crate) driver: LineDriver,
    /// `None` once ended.
    pub(crate) manager: Option<ManagerProcess>,
}

impl Driven {
    fn end(&mut self) -> Result<(), Error> {
        match self.manager.take() {
            Some(ManagerProcess::Child(mut child)) => child.terminate(),
            Some(ManagerProcess::Detached(_)) => self.driver.request("kill").map(drop),
            None => Ok(()),
        }
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

impl Manager for Driven {
    fn start(&mut self, names: &[&str]) -> Result<(), Error> {
        self.driver.request(&format!("start {}", names.join(" ")))?;
        Ok(())
    }

    fn start_all(&mut self) -> Result<(), Error> {
        self.driver.request("startall")?;
        Ok(())
    }

    fn stop(&mut self, names: &[&str]) -> Result<(), Error> {
        self.driver.request(&format!("stop {}", names.join(" ")))?;
        Ok(())
    }

    fn stop_all(&mut self) -> Result<(), Error> {
        self.driver.request("stopall")?;
        Ok(())
    }

    fn pid(&mut self, name: &str) -> Result<u32, Error> {
        Ok(self
            .driver
            .request(&format!("pid {name}"))?
            .trim()
            .parse()?)
    }

    fn usage(&self) -> Result<Usage, Error> {
        match &self.manager {
            Some(ManagerProcess::Child(child)) => proc_usage::of_process(child.id()),
            Some(ManagerProcess::Detached(pid)) => proc_usage::of_process(*pid),
            None => Err("the manager has ended".into()),
        }
    }

    fn shutdown(mut self: Box<Self>) -> Result<(), Error> {
        self.end()
    }
}
