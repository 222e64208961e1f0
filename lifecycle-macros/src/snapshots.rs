//! The derive's expansions of the shipped specs, pinned: `tests/expand/*.rs` hold them
//! pretty-printed, and a change to what the derive emits shows in the diff of those files.
//! `LIFECYCLE_BLESS=1 cargo test -p lifecycle-macros snapshots` rewrites them.

use std::path::{Path, PathBuf};

use syn::DeriveInput;

use crate::expand::derive_in;

fn workspace() -> PathBuf {
    let macros = Path::new(env!("CARGO_MANIFEST_DIR"));
    macros.parent().unwrap_or(macros).to_path_buf()
}

/// The expansion of `input` against the workspace's `specs/`, pretty-printed.
fn expand(input: &DeriveInput) -> String {
    let tokens = derive_in(input, Some(&workspace()));
    let file: syn::File = syn::parse2(tokens).expect("the derive emits items");
    let text = prettyplease::unparse(&file);
    // The same expansion on every machine: no path of this one.
    let here = workspace();
    assert!(
        !text.contains(here.to_str().expect("a UTF-8 path")),
        "the expansion names a path of this machine:\n{text}"
    );
    text
}

/// Compares `actual` with the pinned file `name`, or rewrites it when blessing.
fn pinned(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expand")
        .join(name);
    // Never in CI: there, a change that was not reviewed fails.
    if std::env::var_os("LIFECYCLE_BLESS").is_some() && std::env::var_os("CI").is_none() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "the expansion differs from {} from line {} on ({} lines pinned, {} now); \
             review the change and rerun with LIFECYCLE_BLESS=1 to pin it:\n{actual}",
            path.display(),
            first + 1,
            expected.lines().count(),
            actual.lines().count(),
        );
    }
}

#[test]
fn queen() {
    let input: DeriveInput = syn::parse_quote! {
        #[lifecycle(spec = "specs/queen.yaml")]
        pub struct QueenHandle {
            pub port: u16,
        }
    };
    pinned("queen.rs", &expand(&input));
}

#[test]
fn workers() {
    let input: DeriveInput = syn::parse_quote! {
        pub struct WorkerHandle {
            #[lifecycle(spec_dir = "specs/workers")]
            pub kind: WorkerKind,
            pub port: u16,
            pub model: String,
            pub device: String,
        }
    };
    pinned("workers.rs", &expand(&input));
}
