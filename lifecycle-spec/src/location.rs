//! Where a daemon runs: here, or on another host over SSH.

use crate::{List, Str, Template};

/// Where a daemon runs.
///
/// ```
/// use lifecycle_spec::Location;
/// assert!(matches!(Location::Local, Location::Local));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
// The derive builds specs as constants, where no `Box` can be made; a spec holds one location.
#[allow(clippy::large_enum_variant)]
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
/// use lifecycle_spec::{HostKeys, ProbeFrom, Ssh, Template};
/// let ssh = Ssh {
///     host: Template::parse("{host}").unwrap(),
///     user: None,
///     port: Template::parse("22").unwrap(),
///     host_keys: HostKeys::Strict,
///     probe_from: ProbeFrom::Manager,
///     install: None,
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
    /// How the host's key is checked (`host_keys:`).
    pub host_keys: HostKeys,
    /// Where the readiness probe runs from (`probe:`).
    pub probe_from: ProbeFrom,
    /// A local file to install as `command.binary` on the host before a start (`install:`):
    /// uploaded under a temporary name and renamed into place, skipped when the host's copy
    /// has the same SHA-256.
    pub install: Option<Template>,
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
    /// use lifecycle_spec::{HostKeys, ProbeFrom, Ssh, Template};
    /// let ssh = Ssh { host: Template::parse("{host}").unwrap(), user: None, port: Template::parse("22").unwrap(), host_keys: HostKeys::Strict, probe_from: ProbeFrom::Manager, install: None, local_hosts: vec!["127.0.0.1".into()].into() };
    /// assert!(ssh.is_local_host("127.0.0.1"));
    /// ```
    pub fn is_local_host(&self, rendered_host: &str) -> bool {
        self.local_hosts.iter().any(|h| h == rendered_host)
    }
}

/// How a remote host's key is checked (`location.ssh.host_keys`).
///
/// ```
/// assert_eq!(lifecycle_spec::HostKeys::parse("accept-new"), Some(lifecycle_spec::HostKeys::AcceptNew));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HostKeys {
    /// The key must be in `known_hosts` already (`StrictHostKeyChecking=yes`): the default.
    #[default]
    Strict,
    /// A host seen for the first time is trusted and recorded; a changed key is still refused
    /// (`StrictHostKeyChecking=accept-new`). There is no "accept anything".
    AcceptNew,
}

impl HostKeys {
    /// The words a spec may write.
    pub const NAMES: [&'static str; 2] = ["strict", "accept-new"];

    /// Parses `strict` or `accept-new`.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::HostKeys::parse("no"), None);
    /// ```
    pub fn parse(word: &str) -> Option<HostKeys> {
        match word {
            "strict" => Some(HostKeys::Strict),
            "accept-new" => Some(HostKeys::AcceptNew),
            _ => None,
        }
    }
}

/// Where a remote daemon's readiness probe runs from (`location.ssh.probe`).
///
/// ```
/// assert_eq!(lifecycle_spec::ProbeFrom::parse("host"), Some(lifecycle_spec::ProbeFrom::Host));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ProbeFrom {
    /// From the manager, straight to the daemon's host and port: the default.
    #[default]
    Manager,
    /// On the remote host: through the SSH connection (a local forward to the probe's address
    /// as the remote host sees it), for ports the manager cannot reach.
    Host,
}

impl ProbeFrom {
    /// The words a spec may write.
    pub const NAMES: [&'static str; 2] = ["manager", "host"];

    /// Parses `manager` or `host`.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::ProbeFrom::parse("remote"), None);
    /// ```
    pub fn parse(word: &str) -> Option<ProbeFrom> {
        match word {
            "manager" => Some(ProbeFrom::Manager),
            "host" => Some(ProbeFrom::Host),
            _ => None,
        }
    }
}
