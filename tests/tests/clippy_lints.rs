//! The derive's output under the strictest lints a user may turn on: every form of handle (a
//! spec file, a kind directory, dependencies, generics, a raw identifier, a public and a
//! private handle) in a crate that denies rustc's and clippy's pedantic and nursery groups.
//! CI runs `cargo clippy --workspace --all-targets -- -D warnings`, which compiles this file
//! with those lints (askama does the same with its `testing/tests/clippy_lints.rs`); the test
//! below runs it as code.

#![deny(
    warnings,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    trivial_casts,
    trivial_numeric_casts,
    clippy::all,
    clippy::pedantic,
    clippy::nursery
)]

use lifecycle_core::Lifecycle;

/// The queen: a spec file with no dependencies.
#[derive(Lifecycle)]
#[lifecycle(spec = "../specs/queen.yaml")]
pub struct QueenHandle {
    /// `{port}`.
    pub port: u16,
}

/// Workers: a kind directory whose specs depend on the queen.
#[derive(Lifecycle)]
pub struct WorkerHandle {
    /// The generated kind enum.
    #[lifecycle(spec_dir = "../specs/workers")]
    pub kind: WorkerKind,
    /// `{port}`.
    pub port: u16,
    /// `{model}`.
    pub model: String,
    /// `{device}`.
    pub device: String,
}

/// A private, generic handle with a raw identifier among its fields.
#[derive(Lifecycle)]
#[lifecycle(spec = "../specs/hive.yaml")]
struct HiveHandle<U: std::fmt::Display> {
    host: String,
    user: U,
    r#type: u8,
}

#[test]
fn every_form_runs() {
    assert_eq!(QueenHandle { port: 1 }.spec().name, "queen-rbee");
    for kind in WorkerKind::ALL {
        let worker = WorkerHandle {
            kind: *kind,
            port: 2,
            model: "m".to_owned(),
            device: "cpu".to_owned(),
        };
        assert_eq!(worker.spec().depends_on[0].spec.name, "queen-rbee");
        assert_eq!(worker.var("port").as_deref(), Some("2"));
    }
    let hive = HiveHandle {
        host: "127.0.0.1".to_owned(),
        user: "ops",
        r#type: 0,
    };
    assert_eq!(hive.var("user").as_deref(), Some("ops"));
    assert_eq!(hive.r#type, 0);
}
