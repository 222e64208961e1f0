//! s6 (Debian's `s6`): `s6-svscan` on a scan directory of one service directory per daemon,
//! each under an `s6-supervise`, driven with `s6-svc`, `s6-svwait` and `s6-svstat` (small C
//! programs: their start-up is part of using s6, and a few hundred microseconds).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::peers::kind::{Daemon, Kind, shell_quote};
use crate::peers::manager::{Error, Manager, Peer, Usage};
use crate::peers::{OwnedChild, proc_usage, wait_for_path};

/// s6-notifyoncheck's polling period (`-w`, 1000 ms by default).
const CHECK_EVERY_MS: u64 = 10;

/// How long any one s6 command may wait.
const WAIT_MS: u64 = 120_000;

pub(crate) struct S6;

struct Running {
    scan: PathBuf,
    /// s6-svscan (the s6-supervise processes are its children).
    svscan: Option<OwnedChild>,
    names: Vec<String>,
}

impl Peer for S6 {
    fn name(&self) -> &'static str {
        "s6"
    }

    fn configuration(&self) -> String {
        format!(
            "one service directory per daemon with a `down` file (started by `s6-svc -u`), \
             `timeout-kill` = the grace; readiness by `s6-notifyoncheck -d -w {CHECK_EVERY_MS} -n 0` \
             (a TCP connect in `data/check`, every {CHECK_EVERY_MS} ms; 1000 ms by default) with \
             `notification-fd`; many started and stopped by writing `u` or `d` to each \
             `supervise/control` (what `s6-svc` does), then one `s6-svwait -a` for them all; \
             s6 2.11 signals the daemon, not its group, and gives a `finish` script no group to \
             end (later versions pass it)"
        )
    }

    fn launch(
        &self,
        binary: &str,
        dir: &Path,
        daemons: &[Daemon],
        grace: Duration,
    ) -> Result<Box<dyn Manager>, Error> {
        let scan = dir.join("scan");
        std::fs::create_dir_all(&scan)?;
        for daemon in daemons {
            write_service(&scan.join(&daemon.name), dir, binary, daemon, grace)?;
        }
        let svscan = OwnedChild::new(
            Command::new("s6-svscan")
                .arg("-c")
                .arg((daemons.len() + 16).to_string())
                .arg(&scan)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("s6-svscan.stderr"))?)
                .spawn()?,
        )?;
        let running = Running {
            scan,
            svscan: Some(svscan),
            names: daemons.iter().map(|d| d.name.clone()).collect(),
        };
        for name in &running.names {
            wait_for_path(
                &running.scan.join(name).join("supervise/status"),
                Duration::from_secs(60),
            )?;
        }
        Ok(Box::new(running))
    }
}

/// One service directory: `run` (output to a log file, then the daemon, under
/// s6-notifyoncheck when it has a readiness to wait for), `down`, `timeout-kill`.
fn write_service(
    service: &Path,
    dir: &Path,
    binary: &str,
    daemon: &Daemon,
    grace: Duration,
) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(service)?;
    let command: Vec<String> = std::iter::once(binary.to_owned())
        .chain(daemon.kind.args())
        .map(|a| shell_quote(&a))
        .collect();
    let log = shell_quote(&dir.join(format!("{}.log", daemon.name)).to_string_lossy());
    let notify = match &daemon.kind {
        Kind::ReadyLate { port, .. } => {
            std::fs::create_dir_all(service.join("data"))?;
            let check = service.join("data/check");
            std::fs::write(
                &check,
                format!("#!/bin/bash\nexec 9<>/dev/tcp/127.0.0.1/{port}\n"),
            )?;
            std::fs::set_permissions(&check, std::fs::Permissions::from_mode(0o755))?;
            std::fs::write(service.join("notification-fd"), "3\n")?;
            format!("s6-notifyoncheck -d -w {CHECK_EVERY_MS} -n 0 ")
        }
        _ => String::new(),
    };
    let run = service.join("run");
    std::fs::write(
        &run,
        format!(
            "#!/bin/sh\nexec >>{log} 2>&1\nexec {notify}{}\n",
            command.join(" ")
        ),
    )?;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(service.join("down"), "")?;
    std::fs::write(
        service.join("timeout-kill"),
        format!("{}\n", grace.as_millis()),
    )?;
    Ok(())
}

