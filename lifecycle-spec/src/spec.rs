//! A whole lifecycle spec: what to run, how to know it is ready, how to stop it, where.

use std::borrow::Cow;

use crate::{Dependency, List, Location, Logs, Readiness, Restart, StopStep, Str, Template};

/// A validated lifecycle spec. Built by `#[derive(Lifecycle)]` as constants at compile time,
/// or by [`load_spec`](crate::load_spec) at run time; both run the same validation.
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// let spec = lifecycle_spec::parse_spec(
///     "specs/echo.yaml",
///     "command: { binary: echo, args: [hello] }\n",
///     &[],
/// )
/// .unwrap();
/// assert_eq!(spec.name, "echo");
/// assert_eq!(spec.stop.len(), 1); // the default SIGTERM step
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Spec {
    /// The spec file, as named by whoever loaded it (relative to the crate for the derive).
    pub file: Str,
    /// The daemon's name, `[a-z0-9_-]+`; the file stem unless `name:` says otherwise.
    pub name: Str,
    /// The Rust variant naming this spec in a generated kind enum (`LlamaCpp`).
    pub variant: Str,
    /// What distinguishes two running instances of this spec (`"{port}"`), if several may run.
    pub instance: Option<Template>,
    /// The program and how to call it.
    pub command: Command,
    /// `vars:` defaults; a handle field of the same name overrides each.
    pub vars: List<VarDefault>,
    /// How to know the daemon is ready; `None`: ready once spawned.
    pub readiness: Option<Readiness>,
    /// The stop chain; SIGKILL to the process group follows its last step.
    pub stop: List<StopStep>,
    /// Where the daemon runs.
    pub location: Location,
    /// What to do when the daemon exits on its own.
    pub restart: Restart,
    /// Daemons to start before this one (and stop after it).
    pub depends_on: List<Dependency>,
    /// Where the daemon's output goes and how much of it is kept.
    pub logs: Logs,
}

/// The program a spec runs.
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// // Each entry of `args` is one argument: spaces stay inside it.
/// let spec = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q, args: [\"a b\"] }\n", &[]).unwrap();
/// assert_eq!(spec.command.args.len(), 1);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Command {
    /// An absolute path, or a name looked up in `$PATH` and then the workspace's `target/`.
    pub binary: Template,
    /// Arguments, each one argument (never split, never given to a shell).
    pub args: List<Template>,
    /// Environment variables set for the daemon, over what it inherits.
    pub env: List<EnvVar>,
    /// Which of the manager's environment variables the daemon inherits.
    pub inherit_env: InheritEnv,
}

/// Which of the manager's environment variables a daemon starts with (`command.inherit_env`),
/// before `command.env` is applied.
///
/// ```
/// use lifecycle_spec::InheritEnv;
/// let only_path = InheritEnv::Only(vec!["PATH".into()].into());
/// assert!(only_path.inherits("PATH") && !only_path.inherits("HOME"));
/// assert!(InheritEnv::All.inherits("HOME"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InheritEnv {
    /// Every variable (`inherit_env: true`, the default).
    All,
    /// Only the variables named (`inherit_env: [PATH, HOME]`); none for `inherit_env: false`.
    Only(List<Str>),
}

impl Command {
    /// `binary` with no arguments, no environment of its own, inheriting the manager's.
    ///
    /// ```
    /// use lifecycle_spec::{Command, Template};
    /// let command = Command::new(Template::literal("/bin/true"));
    /// assert!(command.args.is_empty());
    /// ```
    pub fn new(binary: Template) -> Command {
        Command {
            binary,
            args: Cow::Borrowed(&[]),
            env: Cow::Borrowed(&[]),
            inherit_env: InheritEnv::All,
        }
    }
}

impl InheritEnv {
    /// Whether variable `name` is inherited.
    ///
    /// ```
    /// assert!(!lifecycle_spec::InheritEnv::Only(vec![].into()).inherits("PATH"));
    /// ```
    pub fn inherits(&self, name: &str) -> bool {
        match self {
            InheritEnv::All => true,
            InheritEnv::Only(names) => names.iter().any(|n| n == name),
        }
    }
}

/// One `env:` entry.
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// let spec = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q, env: { PORT: \"{port}\" } }\nvars: { port: 1 }\n", &[]).unwrap();
/// let var = &spec.command.env[0];
/// assert_eq!((var.name.as_ref(), var.value.render(|_| Some("7".into())).unwrap().as_str()), ("PORT", "7"));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvVar {
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: Str,
    /// The value, templated.
    pub value: Template,
}

