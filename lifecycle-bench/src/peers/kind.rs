//! The daemons every manager in the comparison runs: the test daemon (this benchmark binary),
//! with the same flags whoever starts it.

/// One daemon of a comparison: its name (unique in a run) and what it does.
#[derive(Debug, Clone)]
pub(crate) struct Daemon {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

/// What a daemon does, as test-daemon flags.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Healthy at once; exits 50 ms after SIGTERM.
    Exit50 { port: u16 },
    /// Ignores SIGTERM, with a grandchild that ignores it too (its PID written to the file).
    Stubborn { port: u16, grandchild_file: String },
    /// Binds its port only when ready, `after_ms` after its start; stamps that moment
    /// (CLOCK_MONOTONIC, ns) in `ready_file`.
    ReadyLate {
        port: u16,
        after_ms: u64,
        ready_file: String,
    },
    /// Healthy at once; exits at SIGTERM, from its handler (many at once).
    Plain { port: u16 },
}

impl Kind {
    /// The port the daemon listens on.
    pub(crate) fn port(&self) -> u16 {
        match self {
            Kind::Exit50 { port }
            | Kind::Stubborn { port, .. }
            | Kind::ReadyLate { port, .. }
            | Kind::Plain { port } => *port,
        }
    }

    /// The daemon's arguments, `--test-daemon` first.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--test-daemon".to_owned(),
            "--port".to_owned(),
            self.port().to_string(),
        ];
        let more: Vec<String> = match self {
            Kind::Exit50 { .. } => vec!["--exit-after-sigterm".into(), "50".into()],
            Kind::Stubborn {
                grandchild_file, ..
            } => vec![
                "--ignore-sigterm".into(),
                "--fork-grandchild".into(),
                "--grandchild-pid-file".into(),
                grandchild_file.clone(),
            ],
            Kind::ReadyLate {
                after_ms,
                ready_file,
                ..
            } => vec![
                "--ready-mode".into(),
                "bind-late".into(),
                "--ready-after".into(),
                after_ms.to_string(),
                "--ready-time-file".into(),
                ready_file.clone(),
            ],
            // As the library's many-daemon spec (`fast.yaml`) runs it.
            Kind::Plain { .. } => vec!["--exit-after-sigterm".into(), "0".into()],
        };
        args.extend(more);
        args
    }
}

/// `value` quoted for a POSIX shell (or any parser of shell-like words: supervisord's
/// `command=`, circus's `args =`): one word, whatever it holds.
pub(crate) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_word_stays_one_word() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
