//! Parsing never panics, whatever the bytes: arbitrary input, and shipped specs mutated the way
//! hands and editors break YAML. The default run takes a few seconds; set `PROPTEST_CASES` for a
//! longer one (README, "Fuzzing the parser").

use std::path::PathBuf;

use lifecycle_spec::parse_spec;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4000)
}

fn shipped_specs() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs");
    ["queen.yaml", "hive.yaml", "workers/vllm.yaml", "workers/llamacpp.yaml"]
        .iter()
        .map(|f| {
            let path = root.join(f);
            (path.to_string_lossy().into_owned(), std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// One edit of a text.
#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Characters that mean something to YAML, templates, durations and our grammars.
    let piece = prop::sample::select(vec![
        "{", "}", "[", "]", ":", ",", "-", "#", "&a", "*a", "!", "|", ">", "'", "\"", "\n", " ", "\t", "%", "@",
        "{port}", "{{", "}}", "0", "99999999999999999999", "ms", "h", "SIGKILL", "~", "null", "\u{feff}", "é",
        "<<: *a", "? ", "---\n", "...\n", "\\", "\0",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        (any::<usize>(), prop::collection::vec(piece, 1..4)).prop_map(|(at, s)| Edit::Insert(at, s.concat())),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| i % (chars.len() + 1);
    match edit {
        Edit::Insert(i, s) => {
            let i = at(*i);
            chars[..i].iter().collect::<String>() + s + &chars[i..].iter().collect::<String>()
        }
        Edit::Delete(i, n) => {
            let i = at(*i);
            let end = (i + n).min(chars.len());
            chars[..i].iter().chain(&chars[end..]).collect()
        }
        Edit::DuplicateLine(_) | Edit::SwapLines(..) if text.lines().next().is_none() => text.to_owned(),
        Edit::DuplicateLine(i) => {
            let mut lines: Vec<&str> = text.lines().collect();
            let i = i % lines.len();
            lines.insert(i, lines[i]);
            lines.join("\n")
        }
        Edit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.lines().collect();
            let n = lines.len();
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
        Edit::Truncate(i) => chars[..at(*i)].iter().collect(),
    }
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
