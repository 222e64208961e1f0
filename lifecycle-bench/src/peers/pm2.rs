//! pm2 (npm `pm2`), driven through its programmatic API by `peers/pm2-driver.js`; pm2 runs
//! its own daemon (the "God" process) in `PM2_HOME`, here the run's directory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::peers::installed;
use crate::peers::kind::Daemon;
use crate::peers::line_driver::{Driven, LineDriver, ManagerProcess};
use crate::peers::manager::{Error, Manager, Peer};

/// How often pm2 checks whether a stopped process is gone (`kill_retry_time`, 100 ms by
/// default).
const KILL_RETRY_MS: u64 = 10;

pub(crate) struct Pm2;

impl Peer for Pm2 {
    fn name(&self) -> &'static str {
        "pm2"
    }

    fn configuration(&self) -> String {
        format!(
            "`PM2_KILL_SIGNAL=SIGTERM` (SIGINT by default), `PM2_CONCURRENT_ACTIONS` = the \
             number of daemons (2 by default), per app `kill_timeout` = the grace, \
             `kill_retry_time: {KILL_RETRY_MS}` (100 ms by default), `treekill: true`, \
             `interpreter: none`, fork mode, `autorestart: false`, no pmx, vizion or automation"
        )
    }

    fn launch(
        &self,
        binary: &str,
        dir: &Path,
        daemons: &[Daemon],
        grace: Duration,
    ) -> Result<Box<dyn Manager>, Error> {
        let apps: Vec<serde_json::Value> = daemons
            .iter()
            .map(|daemon| {
                let log = dir.join(format!("{}.log", daemon.name));
                serde_json::json!({
                    "name": daemon.name,
                    "script": binary,
                    "args": daemon.kind.args(),
                    "interpreter": "none",
                    "exec_mode": "fork",
                    "autorestart": false,
                    "kill_timeout": grace.as_millis() as u64,
                    "kill_retry_time": KILL_RETRY_MS,
                    "treekill": true,
                    "out_file": log,
                    "error_file": log,
                    "pmx": false,
                    "vizion": false,
                    "automation": false,
                })
            })
            .collect();
        let apps_file = dir.join("apps.json");
        std::fs::write(&apps_file, serde_json::to_vec(&apps)?)?;
        let home = dir.join("pm2");
        let mut command = Command::new("node");
        command
            .arg(installed::scripts().join("pm2-driver.js"))
            .arg(installed::dir().join("node/node_modules/pm2"))
            .arg(&apps_file)
            .env("PM2_HOME", &home)
            .env("PM2_KILL_SIGNAL", "SIGTERM")
            .env("PM2_CONCURRENT_ACTIONS", daemons.len().max(2).to_string());
        let mut driver = LineDriver::spawn("pm2", command, &dir.join("driver.stderr"))?;
        let connected = driver.answer();
        // The daemon is there once connected; read its PID whatever the answer, to end it.
        let god = std::fs::read_to_string(home.join("pm2.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse().ok());
        let manager = Driven {
            driver,
            manager: god.map(ManagerProcess::Detached),
        };
        connected?;
        if god.is_none() {
            return Err("pm2: no pm2.pid after connecting".into());
        }
        Ok(Box::new(manager))
    }
}
