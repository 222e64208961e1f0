//! `lifecycle export systemd`: a spec, with its variables' values, as a systemd service unit.
//!
//! The unit runs the same command line with the same environment, and says as much of the rest
//! of the spec as systemd can; what it cannot say is listed in [`Unit::warnings`] (and repeated
//! as comments at the top of the unit), never dropped in silence.
//!
//! # Mapping
//!
//! | spec | unit |
//! |---|---|
//! | the key (`name`, `name@instance`) | the unit's name, `<name>.service` or `<name>@<instance>.service` (a plain file with an instance, not a template); an instance keeps `[A-Za-z0-9:_.-]`, any other byte is written `\xNN` as `systemd-escape` does (so is a leading `.`; unlike it, `-` is kept and `/` is `\x2f`, so that names stay readable and two instances never share one); longer than 255 characters, or an empty instance, is an error |
//! | `name`, the file | `Description=` and a comment naming the command that made it |
//! | `command.binary` | the first word of `ExecStart=`: an absolute path as is; a bare name looked up now in `$PATH` (its absolute directories), then in the workspace's `target/{release,debug}` (a warning: the unit then runs a build); a relative path with a `/` made absolute against the current directory (a warning) |
//! | `command.args` | the other words of `ExecStart=` |
//! | `command.env` | one `Environment="NAME=value"` line each, in order |
//! | `command.inherit_env` | see below |
//! | `readiness` `notify` | `Type=notify`, `NotifyAccess=main` |
//! | no readiness, `http`, `tcp`, `log` | `Type=exec` (started once exec'd); a probe is a warning |
//! | `readiness.deadline` | `TimeoutStartSec=` |
//! | `stop` | see below; always `KillMode=control-group` and `SendSIGKILL=yes` |
//! | `restart.policy` | `Restart=no`, `on-failure` (with `RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE`, the signals systemd otherwise counts as a clean exit: lifecycle restarts after a death by any signal), `always` |
//! | `restart.backoff.initial` | `RestartSec=`; a delay that grows is a warning |
//! | `restart.max`, `restart.reset_after` | `StartLimitBurst=max+1`, `StartLimitIntervalSec=reset_after` in `[Unit]`, with a comment: an approximation |
//! | `depends_on` | `After=` and `Requires=` the dependency's unit, whether `wait: started` or `healthy` |
//! | `location: ssh` | dropped, a warning: the unit runs on the host it is installed on |
//! | `logs` | the journal takes the output (`StandardOutput=journal`); `logs:` other than the default is a warning |
//! | [`Target::System`], [`Target::User`] | `WantedBy=multi-user.target`, `WantedBy=default.target` |
//!
//! # Quoting
//!
//! Every word of a command line is double-quoted, `\` and `"` escaped, a newline written `\n`
//! and a tab `\t` (`systemd.syntax(7)`, "Quoting"); `%` is written `%%` (no specifier expansion,
//! `systemd.unit(5)`), and `$` is written `$$` in the arguments (no variable expansion,
//! `systemd.service(5)`, "Command lines"; at exec time systemd turns `$$` into `$` within a
//! word, and neither `$$HOME` nor `"$${HOME}"` is then a variable) — but not in the first word:
//! systemd executes that path as written, without `$$` → `$` (checked with `systemd-analyze
//! verify`: a binary written `"/a$$b/x"` is looked up as `/a$$b/x`). In `Environment=`, `$` has
//! no special meaning (`systemd.exec(5)`), so it stays as it is there; `%`, `\`, `"`, newlines
//! and tabs are escaped as above (systemd 252 keeps a newline in a value, checked by loading a
//! unit). Other control characters are refused, as the executor refuses them at run time. A
//! lone `;` is written `";"`, which systemd reads as an argument, not as a command separator.
//!
//! # The environment
//!
//! A daemon run by lifecycle inherits the environment of the process that starts it
//! (`inherit_env: true`), none of it (`false`), or the variables listed. A system service
//! inherits nothing from whoever runs `systemctl start`; it starts with the service manager's
//! own few variables (`PATH`, `LANG`, …; no `HOME` or `USER` without `User=`):
//!
//! - `true`: nothing is written, and for [`Target::System`] a warning says so. The user manager
//!   ([`Target::User`]) passes its whole environment to its services: no warning.
//! - a list: `PassEnvironment=` with the names (for the system manager: the variables are taken
//!   from *its* environment, not the caller's; a warning says so). The user manager passes
//!   everything anyway: nothing is written, and a warning says the list does not restrict it.
//! - `false`: nothing is written; for [`Target::User`] a warning says the user manager's
//!   environment is passed all the same.
//!
//! `NOTIFY_SOCKET` is never passed (systemd sets it itself for `Type=notify`).
//!
//! # The stop chain
//!
//! The HTTP step (`{ http: { post: URL } }`) cannot be said without a shell or an HTTP client:
//! it is dropped, with a warning (a chain of that step alone becomes SIGTERM with its grace, and
//! a second warning). Of the signal steps, the last becomes `KillSignal=` with `TimeoutStopSec=`
//! its grace (a grace of zero is written `1ms`: `0` would mean no timeout at all), after which
//! systemd sends SIGKILL to what is left of the unit's control group. Each step before it becomes
//! `ExecStop=` lines, run without a shell:
//!
//! ```text
//! ExecStop=-/usr/bin/kill -s INT -- -${MAINPID}
//! ExecStop=-/usr/bin/kill -s CONT -- -${MAINPID}
//! ExecStop=-/usr/bin/timeout 20s /usr/bin/tail --pid=${MAINPID} -s 0.1 -f /dev/null
//! ```
//!
//! The signal goes to the main process's process group (systemd starts each service process in
//! a session of its own, so the group's ID is `$MAINPID`), as lifecycle sends it, followed by
//! SIGCONT; then the main process's exit is awaited for up to the step's grace (GNU `tail
//! --pid`, bounded by `timeout`). `${MAINPID}` is left for systemd to fill in (braced: it is
//! part of a word). The leading `-` makes a failure harmless: systemd runs `ExecStop=` also
//! after the main process exited on its own, when `$MAINPID` is unset. `kill` (procps or
//! util-linux), `timeout` and `tail` (GNU coreutils) are looked up in `/usr/bin`, then `/bin`,
//! when the unit is made; not found is [`ExportError::ToolNotFound`].
//!
//! `TimeoutStopSec=` also bounds each `ExecStop=` command (`systemd.service(5)`): it is set to
//! at least each earlier step's grace plus one second, and when that is more than the last
//! step's grace, a warning says the last step waits that much longer.
//!
//! # Not expressed
//!
//! Readiness probes other than `notify` (systemd considers such a service started once it is
//! exec'd), the probe's attempt timeout and backoff, a restart delay that grows
//! (`RestartSteps=` and `RestartMaxDelaySec=` need systemd 254; they are not written, so that
//! the unit loads without complaint on older ones), the count of restarts reset by a stable
//! run (approximated by the start rate limit), log files and their rotation (the journal has its
//! own: `journald.conf(5)`), SSH locations and installs, the working directory (systemd starts
//! a system service in `/` and a user service in the home directory, lifecycle in the caller's).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifecycle_core::error::{BinaryNotFound, PlanError, VarError};
use lifecycle_core::spec::{
    Dependency, InheritEnv, Location, Logs, Pos, Probe, RestartPolicy, Signal, Spec, StopStep,
    Template, WaitFor,
};
use lifecycle_core::{DaemonManager, Lifecycle};

