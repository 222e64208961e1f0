//! One file per subcommand.

pub mod check;
pub mod down;
pub mod logs;
pub mod order;
pub mod run;
pub mod status;
pub mod up;

/// Every daemon of the manager's state directory; an error (exit 1) if it cannot be read.
pub(crate) async fn listed(
    manager: &lifecycle_core::DaemonManager,
) -> Result<Vec<lifecycle_core::Listed>, crate::CliError> {
    manager.list().await.map_err(|e| {
        crate::CliError::Failed(format!(
            "cannot read the state directory {}: {e}",
            manager.state_dir().display()
        ))
    })
}

/// The name part of a key (`vllm@8080` → `vllm`).
pub(crate) fn name_of(key: &str) -> &str {
    key.split('@').next().unwrap_or(key)
}
