//! The decoding toolkit: typed reads from the spanned tree that report every problem and go on.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::node::{Node, pos_of};
use crate::{
    Diagnostic, DurationError, MAX_DURATION, Pos, Rule, Template, TemplateError, parse_duration,
};

/// A check that needs every variable's value (or knowledge that a field supplies it), so it
/// runs after the whole file is read.
#[derive(Debug)]
pub(crate) enum Deferred {
    HttpUrl,
    TcpAddr,
    Host,
    User,
    Port,
}

/// Reads one spec file's tree, collecting diagnostics instead of stopping at the first.
pub(crate) struct Decoder<'f> {
    pub(crate) file: &'f str,
    /// The file's text: numbers are read back as written (`3.10` stays `3.10`).
    source: &'f str,
    pub(crate) errors: Vec<Diagnostic>,
    /// Every template read, with its field path: each `{var}` is checked once all are known.
    pub(crate) templates: Vec<(String, Template)>,
    /// Value checks on templates, run once variables are known.
    pub(crate) deferred: Vec<(Deferred, String, Template)>,
}

/// A mapping whose keys were checked against the allowed set.
pub(crate) struct Mapping<'n> {
    entries: Vec<(&'n str, Pos, &'n Spanned<Node>)>,
    pub(crate) pos: Pos,
    pub(crate) path: String,
}

