//! Where a daemon runs: here, or on another host over SSH.

use crate::{List, Str, Template};

/// Where a daemon runs.
///
/// ```
/// use lifecycle_spec::Location;
/// assert!(matches!(Location::Local, Location::Local));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// On this machine.
    Local,
    /// On `host` over SSH, unless the rendered host is one of `local_hosts`.
    Ssh(Ssh),
}

/// An SSH destination, usually filled from the handle's fields (`{host}`, `{user}`,
/// `{ssh_port}`): the orchestrator decides per host at run time.
///
/// ```
/// use lifecycle_spec::{Ssh, Template};
/// let ssh = Ssh {
///     host: Template::parse("{host}").unwrap(),
///     user: None,
///     port: Template::parse("22").unwrap(),
///     local_hosts: vec!["localhost".into()].into(),
/// };
/// assert!(ssh.is_local_host("localhost"));
/// assert!(!ssh.is_local_host("gpu1"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ssh {
    /// The host; checked against the host grammar once rendered.
    pub host: Template,
    /// The remote user; `None`: ssh's default.
    pub user: Option<Template>,
    /// The SSH port, 1–65535 once rendered.
    pub port: Template,
    /// Hosts that mean "this machine": a handle whose host renders to one of them runs locally.
    pub local_hosts: List<Str>,
}

impl Ssh {
    /// `port` when the spec gives none.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Ssh::DEFAULT_PORT, "22");
    /// ```
    pub const DEFAULT_PORT: &'static str = "22";

    /// Whether `rendered_host` is one of `local_hosts`.
    ///
    /// ```
    /// use lifecycle_spec::{Ssh, Template};
    /// let ssh = Ssh { host: Template::parse("{host}").unwrap(), user: None, port: Template::parse("22").unwrap(), local_hosts: vec!["127.0.0.1".into()].into() };
    /// assert!(ssh.is_local_host("127.0.0.1"));
    /// ```
    pub fn is_local_host(&self, rendered_host: &str) -> bool {
        self.local_hosts.iter().any(|h| h == rendered_host)
    }
}
