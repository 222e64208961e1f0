//! Where a remote daemon runs: host, user and port, as checked by the spec's grammars.

use std::fmt;

/// One SSH destination: the key of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Destination {
    /// A hostname or IP address that passed `check_host`.
    pub(crate) host: String,
    /// A user name that passed `check_user`; `None`: ssh's own default.
    pub(crate) user: Option<String>,
    pub(crate) port: u16,
    /// Trusts a key seen for the first time (`StrictHostKeyChecking=accept-new`).
    pub(crate) accept_new: bool,
}

impl fmt::Display for Destination {
    /// `user@host:port` (`[v6]:port` for an IPv6 address).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_user_host_and_port() {
        let d = |host: &str, user: Option<&str>| Destination {
            host: host.into(),
            user: user.map(Into::into),
            port: 2222,
            accept_new: false,
        };
        assert_eq!(d("gpu1", Some("rbee")).to_string(), "rbee@gpu1:2222");
        assert_eq!(d("::1", None).to_string(), "[::1]:2222");
    }
}
