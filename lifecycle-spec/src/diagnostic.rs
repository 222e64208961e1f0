//! What is wrong with a spec, where, and what was expected.

use std::fmt;

use crate::Pos;

/// The validation rule a [`Diagnostic`] reports. Every rule has a unit test in this crate and a
/// compile-fail case in `tests/ui`.
///
/// ```
/// use lifecycle_spec::Rule;
/// assert_eq!(Rule::BackoffOrder.code(), "backoff-order");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// The file cannot be read.
    Io,
    /// The file is not valid YAML.
    Syntax,
    /// A mapping has the same key twice.
    DuplicateKey,
    /// A key the spec language does not have.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong YAML type (a list where a mapping goes, …).
    WrongType,
    /// A value that must not be empty is.
    Empty,
    /// A duration that is malformed or has no unit.
    Duration,
    /// A duration that is zero where it must be positive, or longer than 24h.
    DurationRange,
    /// A size that is malformed or has no unit.
    Size,
    /// An integer out of its range.
    Number,
    /// A value that is not one of the allowed words.
    Choice,
    /// A `{var}` template that does not parse.
    Template,
    /// A `{var}` that is neither a field of the handle nor in `vars:`.
    UnknownVar,
    /// A spec name outside `[a-z0-9_-]+`.
    Name,
    /// A `vars:` name outside `[A-Za-z_][A-Za-z0-9_]*`, or a default that is not a scalar.
    VarName,
    /// An `env:` name outside `[A-Za-z_][A-Za-z0-9_]*`.
    EnvName,
    /// A `variant:` that is not a PascalCase Rust identifier.
    Variant,
    /// `probe:` names no probe or more than one.
    ProbeCount,
    /// A probe or shutdown URL that is not a valid http(s) URL.
    Url,
    /// A TCP probe address that is not `host:port`.
    TcpAddress,
    /// A log probe regex that does not compile.
    Regex,
    /// `backoff.initial` is greater than `backoff.max`.
    BackoffOrder,
    /// `backoff.factor` is below 1 or not finite.
    BackoffFactor,
    /// `attempt_timeout` is greater than `deadline`.
    AttemptTimeout,
    /// `backoff.initial` is greater than `deadline`.
    InitialDelay,
    /// A stop step's signal is not a signal name.
    Signal,
    /// A stop step sends SIGKILL, which always ends the chain.
    SigkillStep,
    /// The stop chain has no steps.
    EmptyStop,
    /// A stop step that is not exactly one of `signal` or `http`.
    StopStep,
    /// An HTTP shutdown step that is not the first step.
    HttpStopPosition,
    /// An SSH host outside the host grammar.
    SshHost,
    /// An SSH user outside the user grammar.
    SshUser,
    /// A port outside 1–65535.
    Port,
    /// `location.ssh.install` with a `command.binary` that is not an absolute path.
    InstallPath,
    /// A `depends_on` spec file that cannot be read.
    DependencyFile,
    /// `depends_on` closes a cycle.
    DependencyCycle,
    /// `wait: healthy` on a dependency without a readiness probe.
    DependencyProbe,
    /// `depends_on[].vars` sets a variable the dependency does not use.
    DependencyVar,
}

impl Rule {
    /// Every rule, in declaration order.
    ///
    /// ```
    /// assert!(lifecycle_spec::Rule::ALL.contains(&lifecycle_spec::Rule::UnknownKey));
    /// ```
    pub const ALL: [Rule; 39] = [
        Rule::Io,
        Rule::Syntax,
        Rule::DuplicateKey,
        Rule::UnknownKey,
        Rule::MissingKey,
        Rule::WrongType,
        Rule::Empty,
        Rule::Duration,
        Rule::DurationRange,
        Rule::Size,
        Rule::Number,
        Rule::Choice,
        Rule::Template,
        Rule::UnknownVar,
        Rule::Name,
        Rule::VarName,
        Rule::EnvName,
        Rule::Variant,
        Rule::ProbeCount,
        Rule::Url,
        Rule::TcpAddress,
        Rule::Regex,
        Rule::BackoffOrder,
        Rule::BackoffFactor,
        Rule::AttemptTimeout,
        Rule::InitialDelay,
        Rule::Signal,
        Rule::SigkillStep,
        Rule::EmptyStop,
        Rule::StopStep,
        Rule::HttpStopPosition,
        Rule::SshHost,
        Rule::SshUser,
        Rule::Port,
        Rule::InstallPath,
        Rule::DependencyFile,
        Rule::DependencyCycle,
        Rule::DependencyProbe,
        Rule::DependencyVar,
    ];

