//! The conservative grammars for what a spec points at: hosts, users, ports, HTTP URLs and TCP
//! addresses. The same checks run on literal values at compile time and on rendered values at
//! run time, so a value that reaches `ssh` or an HTTP client has always passed them.

use std::net::Ipv6Addr;

/// Why an address was refused.
///
/// ```
/// assert!(matches!(lifecycle_spec::__private::parse_port("0"), Err(lifecycle_spec::__private::AddressError::Port(_))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not a hostname, IPv4 or IPv6 address.
    #[error("`{0}` is not a hostname or IP address (letters, digits, `.`, `-`; no leading `-`)")]
    Host(String),
    /// Not a user name an `ssh` command line can carry safely.
    #[error(
        "`{0}` is not a user name (letters, digits, `_`, `.`, `-`; no leading `-`; at most 32)"
    )]
    User(String),
    /// Not an integer in 1–65535.
    #[error("`{0}` is not a port (an integer in 1-65535)")]
    Port(String),
    /// A URL that is not `http://` or `https://`.
    #[error("`{0}` does not start with http:// or https://")]
    Scheme(String),
    /// A URL with `user@` credentials.
    #[error("`{0}` carries credentials (`user@`); probes take none")]
    Credentials(String),
    /// A URL or address with whitespace or control characters.
    #[error("`{0}` contains whitespace or control characters")]
    Whitespace(String),
    /// A TCP address without `:port`.
    #[error("`{0}` has no `:port`")]
    MissingPort(String),
}

/// An HTTP(S) URL that passed [`parse_http_url`].
///
/// ```
/// let url = lifecycle_spec::__private::parse_http_url("http://127.0.0.1:7833/health").unwrap();
/// assert_eq!((url.host, url.port, url.path), ("127.0.0.1", 7833, "/health"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    /// `true` for `https`.
    pub tls: bool,
    /// The host, without brackets for IPv6.
    pub host: &'a str,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// Path, query and fragment; `/` when empty.
    pub path: &'a str,
}

/// Checks a hostname, IPv4 address or (unbracketed) IPv6 address. Nothing that `ssh` could read
/// as an option (a leading `-`) or a shell could read as syntax gets through.
///
/// ```
/// use lifecycle_spec::__private::check_host;
/// assert!(check_host("gpu-node-1.lan").is_ok());
/// assert!(check_host("::1").is_ok());
/// assert!(check_host("-oProxyCommand=x").is_err());
/// assert!(check_host("a;b").is_err());
/// ```
pub fn check_host(host: &str) -> Result<(), AddressError> {
    let err = || AddressError::Host(host.to_owned());
    if host.contains(':') {
        return host.parse::<Ipv6Addr>().map(|_| ()).map_err(|_| err());
    }
    if host.is_empty() || host.len() > 253 {
        return Err(err());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(err());
        }
    }
    Ok(())
}

/// Checks a user name: `[A-Za-z_][A-Za-z0-9_.-]{0,31}`.
///
/// ```
/// assert!(lifecycle_spec::__private::check_user("rbee").is_ok());
/// assert!(lifecycle_spec::__private::check_user("-l").is_err());
/// ```
pub fn check_user(user: &str) -> Result<(), AddressError> {
    let mut bytes = user.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
    if first_ok
        && user.len() <= 32
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        Ok(())
    } else {
        Err(AddressError::User(user.to_owned()))
    }
}

/// Parses a port: decimal digits, 1–65535.
///
/// ```
/// assert_eq!(lifecycle_spec::__private::parse_port("22"), Ok(22));
/// assert!(lifecycle_spec::__private::parse_port("0").is_err());
/// assert!(lifecycle_spec::__private::parse_port("65536").is_err());
/// ```
pub fn parse_port(text: &str) -> Result<u16, AddressError> {
    let err = || AddressError::Port(text.to_owned());
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(err()),
        Ok(port) => Ok(port),
    }
}

