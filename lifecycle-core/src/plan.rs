//! A plan: everything a handle's spec says, rendered with the handle's values and checked, so
//! that the work that follows needs neither the handle nor the spec.

use std::path::PathBuf;
use std::time::Duration;

use lifecycle_spec::__private::{
    AddressError, check_host, check_user, parse_http_url, parse_port, parse_tcp_addr,
};
use lifecycle_spec::{
    Backoff, InheritEnv, Location, Pos, Probe, Restart, Signal, Spec, StopStep, Template, WaitFor,
};

use crate::Running;

/// A template variable had no value at run time. The derive rules this out for its handles;
/// it can happen with specs read at run time.
///
/// ```
/// let err = lifecycle_core::error::VarError {
///     spec: "queen".into(),
///     file: "specs/queen.yaml".into(),
///     pos: lifecycle_core::spec::Pos::new(3, 9),
///     var: "port".into(),
/// };
/// assert_eq!(err.to_string(), "--> specs/queen.yaml:3:9: daemon `queen`: `{port}` has no value (no field, no default)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--> {file}:{pos}: daemon `{spec}`: `{{{var}}}` has no value (no field, no default)")]
pub struct VarError {
    /// The spec's name.
    pub spec: String,
    /// The spec file.
    pub file: String,
    /// Where the template is.
    pub pos: Pos,
    /// The variable.
    pub var: String,
}

/// A spec's value could not be rendered or is invalid once rendered (only possible for values
/// that a handle's fields fill, which the compile-time checks cannot see).
///
/// ```
/// let err = lifecycle_core::error::PlanError::Invalid {
///     daemon: "hive".into(),
///     file: "specs/hive.yaml".into(),
///     pos: lifecycle_core::spec::Pos::new(30, 16),
///     field: "location.ssh.host".into(),
///     value: "-oProxyCommand=x".into(),
///     problem: "not a hostname".into(),
/// };
/// assert!(err.to_string().starts_with("--> specs/hive.yaml:30:16: daemon `hive`: location.ssh.host"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A variable has no value.
    #[error(transparent)]
    Var(#[from] VarError),
    /// A rendered value breaks its rule.
    #[error("--> {file}:{pos}: daemon `{daemon}`: {field} is `{value}`: {problem}")]
    Invalid {
        /// The daemon.
        daemon: String,
        /// Its spec file.
        file: String,
        /// Where the template is.
        pos: Pos,
        /// The field.
        field: String,
        /// The rendered value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The spec uses a part of the spec language (a newer `lifecycle-spec`'s) that this
    /// version of lifecycle-core cannot run.
    #[error(
        "--> {file}: daemon `{daemon}`: {field}: this {what} is not known to this version of lifecycle-core; use the lifecycle-core of the lifecycle-spec that read the spec"
    )]
    Unsupported {
        /// The daemon.
        daemon: String,
        /// Its spec file.
        file: String,
        /// The field.
        field: String,
        /// What it is (`probe`, `stop step`, `location`).
        what: String,
    },
}

/// A readiness probe, rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProbePlan {
    Http { url: String },
    Tcp { host: String, port: u16 },
    Notify,
    Log { pattern: String },
}

impl ProbePlan {
    /// Whether the probe is an event the daemon sends (notify, a log line), not a poll.
    pub(crate) fn is_event(&self) -> bool {
        matches!(self, ProbePlan::Notify | ProbePlan::Log { .. })
    }

    /// How the probe is shown in records and messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            ProbePlan::Http { url } => url.clone(),
            ProbePlan::Tcp { host, port } => format!("tcp {host}:{port}"),
            ProbePlan::Notify => "notify".to_owned(),
            ProbePlan::Log { pattern } => format!("log /{pattern}/"),
        }
    }
}

/// Readiness, rendered.
#[derive(Clone, Debug)]
pub(crate) struct ReadinessPlan {
    pub(crate) probe: ProbePlan,
    pub(crate) deadline: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) backoff: Backoff,
}

/// A stop step, rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StopPlan {
    Signal { signal: Signal, grace: Duration },
    HttpPost { url: String, grace: Duration },
}

