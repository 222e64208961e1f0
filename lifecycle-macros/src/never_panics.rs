//! The derive never panics and always emits valid Rust, whatever the spec files hold: shipped
//! specs mutated at random, for a single spec and for a kind directory.

use std::path::Path;

use proptest::prelude::*;
use syn::DeriveInput;

use crate::expand::derive_in;

#[path = "../../lifecycle-spec/tests/support/mutation.rs"]
mod mutation;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

fn shipped(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../specs")
            .join(file),
    )
    .unwrap()
}

/// Expands `input` against `root`; the output must parse as Rust items, and carry a
/// `compile_error!` exactly when the spec is invalid.
fn expand_checked(input: &DeriveInput, root: &Path, valid: bool) -> Result<(), TestCaseError> {
    let tokens = derive_in(input, Some(root));
    let text = tokens.to_string();
    prop_assert!(
        syn::parse2::<syn::File>(tokens).is_ok(),
        "the derive emitted invalid Rust:\n{text}"
    );
    prop_assert_eq!(text.contains("compile_error"), !valid, "{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_spec_file(edits in prop::collection::vec(mutation::edit(), 0..5)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("specs")).unwrap();
        let text = edits.iter().fold(shipped("queen.yaml"), |t, e| mutation::apply(&t, e));
        std::fs::write(dir.path().join("specs/queen.yaml"), &text).unwrap();
        let valid = lifecycle_spec::parse_spec("specs/queen.yaml", &text, &["port"]).is_ok();
        let input: DeriveInput = syn::parse_quote! {
            #[lifecycle(spec = "specs/queen.yaml")]
            struct QueenHandle { port: u16 }
        };
        expand_checked(&input, dir.path(), valid)?;
    }

    #[test]
    fn mutated_kind_directory(edits in prop::collection::vec(mutation::edit(), 0..5)) {
        let dir = tempfile::tempdir().unwrap();
        let workers = dir.path().join("specs/workers");
        std::fs::create_dir_all(&workers).unwrap();
        std::fs::write(dir.path().join("specs/queen.yaml"), shipped("queen.yaml")).unwrap();
        std::fs::write(workers.join("llamacpp.yaml"), shipped("workers/llamacpp.yaml")).unwrap();
        let text = edits.iter().fold(shipped("workers/vllm.yaml"), |t, e| mutation::apply(&t, e));
        std::fs::write(workers.join("vllm.yaml"), &text).unwrap();
        let fields = ["kind", "port", "model", "device"];
        let vllm = lifecycle_spec::load_spec(&workers.join("vllm.yaml"), "specs/workers/vllm.yaml", &fields).result;
        // A mutation can also make vllm.yaml collide with llamacpp.yaml (same name or variant).
        let collides = vllm.as_ref().is_ok_and(|s| s.name == "llamacpp" || s.variant == "LlamaCpp");
        let input: DeriveInput = syn::parse_quote! {
            struct WorkerHandle {
                #[lifecycle(spec_dir = "specs/workers")]
                kind: WorkerKind,
                port: u16,
                model: String,
                device: String,
            }
        };
        expand_checked(&input, dir.path(), vllm.is_ok() && !collides)?;
    }
}
