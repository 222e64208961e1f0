//! What can go wrong in a command, and the exit code each means.

use std::process::ExitCode;

/// A command's failure. Its exit code: 2 for bad input (nothing was started or stopped), 1 for
/// a daemon that failed.
///
/// ```
/// use lifecycle_cli::CliError;
/// assert_eq!(CliError::BadInput("no such file".into()).code(), 2);
/// assert_eq!(CliError::Failed("queen-rbee did not start".into()).code(), 1);
/// ```
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line, a path or a spec is wrong; nothing was done.
    #[error("{0}")]
    BadInput(String),
    /// Specs that are not valid, rendered with their lines (see [`crate::render_diagnostics`]).
    #[error("{rendered}")]
    Invalid {
        /// The diagnostics as printed.
        rendered: String,
        /// How many problems.
        count: usize,
    },
    /// A daemon failed (to start, to stop, to be found running).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code for this failure.
    ///
    /// ```
    /// assert_eq!(lifecycle_cli::CliError::Invalid { rendered: String::new(), count: 1 }.code(), 2);
    /// ```
    pub fn code(&self) -> u8 {
        match self {
            CliError::BadInput(_) | CliError::Invalid { .. } => 2,
            CliError::Failed(_) => 1,
        }
    }

    /// The exit code as the process's.
    ///
    /// ```
    /// let code = lifecycle_cli::CliError::Failed("x".into()).exit_code();
    /// assert_eq!(code, std::process::ExitCode::from(1));
    /// ```
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }
}