    /// A short stable name for the rule, used in docs and tests.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Rule::UnknownVar.code(), "unknown-var");
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            Rule::Io => "io",
            Rule::Syntax => "syntax",
            Rule::DuplicateKey => "duplicate-key",
            Rule::UnknownKey => "unknown-key",
            Rule::MissingKey => "missing-key",
            Rule::WrongType => "wrong-type",
            Rule::Empty => "empty",
            Rule::Duration => "duration",
            Rule::DurationRange => "duration-range",
            Rule::Size => "size",
            Rule::Number => "number",
            Rule::Choice => "choice",
            Rule::Template => "template",
            Rule::UnknownVar => "unknown-var",
            Rule::Name => "name",
            Rule::VarName => "var-name",
            Rule::EnvName => "env-name",
            Rule::Variant => "variant",
            Rule::ProbeCount => "probe-count",
            Rule::Url => "url",
            Rule::TcpAddress => "tcp-address",
            Rule::Regex => "regex",
            Rule::BackoffOrder => "backoff-order",
            Rule::BackoffFactor => "backoff-factor",
            Rule::AttemptTimeout => "attempt-timeout",
            Rule::InitialDelay => "initial-delay",
            Rule::Signal => "signal",
            Rule::SigkillStep => "sigkill-step",
            Rule::EmptyStop => "empty-stop",
            Rule::StopStep => "stop-step",
            Rule::HttpStopPosition => "http-stop-position",
            Rule::SshHost => "ssh-host",
            Rule::SshUser => "ssh-user",
            Rule::Port => "port",
            Rule::InstallPath => "install-path",
            Rule::DependencyFile => "dependency-file",
            Rule::DependencyCycle => "dependency-cycle",
            Rule::DependencyProbe => "dependency-probe",
            Rule::DependencyVar => "dependency-var",
        }
    }
}

/// One problem in a spec file: where, which field, what was found, what was expected.
///
/// Displays as
///
/// ```text
/// --> specs/queen.yaml:12:14
///     readiness.backoff.initial: expected at most backoff.max (3200ms), found `5s`
///     hint: lower `initial` or raise `max`
/// ```
///
/// ```
/// use lifecycle_spec::{Diagnostic, Pos, Rule};
/// let d = Diagnostic::new(Rule::Signal, "s.yaml", Pos::new(3, 5), "stop[0].signal", "a signal name")
///     .found("SIGFOO");
/// assert!(d.to_string().starts_with("--> s.yaml:3:5\n    stop[0].signal: expected a signal name, found `SIGFOO`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    /// The rule that failed.
    pub rule: Rule,
    /// The spec file, as its loader named it.
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// The field path: `readiness.backoff.initial`, `stop[1].signal`.
    pub field: String,
    /// What the file holds there, if anything.
    pub found: Option<Found>,
    /// What the rule expects.
    pub expected: String,
    /// How to fix it, where a hint helps.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic for `rule` at `file:pos` on `field`, expecting `expected`.
    ///
    /// ```
    /// use lifecycle_spec::{Diagnostic, Pos, Rule};
    /// let d = Diagnostic::new(Rule::Port, "q.yaml", Pos::new(2, 3), "location.ssh.port", "a port");
    /// assert_eq!(d.rule, Rule::Port);
    /// ```
    pub fn new(
        rule: Rule,
        file: impl Into<String>,
        pos: Pos,
        field: impl Into<String>,
        expected: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            rule,
            file: file.into(),
            pos,
            field: field.into(),
            found: None,
            expected: expected.into(),
            hint: None,
        }
    }

    /// Adds the value that was found (shown quoted).
    ///
    /// ```
    /// # use lifecycle_spec::{Diagnostic, Pos, Rule};
    /// let d = Diagnostic::new(Rule::Port, "f", Pos::new(1, 1), "p", "a port").found("0");
    /// assert_eq!(d.found_text(), Some("0"));
    /// assert!(d.to_string().ends_with("found `0`"));
    /// ```
    #[must_use]
    pub fn found(mut self, found: impl Into<String>) -> Diagnostic {
        self.found = Some(Found::Value(found.into()));
        self
    }

    /// Adds a description of what was found (shown as is): `a list`, `nothing`.
    ///
    /// ```
    /// # use lifecycle_spec::{Diagnostic, Pos, Rule};
    /// let d = Diagnostic::new(Rule::WrongType, "f", Pos::new(1, 1), "p", "a mapping").found_description("a list");
    /// assert!(d.to_string().ends_with("found a list"));
    /// ```
    #[must_use]
    pub fn found_description(mut self, description: impl Into<String>) -> Diagnostic {
        self.found = Some(Found::Description(description.into()));
        self
    }

    /// The found value or description, as text.
    ///
    /// ```
    /// use lifecycle_spec::{Diagnostic, Pos, Rule};
    /// let d = Diagnostic::new(Rule::WrongType, "f", Pos::new(1, 1), "p", "a map").found_description("a list");
    /// assert_eq!(d.found_text(), Some("a list"));
    /// ```
    pub fn found_text(&self) -> Option<&str> {
        self.found.as_ref().map(Found::text)
    }

    /// Adds a hint.
    ///
    /// ```
    /// # use lifecycle_spec::{Diagnostic, Pos, Rule};
    /// let d = Diagnostic::new(Rule::Port, "f", Pos::UNKNOWN, "p", "a port").hint("use 22");
    /// assert!(d.to_string().ends_with("hint: use 22"));
    /// ```
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }
}

