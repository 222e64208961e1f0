//! `location:`: `local`, or `{ ssh: { host, user, port, host_keys, probe }, local_hosts: [...] }`.

use serde_saphyr::Spanned;

use super::decoder::{Decoder, Deferred, index};
use super::keys::{LOCATION_KEYS, SSH_KEYS};
use super::node::{Node, pos_of};
use crate::{HostKeys, Location, ProbeFrom, Rule, Ssh, Template, check_host};

/// What `ssh:` holds: host, user, port, host key policy, where the probe runs from, the file
/// to install.
type SshParts = (
    Template,
    Option<Template>,
    Template,
    HostKeys,
    ProbeFrom,
    Option<Template>,
);

const EXPECTED: &str = "`local` or `{ ssh: { host: …, user: …, port: … } }`";

impl Decoder<'_> {
    pub(crate) fn location(&mut self, node: &Spanned<Node>) -> Option<Location> {
        if let Node::Str(word) = &node.value {
            if word == "local" {
                return Some(Location::Local);
            }
            let d = self
                .diag(Rule::Choice, pos_of(node), "location", EXPECTED)
                .found(word.clone())
                .hint("a remote location is a mapping: `location: { ssh: { host: \"{host}\" } }`");
            self.report(d);
            return None;
        }
        let map = self.mapping(node, "location", LOCATION_KEYS)?;
        // `local_hosts` is checked whatever is wrong with `ssh`, and each `ssh` value whatever is
        // wrong with the others.
        let ssh = map
            .require(
                self,
                "ssh",
                "the SSH destination: `ssh: { host: …, user: …, port: … }`",
            )
            .and_then(|n| self.ssh(n));
        let mut local_hosts = Vec::new();
        if let Some(list) = map.get("local_hosts").and_then(|n| {
            self.list(
                n,
                "location.local_hosts",
                "a list of host names that mean this machine",
            )
        }) {
            for (i, item) in list.iter().enumerate() {
                let field = index("location.local_hosts", i);
                let Some(host) = self.text(item, &field, "a host name") else {
                    continue;
                };
                match check_host(&host) {
                    Ok(()) => local_hosts.push(host.into()),
                    Err(err) => {
                        let d = self
                            .diag(
                                Rule::SshHost,
                                pos_of(item),
                                &field,
                                "a hostname or IP address",
                            )
                            .found(host)
                            .hint(err.to_string());
                        self.report(d);
                    }
                }
            }
        }
        let (host, user, port, host_keys, probe_from, install) = ssh?;
        Some(Location::Ssh(Ssh {
            host,
            user,
            port,
            host_keys,
            probe_from,
            install,
            local_hosts: local_hosts.into(),
        }))
    }

    /// `ssh: { host, user, port, host_keys, probe, install }`: the host, the user if given,
    /// the port, the host key policy, where the probe runs from, the file to install.
    fn ssh(&mut self, node: &Spanned<Node>) -> Option<SshParts> {
        let ssh = self.mapping(node, "location.ssh", SSH_KEYS)?;
        let host = ssh
            .require(self, "host", "the host to reach over SSH, e.g. \"{host}\"")
            .and_then(|n| {
                let t = self.non_empty_template(n, "location.ssh.host")?;
                self.deferred
                    .push((Deferred::Host, "location.ssh.host".into(), t.clone()));
                Some(t)
            });
        // `Some(None)`: no `user:`; `None`: a `user:` that is wrong.
        let user = match ssh.get("user") {
            Some(n) => self
                .checked_template(n, "location.ssh.user", Deferred::User)
                .map(Some),
            None => Some(None),
        };
        let port = match ssh.get("port") {
            Some(n) => self.checked_template(n, "location.ssh.port", Deferred::Port),
            None => Template::parse(Ssh::DEFAULT_PORT).ok(),
        };
        let host_keys = match ssh.get("host_keys") {
            Some(n) => self.choice(
                n,
                "location.ssh.host_keys",
                &HostKeys::NAMES,
                HostKeys::parse,
            ),
            None => Some(HostKeys::Strict),
        };
        let probe_from = match ssh.get("probe") {
            Some(n) => self.choice(n, "location.ssh.probe", &ProbeFrom::NAMES, ProbeFrom::parse),
            None => Some(ProbeFrom::Manager),
        };
        // `Some(None)`: no `install:`; `None`: one that is wrong.
        let install = match ssh.get("install") {
            Some(n) => self.non_empty_template(n, "location.ssh.install").map(Some),
            None => Some(None),
        };
        Some((host?, user?, port?, host_keys?, probe_from?, install?))
    }
}
