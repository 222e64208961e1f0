// Every shipped worker spec compiles into a variant of the generated kind enum.
use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
pub struct WorkerHandle {
    #[lifecycle(spec_dir = "specs/workers")]
    pub kind: WorkerKind,
    pub port: u16,
    pub model: String,
    pub device: String,
}

fn main() {
    assert_eq!(WorkerKind::ALL, [WorkerKind::LlamaCpp, WorkerKind::Vllm]);
    for kind in WorkerKind::ALL {
        let worker = WorkerHandle { kind: *kind, port: 8080, model: "m".into(), device: "cpu".into() };
        assert_eq!(worker.spec().name, kind.name());
    }
}