/// What a stop uses instead of the daemon's own chain. Applied by the owner to the chain it
/// settles on (the one it runs the daemon with, or its record's read under the lock), so an
/// override never brings in a step of another chain.
#[derive(Clone, Debug)]
pub(crate) enum ChainOverride {
    /// These steps (the free functions' `grace_period`: SIGTERM, then SIGKILL).
    Steps(Vec<StopPlan>),
    /// The daemon's own chain, every step with this grace.
    Grace(Duration),
}

impl ChainOverride {
    /// The chain a stop runs: `chain` (the daemon's own), or what `over` makes of it.
    pub(crate) fn apply(over: Option<ChainOverride>, chain: Vec<StopPlan>) -> Vec<StopPlan> {
        match over {
            None => chain,
            Some(ChainOverride::Steps(steps)) => steps,
            Some(ChainOverride::Grace(grace)) => chain
                .into_iter()
                .map(|step| step.with_grace(grace))
                .collect(),
        }
    }
}

impl StopPlan {
    pub(crate) fn grace(&self) -> Duration {
        match self {
            StopPlan::Signal { grace, .. } | StopPlan::HttpPost { grace, .. } => *grace,
        }
    }

    /// The same step with another grace.
    fn with_grace(self, grace: Duration) -> StopPlan {
        match self {
            StopPlan::Signal { signal, .. } => StopPlan::Signal { signal, grace },
            StopPlan::HttpPost { url, .. } => StopPlan::HttpPost { url, grace },
        }
    }

    /// The step as a record line: `signal SIGTERM 5000`, `post 5000 URL`.
    pub(crate) fn to_record_line(&self) -> String {
        match self {
            StopPlan::Signal { signal, grace } => format!("signal {signal} {}", grace.as_millis()),
            StopPlan::HttpPost { url, grace } => format!("post {} {url}", grace.as_millis()),
        }
    }

    /// The signal steps of `steps` (a sweep's chain, or a chain read from a record on another
    /// host: no HTTP step).
    pub(crate) fn signals_of(steps: &[StopPlan]) -> Vec<StopPlan> {
        steps
            .iter()
            .filter(|s| matches!(s, StopPlan::Signal { .. }))
            .cloned()
            .collect()
    }

    /// Reads a record's chain back: the steps this library wrote (anything else is skipped).
    pub(crate) fn from_record(lines: &[String]) -> Vec<StopPlan> {
        lines
            .iter()
            .filter_map(|l| StopPlan::from_record_line(l))
            .collect()
    }

    /// Reads a record line back; `None` for anything else.
    pub(crate) fn from_record_line(line: &str) -> Option<StopPlan> {
        let mut words = line.splitn(3, ' ');
        match (words.next()?, words.next()?, words.next()?) {
            ("signal", signal, grace) => Some(StopPlan::Signal {
                signal: signal.parse().ok()?,
                grace: Duration::from_millis(grace.parse().ok()?),
            }),
            ("post", grace, url) => Some(StopPlan::HttpPost {
                url: url.to_owned(),
                grace: Duration::from_millis(grace.parse().ok()?),
            }),
            _ => None,
        }
    }
}

/// Where the daemon runs, decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Local,
    Ssh {
        host: String,
        user: Option<String>,
        port: u16,
        /// `StrictHostKeyChecking=accept-new` (the spec's opt-in).
        accept_new: bool,
        /// The readiness probe runs on the host (through the connection), not from here.
        probe_from_host: bool,
        /// A local file to install as the binary there before a start.
        install: Option<String>,
    },
}

/// Everything needed to run one daemon.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// `name`, or `name@instance`.
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) spec_file: String,
    pub(crate) binary: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// Which of the manager's environment variables the daemon inherits.
    pub(crate) inherit_env: InheritEnv,
    pub(crate) readiness: Option<ReadinessPlan>,
    pub(crate) stop: Vec<StopPlan>,
    pub(crate) place: Place,
    pub(crate) restart: Restart,
    /// The log directory, if the spec names one (else the state directory's).
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) log_max_size: u64,
    pub(crate) log_keep: u32,
    pub(crate) dependencies: Vec<(Plan, WaitFor)>,
    /// What identifies this configuration of the daemon: a hash of binary, arguments,
    /// environment (and what of the manager's it inherits) and probe. Two handles with one key
    /// but different values conflict.
    pub(crate) fingerprint: String,
}

/// Renders templates of one spec with one set of values.
struct Renderer<'a> {
    spec: &'a Spec,
    values: &'a dyn Fn(&str) -> Option<String>,
}

