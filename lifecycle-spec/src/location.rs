//! Where a daemon runs: here, or on another host over SSH.

use std::borrow::Cow;

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
#[non_exhaustive]
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
/// # #[cfg(feature = "yaml")] {
/// use lifecycle_spec::{Location, parse_spec};
/// let yaml = "command: { binary: hive }\nlocation:\n  ssh: { host: \"{host}\" }\n  local_hosts: [localhost]\n";
/// let spec = parse_spec("hive.yaml", yaml, &["host"]).unwrap();
/// let Location::Ssh(ssh) = &spec.location else { unreachable!() };
/// assert_eq!(ssh.port.source, "22");
/// assert!(ssh.is_local_host("localhost"));
/// assert!(!ssh.is_local_host("gpu1"));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

    /// `host` on the default port, keys checked strictly, probed from the manager, nothing
    /// installed, no local hosts; the other fields are public to set.
    ///
    /// ```
    /// use lifecycle_spec::{Ssh, Template};
    /// let mut ssh = Ssh::new(Template::parse("{host}").unwrap());
    /// ssh.local_hosts = vec!["localhost".into()].into();
    /// assert!(ssh.is_local_host("localhost"));
    /// assert!(!ssh.is_local_host("gpu1"));
    /// ```
    pub fn new(host: Template) -> Ssh {
        Ssh {
            host,
            user: None,
            port: Template::literal(Ssh::DEFAULT_PORT),
            host_keys: HostKeys::Strict,
            probe_from: ProbeFrom::Manager,
            install: None,
            local_hosts: Cow::Borrowed(&[]),
        }
    }

    /// Whether `rendered_host` is one of `local_hosts`.
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
