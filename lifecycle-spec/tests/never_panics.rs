//! Parsing never panics, whatever the bytes: arbitrary input, and shipped specs mutated the way
//! hands and editors break YAML. The default run takes a few seconds; set `PROPTEST_CASES` for a
//! longer one (README, "Fuzzing the parser").

// Test helpers fail loudly: a panic is a test failure with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use lifecycle_spec::parse_spec;
use proptest::prelude::*;

#[path = "support/mutation.rs"]
mod mutation;
use mutation::{apply, edit};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000)
}

fn shipped_specs() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs");
    [
        "queen.yaml",
        "hive.yaml",
        "workers/vllm.yaml",
        "workers/llamacpp.yaml",
    ]
    .iter()
    .map(|f| {
        let path = root.join(f);
        (
            path.to_string_lossy().into_owned(),
            std::fs::read_to_string(&path).unwrap(),
        )
    })
    .collect()
}

const FIELDS: &[&str] = &["port", "host", "model", "device"];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_spec("specs/fuzz.yaml", &text, FIELDS);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_spec("specs/fuzz.yaml", &text, FIELDS);
    }

    #[test]
    fn mutated_specs_never_panic(which in 0usize..4, edits in prop::collection::vec(edit(), 1..6)) {
        let specs = shipped_specs();
        let (path, text) = &specs[which];
        let mutated = edits.iter().fold(text.clone(), |t, e| apply(&t, e));
        if let Err(errors) = parse_spec(path, &mutated, FIELDS) {
            // Every diagnostic points somewhere in the file (or at its start).
            let lines = mutated.lines().count() as u32 + 1;
            for d in errors.iter() {
                prop_assert!(d.pos.line <= lines, "{d} is past the end ({lines} lines)");
                prop_assert!(!d.expected.is_empty());
            }
        }
    }
}
