//! Adding a spec file to a kind directory adds a variant at the next `cargo build`, with no
//! other edit; editing or removing one is seen too. A real crate is built with cargo, against
//! this workspace's crates, in a target directory of its own that later runs reuse.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Each build takes far longer than the file system's timestamp granularity, so a file
    // written after a build is always newer than that build's outputs.
    std::fs::write(path, text).unwrap();
}

fn worker(name: &str, binary: &str) -> String {
    format!("command: {{ binary: {binary}, args: [\"--port\", \"{{port}}\"] }}\nname: {name}\n")
}

/// Builds and runs the fixture; returns its output lines.
fn run(crate_dir: &Path) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--quiet", "--offline"])
        .current_dir(crate_dir)
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target/kind-dir-fixture"),
        )
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "fixture build failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

#[test]
fn adding_a_spec_file_adds_a_variant() {
    let dir = tempfile::tempdir().unwrap();
    let krate = dir.path();
    let ws = workspace();
    write(
        &krate.join("Cargo.toml"),
        &format!(
            r#"[package]
name = "kind-dir-fixture"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
lifecycle-core = {{ path = "{core}" }}

[build-dependencies]
lifecycle-spec = {{ path = "{spec}", default-features = false }}

[workspace]
"#,
            core = ws.join("lifecycle-core").display(),
            spec = ws.join("lifecycle-spec").display(),
        ),
    );
    // The workspace's lock file: the same dependency versions, no registry look-up.
    std::fs::copy(ws.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    write(
        &krate.join("build.rs"),
        "fn main() {\n    lifecycle_spec::watch_specs(\"specs\");\n}\n",
    );
    write(
        &krate.join("src/main.rs"),
        r#"use lifecycle_core::Lifecycle;

#[derive(Lifecycle)]
struct Worker {
    #[lifecycle(spec_dir = "specs/workers")]
    kind: Kind,
    port: u16,
}

/// Outside the watched directory: only the derive's file tracking rebuilds on its edits.
#[derive(Lifecycle)]
#[lifecycle(spec = "other/single.yaml")]
struct Single {}

fn main() {
    for kind in Kind::ALL {
        let w = Worker { kind: *kind, port: 1 };
        println!("{kind} {:?} {}", kind, w.spec().command.binary);
    }
    println!("single {}", Single {}.spec().command.binary);
}
"#,
    );
    write(
        &krate.join("specs/workers/alpha.yaml"),
        &worker("alpha", "a"),
    );
    write(&krate.join("specs/workers/beta.yaml"), &worker("beta", "b"));
    write(
        &krate.join("other/single.yaml"),
        "command: { binary: one }\n",
    );
    assert_eq!(run(krate), ["alpha Alpha a", "beta Beta b", "single one"]);

    // A new file is a new variant, with nothing else edited.
    write(
        &krate.join("specs/workers/gamma-ray.yaml"),
        &worker("gamma-ray", "g"),
    );
    assert_eq!(
        run(krate),
        [
            "alpha Alpha a",
            "beta Beta b",
            "gamma-ray GammaRay g",
            "single one"
        ]
    );

    // An edited spec is recompiled.
    write(
        &krate.join("specs/workers/beta.yaml"),
        &worker("beta", "b2"),
    );
    write(
        &krate.join("other/single.yaml"),
        "command: { binary: two }\n",
    );
    assert_eq!(
        run(krate),
        [
            "alpha Alpha a",
            "beta Beta b2",
            "gamma-ray GammaRay g",
            "single two"
        ]
    );

    // A removed file is a removed variant.
    std::fs::remove_file(krate.join("specs/workers/alpha.yaml")).unwrap();
    assert_eq!(
        run(krate),
        ["beta Beta b2", "gamma-ray GammaRay g", "single two"]
    );
}
