//! What `#[derive(Lifecycle)]` generates, checked on the shipped specs.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::time::Duration;

use lifecycle_core::Lifecycle;
use lifecycle_core::spec::{Location, Probe, RestartPolicy, Signal, StopStep, WaitFor};

#[derive(Lifecycle)]
#[lifecycle(spec = "../specs/queen.yaml")]
struct QueenHandle {
    port: u16,
}

#[derive(Lifecycle)]
#[lifecycle(spec = "../specs/hive.yaml")]
struct HiveHandle {
    host: String,
    user: String,
    /// Not used by the spec: needs no `Display`.
    #[allow(dead_code)]
    capabilities: Vec<u8>,
}

#[derive(Lifecycle)]
struct WorkerHandle {
    #[lifecycle(spec_dir = "../specs/workers")]
    kind: WorkerKind,
    port: u16,
    model: String,
    device: String,
}

fn worker(kind: WorkerKind) -> WorkerHandle {
    WorkerHandle {
        kind,
        port: 8080,
        model: "llama-3-8b".into(),
        device: "cuda:0".into(),
    }
}

#[test]
fn queen_holds_its_spec_as_constants() {
    let queen = QueenHandle { port: 7833 };
    let spec = queen.spec();
    assert_eq!(spec.name, "queen-rbee");
    assert_eq!(spec.file, "../specs/queen.yaml");
    let readiness = spec.readiness.as_ref().unwrap();
    assert_eq!(readiness.deadline, Duration::from_secs(30));
    assert_eq!(readiness.backoff.max, Duration::from_millis(3200));
    assert_eq!(
        &*spec.stop,
        [StopStep::signal(Signal::Term, Duration::from_secs(5))]
    );
    assert_eq!(spec.location, Location::Local);
    // The same static every time: nothing is rebuilt at run time.
    assert!(std::ptr::eq(spec, QueenHandle { port: 1 }.spec()));
}

#[test]
fn fields_override_defaults_and_defaults_fill_the_rest() {
    let queen = QueenHandle { port: 9100 };
    let args: Vec<String> = queen
        .spec()
        .command
        .args
        .iter()
        .map(|a| queen.render(a).unwrap())
        .collect();
    assert_eq!(args, ["--port", "9100"]);
    assert_eq!(
        queen.render(&queen.spec().command.binary).unwrap(),
        "queen-rbee"
    );
    let Probe::Http { url, .. } = &queen.spec().readiness.as_ref().unwrap().probe else {
        panic!()
    };
    assert_eq!(queen.render(url).unwrap(), "http://127.0.0.1:9100/health");
}

#[test]
fn hive_location_comes_from_the_handle() {
    let hive = HiveHandle {
        host: "gpu-node-1".into(),
        user: "ops".into(),
        capabilities: vec![],
    };
    let Location::Ssh(ssh) = &hive.spec().location else {
        panic!("hive is ssh")
    };
    assert_eq!(hive.render(&ssh.host).unwrap(), "gpu-node-1");
    assert_eq!(hive.render(ssh.user.as_ref().unwrap()).unwrap(), "ops");
    assert_eq!(hive.render(&ssh.port).unwrap(), "22");
    assert!(!ssh.is_local_host("gpu-node-1"));
    assert!(ssh.is_local_host("localhost"));
    assert_eq!(
        hive.var("capabilities"),
        None,
        "unused fields are not variables"
    );
}

#[test]
fn worker_kinds_come_from_the_directory() {
    assert_eq!(WorkerKind::ALL, [WorkerKind::LlamaCpp, WorkerKind::Vllm]);
    assert_eq!(WorkerKind::Vllm.name(), "vllm");
    assert_eq!(WorkerKind::LlamaCpp.to_string(), "llamacpp");
    assert_eq!(WorkerKind::from_str("vllm"), Ok(WorkerKind::Vllm));
    let err = WorkerKind::from_str("tgi").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown kind `tgi`; expected one of: llamacpp, vllm"
    );
    for kind in WorkerKind::ALL {
        assert_eq!(kind.name().parse::<WorkerKind>(), Ok(*kind));
    }
}

#[test]
fn each_kind_has_its_own_spec() {
    let vllm = worker(WorkerKind::Vllm);
    let llama = worker(WorkerKind::LlamaCpp);
    assert_eq!(vllm.render(&vllm.spec().command.binary).unwrap(), "vllm");
    assert_eq!(
        llama.render(&llama.spec().command.binary).unwrap(),
        "llama-server"
    );
    let args: Vec<String> = vllm
        .spec()
        .command
        .args
        .iter()
        .map(|a| vllm.render(a).unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "serve",
            "llama-3-8b",
            "--port",
            "8080",
            "--device",
            "cuda:0"
        ]
    );
    assert_eq!(vllm.spec().restart.policy, RestartPolicy::OnFailure);
    assert_eq!(llama.spec().restart.policy, RestartPolicy::Never);
    assert_eq!(vllm.spec().stop.len(), 2);
    assert_eq!(
        vllm.render(vllm.spec().instance.as_ref().unwrap()).unwrap(),
        "8080"
    );
}

#[test]
fn dependencies_are_embedded_specs() {
    let vllm = worker(WorkerKind::Vllm);
    let dep = &vllm.spec().depends_on[0];
    assert_eq!(dep.wait, WaitFor::Healthy);
    assert_eq!(dep.spec.name, "queen-rbee");
    assert_eq!(dep.spec.file, "../specs/queen.yaml");
    assert!(dep.spec.readiness.is_some());
}

#[test]
fn template_positions_point_into_the_spec_file() {
    let queen = QueenHandle { port: 1 };
    let args = &queen.spec().command.args;
    // `args: ["--port", "{port}"]` is on line 16 of specs/queen.yaml.
    assert_eq!(args[1].pos.line, 16);
}

mod generics_and_visibility {
    use lifecycle_core::Lifecycle;

    /// A generic handle: the impl carries the generics.
    #[derive(Lifecycle)]
    #[lifecycle(spec = "../specs/queen.yaml")]
    pub(crate) struct Generic<P: std::fmt::Display> {
        pub(crate) port: P,
    }

    #[test]
    fn generic_fields_render() {
        let handle = Generic { port: "7900" };
        assert_eq!(handle.var("port").as_deref(), Some("7900"));
    }
}
