//! The checks that need every variable: each `{var}` is known, and each value that can be
//! known at compile time (a literal, or filled from `vars:` defaults) passes its grammar.

use super::decoder::{Decoder, Deferred, closest};
use crate::{
    Rule, Template, VarDefault, check_host, check_user, parse_http_url, parse_port, parse_tcp_addr,
};

impl Decoder<'_> {
    /// `fields` are the variables given from outside (handle fields, or a dependent's bindings);
    /// `defaults` are the file's `vars:`.
    pub(crate) fn check_vars(&mut self, fields: &[&str], defaults: &[VarDefault]) {
        let known = |name: &str| fields.contains(&name) || defaults.iter().any(|v| v.name == name);
        let templates = std::mem::take(&mut self.templates);
        for (field, template) in &templates {
            for var in template.vars().filter(|v| !known(v)) {
                let candidates = fields
                    .iter()
                    .copied()
                    .chain(defaults.iter().map(|v| v.name.as_ref()));
                let hint = match closest(var, candidates) {
                    Some(near) => format!("did you mean `{{{near}}}`?"),
                    None => format!(
                        "add a field `{var}` to the handle, or `{var}: <default>` under `vars:`"
                    ),
                };
                let mut expected =
                    String::from("a variable that is a field of the handle or in `vars:`");
                if !fields.is_empty() {
                    expected.push_str(&format!(" (fields: {})", fields.join(", ")));
                }
                let d = self
                    .diag(Rule::UnknownVar, template.pos, field, expected)
                    .found(format!("{{{var}}}"))
                    .hint(hint);
                self.report(d);
            }
        }
        self.templates = templates;

        let deferred = std::mem::take(&mut self.deferred);
        for (check, field, template) in &deferred {
            // A value with an unknown variable is unknown: that is reported above. Every other
            // value is checked, whatever is wrong elsewhere.
            if template.vars().any(|v| !known(v)) {
                continue;
            }
            let from_outside = template.vars().any(|v| fields.contains(&v));
            // Grammar checks on values a handle supplies run when the handle renders them.
            let placeholder = match check {
                Deferred::Host | Deferred::User | Deferred::Port if from_outside => continue,
                // A URL or address that starts with a field is known only at run time.
                Deferred::HttpUrl | Deferred::TcpAddr
                    if template.source.starts_with('{') && from_outside =>
                {
                    continue;
                }
                _ => "1",
            };
            let value = render_known(template, fields, defaults, placeholder);
            let (rule, expected, problem) = match check {
                Deferred::HttpUrl => (
                    Rule::Url,
                    "an http:// or https:// URL with a host",
                    parse_http_url(&value).err(),
                ),
                Deferred::TcpAddr => (
                    Rule::TcpAddress,
                    "a `host:port` address",
                    parse_tcp_addr(&value).err(),
                ),
                Deferred::Host => (
                    Rule::SshHost,
                    "a hostname or IP address",
                    check_host(&value).err(),
                ),
                Deferred::User => (Rule::SshUser, "a user name", check_user(&value).err()),
                Deferred::Port => (Rule::Port, "a port in 1-65535", parse_port(&value).err()),
            };
            if let Some(problem) = problem {
                let found = if template.is_literal() {
                    value.clone()
                } else {
                    format!("{} = {value}", template.source)
                };
                let d = self
                    .diag(rule, template.pos, field, expected)
                    .found(found)
                    .hint(problem.to_string());
                self.report(d);
            }
        }
        self.deferred = deferred;
    }
}

/// Renders with `vars:` defaults, and `placeholder` for values supplied from outside.
fn render_known(
    template: &Template,
    fields: &[&str],
    defaults: &[VarDefault],
    placeholder: &str,
) -> String {
    template
        .render(|name| {
            if fields.contains(&name) {
                Some(placeholder.to_owned())
            } else {
                defaults
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| v.value.to_string())
            }
        })
        .unwrap_or_default()
}