/// Runs an s6 command to its end; its failure is an error naming it.
fn run(command: &mut Command) -> Result<String, Error> {
    let output = command.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(format!(
            "{:?}: {} {}",
            command,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Running {
    fn dirs<'a>(&'a self, names: &'a [&str]) -> impl Iterator<Item = PathBuf> + 'a {
        names.iter().map(|n| self.scan.join(n))
    }

    fn has_readiness(&self, name: &str) -> bool {
        self.scan.join(name).join("notification-fd").exists()
    }

    /// `s6-svc WAIT -T … COMMAND` on one service: the command, then the wait for its effect.
    fn svc(&self, name: &str, wait: &str, command: &str) -> Result<(), Error> {
        run(Command::new("s6-svc")
            .args([wait, "-T", &WAIT_MS.to_string(), command])
            .arg(self.scan.join(name)))
        .map(drop)
    }

    /// [`Running::each_then_wait`] on every service.
    fn all_then_wait(&self, command: &str, wait: &str) -> Result<(), Error> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        self.each_then_wait(&names, command, wait)
    }

    /// Writes `command` (`u`, `d`) to every service's `supervise/control` FIFO — what
    /// `s6-svc` does, without a process per service — then one `s6-svwait` for them all.
    fn each_then_wait(&self, names: &[&str], command: &str, wait: &str) -> Result<(), Error> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        for dir in self.dirs(names) {
            let control = dir.join("supervise/control");
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NONBLOCK)
                .open(&control)
                .and_then(|mut fifo| fifo.write_all(command.as_bytes()))
                .map_err(|e| format!("{}: {e}", control.display()))?;
        }
        run(Command::new("s6-svwait")
            .arg(wait)
            .arg("-a")
            .arg("-t")
            .arg(WAIT_MS.to_string())
            .args(self.dirs(names)))?;
        Ok(())
    }
}

impl Manager for Running {
    fn start(&mut self, names: &[&str]) -> Result<(), Error> {
        for name in names {
            // -wU: until up and ready (the notification), -wu: until up.
            let wait = if self.has_readiness(name) {
                "-wU"
            } else {
                "-wu"
            };
            self.svc(name, wait, "-u")?;
        }
        Ok(())
    }

    fn start_all(&mut self) -> Result<(), Error> {
        self.all_then_wait("u", "-u")
    }

    fn stop(&mut self, names: &[&str]) -> Result<(), Error> {
        for name in names {
            // -wD: until down and its finish script (none here) done.
            self.svc(name, "-wD", "-d")?;
        }
        Ok(())
    }

    fn stop_all(&mut self) -> Result<(), Error> {
        self.all_then_wait("d", "-D")
    }

    fn pid(&mut self, name: &str) -> Result<u32, Error> {
        let out = run(Command::new("s6-svstat")
            .arg("-p")
            .arg(self.scan.join(name)))?;
        Ok(out.trim().parse()?)
    }

    fn usage(&self) -> Result<Usage, Error> {
        let svscan = self.svscan.as_ref().ok_or("s6-svscan has ended")?.id();
        let mut pids = vec![svscan];
        pids.extend(proc_usage::children(svscan)?);
        proc_usage::of_processes(&pids)
    }

    fn shutdown(mut self: Box<Self>) -> Result<(), Error> {
        self.end()
    }
}

impl Running {
    /// Brings every service down (bounded), then ends s6-svscan and its supervisors by s6's
    /// own shutdown (`s6-svscanctl -t`: each s6-supervise brings its service down and exits,
    /// then s6-svscan does), waited for at most 30 s.
    fn end(&mut self) -> Result<(), Error> {
        let Some(mut svscan) = self.svscan.take() else {
            return Ok(());
        };
        let down = self.all_then_wait("d", "-D");
        let asked = run(Command::new("s6-svscanctl").arg("-t").arg(&self.scan));
        let ended = svscan.end();
        down.and(asked.map(drop)).and(ended)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.end();
    }
}
