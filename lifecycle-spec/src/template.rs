//! `{var}` templates: the values in a spec that a handle's fields fill in.

use std::borrow::Cow;
use std::fmt;

use crate::{List, Pos, Str};

/// A spec value with `{var}` placeholders, parsed once (at compile time for derived handles).
///
/// `{name}` is replaced by the handle's field `name` (rendered with `Display`) or the spec's
/// `vars:` default; `{{` and `}}` stand for literal braces.
///
/// ```
/// use lifecycle_spec::Template;
/// let t = Template::parse("http://127.0.0.1:{port}/health").unwrap();
/// let url = t.render(|name| (name == "port").then(|| "7833".to_string())).unwrap();
/// assert_eq!(url, "http://127.0.0.1:7833/health");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Template {
    /// The text as written in the spec.
    pub source: Str,
    /// The text split into literal runs and variables.
    pub parts: List<Part>,
    /// Where the value is in its spec file.
    pub pos: Pos,
}

/// One run of a [`Template`].
///
/// ```
/// use lifecycle_spec::{Part, Template};
/// let t = Template::parse("--port={port}").unwrap();
/// assert_eq!(t.parts[1], Part::Var("port".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text (braces already unescaped).
    Lit(Str),
    /// A `{name}` placeholder.
    Var(Str),
}

/// Why a template text was refused.
///
/// ```
/// assert_eq!(lifecycle_spec::Template::parse("{a"), Err(lifecycle_spec::TemplateError::Unclosed(0)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` with no `}` after it.
    #[error("`{{` at byte {0} is never closed")]
    Unclosed(usize),
    /// A `}` that closes nothing.
    #[error("`}}` at byte {0} closes nothing")]
    Unopened(usize),
    /// `{}` or `{not a name}`.
    #[error("`{{{0}}}` is not a variable name")]
    BadName(String),
}

/// A variable had no value when the template was rendered.
///
/// ```
/// use lifecycle_spec::Template;
/// let err = Template::parse("{host}").unwrap().render(|_| None).unwrap_err();
/// assert_eq!(err.var, "host");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{{{var}}}` in `{template}` has no value")]
pub struct RenderError {
    /// The variable without a value.
    pub var: String,
    /// The template's text.
    pub template: String,
}

/// Whether `name` is a valid variable name: `[A-Za-z_][A-Za-z0-9_]*`, like a Rust field.
///
/// ```
/// assert!(lifecycle_spec::__private::is_var_name("ssh_port"));
/// assert!(!lifecycle_spec::__private::is_var_name("ssh-port"));
/// ```
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// A template that renders as `text` exactly: no `{var}`s, braces kept.
    ///
    /// ```
    /// let t = lifecycle_spec::Template::literal("{not a var}");
    /// assert_eq!(t.render(|_| None).unwrap(), "{not a var}");
    /// ```
    pub fn literal(text: impl Into<String>) -> Template {
        let text: String = text.into();
        Template {
            source: Cow::Owned(text.clone()),
            parts: Cow::Owned(vec![Part::Lit(Cow::Owned(text))]),
            pos: Pos::UNKNOWN,
        }
    }

    /// Parses `text`, at position unknown.
    ///
    /// ```
    /// assert!(lifecycle_spec::Template::parse("{port").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Template::parse_at(text, Pos::UNKNOWN)
    }

    /// Parses `text`, which sits at `pos` in its spec file.
    ///
    /// ```
    /// use lifecycle_spec::{Pos, Template};
    /// assert_eq!(Template::parse_at("x", Pos::new(2, 3)).unwrap().pos, Pos::new(2, 3));
    /// ```
    pub fn parse_at(text: &str, pos: Pos) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text.char_indices().peekable();
        while let Some((at, c)) = rest.next() {
            match c {
                '{' if rest.peek().map(|&(_, c)| c) == Some('{') => {
                    rest.next();
                    lit.push('{');
                }
                '}' if rest.peek().map(|&(_, c)| c) == Some('}') => {
                    rest.next();
                    lit.push('}');
                }
                '}' => return Err(TemplateError::Unopened(at)),
                '{' => {
                    let close = text[at..].find('}').ok_or(TemplateError::Unclosed(at))?;
                    let name = &text[at + 1..at + close];
                    if !is_var_name(name) {
                        return Err(TemplateError::BadName(name.to_owned()));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(Cow::Owned(std::mem::take(&mut lit))));
                    }
                    parts.push(Part::Var(Cow::Owned(name.to_owned())));
                    while rest.peek().is_some_and(|&(i, _)| i <= at + close) {
                        rest.next();
                    }
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(Cow::Owned(lit)));
        }
        Ok(Template {
            source: Cow::Owned(text.to_owned()),
            parts: Cow::Owned(parts),
            pos,
        })
    }

    /// The variables this template uses, in order, with repeats.
    ///
    /// ```
    /// let t = lifecycle_spec::Template::parse("{host}:{port}").unwrap();
    /// assert_eq!(t.vars().collect::<Vec<_>>(), ["host", "port"]);
    /// ```
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_ref()),
            Part::Lit(_) => None,
        })
    }

    /// Whether the template has no variables (its text is its value).
    ///
    /// ```
    /// assert!(lifecycle_spec::Template::parse("local").unwrap().is_literal());
    /// ```
    pub fn is_literal(&self) -> bool {
        self.vars().next().is_none()
    }

    /// Fills every variable with `lookup(name)`; the first variable without a value is an error.
    ///
    /// ```
    /// let t = lifecycle_spec::Template::parse("{a}-{{b}}").unwrap();
    /// assert_eq!(t.render(|_| Some("x".into())).unwrap(), "x-{b}");
    /// ```
    pub fn render(
        &self,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.source.len() + 8);
        for part in self.parts.iter() {
            match part {
                Part::Lit(text) => out.push_str(text),
                Part::Var(name) => match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        return Err(RenderError {
                            var: name.to_string(),
                            template: self.source.to_string(),
                        });
                    }
                },
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &'static str) -> Part {
        Part::Lit(Cow::Borrowed(s))
    }
    fn var(s: &'static str) -> Part {
        Part::Var(Cow::Borrowed(s))
    }

    #[test]
    fn splits_literals_and_vars() {
        let t = Template::parse("http://{host}:{port}/health").unwrap();
        assert_eq!(
            &*t.parts,
            [
                lit("http://"),
                var("host"),
                lit(":"),
                var("port"),
                lit("/health")
            ]
        );
        assert!(!t.is_literal());
    }

    #[test]
    fn escapes() {
        let t = Template::parse("{{x}} {y}}}").unwrap();
        assert_eq!(&*t.parts, [lit("{x} "), var("y"), lit("}")]);
    }

    #[test]
    fn non_ascii_text_survives() {
        let t = Template::parse("é{a}ü").unwrap();
        assert_eq!(t.render(|_| Some("ß".into())).unwrap(), "éßü");
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(Template::parse("a{b"), Err(TemplateError::Unclosed(1)));
        assert_eq!(Template::parse("a}b"), Err(TemplateError::Unopened(1)));
        assert_eq!(
            Template::parse("{}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(
            Template::parse("{a-b}"),
            Err(TemplateError::BadName("a-b".into()))
        );
        assert_eq!(
            Template::parse("{1a}"),
            Err(TemplateError::BadName("1a".into()))
        );
    }

    #[test]
    fn render_reports_the_missing_var() {
        let t = Template::parse("{a}{b}").unwrap();
        let err = t.render(|n| (n == "a").then(String::new)).unwrap_err();
        assert_eq!(err.var, "b");
    }
}