use crate::SpecHandle;

/// A systemd service unit made from a spec: its file name, its text, and what of the spec it
/// could not say.
///
/// ```
/// use lifecycle_cli::SpecHandle;
/// use lifecycle_cli::systemd::{Target, export};
///
/// let spec = lifecycle_spec::parse_spec("echo.yaml", "command: { binary: /bin/echo, args: [hi] }\n", &[]).unwrap();
/// let unit = export(&SpecHandle::new(spec, Default::default()), Target::User).unwrap();
/// assert_eq!(unit.name, "echo.service");
/// assert!(unit.text.contains("\nExecStart=\"/bin/echo\" \"hi\"\n"));
/// assert!(unit.warnings.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// The unit's file name: `queen-rbee.service`, `vllm@8080.service`.
    pub name: String,
    /// The unit file's contents, ending with a newline.
    pub text: String,
    /// What of the spec the unit does not say, or says differently, one sentence each (also
    /// written as comments at the top of [`text`](Unit::text)).
    pub warnings: Vec<String>,
}

/// Which service manager the unit is for.
///
/// ```
/// use lifecycle_cli::systemd::Target;
/// assert_eq!(Target::default(), Target::System);
/// assert_eq!(Target::User.wanted_by(), "default.target");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Target {
    /// The system manager (`/etc/systemd/system`, `systemctl`): wanted by `multi-user.target`.
    #[default]
    System,
    /// A user's manager (`~/.config/systemd/user`, `systemctl --user`, `--user` on the command
    /// line): wanted by `default.target`.
    User,
}

