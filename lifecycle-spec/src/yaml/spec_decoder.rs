//! The top level of a spec file: name, command, vars, and the sections each in its own decoder.

use std::borrow::Cow;

use serde_saphyr::Spanned;

use super::decoder::{Decoder, index, join};
use super::dependency_decoder::DependencyRef;
use super::keys::{COMMAND_KEYS, TOP_KEYS};
use super::node::{Node, pos_of};
use crate::{
    Command, EnvVar, InheritEnv, Location, Logs, Part, Pos, Restart, Rule, Spec, StopStep, Str,
    Template, VarDefault, is_spec_name, is_var_name,
};

/// A decoded spec whose dependencies are still paths. The dependencies are there even when the
/// spec is not (it has errors): each is still read and checked.
pub(crate) struct Draft {
    pub(crate) spec: Option<Spec>,
    pub(crate) dependencies: Vec<DependencyRef>,
}

/// Whether `variant` is a PascalCase Rust identifier.
pub(crate) fn is_variant_name(variant: &str) -> bool {
    variant.starts_with(|c: char| c.is_ascii_uppercase())
        && variant.chars().all(|c| c.is_ascii_alphanumeric())
        && variant != "Self"
        // The generated enum has an associated `ALL`.
        && variant != "ALL"
}

/// The default variant of a file stem: `llama-cpp` → `LlamaCpp`, `vllm` → `Vllm`.
pub(crate) fn variant_of(stem: &str) -> String {
    stem.split(['-', '_'])
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

impl Decoder<'_> {
    /// Decodes a whole file. `fields` are the variables supplied from outside the file (the
    /// handle's fields, or a dependent's bindings).
    pub(crate) fn spec(
        &mut self,
        root: &Spanned<Node>,
        stem: &str,
        fields: &[&str],
    ) -> Option<Draft> {
        let top = self.mapping(root, "", TOP_KEYS)?;

        let name = match top.get("name") {
            Some(node) => self.spec_name(node, "name"),
            None if is_spec_name(stem) => Some(stem.to_owned()),
            None => {
                let d = self
                    .diag(
                        Rule::Name,
                        Pos::new(1, 1),
                        "name",
                        "a name of [a-z0-9_-]+ (taken from the file name)",
                    )
                    .found(stem)
                    .hint("add `name:` or rename the file");
                self.report(d);
                None
            }
        };
        let variant = match top.get("variant") {
            Some(node) => self.variant(node),
            None => {
                let variant = variant_of(stem);
                if is_variant_name(&variant) {
                    Some(variant)
                } else {
                    let d = self
                        .diag(
                            Rule::Variant,
                            Pos::new(1, 1),
                            "variant",
                            "a PascalCase Rust identifier (from the file name)",
                        )
                        .found(variant)
                        .hint("add `variant:` with the Rust name of this spec");
                    self.report(d);
                    None
                }
            }
        };
        let instance = top
            .get("instance")
            .and_then(|n| self.non_empty_template(n, "instance"));
        let vars = top.get("vars").map(|n| self.vars(n)).unwrap_or_default();
        let command = top
            .require(
                self,
                "command",
                "a mapping with `binary:` (and optional `args:`, `env:`)",
            )
            .and_then(|n| self.command(n));
        let readiness = top.get("readiness").map(|n| self.readiness(n));
        let stop = match top.get("stop") {
            Some(node) => self.stop(node),
            None => Some(vec![StopStep::DEFAULT]),
        };
        let location = match top.get("location") {
            Some(node) => self.location(node),
            None => Some(Location::Local),
        };
        let restart = match top.get("restart") {
            Some(node) => self.restart(node),
            None => Some(Restart::NEVER),
        };
        let dependencies = top
            .get("depends_on")
            .map(|n| self.dependencies(n))
            .unwrap_or_default();
        let logs = match top.get("logs") {
            Some(node) => self.logs(node),
            None => Some(Logs::DEFAULT),
        };

        if let (Some(command), Some(Location::Ssh(ssh))) = (&command, &location)
            && ssh.install.is_some()
        {
            self.check_install_target(&command.binary);
        }
        self.check_vars(fields, &vars);
        let spec = || {
            Some(Spec {
                file: Cow::Owned(self.file.to_owned()),
                name: name?.into(),
                variant: variant?.into(),
                instance,
                command: command?,
                vars: vars.into(),
                readiness: match readiness {
                    Some(readiness) => Some(readiness?),
                    None => None,
                },
                stop: stop?.into(),
                location: location?,
                restart: restart?,
                depends_on: Cow::Owned(Vec::new()),
                logs: logs?,
            })
        };
        Some(Draft {
            spec: if self.errors.is_empty() { spec() } else { None },
            dependencies,
        })
    }

    fn spec_name(&mut self, node: &Spanned<Node>, field: &str) -> Option<String> {
        let expected = "a name of lowercase letters, digits, `_` and `-` (at most 64)";
        let name = self.text(node, field, expected)?;
        if !is_spec_name(&name) {
            let mut d = self
                .diag(Rule::Name, pos_of(node), field, expected)
                .found(name.clone());
            let lower = name.to_ascii_lowercase();
            if is_spec_name(&lower) {
                d = d.hint(format!("write `{lower}`"));
            }
            self.report(d);
            return None;
        }
        Some(name)
    }

    fn variant(&mut self, node: &Spanned<Node>) -> Option<String> {
        let expected = "a PascalCase Rust identifier such as `LlamaCpp`";
        let variant = self.text(node, "variant", expected)?;
        if !is_variant_name(&variant) {
            let d = self
                .diag(Rule::Variant, pos_of(node), "variant", expected)
                .found(variant);
            self.report(d);
            return None;
        }
        Some(variant)
    }

    fn vars(&mut self, node: &Spanned<Node>) -> Vec<VarDefault> {
        let Some(map) = self.free_mapping(
            node,
            "vars",
            "a mapping of variable names to default values",
        ) else {
            return Vec::new();
        };
        let mut vars = Vec::with_capacity(map.len());
        for (name, key_pos, value) in map.entries() {
            let field = join("vars", name);
            if !is_var_name(name) {
                let d = self
                    .diag(
                        Rule::VarName,
                        key_pos,
                        &field,
                        "a variable name of letters, digits and `_` (like a Rust field)",
                    )
                    .found(name);
                self.report(d);
                continue;
            }
            match self.scalar_text(value) {
                Some(text) => vars.push(VarDefault {
                    name: name.to_owned().into(),
                    value: text.into(),
                }),
                None => {
                    let d = self
                        .diag(
                            Rule::VarName,
                            pos_of(value),
                            &field,
                            "a default that is a string, number or boolean",
                        )
                        .found_description(value.value.found().to_string());
                    self.report(d);
                }
            }
        }
        vars
    }

    fn command(&mut self, node: &Spanned<Node>) -> Option<Command> {
        let map = self.mapping(node, "command", COMMAND_KEYS)?;
        let binary = map
            .require(
                self,
                "binary",
                "the program to run: an absolute path or a name",
            )
            .and_then(|n| self.non_empty_template(n, "command.binary"));
        let mut args = Vec::new();
        if let Some(list) = map
            .get("args")
            .and_then(|n| self.list(n, "command.args", "a list of arguments"))
        {
            for (i, item) in list.iter().enumerate() {
                if let Some(arg) = self.template(item, &index("command.args", i)) {
                    args.push(arg);
                }
            }
        }
        let mut env = Vec::new();
        if let Some(env_map) = map.get("env").and_then(|n| {
            self.free_mapping(n, "command.env", "a mapping of variable names to values")
        }) {
            for (name, key_pos, value) in env_map.entries() {
                let field = join("command.env", name);
                if !is_var_name(name) {
                    let d = self
                        .diag(
                            Rule::EnvName,
                            key_pos,
                            &field,
                            "an environment variable name of letters, digits and `_`",
                        )
                        .found(name);
                    self.report(d);
                    continue;
                }
                if let Some(value) = self.template(value, &field) {
                    env.push(EnvVar {
                        name: name.to_owned().into(),
                        value,
                    });
                }
            }
        }
        let inherit_env = match map.get("inherit_env") {
            Some(node) => self.inherit_env(node),
            None => Some(InheritEnv::All),
        };
        Some(Command {
            binary: binary?,
            args: args.into(),
            env: env.into(),
            inherit_env: inherit_env?,
        })
    }

    /// `true`, `false`, or a list of variable names.
    fn inherit_env(&mut self, node: &Spanned<Node>) -> Option<InheritEnv> {
        const FIELD: &str = "command.inherit_env";
        const EXPECTED: &str = "`true`, `false`, or a list of environment variable names";
        let items = match &node.value {
            Node::Bool(true) => return Some(InheritEnv::All),
            Node::Bool(false) => return Some(InheritEnv::Only(Vec::new().into())),
            Node::Seq(items) => items,
            _ => {
                self.wrong_type(node, FIELD, EXPECTED);
                return None;
            }
        };
        let mut names: Vec<Str> = Vec::with_capacity(items.len());
        let mut valid = true;
        for (i, item) in items.iter().enumerate() {
            let field = index(FIELD, i);
            let Some(name) = self.text(item, &field, "an environment variable name") else {
                valid = false;
                continue;
            };
            if !is_var_name(&name) {
                let d = self
                    .diag(
                        Rule::EnvName,
                        pos_of(item),
                        &field,
                        "an environment variable name of letters, digits and `_`",
                    )
                    .found(&name);
                self.report(d);
                valid = false;
            } else if names.iter().any(|n| *n == *name) {
                let d = self
                    .diag(Rule::DuplicateKey, pos_of(item), &field, "each name once")
                    .found(&name);
                self.report(d);
                valid = false;
            } else {
                names.push(name.into());
            }
        }
        valid.then(|| InheritEnv::Only(names.into()))
    }

    /// With `location.ssh.install`, the binary is where the file goes on the host: an absolute
    /// path. A binary that begins with a `{var}` is checked once rendered.
    fn check_install_target(&mut self, binary: &Template) {
        if let Some(Part::Lit(first)) = binary.parts.first()
            && !first.starts_with('/')
        {
            let d = self
                .diag(
                    Rule::InstallPath,
                    binary.pos,
                    "command.binary",
                    "an absolute path (`location.ssh.install` puts the file there)",
                )
                .found(binary.source.to_string())
                .hint("name the file on the remote host, e.g. `/opt/rbee/bin/rbee-hive`");
            self.report(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_from_stems() {
        assert_eq!(variant_of("vllm"), "Vllm");
        assert_eq!(variant_of("llama-cpp"), "LlamaCpp");
        assert_eq!(variant_of("tgi_server"), "TgiServer");
        assert!(!is_variant_name(&variant_of("9lives")));
    }
}