impl Renderer<'_> {
    fn render(&self, template: &Template) -> Result<String, PlanError> {
        self.render_allowing(template, &[])
    }

    /// An argument or an environment value: passed as itself (never through a shell, and never
    /// into a record line as is), so a newline or a tab is as good as any other character.
    fn render_arg(&self, template: &Template) -> Result<String, PlanError> {
        self.render_allowing(template, &['\n', '\t'])
    }

    fn render_allowing(&self, template: &Template, allowed: &[char]) -> Result<String, PlanError> {
        let text = template
            .render(|name| (self.values)(name))
            .map_err(|err| VarError {
                spec: self.spec.name.to_string(),
                file: self.spec.file.to_string(),
                pos: template.pos,
                var: err.var,
            })?;
        // Rendered values become arguments, environment and record lines: no control characters.
        if text
            .chars()
            .any(|c| c.is_control() && !allowed.contains(&c))
        {
            return Err(self.invalid(template, "value", &text, "contains control characters"));
        }
        Ok(text)
    }

    fn invalid(
        &self,
        template: &Template,
        field: &str,
        value: &str,
        problem: impl ToString,
    ) -> PlanError {
        PlanError::Invalid {
            daemon: self.spec.name.to_string(),
            file: self.spec.file.to_string(),
            pos: template.pos,
            field: field.to_owned(),
            value: value.to_owned(),
            problem: problem.to_string(),
        }
    }

    fn unsupported(&self, field: &str, what: &str) -> PlanError {
        PlanError::Unsupported {
            daemon: self.spec.name.to_string(),
            file: self.spec.file.to_string(),
            field: field.to_owned(),
            what: what.to_owned(),
        }
    }

    fn checked<T>(
        &self,
        template: &Template,
        field: &str,
        check: impl FnOnce(&str) -> Result<T, AddressError>,
    ) -> Result<(String, T), PlanError> {
        let text = self.render(template)?;
        match check(&text) {
            Ok(value) => Ok((text, value)),
            Err(err) => Err(self.invalid(template, field, &text, err)),
        }
    }
}

/// A daemon's key: its name, and `@` its rendered instance if its spec has one.
pub(crate) fn key(name: &str, instance: Option<&str>) -> String {
    match instance {
        Some(instance) => format!("{name}@{instance}"),
        None => name.to_owned(),
    }
}