impl Target {
    /// The target whose start pulls the unit in once enabled (its `WantedBy=`).
    ///
    /// ```
    /// assert_eq!(lifecycle_cli::systemd::Target::System.wanted_by(), "multi-user.target");
    /// ```
    pub const fn wanted_by(self) -> &'static str {
        match self {
            Target::System => "multi-user.target",
            Target::User => "default.target",
        }
    }
}

/// Why a spec could not be exported.
///
/// ```
/// use lifecycle_cli::SpecHandle;
/// use lifecycle_cli::systemd::{ExportError, Target, export};
///
/// let spec = lifecycle_spec::parse_spec("x.yaml", "command: { binary: no-such-binary-anywhere }\n", &[]).unwrap();
/// let err = export(&SpecHandle::new(spec, Default::default()), Target::System).unwrap_err();
/// assert!(matches!(err, ExportError::BinaryNotFound(_)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// A `{var}` has no value: give it with `--set`.
    #[error(transparent)]
    Var(#[from] VarError),
    /// A bare `command.binary` is in neither `$PATH` nor the workspace's `target/`.
    #[error(transparent)]
    BinaryNotFound(#[from] BinaryNotFound),
    /// A rendered value cannot be written into a unit (the executor's own error for a value
    /// that breaks its rule: `PlanError::Invalid`).
    #[error(transparent)]
    Invalid(PlanError),
    /// A program the unit's stop commands need is not installed.
    #[error(
        "daemon `{daemon}`: its stop chain of several steps needs `{tool}` ({package}), found in neither {}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" nor ")
    )]
    ToolNotFound {
        /// The daemon.
        daemon: String,
        /// The program (`kill`, `timeout`, `tail`).
        tool: String,
        /// The package that usually has it.
        package: String,
        /// Where it was looked for.
        searched: Vec<PathBuf>,
    },
}

/// The directories the stop commands' programs are looked up in, in order.
const TOOL_DIRS: [&str; 2] = ["/usr/bin", "/bin"];

