//! The command line: subcommands and their arguments (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Declares, checks and runs the lifecycle of daemons from YAML specs.
///
/// Exit codes: 0 success; 1 a daemon failed (to start, to stop); 2 bad input (a path that is not
/// a spec, an invalid spec, a variable without a value, an unknown daemon) — nothing was started
/// or stopped.
///
/// ```
/// use clap::Parser;
/// let cli = lifecycle_cli::Cli::try_parse_from(["lifecycle", "check", "specs"]).unwrap();
/// assert!(matches!(cli.command, lifecycle_cli::cli::Command::Check { .. }));
/// ```
#[derive(Debug, Parser)]
#[command(name = "lifecycle", version, about, long_about = None)]
pub struct Cli {
    /// The state directory (records and logs). Default: $LIFECYCLE_STATE_DIR, else
    /// $XDG_STATE_HOME/lifecycle, else ~/.local/state/lifecycle.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Machine output: one JSON object per line (events of up, down and run; status entries).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A subcommand.
///
/// ```
/// use clap::Parser;
/// let cli = lifecycle_cli::Cli::try_parse_from(["lifecycle", "down", "queen-rbee", "--grace", "2s"]).unwrap();
/// match cli.command {
///     lifecycle_cli::cli::Command::Down { grace, .. } => assert_eq!(grace, Some(std::time::Duration::from_secs(2))),
///     _ => unreachable!(),
/// }
/// ```
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate specs (the same checks as #[derive(Lifecycle)]); exit 2 if any is invalid.
    Check {
        /// Spec files, or directories of them.
        #[arg(required = true, value_name = "SPEC|DIR")]
        specs: Vec<PathBuf>,
        /// Values of variables, so that checks of rendered values run too.
        #[command(flatten)]
        vars: Vars,
    },
    /// Make sure the daemons run and are ready, dependencies first. A daemon that runs with
    /// another command, environment or probe (its spec was edited) is restarted with the new.
    Up {
        /// Spec files, or directories of them.
        #[arg(required = true, value_name = "SPEC|DIR")]
        specs: Vec<PathBuf>,
        /// Values of variables.
        #[command(flatten)]
        vars: Vars,
        /// Report a changed daemon and leave it running as it is.
        #[arg(long)]
        no_recreate: bool,
    },
    /// Stop daemons, the ones that depend on them first.
    Down {
        /// Daemon names or keys (`vllm`, `vllm@8080`), or spec files.
        #[arg(required = true, value_name = "NAME|SPEC")]
        targets: Vec<String>,
        /// Values of variables of specs named (to name one instance).
        #[command(flatten)]
        vars: Vars,
        /// The grace of each stop step instead of the spec's (`500ms`, `2s`).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        grace: Option<Duration>,
    },
    /// Every daemon of the state directory: name, state, pid, uptime, location, readiness.
    Status,
    /// A daemon's log.
    Logs {
        /// Its name or key.
        #[arg(value_name = "NAME")]
        name: String,
        /// Keep printing what it writes.
        #[arg(short, long)]
        follow: bool,
        /// How many lines from the end.
        #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
        lines: usize,
    },
    /// Bring the daemons up and supervise them in the foreground (restart policies apply);
    /// Ctrl-C or SIGTERM stops them all, dependents first, and exits 0.
    Run {
        /// Spec files, or directories of them.
        #[arg(required = true, value_name = "SPEC|DIR")]
        specs: Vec<PathBuf>,
        /// Values of variables.
        #[command(flatten)]
        vars: Vars,
    },
    /// Print the JSON Schema of the spec language.
    Schema,
    /// Write a spec as a unit of another supervisor.
    Export {
        /// The format.
        #[command(subcommand)]
        format: Export,
    },
}

/// A format of `lifecycle export`.
///
/// ```
/// use clap::Parser;
/// let cli = lifecycle_cli::Cli::try_parse_from(["lifecycle", "export", "systemd", "specs/queen.yaml", "--user"]).unwrap();
/// assert!(matches!(cli.command, lifecycle_cli::cli::Command::Export { .. }));
/// ```
#[derive(Debug, Subcommand)]
pub enum Export {
    /// A systemd service unit, on standard output (warnings on standard error).
    Systemd {
        /// The spec file.
        #[arg(value_name = "SPEC")]
        spec: PathBuf,
        /// Values of variables.
        #[command(flatten)]
        vars: Vars,
        /// A user unit (systemctl --user) rather than a system one.
        #[arg(long)]
        user: bool,
    },
}

/// `--set var=value`, repeatable.
///
/// ```
/// use clap::Parser;
/// let cli = lifecycle_cli::Cli::try_parse_from(["lifecycle", "up", "q.yaml", "--set", "port=1"]).unwrap();
/// match cli.command {
///     lifecycle_cli::cli::Command::Up { vars, .. } => assert_eq!(vars.map()["port"], "1"),
///     _ => unreachable!(),
/// }
/// ```
#[derive(Debug, Args, Default)]
pub struct Vars {
    /// A variable's value (repeatable).
    #[arg(long = "set", value_name = "VAR=VALUE", value_parser = crate::load::parse_set)]
    pub set: Vec<(String, String)>,
}

impl Vars {
    /// The values by name (a later `--set` of a name wins).
    ///
    /// ```
    /// let vars = lifecycle_cli::cli::Vars { set: vec![("a".into(), "1".into()), ("a".into(), "2".into())] };
    /// assert_eq!(vars.map()["a"], "2");
    /// ```
    pub fn map(&self) -> std::collections::BTreeMap<String, String> {
        self.set.iter().cloned().collect()
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    lifecycle_spec::__private::parse_duration(text).map_err(|err| err.to_string())
}
