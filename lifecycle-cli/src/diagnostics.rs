//! Spec diagnostics as a terminal shows them: the file, line and column, the offending line of
//! the file and a caret under the value, as rustc does.

use std::fmt::Write as _;
use std::path::Path;

use lifecycle_spec::{Diagnostic, Diagnostics, Rule};

/// Renders every diagnostic with the line it points at, reading each file (named as the
/// diagnostic names it, relative to the current directory as the user gave it) once.
///
/// ```
/// let diags = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q }\nstop: []\n", &[]).unwrap_err();
/// let text = lifecycle_cli::render_diagnostics(&diags, |_| Some("command: { binary: q }\nstop: []\n".into()));
/// assert!(text.contains("--> q.yaml:2:7"), "{text}");
/// assert!(text.contains("2 | stop: []"), "{text}");
/// assert!(text.contains("  |       ^\n"), "{text}");
/// ```
pub fn render_diagnostics(
    diagnostics: &Diagnostics,
    mut read: impl FnMut(&Path) -> Option<String>,
) -> String {
    let mut files: Vec<(String, Option<String>)> = Vec::new();
    let mut out = String::new();
    for d in diagnostics.iter() {
        let text = match files.iter().find(|(name, _)| *name == d.file) {
            Some((_, text)) => text.clone(),
            None => {
                let text = read(Path::new(&d.file));
                files.push((d.file.clone(), text.clone()));
                text
            }
        };
        render_one(&mut out, d, text.as_deref());
    }
    let n = diagnostics.len();
    let _ = write!(
        out,
        "error: {n} problem{} found",
        if n == 1 { "" } else { "s" }
    );
    out
}

fn render_one(out: &mut String, d: &Diagnostic, text: Option<&str>) {
    let _ = write!(out, "error[{}]: ", d.rule.code());
    if !d.field.is_empty() {
        let _ = write!(out, "{}: ", d.field);
    }
    let _ = write!(out, "expected {}", d.expected);
    if let Some(found) = &d.found {
        let _ = write!(out, ", found {found}");
    }
    out.push('\n');
    let number = d.pos.line.to_string();
    let pad = " ".repeat(number.len());
    if d.pos.is_unknown() {
        let _ = writeln!(out, " --> {}", d.file);
    } else {
        let _ = writeln!(out, "{pad}--> {}:{}:{}", d.file, d.pos.line, d.pos.column);
        let line = text.and_then(|t| t.lines().nth((d.pos.line as usize).saturating_sub(1)));
        if let Some(line) = line {
            let column = d.pos.column as usize;
            // The caret spans the value found, if it is on this line as written.
            let width = d
                .found_text()
                .filter(|_| matches!(d.found, Some(lifecycle_spec::Found::Value(_))))
                .map(str::chars)
                .map(Iterator::count)
                .filter(|w| line.chars().skip(column - 1).take(*w).count() == *w)
                .unwrap_or(1)
                .max(1);
            let lead: String = line
                .chars()
                .take(column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {line}");
            let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
        }
    }
    // A variable without a value is given on the command line, not as a handle's field.
    let var = (d.rule == Rule::UnknownVar)
        .then(|| d.found_text())
        .flatten()
        .map(|v| v.trim_start_matches('{').trim_end_matches('}'));
    if let Some(var) = var {
        let _ = writeln!(
            out,
            "{pad} = hint: give it a value with --set {var}=VALUE, or a default under `vars:`"
        );
    } else if let Some(hint) = &d.hint {
        let _ = writeln!(out, "{pad} = hint: {hint}");
    }
    out.push('\n');
}