/// The unit of `handle`'s daemon, for `target`'s service manager. Nothing is written: the
/// caller writes [`Unit::text`] to a file named [`Unit::name`] and shows [`Unit::warnings`].
///
/// ```
/// use lifecycle_cli::SpecHandle;
/// use lifecycle_cli::systemd::{Target, export};
///
/// let yaml = "command: { binary: /usr/bin/worker, args: [\"--port\", \"{port}\"] }\n\
///             instance: \"{port}\"\nvars: { port: 8080 }\nreadiness: { probe: notify }\n";
/// let spec = lifecycle_spec::parse_spec("specs/worker.yaml", yaml, &[]).unwrap();
/// let handle = SpecHandle::new(spec, [("port".to_owned(), "9000".to_owned())].into());
/// let unit = export(&handle, Target::System).unwrap();
/// assert_eq!(unit.name, "worker@9000.service");
/// assert!(unit.text.contains("\nType=notify\n"));
/// assert!(unit.text.contains("\nExecStart=\"/usr/bin/worker\" \"--port\" \"9000\"\n"));
/// assert!(unit.text.contains("\nWantedBy=multi-user.target\n"));
/// ```
pub fn export(handle: &SpecHandle, target: Target) -> Result<Unit, ExportError> {
    let spec = handle.spec();
    let mut warnings = Vec::new();

    let instance = match &spec.instance {
        Some(template) => Some((handle.render(template)?, template)),
        None => None,
    };
    let name = unit_name(spec, instance.as_ref().map(|(v, t)| (v.as_str(), t.pos)))?;
    let key = match &instance {
        Some((value, _)) => format!("{}@{value}", spec.name),
        None => spec.name.to_string(),
    };

    let binary = handle.render(&spec.command.binary)?;
    let mut args = String::new();
    for arg in spec.command.args.iter() {
        let value = handle.render(arg)?;
        check_value(spec, arg, "command.args", &value)?;
        args.push(' ');
        args.push_str(&quote(&value, Dollar::Double));
    }
    let mut environment = Vec::new();
    for var in spec.command.env.iter() {
        let value = handle.render(&var.value)?;
        check_value(spec, &var.value, "command.env", &value)?;
        environment.push(quote(&format!("{}={value}", var.name), Dollar::Keep));
    }
    // Every value is rendered (a missing one is the first error) before the binary is looked for.
    let binary = resolve_binary(spec, &binary, &mut warnings)?;
    let exec_start = first_word(&binary) + &args;
    let pass_environment = inherit_env(&spec.command.inherit_env, target, &mut warnings);

    let mut unit_lines = vec![format!(
        "Description={} (lifecycle spec {})",
        plain(&key),
        plain(&spec.file)
    )];
    let mut service = Vec::new();

    // Readiness.
    match spec.readiness.as_ref().map(|r| &r.probe) {
        Some(Probe::Notify) => {
            service.push("Type=notify".to_owned());
            service.push("NotifyAccess=main".to_owned());
        }
        Some(probe) => {
            service.push("Type=exec".to_owned());
            warnings.push(format!(
                "readiness probe {} is not expressible: systemd considers the service started \
                 once exec'd (Type=exec)",
                describe_probe(handle, probe)
            ));
        }
        None => service.push("Type=exec".to_owned()),
    }
    service.push(format!("ExecStart={exec_start}"));
    service.extend(environment.iter().map(|e| format!("Environment={e}")));
    if !pass_environment.is_empty() {
        service.push(format!("PassEnvironment={}", pass_environment.join(" ")));
    }
    service.push("StandardOutput=journal".to_owned());
    service.push("StandardError=journal".to_owned());
    if let Some(readiness) = &spec.readiness {
        service.push(format!("TimeoutStartSec={}", timespan(readiness.deadline)));
    }

    // Restart.
    let mut limits = Vec::new();
    restart(spec, &mut limits, &mut service, &mut warnings);

    // Stop.
    service.push("KillMode=control-group".to_owned());
    stop(handle, &mut service, &mut warnings)?;
    service.push("SendSIGKILL=yes".to_owned());

    // Dependencies.
    for dep in spec.depends_on.iter() {
        let dep_unit = dependency_unit(handle, dep, &mut warnings)?;
        unit_lines.push(format!("After={dep_unit}"));
        unit_lines.push(format!("Requires={dep_unit}"));
    }
    unit_lines.extend(limits);

    // Location and logs.
    if let Location::Ssh(ssh) = &spec.location {
        let host = handle.render(&ssh.host).ok();
        let local = host.as_deref().is_some_and(|h| ssh.is_local_host(h));
        if !local {
            let shown = host.unwrap_or_else(|| ssh.host.source.to_string());
            warnings.push(format!(
                "location: ssh to {shown} is dropped: the unit runs on whatever host it is \
                 installed on"
            ));
            if let Some(install) = &ssh.install {
                let file = handle
                    .render(install)
                    .unwrap_or_else(|_| install.source.to_string());
                warnings.push(format!(
                    "location.ssh.install ({file}) is dropped: install {binary} on that host \
                     yourself"
                ));
            }
        }
    }
    if spec.logs != Logs::DEFAULT {
        warnings.push(
            "logs (dir, max_size, keep) are not used: the journal takes the output \
             (StandardOutput=journal; its size is journald.conf's SystemMaxUse=)"
                .to_owned(),
        );
    }

    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Generated by `{}`.",
        comment(&command_line(handle, target))
    );
    text.push_str("# Change the spec and export it again rather than editing this file.\n");
    for warning in &warnings {
        let _ = writeln!(text, "# warning: {}", comment(warning));
    }
    text.push_str("\n[Unit]\n");
    for line in &unit_lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("\n[Service]\n");
    for line in &service {
        text.push_str(line);
        text.push('\n');
    }
    let _ = writeln!(text, "\n[Install]\nWantedBy={}", target.wanted_by());
    Ok(Unit {
        name,
        text,
        warnings,
    })
}