/// Checks an `http://` or `https://` URL: scheme, a valid host, a port in 1–65535, no
/// credentials, no whitespace. The URL is used as written: nothing is ever appended to it.
///
/// ```
/// use lifecycle_spec::__private::parse_http_url;
/// assert!(parse_http_url("http://[::1]:8080/health").is_ok());
/// assert!(parse_http_url("ftp://host/").is_err());
/// assert!(parse_http_url("http://host:0/").is_err());
/// ```
pub fn parse_http_url(url: &str) -> Result<HttpUrl<'_>, AddressError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::Whitespace(url.to_owned()));
    }
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(AddressError::Scheme(url.to_owned()));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(AddressError::Credentials(url.to_owned()));
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        Some(port) => parse_port(port)?,
        None if tls => 443,
        None => 80,
    };
    Ok(HttpUrl {
        tls,
        host,
        port,
        path: if path.is_empty() { "/" } else { path },
    })
}

/// Checks a TCP address `host:port` or `[v6]:port`; returns host and port.
///
/// ```
/// assert_eq!(lifecycle_spec::__private::parse_tcp_addr("127.0.0.1:7833"), Ok(("127.0.0.1", 7833)));
/// assert!(lifecycle_spec::__private::parse_tcp_addr("127.0.0.1").is_err());
/// ```
pub fn parse_tcp_addr(addr: &str) -> Result<(&str, u16), AddressError> {
    if addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::Whitespace(addr.to_owned()));
    }
    match split_host_port(addr)? {
        (host, Some(port)) => Ok((host, parse_port(port)?)),
        (_, None) => Err(AddressError::MissingPort(addr.to_owned())),
    }
}

/// Splits `host[:port]` or `[v6][:port]`, checking the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), AddressError> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let close = bracketed
            .find(']')
            .ok_or_else(|| AddressError::Host(authority.to_owned()))?;
        let host = &bracketed[..close];
        if !host.contains(':') {
            return Err(AddressError::Host(authority.to_owned()));
        }
        match &bracketed[close + 1..] {
            "" => (host, None),
            after => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(AddressError::Host(authority.to_owned())),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    check_host(host)?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in ["localhost", "127.0.0.1", "a.b-c.d", "::1", "fe80::1", "x"] {
            assert_eq!(check_host(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "a;b", "$(id)", "a-", "host_1", "`x`", ":::",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
        assert!(check_host(&"a".repeat(64)).is_err());
    }

    #[test]
    fn users() {
        for ok in ["root", "_svc", "a.b-c_d"] {
            assert_eq!(check_user(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-x", "1abc", "a b", "a;b", "a@b"] {
            assert!(check_user(bad).is_err(), "{bad}");
        }
        assert!(check_user(&"a".repeat(33)).is_err());
    }

    #[test]
    fn urls() {
        let u = parse_http_url("https://example.org").unwrap();
        assert_eq!(
            (u.tls, u.host, u.port, u.path),
            (true, "example.org", 443, "/")
        );
        let u = parse_http_url("http://[::1]:9/h?x=1").unwrap();
        assert_eq!((u.host, u.port, u.path), ("::1", 9, "/h?x=1"));
        assert!(matches!(
            parse_http_url("HTTP://x/"),
            Err(AddressError::Scheme(_))
        ));
        assert!(matches!(
            parse_http_url("http://u@x/"),
            Err(AddressError::Credentials(_))
        ));
        assert!(matches!(
            parse_http_url("http://x:99999/"),
            Err(AddressError::Port(_))
        ));
        assert!(matches!(
            parse_http_url("http://x:/"),
            Err(AddressError::Port(_))
        ));
        assert!(matches!(
            parse_http_url("http:///health"),
            Err(AddressError::Host(_))
        ));
        assert!(matches!(
            parse_http_url("http://x /"),
            Err(AddressError::Whitespace(_))
        ));
        assert!(matches!(
            parse_http_url("http://[::1/"),
            Err(AddressError::Host(_))
        ));
    }

    #[test]
    fn tcp() {
        assert_eq!(parse_tcp_addr("[::1]:80"), Ok(("::1", 80)));
        assert!(matches!(
            parse_tcp_addr("h"),
            Err(AddressError::MissingPort(_))
        ));
        assert!(matches!(parse_tcp_addr("h:x"), Err(AddressError::Port(_))));
    }
}