/// `parent.key`, or `key` at the top.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, c)| d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Edit distance counting an adjacent swap as one edit (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * width + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (d[(i - 1) * width + j] + 1)
                    .min(d[i * width + j - 1] + 1)
                    .min(d[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    d[a.len() * width + b.len()]
}

impl<'n> Mapping<'n> {
    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Spanned<Node>> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    /// The value of `key`; its absence is reported.
    pub(crate) fn require(
        &self,
        dec: &mut Decoder<'_>,
        key: &str,
        expected: &str,
    ) -> Option<&'n Spanned<Node>> {
        let value = self.get(key);
        if value.is_none() {
            dec.report(
                Diagnostic::new(
                    Rule::MissingKey,
                    dec.file,
                    self.pos,
                    self.field(key),
                    expected,
                )
                .hint(format!("add `{key}:`")),
            );
        }
        value
    }

    /// The field path of `key` in this mapping.
    pub(crate) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The entries (key, key position, value), in file order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'n str, Pos, &'n Spanned<Node>)> + '_ {
        self.entries.iter().copied()
    }

    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl<'f> Decoder<'f> {
    pub(crate) fn new(file: &'f str, source: &'f str) -> Decoder<'f> {
        Decoder {
            file,
            source,
            errors: Vec::new(),
            templates: Vec::new(),
            deferred: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    /// A diagnostic in this file.
    pub(crate) fn diag(
        &self,
        rule: Rule,
        pos: Pos,
        field: &str,
        expected: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::new(rule, self.file, pos, field, expected)
    }

    /// A scalar's text: strings as they are; numbers and booleans as written in the file (YAML
    /// reads `3.10` as the number 3.1, but a version or an argument means the digits).
    pub(crate) fn scalar_text(&self, node: &Spanned<Node>) -> Option<String> {
        let canonical = node.value.scalar_text()?;
        if matches!(node.value, Node::Str(_)) {
            return Some(canonical);
        }
        let span = node.referenced.span();
        let written = span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(start, len)| {
                self.source
                    .get(usize::try_from(start).ok()?..usize::try_from(start + len).ok()?)
            })
            .map(str::trim)
            .filter(|w| !w.is_empty() && !w.starts_with(['*', '&', '!']));
        Some(written.map(str::to_owned).unwrap_or(canonical))
    }

    pub(crate) fn wrong_type(&mut self, node: &Spanned<Node>, field: &str, expected: &str) {
        let mut d = self.diag(Rule::WrongType, pos_of(node), field, expected);
        d.found = Some(node.value.found());
        self.report(d);
    }

    /// A mapping whose keys are all in `keys`; unknown and repeated keys are reported (and
    /// skipped). `~` (an empty value) reads as an empty mapping.
    pub(crate) fn mapping<'n>(
        &mut self,
        node: &'n Spanned<Node>,
        field: &str,
        keys: &[&str],
    ) -> Option<Mapping<'n>> {
        self.mapping_of(
            node,
            field,
            Some(keys),
            &format!("a mapping with keys {}", keys.join(", ")),
        )
    }

    /// A mapping with keys of the user's choosing (`vars:`, `env:`); repeated keys are reported.
    pub(crate) fn free_mapping<'n>(
        &mut self,
        node: &'n Spanned<Node>,
        field: &str,
        expected: &str,
    ) -> Option<Mapping<'n>> {
        self.mapping_of(node, field, None, expected)
    }

    fn mapping_of<'n>(
        &mut self,
        node: &'n Spanned<Node>,
        field: &str,
        allowed: Option<&[&str]>,
        expected: &str,
    ) -> Option<Mapping<'n>> {
        let raw = match &node.value {
            Node::Map(entries) => entries.as_slice(),
            Node::Null => &[],
            _ => {
                self.wrong_type(node, field, expected);
                return None;
            }
        };
        let mut entries: Vec<(&'n str, Pos, &'n Spanned<Node>)> = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let name = key.value.as_str();
            if let Some(keys) = allowed.filter(|keys| !keys.contains(&name)) {
                let mut d = self
                    .diag(
                        Rule::UnknownKey,
                        pos_of(key),
                        &join(field, name),
                        format!("one of: {}", keys.join(", ")),
                    )
                    .found(name);
                if let Some(near) = closest(name, keys.iter().copied()) {
                    d = d.hint(format!("did you mean `{near}`?"));
                }
                self.report(d);
            } else if let Some(&(_, first, _)) = entries.iter().find(|(k, _, _)| *k == name) {
                let d = self
                    .diag(
                        Rule::DuplicateKey,
                        pos_of(key),
                        &join(field, name),
                        "each key once",
                    )
                    .found_description(format!("a second `{name}`"))
                    .hint(format!("the first is at line {}; remove one", first.line));
                self.report(d);
            } else {
                entries.push((name, pos_of(key), value));
            }
        }
        Some(Mapping {
            entries,
            pos: pos_of(node),
            path: field.to_owned(),
        })
    }

    /// A list.
    pub(crate) fn list<'n>(
        &mut self,
        node: &'n Spanned<Node>,
        field: &str,
        expected: &str,
    ) -> Option<&'n [Spanned<Node>]> {
        match &node.value {
            Node::Seq(items) => Some(items),
            Node::Null => Some(&[]),
            _ => {
                self.wrong_type(node, field, expected);
                None
            }
        }
    }

    /// A scalar as text (numbers and booleans as written).
    pub(crate) fn text(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        expected: &str,
    ) -> Option<String> {
        let text = self.scalar_text(node);
        if text.is_none() {
            self.wrong_type(node, field, expected);
        }
        text
    }

    /// A non-empty scalar as text.
    pub(crate) fn non_empty_text(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        expected: &str,
    ) -> Option<String> {
        let text = self.text(node, field, expected)?;
        if text.trim().is_empty() {
            let d = self
                .diag(Rule::Empty, pos_of(node), field, expected)
                .found_description("an empty string");
            self.report(d);
            return None;
        }
        Some(text)
    }

    /// A `{var}` template; recorded so that its variables are checked.
    pub(crate) fn template(&mut self, node: &Spanned<Node>, field: &str) -> Option<Template> {
        let text = self.text(node, field, "a string (with optional `{var}`s)")?;
        let pos = pos_of(node);
        // Values become arguments, environment and record lines: the run time refuses control
        // characters in them, so the compile time does too.
        if text.chars().any(char::is_control) {
            let d = self
                .diag(
                    Rule::Template,
                    pos,
                    field,
                    "a value without control characters (tabs, newlines)",
                )
                .found(text.escape_debug().to_string());
            self.report(d);
            return None;
        }
        match Template::parse_at(&text, pos) {
            Ok(template) => {
                self.templates.push((field.to_owned(), template.clone()));
                Some(template)
            }
            Err(err) => {
                let hint = match err {
                    TemplateError::Unclosed(_) | TemplateError::Unopened(_) => {
                        "write `{{` and `}}` for literal braces".to_owned()
                    }
                    TemplateError::BadName(_) => {
                        "variable names are letters, digits and `_`, like Rust fields".to_owned()
                    }
                };
                let d = self
                    .diag(Rule::Template, pos, field, format!("a template, but {err}"))
                    .found(text)
                    .hint(hint);
                self.report(d);
                None
            }
        }
    }

    /// A non-empty template.
    pub(crate) fn non_empty_template(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
    ) -> Option<Template> {
        let template = self.template(node, field)?;
        if template.source.trim().is_empty() {
            let d = self
                .diag(Rule::Empty, template.pos, field, "a non-empty value")
                .found_description("an empty string");
            self.report(d);
            return None;
        }
        Some(template)
    }

    /// A template whose value is checked once variables are known.
    pub(crate) fn checked_template(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        check: Deferred,
    ) -> Option<Template> {
        let template = self.template(node, field)?;
        self.deferred
            .push((check, field.to_owned(), template.clone()));
        Some(template)
    }

    /// A duration with a unit.
    pub(crate) fn duration(&mut self, node: &Spanned<Node>, field: &str) -> Option<Duration> {
        let pos = pos_of(node);
        let expected = "a duration with a unit (ms, s, m, h), such as `500ms` or `5s`";
        let text = match &node.value {
            Node::Str(s) => s.clone(),
            Node::Int(n) => {
                let d = self
                    .diag(Rule::Duration, pos, field, expected)
                    .found(n.to_string())
                    .hint(format!("durations carry a unit: write `{n}s` or `{n}ms`"));
                self.report(d);
                return None;
            }
            _ => {
                self.wrong_type(node, field, expected);
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(err) => {
                let (rule, hint) = match &err {
                    DurationError::TooLong => (
                        Rule::DurationRange,
                        "no wait in a spec may exceed 24h".to_owned(),
                    ),
                    DurationError::Fraction => (
                        Rule::Duration,
                        "use a smaller unit: `1500ms`, not `1.5s`".to_owned(),
                    ),
                    DurationError::UnknownUnit(u) => (
                        Rule::Duration,
                        format!("`{u}` is not a unit; use ms, s, m or h"),
                    ),
                    _ => (
                        Rule::Duration,
                        "write `<number><unit>`, for example `250ms`, `5s`, `1m30s`".to_owned(),
                    ),
                };
                let expected = if rule == Rule::DurationRange {
                    format!(
                        "a duration no longer than {}",
                        crate::DisplayDuration(MAX_DURATION)
                    )
                } else {
                    expected.to_owned()
                };
                let d = self.diag(rule, pos, field, expected).found(text).hint(hint);
                self.report(d);
                None
            }
        }
    }

    /// A duration that must be greater than zero.
    pub(crate) fn positive_duration(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
    ) -> Option<Duration> {
        let duration = self.duration(node, field)?;
        if duration.is_zero() {
            let d = self
                .diag(
                    Rule::DurationRange,
                    pos_of(node),
                    field,
                    "a duration greater than zero",
                )
                .found("0s");
            self.report(d);
            return None;
        }
        Some(duration)
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        min: i128,
        max: i128,
    ) -> Option<i128> {
        let expected = format!("an integer from {min} to {max}");
        let value = match &node.value {
            Node::Int(n) => *n,
            Node::Str(s) if s.trim().parse::<i128>().is_ok() => s.trim().parse::<i128>().ok()?,
            _ => {
                self.wrong_type(node, field, &expected);
                return None;
            }
        };
        if value < min || value > max {
            let d = self
                .diag(Rule::Number, pos_of(node), field, expected)
                .found(value.to_string());
            self.report(d);
            return None;
        }
        Some(value)
    }

    /// A number (integer or decimal).
    pub(crate) fn number(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        expected: &str,
    ) -> Option<f64> {
        match &node.value {
            Node::Int(n) => Some(*n as f64),
            Node::Float(x) => Some(*x),
            _ => {
                self.wrong_type(node, field, expected);
                None
            }
        }
    }

    /// One of `choices`, parsed by `parse`.
    pub(crate) fn choice<T>(
        &mut self,
        node: &Spanned<Node>,
        field: &str,
        choices: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let expected = format!("one of: {}", choices.join(", "));
        let text = self.text(node, field, &expected)?;
        let parsed = parse(&text);
        if parsed.is_none() {
            let mut d = self
                .diag(Rule::Choice, pos_of(node), field, expected)
                .found(text.clone());
            if let Some(near) = closest(&text, choices.iter().copied()) {
                d = d.hint(format!("did you mean `{near}`?"));
            }
            self.report(d);
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        let keys = ["readiness", "restart", "stop"];
        assert_eq!(closest("readines", keys), Some("readiness"));
        assert_eq!(closest("stpo", keys), Some("stop"));
        assert_eq!(closest("zzzzzzz", keys), None);
    }
}
