//! The signals a stop chain may send.

use std::fmt;

/// A signal a stop step may send to the daemon's process group. `SIGKILL` is not among them: it
/// always ends the chain by itself.
///
/// ```
/// use lifecycle_spec::Signal;
/// assert_eq!("SIGTERM".parse::<Signal>(), Ok(Signal::Term));
/// assert_eq!(Signal::Int.name(), "SIGINT");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGHUP`
    Hup,
    /// `SIGINT`
    Int,
    /// `SIGQUIT`
    Quit,
    /// `SIGTERM`
    Term,
    /// `SIGUSR1`
    Usr1,
    /// `SIGUSR2`
    Usr2,
}

/// Why a signal name was refused.
///
/// ```
/// assert_eq!("SIGKILL".parse::<lifecycle_spec::Signal>(), Err(lifecycle_spec::SignalError::Kill));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// `SIGKILL` (or `KILL`, `9`): the chain always ends with it, a step cannot send it.
    #[error("SIGKILL always ends the stop chain; a step cannot send it")]
    Kill,
    /// A name that is not one of [`Signal::ALL`], perhaps a near miss.
    #[error("`{found}` is not a signal a stop step can send")]
    Unknown {
        /// The name as written.
        found: String,
        /// The signal it most likely means (`TERM` → `SIGTERM`).
        suggestion: Option<Signal>,
    },
}

impl Signal {
    /// Every signal a stop step can send.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Signal::ALL.len(), 6);
    /// ```
    pub const ALL: [Signal; 6] = [
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Term,
        Signal::Usr1,
        Signal::Usr2,
    ];

    /// The canonical name, as the spec writes it.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Signal::Usr1.name(), "SIGUSR1");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Hup => "SIGHUP",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Term => "SIGTERM",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }
}

impl std::str::FromStr for Signal {
    type Err = SignalError;

    fn from_str(text: &str) -> Result<Signal, SignalError> {
        if let Some(signal) = Signal::ALL.into_iter().find(|s| s.name() == text) {
            return Ok(signal);
        }
        let upper = text.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if bare == "KILL" || bare == "9" {
            return Err(SignalError::Kill);
        }
        Err(SignalError::Unknown {
            found: text.to_owned(),
            suggestion: Signal::ALL.into_iter().find(|s| &s.name()[3..] == bare),
        })
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_parse() {
        for signal in Signal::ALL {
            assert_eq!(signal.name().parse(), Ok(signal));
        }
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        assert_eq!(
            "TERM".parse::<Signal>(),
            Err(SignalError::Unknown {
                found: "TERM".into(),
                suggestion: Some(Signal::Term)
            })
        );
        assert_eq!(
            "sigint".parse::<Signal>(),
            Err(SignalError::Unknown {
                found: "sigint".into(),
                suggestion: Some(Signal::Int)
            })
        );
        assert_eq!(
            "SIGFOO".parse::<Signal>(),
            Err(SignalError::Unknown {
                found: "SIGFOO".into(),
                suggestion: None
            })
        );
        assert_eq!("SIGKILL".parse::<Signal>(), Err(SignalError::Kill));
        assert_eq!("kill".parse::<Signal>(), Err(SignalError::Kill));
    }
}
