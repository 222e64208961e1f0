//! A program that derives handles carries no YAML parser: specs are Rust constants by the time
//! it runs. The YAML crates are dependencies of the proc-macro only.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn no_yaml_crate_in_the_runtime_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "lifecycle-core",
            "-e",
            "normal,no-proc-macro",
            "-f",
            "{p} [{f}]",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(tree.contains("lifecycle-spec"), "{tree}");
    for yaml in ["serde-saphyr", "granit-parser", "serde_yaml", "yaml-rust"] {
        assert!(
            !tree.contains(yaml),
            "{yaml} is a runtime dependency:\n{tree}"
        );
    }
    let spec_line = tree.lines().find(|l| l.contains("lifecycle-spec")).unwrap();
    assert!(
        !spec_line.contains("yaml"),
        "lifecycle-spec is built with its yaml feature: {spec_line}"
    );
}
