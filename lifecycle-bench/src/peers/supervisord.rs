//! supervisord (PyPI `supervisor`), driven through its XML-RPC interface on a Unix socket by
//! `peers/driver.py`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::peers::installed;
use crate::peers::kind::{Daemon, shell_quote};
use crate::peers::line_driver::{Driven, LineDriver, ManagerProcess};
use crate::peers::manager::{Error, Manager, Peer};
use crate::peers::{OwnedChild, wait_for_path};

pub(crate) struct Supervisord;

impl Peer for Supervisord {
    fn name(&self) -> &'static str {
        "supervisord"
    }

    fn configuration(&self) -> String {
        "`startsecs=0` (RUNNING at the spawn: its fastest), `stopasgroup=true`, \
         `killasgroup=true`, `stopwaitsecs` = the grace, `autorestart=false`, output to a file \
         per program; run with `nodaemon=true`"
            .to_owned()
    }

    fn launch(
        &self,
        binary: &str,
        dir: &Path,
        daemons: &[Daemon],
        grace: Duration,
    ) -> Result<Box<dyn Manager>, Error> {
        let socket = dir.join("supervisor.sock");
        let mut conf = format!(
            "[unix_http_server]\nfile={sock}\n\n[supervisord]\nnodaemon=true\nuser=root\n\
             logfile={dir}/supervisord.log\npidfile={dir}/supervisord.pid\nchildlogdir={dir}\n\n[rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            sock = socket.display(),
            dir = dir.display()
        );
        if !nix::unistd::geteuid().is_root() {
            conf = conf.replace("user=root\n", "");
        }
        let grace_secs = grace.as_secs().max(1);
        for daemon in daemons {
            let command: Vec<String> = std::iter::once(binary.to_owned())
                .chain(daemon.kind.args())
                .map(|a| shell_quote(&a))
                .collect();
            write!(
                conf,
                "\n[program:{name}]\ncommand={command}\nautostart=false\nautorestart=false\n\
                 startsecs=0\nstartretries=0\nstopsignal=TERM\nstopwaitsecs={grace_secs}\n\
                 stopasgroup=true\nkillasgroup=true\nredirect_stderr=true\n\
                 stdout_logfile={dir}/{name}.log\n",
                name = daemon.name,
                command = command.join(" "),
                dir = dir.display(),
            )?;
        }
        let conf_file = dir.join("supervisord.conf");
        std::fs::write(&conf_file, conf)?;
        let python = installed::dir().join("python/bin");
        let daemon = OwnedChild::new(
            Command::new(python.join("supervisord"))
                .arg("-c")
                .arg(&conf_file)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("supervisord.stderr"))?)
                .spawn()?,
        )?;
        wait_for_path(&socket, Duration::from_secs(30))?;
        let mut command = Command::new(python.join("python"));
        command
            .arg(installed::scripts().join("driver.py"))
            .arg("supervisord")
            .arg(&socket);
        let driver = LineDriver::spawn("supervisord", command, &dir.join("driver.stderr"))?;
        Ok(Box::new(Driven {
            driver,
            manager: Some(ManagerProcess::Child(daemon)),
        }))
    }
}