/// What `$` becomes in a quoted word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dollar {
    /// `$$`: an argument of a command line, where `$` would expand a variable.
    Double,
    /// `$`: an `Environment=` assignment, where it means nothing, and the first word of a
    /// command line, which systemd executes without expanding `$$`.
    Keep,
}

/// `word` in double quotes for a unit file: `\`, `"`, newline and tab escaped C-style, `%`
/// doubled (no specifier), `$` doubled in arguments (no variable). Other control characters,
/// refused before, would be written `\uXXXX`.
fn quote(word: &str, dollar: Dollar) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if dollar == Dollar::Double => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The program, as the first word of a command line: systemd executes this word as written
/// once unquoted and its specifiers expanded, without `$$` → `$`.
fn first_word(binary: &str) -> String {
    quote(binary, Dollar::Keep)
}

/// Text for a line whose value is not quoted (`Description=`): `%` doubled, control characters
/// shown escaped.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%%"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Text for a comment line: control characters shown escaped.
fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `value` (rendered from `template`) as an argument or environment value: no control
/// characters but newline and tab, as the executor allows.
fn check_value(
    spec: &Spec,
    template: &Template,
    field: &str,
    value: &str,
) -> Result<(), ExportError> {
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(
            spec,
            template.pos,
            field,
            value,
            "contains control characters",
        ));
    }
    Ok(())
}

fn invalid(spec: &Spec, pos: Pos, field: &str, value: &str, problem: &str) -> ExportError {
    ExportError::Invalid(PlanError::Invalid {
        daemon: spec.name.to_string(),
        file: spec.file.to_string(),
        pos,
        field: field.to_owned(),
        value: value.escape_debug().to_string(),
        problem: problem.to_owned(),
    })
}

/// `<name>.service` or `<name>@<escaped instance>.service`, at most 255 characters.
fn unit_name(spec: &Spec, instance: Option<(&str, Pos)>) -> Result<String, ExportError> {
    let name = &spec.name;
    let Some((instance, pos)) = instance else {
        return Ok(format!("{name}.service"));
    };
    let problem = if instance.is_empty() {
        Some("empty: a unit name needs an instance after `@`")
    } else if instance.chars().any(char::is_control) {
        Some("contains control characters")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(invalid(spec, pos, "instance", instance, problem));
    }
    let unit = format!("{name}@{}.service", escape_instance(instance));
    // UNIT_NAME_MAX is 256 with the terminating NUL.
    if unit.len() > 255 {
        return Err(invalid(
            spec,
            pos,
            "instance",
            instance,
            "too long: the unit name would be longer than 255 characters",
        ));
    }
    Ok(unit)
}