impl Plan {
    /// Renders `spec` with `values` (the handle's fields, then the spec's defaults).
    pub(crate) fn new(
        spec: &Spec,
        values: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plan, PlanError> {
        let r = Renderer { spec, values };
        let instance = spec.instance.as_ref().map(|i| r.render(i)).transpose()?;
        let key = key(&spec.name, instance.as_deref());
        let readiness = match &spec.readiness {
            None => None,
            Some(readiness) => Some(ReadinessPlan {
                probe: match &readiness.probe {
                    Probe::Http { url, .. } => ProbePlan::Http {
                        url: r
                            .checked(url, "readiness.probe.http", |u| {
                                parse_http_url(u).map(|_| ())
                            })?
                            .0,
                    },
                    Probe::Tcp { addr, .. } => {
                        let (_, (host, port)) = r.checked(addr, "readiness.probe.tcp", |a| {
                            parse_tcp_addr(a).map(|(h, p)| (h.to_owned(), p))
                        })?;
                        ProbePlan::Tcp { host, port }
                    }
                    Probe::Notify => ProbePlan::Notify,
                    Probe::Log { pattern, .. } => ProbePlan::Log {
                        pattern: pattern.to_string(),
                    },
                    _ => return Err(r.unsupported("readiness.probe", "probe")),
                },
                deadline: readiness.deadline,
                attempt_timeout: readiness.attempt_timeout,
                backoff: readiness.backoff,
            }),
        };
        let stop = spec
            .stop
            .iter()
            .map(|step| match step {
                StopStep::Signal { signal, grace, .. } => Ok(StopPlan::Signal {
                    signal: *signal,
                    grace: *grace,
                }),
                StopStep::HttpPost { url, grace, .. } => Ok(StopPlan::HttpPost {
                    url: r
                        .checked(url, "stop.http.post", |u| parse_http_url(u).map(|_| ()))?
                        .0,
                    grace: *grace,
                }),
                _ => Err(r.unsupported("stop", "stop step")),
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        let place = match &spec.location {
            Location::Local => Place::Local,
            Location::Ssh(ssh) => {
                let (host, ()) = r.checked(&ssh.host, "location.ssh.host", check_host)?;
                if ssh.is_local_host(&host) {
                    Place::Local
                } else {
                    let user = match &ssh.user {
                        Some(user) => Some(r.checked(user, "location.ssh.user", check_user)?.0),
                        None => None,
                    };
                    let (_, port) = r.checked(&ssh.port, "location.ssh.port", parse_port)?;
                    let install = match &ssh.install {
                        Some(file) => Some(r.render(file)?),
                        None => None,
                    };
                    Place::Ssh {
                        host,
                        user,
                        port,
                        accept_new: ssh.host_keys == lifecycle_spec::HostKeys::AcceptNew,
                        probe_from_host: ssh.probe_from == lifecycle_spec::ProbeFrom::Host,
                        install,
                    }
                }
            }
            _ => return Err(r.unsupported("location", "location")),
        };
        let mut dependencies = Vec::with_capacity(spec.depends_on.len());
        for dep in spec.depends_on.iter() {
            let bound: Vec<(String, String)> = dep
                .vars
                .iter()
                .map(|b| Ok((b.name.to_string(), r.render(&b.value)?)))
                .collect::<Result<_, PlanError>>()?;
            let dep_spec: &Spec = &dep.spec;
            let dep_values = |name: &str| {
                bound
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| dep_spec.default_var(name).map(str::to_owned))
            };
            dependencies.push((Plan::new(dep_spec, &dep_values)?, dep.wait));
        }
        let binary = r.render(&spec.command.binary)?;
        if matches!(
            &place,
            Place::Ssh {
                install: Some(_),
                ..
            }
        ) && !binary.starts_with('/')
        {
            return Err(r.invalid(
                &spec.command.binary,
                "command.binary",
                &binary,
                "not an absolute path, where `location.ssh.install` puts the file",
            ));
        }
        let args: Vec<String> = spec
            .command
            .args
            .iter()
            .map(|a| r.render_arg(a))
            .collect::<Result<_, _>>()?;
        let env: Vec<(String, String)> = spec
            .command
            .env
            .iter()
            .map(|e| Ok((e.name.to_string(), r.render_arg(&e.value)?)))
            .collect::<Result<_, PlanError>>()?;
        let fingerprint = fingerprint(
            &binary,
            &args,
            &env,
            &spec.command.inherit_env,
            readiness.as_ref().map(|r| r.probe.describe()).as_deref(),
        );
        Ok(Plan {
            key,
            name: spec.name.to_string(),
            spec_file: spec.file.to_string(),
            binary,
            args,
            env,
            inherit_env: spec.command.inherit_env.clone(),
            readiness,
            stop,
            place,
            restart: spec.restart,
            log_dir: spec
                .logs
                .dir
                .as_ref()
                .map(|d| r.render(d).map(PathBuf::from))
                .transpose()?,
            log_max_size: spec.logs.max_size,
            log_keep: spec.logs.keep,
            dependencies,
            fingerprint,
        })
    }

    /// The readiness deadline (zero without a probe).
    pub(crate) fn readiness_deadline(&self) -> Duration {
        self.readiness
            .as_ref()
            .map_or(Duration::ZERO, |r| r.deadline)
    }

    /// The keys of the daemons this one depends on (its record's `depends_on`, its owner's
    /// published dependencies).
    pub(crate) fn dependency_keys(&self) -> Vec<String> {
        self.dependencies
            .iter()
            .map(|(d, _)| d.key.clone())
            .collect()
    }

    /// Its readiness probe as records and outcomes show it.
    pub(crate) fn probe_shown(&self) -> Option<String> {
        self.readiness.as_ref().map(|r| r.probe.describe())
    }

    /// The outcome of an ensure that found (or made) process `pid` of this daemon ready.
    pub(crate) fn running(
        &self,
        pid: u32,
        started: bool,
        elapsed: Duration,
        attempts: u32,
        log: PathBuf,
    ) -> Running {
        Running {
            key: self.key.clone(),
            pid,
            started,
            elapsed,
            attempts,
            probe: self.probe_shown(),
            log,
        }
    }

    /// The command as a person would type it (for messages and records; never given to a shell).
    pub(crate) fn command_line(&self) -> String {
        std::iter::once(self.binary.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A stable hash of what makes one configuration of a daemon.
fn fingerprint(
    binary: &str,
    args: &[String],
    env: &[(String, String)],
    inherit: &InheritEnv,
    probe: Option<&str>,
) -> String {
    let env = env.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]);
    let inherit: Vec<&str> = match inherit {
        InheritEnv::All => Vec::new(),
        InheritEnv::Only(names) => std::iter::once("\u{0}only")
            .chain(names.iter().map(|n| n.as_ref()))
            .collect(),
    };
    let parts = std::iter::once(binary)
        .chain(args.iter().map(String::as_str))
        .chain(["\u{0}env"])
        .chain(env)
        .chain(inherit)
        .chain([probe.unwrap_or("")]);
    format!("{:016x}", crate::stable_hash::stable_hash(parts))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use lifecycle_spec::{Command, Readiness};

    use super::*;

    fn var(name: &str) -> Template {
        Template::parse_at(&format!("{{{name}}}"), Pos::new(3, 9)).unwrap()
    }

    fn spec(instance: Option<Template>) -> Spec {
        let mut command = Command::new(Template::literal("/bin/w"));
        command.args = vec![Template::literal("--port"), var("port")].into();
        let mut spec = Spec::new("specs/w.yaml", "w", command);
        spec.variant = "W".into();
        spec.instance = instance;
        spec.readiness = Some(Readiness::new(Probe::tcp(
            Template::parse_at("127.0.0.1:{port}", Pos::new(5, 1)).unwrap(),
        )));
        spec.stop = Cow::Owned(vec![
            StopStep::signal(Signal::Int, Duration::from_millis(1500)),
            StopStep::http_post(
                Template::literal("http://127.0.0.1:1/shutdown"),
                Duration::from_secs(2),
            ),
        ]);
        spec
    }

    fn port(p: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name| (name == "port").then(|| p.to_owned())
    }

    #[test]
    fn the_key_carries_the_instance() {
        let plain = Plan::new(&spec(None), &port("80")).unwrap();
        assert_eq!(plain.key, "w");
        let plan = Plan::new(&spec(Some(var("port"))), &port("8080")).unwrap();
        assert_eq!(plan.key, "w@8080");
        assert_eq!(plan.args, ["--port", "8080"]);
        assert_eq!(
            plan.readiness.map(|r| r.probe),
            Some(ProbePlan::Tcp {
                host: "127.0.0.1".into(),
                port: 8080
            })
        );
    }

    #[test]
    fn fingerprints_are_stable_and_tell_configurations_apart() {
        let a = Plan::new(&spec(None), &port("80")).unwrap();
        let again = Plan::new(&spec(None), &port("80")).unwrap();
        let other = Plan::new(&spec(None), &port("81")).unwrap();
        assert_eq!(a.fingerprint, again.fingerprint);
        assert_ne!(a.fingerprint, other.fingerprint);
        // The same in every process and version: pinned.
        assert_eq!(a.fingerprint.len(), 16);
        let mut only_path = spec(None);
        only_path.command.inherit_env = InheritEnv::Only(vec!["PATH".into()].into());
        let restricted = Plan::new(&only_path, &port("80")).unwrap();
        assert_ne!(a.fingerprint, restricted.fingerprint);
    }

    #[test]
    fn stop_lines_read_back() {
        let plan = Plan::new(&spec(None), &port("80")).unwrap();
        let lines: Vec<String> = plan.stop.iter().map(StopPlan::to_record_line).collect();
        assert_eq!(lines[0], "signal SIGINT 1500");
        assert_eq!(lines[1], "post 2000 http://127.0.0.1:1/shutdown");
        assert_eq!(StopPlan::from_record(&lines), plan.stop);
        assert_eq!(StopPlan::from_record(&["kill everything".to_owned()]), []);
    }

    #[test]
    fn a_missing_value_names_the_template() {
        let err = Plan::new(&spec(None), &|_| None).unwrap_err();
        assert!(
            err.to_string()
                .contains("specs/w.yaml:5:1: daemon `w`: `{port}`"),
            "{err}"
        );
        let err = Plan::new(&spec(None), &port("1\n2")).unwrap_err();
        assert!(err.to_string().contains("control characters"), "{err}");
    }
}