/// One `vars:` default.
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// let spec = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q }\nvars: { port: 7833 }\n", &[]).unwrap();
/// assert_eq!(spec.vars[0].value, "7833");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VarDefault {
    /// The variable, as used in `{name}`.
    pub name: Str,
    /// Its default value, as text.
    pub value: Str,
}

impl Spec {
    /// A spec read from `file` (a name for messages; nothing is read) for the daemon `name`
    /// running `command`, with every other key at its default: no instance, no variables, no
    /// readiness probe, the default stop chain, local, never restarted, no dependencies, default
    /// logs. The fields are public to set; the variant is `name` until set.
    ///
    /// ```
    /// use lifecycle_spec::{Command, Probe, Readiness, Spec, Template};
    /// let mut spec = Spec::new("(built in)", "echo", Command::new(Template::literal("/bin/echo")));
    /// spec.readiness = Some(Readiness::new(Probe::Notify));
    /// assert_eq!(spec.variables(), Vec::<&str>::new());
    /// ```
    pub fn new(file: impl Into<Str>, name: impl Into<Str>, command: Command) -> Spec {
        let name = name.into();
        Spec {
            file: file.into(),
            variant: name.clone(),
            name,
            instance: None,
            command,
            vars: Cow::Borrowed(&[]),
            readiness: None,
            stop: Cow::Borrowed(&[StopStep::DEFAULT]),
            location: Location::Local,
            restart: Restart::NEVER,
            depends_on: Cow::Borrowed(&[]),
            logs: Logs::DEFAULT,
        }
    }

    /// The `vars:` default of `name`, if the spec has one.
    ///
    /// ```
    /// # #[cfg(feature = "yaml")] {
    /// let spec = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q }\nvars: { port: 7833 }\n", &[]).unwrap();
    /// assert_eq!(spec.default_var("port"), Some("7833"));
    /// # }
    /// ```
    pub fn default_var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_ref())
    }
}

impl Spec {
    /// Every template of the spec (not of its dependencies), in file order.
    ///
    /// ```
    /// # #[cfg(feature = "yaml")] {
    /// let spec = lifecycle_spec::parse_spec("w.yaml", "command: { binary: w, args: [\"{port}\"] }\nvars: { port: 1 }\n", &[]).unwrap();
    /// assert_eq!(spec.templates().len(), 2);
    /// # }
    /// ```
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        out.extend(self.instance.as_ref());
        out.push(&self.command.binary);
        out.extend(self.command.args.iter());
        out.extend(self.command.env.iter().map(|e| &e.value));
        if let Some(readiness) = &self.readiness {
            match &readiness.probe {
                crate::Probe::Http { url } => out.push(url),
                crate::Probe::Tcp { addr } => out.push(addr),
                crate::Probe::Notify | crate::Probe::Log { .. } => {}
            }
        }
        for step in self.stop.iter() {
            if let StopStep::HttpPost { url, .. } = step {
                out.push(url);
            }
        }
        if let Location::Ssh(ssh) = &self.location {
            out.push(&ssh.host);
            out.extend(ssh.user.as_ref());
            out.push(&ssh.port);
            out.extend(ssh.install.as_ref());
        }
        out.extend(self.logs.dir.as_ref());
        for dep in self.depends_on.iter() {
            out.extend(dep.vars.iter().map(|b| &b.value));
        }
        out
    }

    /// The variables the spec's templates use, sorted, each once.
    ///
    /// ```
    /// # #[cfg(feature = "yaml")] {
    /// let spec = lifecycle_spec::parse_spec("w.yaml", "command: { binary: w, args: [\"{b}\", \"{a}\", \"{b}\"] }\n", &["a", "b"]).unwrap();
    /// assert_eq!(spec.variables(), ["a", "b"]);
    /// # }
    /// ```
    pub fn variables(&self) -> Vec<&str> {
        let mut vars: Vec<&str> = self
            .templates()
            .into_iter()
            .flat_map(Template::vars)
            .collect();
        vars.sort_unstable();
        vars.dedup();
        vars
    }
}

/// Whether `name` is a valid daemon name: `[a-z0-9_-]+`, at most 64 characters.
///
/// ```
/// assert!(lifecycle_spec::__private::is_spec_name("queen-rbee"));
/// assert!(!lifecycle_spec::__private::is_spec_name("Queen"));
/// ```
pub fn is_spec_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}
