//! Compile-fail cases, one or more per validation rule, and compile-pass cases for every shipped
//! spec. `TRYBUILD=overwrite cargo test -p lifecycle-tests --test ui` refreshes the `.stderr`
//! files after a deliberate message change; review the diff.

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The cases name specs by paths relative to their crate (`specs/queen.yaml`,
/// `ui/specs/…`). trybuild builds them in a crate of its own under the target directory, so
/// that crate gets links to the workspace's `specs/` and to `tests/ui/` (askama links its
/// templates the same way).
fn link_specs_into_trybuild_crate() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_relative() {
                workspace.join(t)
            } else {
                t
            }
        })
        .unwrap_or_else(|| workspace.join("target"));
    let project = target.join("tests/trybuild/lifecycle-tests");
    std::fs::create_dir_all(&project).unwrap();
    for (link, to) in [
        ("specs", workspace.join("specs")),
        ("ui", manifest_dir.join("ui")),
    ] {
        let link = project.join(link);
        if std::fs::read_link(&link).ok().as_deref() != Some(to.as_path()) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&to, &link).unwrap();
        }
    }
}

#[test]
fn ui() {
    link_specs_into_trybuild_crate();
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
