//! `depends_on:`: the specs this one needs, read as paths here and loaded by the loader.

use serde_saphyr::Spanned;

use super::decoder::{Decoder, index, join};
use super::keys::DEPENDENCY_KEYS;
use super::node::{Node, pos_of};
use crate::{Pos, Rule, VarBinding, WaitFor, is_var_name};

/// A `depends_on` entry before its file is read.
pub(crate) struct DependencyRef {
    /// `depends_on[i]`.
    pub(crate) field: String,
    /// The spec path as written, relative to the file holding it.
    pub(crate) path: String,
    pub(crate) path_pos: Pos,
    pub(crate) wait: WaitFor,
    pub(crate) wait_pos: Pos,
    /// The bindings and the position of each key.
    pub(crate) vars: Vec<(VarBinding, Pos)>,
}

impl Decoder<'_> {
    pub(crate) fn dependencies(&mut self, node: &Spanned<Node>) -> Vec<DependencyRef> {
        let expected = "a list of spec paths or `{ spec: path, wait: healthy|started, vars: {…} }`";
        let Some(items) = self.list(node, "depends_on", expected) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.dependency(item, &index("depends_on", i)))
            .collect()
    }

    fn dependency(&mut self, node: &Spanned<Node>, field: &str) -> Option<DependencyRef> {
        if let Node::Str(_) = &node.value {
            let path = self.non_empty_text(node, field, "a spec path")?;
            return Some(DependencyRef {
                field: field.to_owned(),
                path,
                path_pos: pos_of(node),
                wait: WaitFor::Healthy,
                wait_pos: pos_of(node),
                vars: Vec::new(),
            });
        }
        let map = self.mapping(node, field, DEPENDENCY_KEYS)?;
        // The path, the wait and the bindings are each checked whatever is wrong with the others.
        let spec = map.require(
            self,
            "spec",
            "the dependency's spec file, relative to this one",
        );
        let path_field = join(field, "spec");
        let path = spec.and_then(|n| self.non_empty_text(n, &path_field, "a spec path"));
        let wait = match map.get("wait") {
            Some(n) => self
                .choice(n, &join(field, "wait"), &["healthy", "started"], |s| {
                    s.parse().ok()
                })
                .map(|wait| (wait, pos_of(n))),
            None => spec.map(|n| (WaitFor::Healthy, pos_of(n))),
        };
        let mut vars = Vec::new();
        if let Some(bindings) = map.get("vars").and_then(|n| {
            self.free_mapping(
                n,
                &join(field, "vars"),
                "a mapping of the dependency's variables to values",
            )
        }) {
            for (name, key_pos, value) in bindings.entries() {
                let binding_field = join(&join(field, "vars"), name);
                if !is_var_name(name) {
                    let d = self
                        .diag(
                            Rule::VarName,
                            key_pos,
                            &binding_field,
                            "a variable name of letters, digits and `_`",
                        )
                        .found(name);
                    self.report(d);
                    continue;
                }
                if let Some(value) = self.template(value, &binding_field) {
                    vars.push((
                        VarBinding {
                            name: name.to_owned().into(),
                            value,
                        },
                        key_pos,
                    ));
                }
            }
        }
        let (spec, path, (wait, wait_pos)) = (spec?, path?, wait?);
        Some(DependencyRef {
            field: field.to_owned(),
            path,
            path_pos: pos_of(spec),
            wait,
            wait_pos,
            vars,
        })
    }
}