/// What a diagnostic found: a value from the file, or a description of it.
///
/// ```
/// use lifecycle_spec::Found;
/// assert_eq!(Found::Value("5".into()).to_string(), "`5`");
/// assert_eq!(Found::Description("a list".into()).to_string(), "a list");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Text from the file, shown quoted.
    Value(String),
    /// A description (`a list`, `nothing`), shown as is.
    Description(String),
}

impl Found {
    /// The text, without quotes.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Found::Value("5".into()).text(), "5");
    /// ```
    pub fn text(&self) -> &str {
        match self {
            Found::Value(text) | Found::Description(text) => text,
        }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Value(text) => write!(f, "`{text}`"),
            Found::Description(text) => f.write_str(text),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.is_unknown() {
            write!(f, "--> {}\n    ", self.file)?;
        } else {
            write!(f, "--> {}:{}\n    ", self.file, self.pos)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "expected {}", self.expected)?;
        if let Some(found) = &self.found {
            write!(f, ", found {found}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in a spec and its dependencies, in file order: at least one (a spec
/// that loads has none, and is `Ok`).
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// let errors = lifecycle_spec::parse_spec("bad.yaml", "command: {}\nstop: []\n", &[]).unwrap_err();
/// assert_eq!(errors.len(), 2);
/// assert_eq!(errors.first().field, "command.binary");
/// assert_eq!(errors.iter().last().unwrap().field, "stop");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    first: Diagnostic,
    rest: Vec<Diagnostic>,
}

// Never empty: `len` is at least 1, and an `is_empty` would always say no.
#[allow(clippy::len_without_is_empty)]
impl Diagnostics {
    /// The problems of `list`, or `None` if it has none.
    pub(crate) fn from_list(list: Vec<Diagnostic>) -> Option<Diagnostics> {
        let mut list = list.into_iter();
        let first = list.next()?;
        Some(Diagnostics {
            first,
            rest: list.collect(),
        })
    }

    /// One problem.
    pub(crate) fn one(first: Diagnostic) -> Diagnostics {
        Diagnostics {
            first,
            rest: Vec::new(),
        }
    }

    /// How many problems: at least 1.
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// The first problem in file order.
    pub fn first(&self) -> &Diagnostic {
        &self.first
    }

    /// The problems, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        std::iter::once(&self.first).chain(&self.rest)
    }

    /// The rules that failed, in order (handy in tests).
    ///
    /// ```
    /// # #[cfg(feature = "yaml")] {
    /// use lifecycle_spec::Rule;
    /// let errors = lifecycle_spec::parse_spec("b.yaml", "command: {}\n", &[]).unwrap_err();
    /// assert_eq!(errors.rules(), [Rule::MissingKey]);
    /// # }
    /// ```
    pub fn rules(&self) -> Vec<Rule> {
        self.iter().map(|d| d.rule).collect()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::iter::Chain<std::iter::Once<Diagnostic>, std::vec::IntoIter<Diagnostic>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.rest)
    }
}
