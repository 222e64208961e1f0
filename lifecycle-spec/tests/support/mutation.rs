//! Mutations of spec text, the way hands and editors break YAML. Shared by the parser's and the
//! derive's property tests (included by path).

use proptest::prelude::*;

/// One edit of a text.
#[derive(Clone, Debug)]
pub(crate) enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

pub(crate) fn edit() -> impl Strategy<Value = Edit> {
    // Characters that mean something to YAML, templates, durations and our grammars.
    let piece = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "-",
        "#",
        "&a",
        "*a",
        "!",
        "|",
        ">",
        "'",
        "\"",
        "\n",
        " ",
        "\t",
        "%",
        "@",
        "{port}",
        "{{",
        "}}",
        "0",
        "99999999999999999999",
        "ms",
        "h",
        "SIGKILL",
        "~",
        "null",
        "\u{feff}",
        "é",
        "<<: *a",
        "? ",
        "---\n",
        "...\n",
        "\\",
        "\0",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        (any::<usize>(), prop::collection::vec(piece, 1..4))
            .prop_map(|(at, s)| Edit::Insert(at, s.concat())),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

pub(crate) fn apply(text: &str, edit: &Edit) -> String {
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
        Edit::DuplicateLine(_) | Edit::SwapLines(..) if text.lines().next().is_none() => {
            text.to_owned()
        }
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