/// An instance as a unit name allows it: `[A-Za-z0-9:_.-]` kept (but a leading `.`), any other
/// byte `\xNN`, as `systemd-escape` writes it (which also writes `-` as `\x2d` and `/` as `-`;
/// here both are kept apart and `-` stays readable: `rbee-hive@gpu-1.service`).
fn escape_instance(instance: &str) -> String {
    let mut out = String::with_capacity(instance.len());
    for (i, byte) in instance.bytes().enumerate() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b':' | b'_' | b'-')
            || (byte == b'.' && i > 0);
        if keep {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// The program to run, as an absolute path (see the module's mapping table).
fn resolve_binary(
    spec: &Spec,
    binary: &str,
    warnings: &mut Vec<String>,
) -> Result<String, ExportError> {
    let pos = spec.command.binary.pos;
    let bad = |problem: &str| invalid(spec, pos, "command.binary", binary, problem);
    if binary.is_empty() {
        return Err(bad("empty"));
    }
    if binary.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    if binary.ends_with('/') {
        return Err(bad("a directory, not a program"));
    }
    if binary.starts_with('/') {
        return Ok(binary.to_owned());
    }
    let found = if binary.contains('/') {
        let absolute = std::path::absolute(binary)
            .map_err(|err| bad(&format!("a relative path, not absolute here: {err}")))?;
        let shown = path_text(&absolute).ok_or_else(|| bad("not UTF-8 once absolute"))?;
        warnings.push(format!(
            "command.binary `{binary}` is a relative path: the unit runs {shown} (relative to \
             the directory the export ran in)"
        ));
        shown
    } else {
        let mut searched = Vec::new();
        let in_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(binary))
            .find(|candidate| {
                searched.push(candidate.clone());
                is_executable(candidate)
            });
        match in_path {
            Some(path) => {
                path_text(&path).ok_or_else(|| bad("found at a path that is not UTF-8"))?
            }
            None => match DaemonManager::find_in_target(binary) {
                Some(path) => {
                    let shown =
                        path_text(&path).ok_or_else(|| bad("found at a path that is not UTF-8"))?;
                    warnings.push(format!(
                        "command.binary `{binary}` is not in $PATH: the unit runs the \
                         workspace's build {shown}; install the program and export again for \
                         a path that outlives the next build"
                    ));
                    shown
                }
                None => {
                    searched.push(PathBuf::from("target/release").join(binary));
                    searched.push(PathBuf::from("target/debug").join(binary));
                    return Err(ExportError::BinaryNotFound(BinaryNotFound {
                        spec: spec.name.to_string(),
                        binary: binary.to_owned(),
                        searched,
                    }));
                }
            },
        }
    };
    if found.chars().any(char::is_control) {
        return Err(bad("resolved to a path with control characters"));
    }
    Ok(found)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn path_text(path: &Path) -> Option<String> {
    path.to_str().map(str::to_owned)
}

/// The names for `PassEnvironment=` (see the module's "The environment"), and the warnings.
fn inherit_env(inherit: &InheritEnv, target: Target, warnings: &mut Vec<String>) -> Vec<String> {
    match (inherit, target) {
        (InheritEnv::All, Target::System) => {
            warnings.push(
                "command.inherit_env: true: a system service does not inherit the environment \
                 of whoever starts it, only the service manager's few variables (PATH, LANG, …; \
                 no HOME or USER): set what the daemon needs under command.env"
                    .to_owned(),
            );
            Vec::new()
        }
        (InheritEnv::All, Target::User) => Vec::new(),
        (InheritEnv::Only(names), Target::System) => {
            let names: Vec<String> = names
                .iter()
                .filter(|n| *n != "NOTIFY_SOCKET")
                .map(ToString::to_string)
                .collect();
            if !names.is_empty() {
                warnings.push(format!(
                    "command.inherit_env: [{}] is written PassEnvironment=, which passes these \
                     from the service manager's environment, not from the environment of \
                     whoever starts the service",
                    names.join(", ")
                ));
            }
            names
        }
        (InheritEnv::Only(names), Target::User) => {
            let what = if names.is_empty() {
                "false".to_owned()
            } else {
                format!("[{}]", names.join(", "))
            };
            warnings.push(format!(
                "command.inherit_env: {what} is not expressible: the user service manager passes \
                 its whole environment to its services"
            ));
            Vec::new()
        }
    }
}

/// A probe as a warning names it: its rendered URL or address, or its pattern.
fn describe_probe(handle: &SpecHandle, probe: &Probe) -> String {
    let rendered = |t: &Template| handle.render(t).unwrap_or_else(|_| t.source.to_string());
    match probe {
        Probe::Http { url, .. } => rendered(url),
        Probe::Tcp { addr, .. } => format!("tcp {}", rendered(addr)),
        Probe::Log { pattern, .. } => format!("log /{pattern}/"),
        other => other.kind().to_owned(),
    }
}

/// `Restart=`, `RestartSec=` and the start rate limit.
fn restart(
    spec: &Spec,
    unit_lines: &mut Vec<String>,
    service: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let restart = &spec.restart;
    let policy = match restart.policy {
        RestartPolicy::Never => "no",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Always => "always",
    };
    service.push(format!("Restart={policy}"));
    if policy == "no" {
        return;
    }
    if restart.policy == RestartPolicy::OnFailure {
        service.push(
            "# lifecycle restarts after a death by any signal; systemd counts these four as a \
             clean exit"
                .to_owned(),
        );
        service.push("RestartForceExitStatus=SIGHUP SIGINT SIGTERM SIGPIPE".to_owned());
    }
    let backoff = restart.backoff;
    service.push(format!("RestartSec={}", timespan(backoff.initial)));
    if backoff.factor > 1.0 && backoff.max > backoff.initial {
        warnings.push(format!(
            "restart.backoff: the delay grows ×{} from {} up to {}; the unit restarts after \
             {} each time (RestartSteps= and RestartMaxDelaySec= need systemd 254 and are not \
             written)",
            backoff.factor,
            timespan(backoff.initial),
            timespan(backoff.max),
            timespan(backoff.initial)
        ));
    }
    let burst = u64::from(restart.max) + 1;
    let interval = timespan(restart.reset_after);
    unit_lines.push(format!(
        "# restart.max {} (restarts in a row; running {} resets the count), approximated: at \
         most {burst} starts within {interval}, manual ones included",
        restart.max, interval
    ));
    unit_lines.push(format!("StartLimitIntervalSec={interval}"));
    unit_lines.push(format!("StartLimitBurst={burst}"));
}

/// The stop chain (see the module's "The stop chain").
fn stop(
    handle: &SpecHandle,
    service: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<(), ExportError> {
    let spec = handle.spec();
    let mut signals: Vec<(Signal, Duration)> = Vec::new();
    let mut dropped_grace = None;
    for step in spec.stop.iter() {
        match step {
            StopStep::Signal { signal, grace, .. } => signals.push((*signal, *grace)),
            StopStep::HttpPost { url, grace, .. } => {
                let url = handle
                    .render(url)
                    .unwrap_or_else(|_| url.source.to_string());
                warnings.push(format!(
                    "stop: the HTTP step (POST {url}) is not expressible without a shell or an \
                     HTTP client: dropped"
                ));
                dropped_grace = Some(*grace);
            }
            _ => warnings.push("stop: a step of an unknown kind is dropped".to_owned()),
        }
    }
    let Some(&(last_signal, last_grace)) = signals.last() else {
        // Only an HTTP step: systemd's default signal stands in for it.
        let grace = dropped_grace.unwrap_or(StopStep::DEFAULT_GRACE);
        warnings.push(format!(
            "stop: with no signal step left, the unit is stopped with SIGTERM, then SIGKILL \
             after {}",
            timespan(grace)
        ));
        service.push("KillSignal=SIGTERM".to_owned());
        service.push(format!("TimeoutStopSec={}", stop_timespan(grace)));
        return Ok(());
    };
    let earlier = &signals[..signals.len() - 1];
    let mut timeout = last_grace;
    if !earlier.is_empty() {
        let kill = tool(spec, "kill", "procps or util-linux")?;
        let wait = tool(spec, "timeout", "GNU coreutils")?;
        let tail = tool(spec, "tail", "GNU coreutils")?;
        for &(signal, grace) in earlier {
            let short = signal.name().trim_start_matches("SIG");
            service.push(format!("ExecStop=-{kill} -s {short} -- -${{MAINPID}}"));
            service.push(format!("ExecStop=-{kill} -s CONT -- -${{MAINPID}}"));
            if !grace.is_zero() {
                service.push(format!(
                    "ExecStop=-{wait} {} {tail} --pid=${{MAINPID}} -s 0.1 -f /dev/null",
                    seconds(grace)
                ));
                timeout = timeout.max(grace + Duration::from_secs(1));
            }
        }
    }
    if timeout > last_grace {
        warnings.push(format!(
            "stop: TimeoutStopSec= bounds each ExecStop= command as well as the last step, so \
             the last step ({last_signal}) waits up to {} (not {}) before SIGKILL",
            timespan(timeout),
            timespan(last_grace)
        ));
    }
    service.push(format!("KillSignal={last_signal}"));
    service.push(format!("TimeoutStopSec={}", stop_timespan(timeout)));
    Ok(())
}

/// The absolute path of a stop command's program.
fn tool(spec: &Spec, name: &str, package: &str) -> Result<String, ExportError> {
    let searched: Vec<PathBuf> = TOOL_DIRS.iter().map(|d| Path::new(d).join(name)).collect();
    searched
        .iter()
        .find(|p| is_executable(p))
        .and_then(|p| path_text(p))
        .ok_or_else(|| ExportError::ToolNotFound {
            daemon: spec.name.to_string(),
            tool: name.to_owned(),
            package: package.to_owned(),
            searched: searched.clone(),
        })
}

/// The unit of a dependency, its values bound as the executor binds them: `depends_on[].vars`
/// rendered with this handle's values, else the dependency's own defaults.
fn dependency_unit(
    handle: &SpecHandle,
    dep: &Dependency,
    warnings: &mut Vec<String>,
) -> Result<String, ExportError> {
    let mut bound = Vec::with_capacity(dep.vars.len());
    for binding in dep.vars.iter() {
        bound.push((binding.name.to_string(), handle.render(&binding.value)?));
    }
    let dep_spec: &Spec = &dep.spec;
    let values = |name: &str| {
        bound
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| dep_spec.default_var(name).map(str::to_owned))
    };
    let render = |template: &Template| {
        template.render(values).map_err(|err| VarError {
            spec: dep_spec.name.to_string(),
            file: dep_spec.file.to_string(),
            pos: template.pos,
            var: err.var,
        })
    };
    let unit = match &dep_spec.instance {
        Some(template) => {
            let instance = render(template)?;
            unit_name(dep_spec, Some((&instance, template.pos)))?
        }
        None => unit_name(dep_spec, None)?,
    };
    let probe = dep_spec.readiness.as_ref().map(|r| &r.probe);
    if dep.wait == WaitFor::Healthy && !matches!(probe, Some(Probe::Notify)) {
        let kind = probe.map_or("no", Probe::kind);
        warnings.push(format!(
            "depends_on {unit} (wait: healthy): After= waits for its start job, which ends once \
             it is exec'd ({kind} probe), not once healthy"
        ));
    }
    if let Location::Ssh(ssh) = &dep_spec.location {
        let host = render(&ssh.host).ok();
        if !host.as_deref().is_some_and(|h| ssh.is_local_host(h)) {
            let shown = host.unwrap_or_else(|| ssh.host.source.to_string());
            warnings.push(format!(
                "depends_on {unit}: it runs over SSH on {shown}, but Requires= names a unit on \
                 the host this one is installed on"
            ));
        }
    }
    Ok(unit)
}

/// A duration as a systemd time span: `1h 30min`, `20s`, `1500ms`, `0`.
fn timespan(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        return "0".to_owned();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut parts = Vec::new();
    for (unit, size) in [("h", 3600), ("min", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    parts.join(" ")
}

/// A grace as `TimeoutStopSec=`: `0` there means no timeout at all, so zero is written `1ms`.
fn stop_timespan(duration: Duration) -> String {
    timespan(duration.max(Duration::from_millis(1)))
}

/// A duration for `timeout(1)`: seconds, with a fraction when needed (`20s`, `1.500s`).
fn seconds(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// The command that makes this unit, for its header.
fn command_line(handle: &SpecHandle, target: Target) -> String {
    let mut line = format!(
        "lifecycle export systemd {}",
        shell_word(&handle.spec().file)
    );
    for (name, value) in handle.vars() {
        line.push_str(" --set ");
        line.push_str(&shell_word(&format!("{name}={value}")));
    }
    if target == Target::User {
        line.push_str(" --user");
    }
    line
}

/// `word` as a shell would read it back: as is when plain, else in single quotes, or in
/// `$'…'` (bash, zsh, ksh; POSIX since 2024) when it has control characters.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain {
        return word.to_owned();
    }
    if !word.chars().any(char::is_control) {
        return format!("'{}'", word.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for c in word.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            quote("a \"b\" \\ $x 100% \n\t", Dollar::Double),
            r#""a \"b\" \\ $$x 100%% \n\t""#
        );
        assert_eq!(quote("A=$x %", Dollar::Keep), r#""A=$x %%""#);
        assert_eq!(quote("\u{7}", Dollar::Double), r#""\u0007""#);
    }

    #[test]
    fn time_spans() {
        assert_eq!(timespan(Duration::from_secs(90)), "1min 30s");
        assert_eq!(timespan(Duration::from_secs(3600)), "1h");
        assert_eq!(timespan(Duration::from_millis(1500)), "1500ms");
        assert_eq!(stop_timespan(Duration::ZERO), "1ms");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.500s");
        assert_eq!(seconds(Duration::from_secs(20)), "20s");
    }

    #[test]
    fn instances() {
        assert_eq!(escape_instance("8080"), "8080");
        assert_eq!(escape_instance("gpu-1.lan"), "gpu-1.lan");
        assert_eq!(escape_instance(".a b/c\\"), r"\x2ea\x20b\x2fc\x5c");
        assert_eq!(escape_instance("é"), r"\xc3\xa9");
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("port=9000"), "port=9000");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("a\nb's\\"), r"$'a\nb\'s\\'");
    }
}
