//! circus (PyPI `circus`), driven through its ZeroMQ control endpoint by `peers/driver.py`
//! (circus's own client library).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::peers::installed;
use crate::peers::kind::{Daemon, shell_quote};
use crate::peers::line_driver::{Driven, LineDriver, ManagerProcess};
use crate::peers::manager::{Error, Manager, Peer};
use crate::peers::{OwnedChild, wait_for_path};

pub(crate) struct Circus;

impl Peer for Circus {
    fn name(&self) -> &'static str {
        "circus"
    }

    fn configuration(&self) -> String {
        "per watcher `stop_signal = TERM`, `graceful_timeout` = the grace, \
         `stop_children = true`, `respawn = false`, `autostart = false`, output to a file per \
         watcher; started one watcher after the other with `waiting` (circusd runs one command \
         at a time and refuses a start while another runs), many stopped by one `stop` with \
         `waiting` (circus's own timings: it looks at a stopping \
         process every 0.1 s; `check_delay` is left at its default, 1 s, which no figure \
         here depends on)"
            .to_owned()
    }

    fn launch(
        &self,
        binary: &str,
        dir: &Path,
        daemons: &[Daemon],
        grace: Duration,
    ) -> Result<Box<dyn Manager>, Error> {
        let endpoint = dir.join("endpoint");
        let mut conf = format!(
            "[circus]\nendpoint = ipc://{dir}/endpoint\npubsub_endpoint = ipc://{dir}/pubsub\n\
             statsd = false\n",
            dir = dir.display()
        );
        for daemon in daemons {
            let args: Vec<String> = daemon.kind.args().iter().map(|a| shell_quote(a)).collect();
            write!(
                conf,
                "\n[watcher:{name}]\ncmd = {cmd}\nargs = {args}\nnumprocesses = 1\n\
                 autostart = false\nrespawn = false\nstop_signal = TERM\n\
                 graceful_timeout = {grace}\nstop_children = true\ncopy_env = true\n\
                 stdout_stream.class = FileStream\nstdout_stream.filename = {dir}/{name}.log\n\
                 stderr_stream.class = FileStream\nstderr_stream.filename = {dir}/{name}.log\n",
                name = daemon.name,
                cmd = shell_quote(binary),
                args = args.join(" "),
                grace = grace.as_secs_f64(),
                dir = dir.display(),
            )?;
        }
        let conf_file = dir.join("circus.ini");
        std::fs::write(&conf_file, conf)?;
        let python = installed::dir().join("python/bin");
        let daemon = OwnedChild::new(
            Command::new(python.join("circusd"))
                .arg(&conf_file)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("circusd.stderr"))?)
                .spawn()?,
        )?;
        wait_for_path(&endpoint, Duration::from_secs(30))?;
        let mut command = Command::new(python.join("python"));
        command
            .arg(installed::scripts().join("driver.py"))
            .arg("circus")
            .arg(format!("ipc://{}", endpoint.display()));
        let driver = LineDriver::spawn("circus", command, &dir.join("driver.stderr"))?;
        Ok(Box::new(Driven {
            driver,
            manager: Some(ManagerProcess::Child(daemon)),
        }))
    }
}
