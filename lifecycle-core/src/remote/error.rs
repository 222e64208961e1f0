//! What can go wrong with a remote host: each case names the destination (`user@host:port`)
//! and says what to do.

/// Why an operation on a remote host failed.
///
/// ```
/// let err = lifecycle_core::error::RemoteError::Auth {
///     destination: "rbee@gpu1:22".into(),
///     message: "Permission denied (publickey).".into(),
/// };
/// assert!(err.to_string().contains("rbee@gpu1:22"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The host could not be reached (no route, refused, timed out, unknown name).
    #[error(
        "{destination}: cannot reach the host: {message} (check the host name and port, and that sshd runs there)"
    )]
    Unreachable {
        /// `user@host:port`.
        destination: String,
        /// What ssh said.
        message: String,
    },
    /// The host refused every key offered (passwords are never tried: BatchMode).
    #[error(
        "{destination}: authentication refused: {message} (add this user's public key to the remote authorized_keys, or load it into ssh-agent; passwords are never asked for)"
    )]
    Auth {
        /// `user@host:port`.
        destination: String,
        /// What ssh said.
        message: String,
    },
    /// The host's key is not known, or differs from the one known.
    #[error(
        "{destination}: host key not trusted: {message} (verify the key, then add it to known_hosts, e.g. `ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`; for a first contact the spec may say `host_keys: accept-new`)"
    )]
    HostKey {
        /// `user@host:port`.
        destination: String,
        /// What ssh said.
        message: String,
    },
    /// `ssh` itself could not be run.
    #[error(
        "{destination}: cannot run the OpenSSH client `ssh`: {message} (install openssh-client)"
    )]
    Client {
        /// `user@host:port`.
        destination: String,
        /// The OS error.
        message: String,
    },
    /// The remote helper did not start or refused the host.
    #[error(
        "{destination}: the remote helper cannot run: {message} (the remote login shell must run `/bin/sh -c`, and the host needs a POSIX sh, /proc, setsid and a writable state directory)"
    )]
    Helper {
        /// `user@host:port`.
        destination: String,
        /// What went wrong.
        message: String,
    },
    /// The connection went away during an operation (sshd stopped, network lost).
    #[error(
        "{destination}: the connection was lost during `{operation}`{}; the next operation reconnects",
        if message.is_empty() { String::new() } else { format!(": {message}") }
    )]
    Lost {
        /// `user@host:port`.
        destination: String,
        /// The operation.
        operation: String,
        /// What ssh said last, if anything.
        message: String,
    },
    /// No answer in time.
    #[error("{destination}: `{operation}` got no answer within {seconds} s")]
    Timeout {
        /// `user@host:port`.
        destination: String,
        /// The operation.
        operation: String,
        /// The bound, in seconds.
        seconds: u64,
    },
    /// The start could not be done there (its log, its lock, its record); nothing runs.
    #[error("{destination}: cannot start the daemon there: {message}")]
    Start {
        /// `user@host:port`.
        destination: String,
        /// Why.
        message: String,
    },
    /// The daemon's binary is not on the remote host.
    #[error(
        "{destination}: the binary `{binary}` is not on the remote host (not executable there, or not on the remote PATH): install it there or give its absolute path"
    )]
    MissingBinary {
        /// `user@host:port`.
        destination: String,
        /// The binary.
        binary: String,
    },
    /// A local forward to the daemon's probe address there could not be made (`probe: host`).
    #[error("{destination}: cannot forward a local port to {target} there: {message}")]
    Forward {
        /// `user@host:port`.
        destination: String,
        /// The probe's address as the host sees it.
        target: String,
        /// What ssh said.
        message: String,
    },
    /// The binary could not be installed on the host (`location.ssh.install`); nothing was
    /// started.
    #[error("{destination}: cannot install `{local}` as `{target}` there: {message}")]
    Install {
        /// `user@host:port`.
        destination: String,
        /// The local file.
        local: String,
        /// The path on the host.
        target: String,
        /// What went wrong.
        message: String,
    },
    /// This program was built without lifecycle-core's `ssh` feature.
    #[error(
        "{destination}: this program was built without lifecycle-core's `ssh` feature (enable it to run daemons on other hosts)"
    )]
    Disabled {
        /// `user@host:port`.
        destination: String,
    },
    /// A value that no argument can carry (a NUL byte).
    #[error("{destination}: {what} holds a NUL byte, which no argument or variable can carry")]
    Nul {
        /// `user@host:port`.
        destination: String,
        /// Which value.
        what: String,
    },
    /// The helper answered something this version does not understand, or failed.
    #[error("{destination}: the remote helper answered `{answer}` to `{operation}`")]
    Protocol {
        /// `user@host:port`.
        destination: String,
        /// The operation.
        operation: String,
        /// The answer.
        answer: String,
    },
}
