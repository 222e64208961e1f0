//! The rbee daemons, declared over the shipped specs: `#[derive(Lifecycle)]` compiles each
//! spec (and the worker directory, one [`WorkerKind`] variant per file) into a typed handle.
//! Every field fills the spec's `{var}` of the same name.

use lifecycle_core::Lifecycle;

/// The queen (`specs/queen.yaml`): the orchestrator's first hop, always on this machine.
///
/// ```
/// use lifecycle_core::Lifecycle;
/// let queen = lifecycle_demo::QueenHandle { port: 7833, binary: "queen-rbee".into() };
/// assert_eq!(queen.spec().name, "queen-rbee");
/// ```
#[derive(Clone, Debug, Lifecycle)]
#[lifecycle(spec = "../specs/queen.yaml")]
pub struct QueenHandle {
    /// Its HTTP port.
    pub port: u16,
    /// The binary it runs.
    pub binary: String,
}

/// A hive (`specs/hive.yaml`): one per machine, on this one when `host` is one of the spec's
/// `local_hosts` (`localhost`, `127.0.0.1`, `::1`), else over SSH as `user@host:ssh_port`.
///
/// ```
/// use lifecycle_core::Lifecycle;
/// let hive = lifecycle_demo::HiveHandle {
///     host: "gpu1".into(), user: "rbee".into(), ssh_port: 22, port: 7835, binary: "rbee-hive".into(),
/// };
/// assert_eq!(hive.spec().name, "rbee-hive");
/// ```
#[derive(Clone, Debug, Lifecycle)]
#[lifecycle(spec = "../specs/hive.yaml")]
pub struct HiveHandle {
    /// The machine: a host name or address.
    pub host: String,
    /// The SSH user there.
    pub user: String,
    /// The SSH port there.
    pub ssh_port: u16,
    /// Its HTTP port.
    pub port: u16,
    /// The binary it runs (a path on its host).
    pub binary: String,
}

/// A worker of one of the kinds in `specs/workers/` (`WorkerKind::Vllm`,
/// `WorkerKind::LlamaCpp`, generated from the files). Each depends on the queen, started with
/// `queen_binary` on `queen_port` if it is not running yet.
///
/// ```
/// use lifecycle_core::Lifecycle;
/// use lifecycle_demo::{WorkerHandle, WorkerKind};
/// let worker = WorkerHandle {
///     kind: "vllm".parse().unwrap(), port: 8080, model: "llama-3-8b".into(), device: "cuda:0".into(),
///     binary: "vllm".into(), queen_binary: "queen-rbee".into(), queen_port: 7833,
/// };
/// assert_eq!(worker.kind, WorkerKind::Vllm);
/// assert_eq!(WorkerKind::ALL, [WorkerKind::LlamaCpp, WorkerKind::Vllm]);
/// ```
#[derive(Clone, Debug, Lifecycle)]
pub struct WorkerHandle {
    /// Which spec of `specs/workers/`.
    #[lifecycle(spec_dir = "../specs/workers")]
    pub kind: WorkerKind,
    /// Its HTTP port.
    pub port: u16,
    /// The model it serves.
    pub model: String,
    /// The device it runs on.
    pub device: String,
    /// The binary it runs.
    pub binary: String,
    /// The queen's binary, for the dependency.
    pub queen_binary: String,
    /// The queen's port, for the dependency.
    pub queen_port: u16,
}
