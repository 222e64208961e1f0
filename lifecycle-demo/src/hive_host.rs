//! Where the hive runs: `--hive-host [user@]host[:port]`, parsed strictly.

use std::fmt;
use std::str::FromStr;

/// The hive's host, its SSH user and SSH port, as given by `--hive-host user@host:port`.
///
/// The user and the port may be left out: the hive spec's defaults (`rbee`, 22) fill them.
/// Each part is checked against the grammar the library applies before `ssh` runs: a user is
/// `[A-Za-z_][A-Za-z0-9_.-]{0,31}`; a host is a hostname or IPv4 address (labels of letters,
/// digits and `-`, none leading or trailing `-`); a port is 1–65535 in decimal digits. IPv6
/// addresses are refused: the hive spec's probe URL (`http://{host}:{port}/health`) cannot
/// carry one.
///
/// ```
/// use lifecycle_demo::HiveHost;
/// let hive: HiveHost = "rbee@gpu1.lan:2222".parse().unwrap();
/// assert_eq!((hive.user.as_deref(), hive.host.as_str(), hive.port), (Some("rbee"), "gpu1.lan", Some(2222)));
/// let bare: HiveHost = "gpu1".parse().unwrap();
/// assert_eq!((bare.user, bare.port), (None, None));
/// assert!("rbee@-oProxyCommand=x:22".parse::<HiveHost>().is_err());
/// assert!("rbee@gpu1:0".parse::<HiveHost>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HiveHost {
    /// The SSH user, if given.
    pub user: Option<String>,
    /// The host name or IPv4 address.
    pub host: String,
    /// The SSH port, if given.
    pub port: Option<u16>,
}

/// Why a `--hive-host` value was refused.
///
/// ```
/// let err = "a b".parse::<lifecycle_demo::HiveHost>().unwrap_err();
/// assert!(err.to_string().contains("not a host name or IPv4 address"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HiveHostError {
    /// The user part is not a user name.
    #[error(
        "`{0}` is not a user name (letters, digits, `_`, `.`, `-`; starting with a letter or `_`; at most 32)"
    )]
    User(String),
    /// The host part is not a host name or IPv4 address.
    #[error(
        "`{0}` is not a host name or IPv4 address (labels of letters, digits and `-`, separated by `.`)"
    )]
    Host(String),
    /// The host part is an IPv6 address.
    #[error(
        "`{0}`: IPv6 addresses are not supported (the hive spec's probe URL is http://{{host}}:{{port}}/health); use a host name"
    )]
    Ipv6(String),
    /// The port part is not a port.
    #[error("`{0}` is not a port (an integer in 1-65535)")]
    Port(String),
}

impl FromStr for HiveHost {
    type Err = HiveHostError;

    fn from_str(text: &str) -> Result<HiveHost, HiveHostError> {
        if text.starts_with('[') || text.matches(':').count() > 1 {
            return Err(HiveHostError::Ipv6(text.to_owned()));
        }
        let (user, rest) = match text.split_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, text),
        };
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        if let Some(user) = user
            && !is_user(user)
        {
            return Err(HiveHostError::User(user.to_owned()));
        }
        if !is_host(host) {
            return Err(HiveHostError::Host(host.to_owned()));
        }
        let port = match port {
            None => None,
            Some(port) => Some(parse_port(port).ok_or_else(|| HiveHostError::Port(port.into()))?),
        };
        Ok(HiveHost {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HiveHost {
    /// `[user@]host[:port]`, as parsed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// `[A-Za-z_][A-Za-z0-9_.-]{0,31}`.
fn is_user(user: &str) -> bool {
    let mut bytes = user.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && user.len() <= 32
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A host name or IPv4 address: at most 253 bytes, labels of 1–63 letters, digits and `-`,
/// none starting or ending with `-`.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Decimal digits only, 1–65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&port| port != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_three_parts() {
        let hive: HiveHost = "root@127.0.0.2:40022".parse().unwrap();
        assert_eq!(hive.user.as_deref(), Some("root"));
        assert_eq!(hive.host, "127.0.0.2");
        assert_eq!(hive.port, Some(40022));
        assert_eq!(hive.to_string(), "root@127.0.0.2:40022");
        let host_only: HiveHost = "gpu-1.lan".parse().unwrap();
        assert_eq!(host_only.to_string(), "gpu-1.lan");
        let with_port: HiveHost = "gpu1:22".parse().unwrap();
        assert_eq!((with_port.user, with_port.port), (None, Some(22)));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "@host",
            "rbee@",
            "rbee@host:",
            "rbee@host:0",
            "rbee@host:65536",
            "rbee@host:+22",
            "rbee@host:22x",
            "-l@host",
            "rbee@-host",
            "rbee@host-",
            "rbee@a..b",
            "rbee@a b",
            "rbee@a;b",
            "rbee@host@x",
            "a@b@c:1",
            "rbee@[::1]:22",
            "::1",
            "rbee@fe80::1",
        ] {
            assert!(bad.parse::<HiveHost>().is_err(), "{bad:?} was accepted");
        }
        assert!(matches!(
            "rbee@[::1]:22".parse::<HiveHost>(),
            Err(HiveHostError::Ipv6(_))
        ));
        assert!(matches!(
            "rbee@host:0".parse::<HiveHost>(),
            Err(HiveHostError::Port(_))
        ));
        assert!(matches!(
            "9rbee@host".parse::<HiveHost>(),
            Err(HiveHostError::User(_))
        ));
    }
}
