//! Reading spec files and their dependencies: the one entry point of validation, used by the
//! derive at compile time and by programs that read specs at run time.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use crate::yaml::{Decoder, parse_tree};
use crate::{Dependency, Diagnostic, Diagnostics, Pos, Rule, Spec};

/// Dependency chains deeper than this are refused (they are cycles in all but name).
const MAX_DEPTH: usize = 16;

/// The outcome of [`load_spec`]: the spec, or every problem found; and every file that was read,
/// so that a build can be told to re-run when one changes.
///
/// ```
/// let loaded = lifecycle_spec::load_spec("no/such/file.yaml".as_ref(), "no/such/file.yaml", &[]);
/// assert!(loaded.result.is_err());
/// ```
#[derive(Debug)]
pub struct Loaded {
    /// The validated spec, or all its diagnostics.
    pub result: Result<Spec, Diagnostics>,
    /// Every spec file read (the root and its dependencies), as real paths.
    pub files: Vec<PathBuf>,
}

/// Reads and validates the spec at `path`, and the specs it depends on, collecting every problem.
/// `display` names the file in diagnostics (the derive passes the path as the user wrote it),
/// and its dependencies are named relative to it: `path` itself never shows in a diagnostic.
/// `fields` are the variables the caller supplies (a handle's field names).
///
/// ```no_run
/// let loaded = lifecycle_spec::load_spec("specs/queen.yaml".as_ref(), "specs/queen.yaml", &["port"]);
/// let spec = loaded.result.unwrap();
/// println!("{} runs {}", spec.name, spec.command.binary);
/// ```
pub fn load_spec(path: &Path, display: &str, fields: &[&str]) -> Loaded {
    let mut loader = Loader::default();
    let spec = match std::fs::read_to_string(path) {
        Ok(text) => {
            loader.files.push(path.to_path_buf());
            loader.stack.push(canonical(path));
            loader.load_text(path, display, &text, fields, 0)
        }
        Err(err) => {
            loader.errors.push(
                Diagnostic::new(
                    Rule::Io,
                    display,
                    Pos::UNKNOWN,
                    "",
                    "a readable spec file (paths are relative to the crate's Cargo.toml)",
                )
                // `display` only: `path` may be absolute (the derive joins the manifest dir), and
                // a diagnostic names a file the way the user wrote it.
                .found_description(format!("an I/O error: {err}")),
            );
            None
        }
    };
    loader.finish(spec)
}

/// Validates spec `text` that stands for the file `display`. Dependencies, if any, are read
/// from disk relative to `display`.
///
/// ```
/// let spec = lifecycle_spec::parse_spec(
///     "specs/queen.yaml",
///     r#"
/// command: { binary: queen-rbee, args: ["--port", "{port}"] }
/// vars: { port: 7833 }
/// readiness:
///   probe: { http: "http://127.0.0.1:{port}/health" }
/// "#,
///     &[],
/// )
/// .unwrap();
/// assert_eq!(spec.name, "queen");
/// ```
pub fn parse_spec(display: &str, text: &str, fields: &[&str]) -> Result<Spec, Diagnostics> {
    let mut loader = Loader::default();
    loader.stack.push(canonical(Path::new(display)));
    let spec = loader.load_text(Path::new(display), display, text, fields, 0);
    loader.finish(spec).result
}

#[derive(Default)]
struct Loader {
    files: Vec<PathBuf>,
    errors: Vec<Diagnostic>,
    /// Canonical paths of the specs being loaded, root first: a cycle returns to one of them.
    stack: Vec<PathBuf>,
    /// Their display names, for the cycle message.
    names: Vec<String>,
    /// The display name of every file read, in the order read (root first): diagnostics are
    /// sorted by it, then by position.
    order: Vec<String>,
}

impl Loader {
    fn finish(mut self, spec: Option<Spec>) -> Loaded {
        let mut seen = Vec::with_capacity(self.errors.len());
        self.errors.retain(|d| {
            let key = (d.file.clone(), d.pos, d.rule, d.field.clone());
            let fresh = !seen.contains(&key);
            seen.push(key);
            fresh
        });
        // File order: the root's problems, then each dependency's, each file's by line and
        // column. The sort is stable: two problems at one place keep the order found.
        let order = &self.order;
        self.errors.sort_by_key(|d| {
            let file = order.iter().position(|f| *f == d.file);
            (file.unwrap_or(usize::MAX), d.pos)
        });
        let root = self.order.first().cloned().unwrap_or_default();
        let result = match (spec, Diagnostics::from_list(self.errors)) {
            (Some(spec), None) => Ok(spec),
            (_, Some(errors)) => Err(errors),
            // Not reached: every decoder that gives up on a spec says why.
            (None, None) => Err(Diagnostics::one(Diagnostic::new(
                Rule::Syntax,
                root,
                Pos::new(1, 1),
                "(spec)",
                "a spec the checker can read; this one was refused without a reason (a bug in lifecycle-spec)",
            ))),
        };
        Loaded {
            result,
            files: self.files,
        }
    }

    fn load_text(
        &mut self,
        real: &Path,
        display: &str,
        text: &str,
        fields: &[&str],
        depth: usize,
    ) -> Option<Spec> {
        if !self.order.iter().any(|f| f == display) {
            self.order.push(display.to_owned());
        }
        let root = match parse_tree(display, text) {
            Ok(root) => root,
            Err(diagnostic) => {
                self.errors.push(*diagnostic);
                return None;
            }
        };
        let stem = Path::new(display)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let mut decoder = Decoder::new(display, text);
        let draft = decoder.spec(&root, stem, fields);
        self.errors.append(&mut decoder.errors);
        // The dependencies are read and checked even when this spec has errors of its own.
        let draft = draft?;

        self.names.push(display.to_owned());
        let mut depends_on = Vec::with_capacity(draft.dependencies.len());
        for dep in &draft.dependencies {
            let dep_real = lexical_join(real, &dep.path);
            let dep_display = lexical_join(Path::new(display), &dep.path)
                .to_string_lossy()
                .into_owned();
            let err = |rule, expected: &str| {
                Diagnostic::new(
                    rule,
                    display,
                    dep.path_pos,
                    format!("{}.spec", dep.field),
                    expected,
                )
            };
            let text = match std::fs::read_to_string(&dep_real) {
                Ok(text) => text,
                Err(io) => {
                    self.errors.push(
                        err(
                            Rule::DependencyFile,
                            "a readable spec file, relative to this spec",
                        )
                        .found(dep.path.clone())
                        // Where it was looked for, named as the user names files.
                        .hint(format!("{io}: {dep_display}")),
                    );
                    continue;
                }
            };
            self.files.push(dep_real.clone());
            let key = canonical(&dep_real);
            if let Some(at) = self.stack.iter().position(|p| *p == key) {
                let mut chain: Vec<&str> = self.names[at..].iter().map(String::as_str).collect();
                chain.push(&dep_display);
                self.errors.push(
                    err(
                        Rule::DependencyCycle,
                        "a dependency that does not lead back to this spec",
                    )
                    .found_description(chain.join(" -> "))
                    .hint("remove one `depends_on` entry of the cycle"),
                );
                continue;
            }
            if depth >= MAX_DEPTH {
                self.errors.push(
                    err(
                        Rule::DependencyCycle,
                        format!("a dependency chain of at most {MAX_DEPTH} specs").as_str(),
                    )
                    .found(dep_display),
                );
                continue;
            }
            let bound: Vec<&str> = dep.vars.iter().map(|(b, _)| b.name.as_ref()).collect();
            let before = self.errors.len();
            self.stack.push(key);
            let loaded = self.load_text(&dep_real, &dep_display, &text, &bound, depth + 1);
            self.stack.pop();
            self.repoint_unbound_vars(before, &dep_display, display, dep);
            let Some(dep_spec) = loaded else { continue };

            if dep.wait == crate::WaitFor::Healthy && dep_spec.readiness.is_none() {
                self.errors.push(
                    Diagnostic::new(
                        Rule::DependencyProbe,
                        display,
                        dep.wait_pos,
                        format!("{}.wait", dep.field),
                        "a dependency with a readiness probe, to wait until healthy",
                    )
                    .found_description(format!("{dep_display}, which has no `readiness:`"))
                    .hint("add a probe to the dependency, or write `wait: started`"),
                );
            }
            let used = dep_spec.variables();
            for (binding, key_pos) in &dep.vars {
                if !used.contains(&binding.name.as_ref()) {
                    self.errors.push(
                        Diagnostic::new(
                            Rule::DependencyVar,
                            display,
                            *key_pos,
                            format!("{}.vars.{}", dep.field, binding.name),
                            format!("a variable that {dep_display} uses"),
                        )
                        .found(binding.name.to_string())
                        .hint(format!(
                            "{dep_display} uses: {}",
                            if used.is_empty() {
                                "none".to_owned()
                            } else {
                                used.join(", ")
                            }
                        )),
                    );
                }
            }
            depends_on.push(Dependency {
                spec: Cow::Owned(dep_spec),
                wait: dep.wait,
                vars: dep
                    .vars
                    .iter()
                    .map(|(b, _)| b.clone())
                    .collect::<Vec<_>>()
                    .into(),
            });
        }
        self.names.pop();
        let mut spec = draft.spec?;
        spec.depends_on = depends_on.into();
        Some(spec)
    }

    /// A dependency's `{var}` without a value is the dependent's problem: it must bind it.
    fn repoint_unbound_vars(
        &mut self,
        from: usize,
        dep_display: &str,
        display: &str,
        dep: &crate::yaml::DependencyRef,
    ) {
        for d in &mut self.errors[from..] {
            if d.rule == Rule::UnknownVar && d.file == dep_display {
                let var = d
                    .found_text()
                    .unwrap_or_default()
                    .trim_matches(['{', '}'])
                    .to_owned();
                *d = Diagnostic::new(
                    Rule::UnknownVar,
                    display,
                    dep.path_pos,
                    format!("{}.vars", dep.field),
                    format!("a binding for `{{{var}}}`, which {dep_display}:{} uses and has no default for", d.pos),
                )
                .found_description("none")
                .hint(format!("add `vars: {{ {var}: … }}` to this entry, or a default to the dependency"));
            }
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `file`'s directory joined with `relative`, with `.` and `..` resolved lexically.
fn lexical_join(file: &Path, relative: &str) -> PathBuf {
    let base = file.parent().unwrap_or(Path::new(""));
    let mut out = PathBuf::new();
    for component in base.join(relative).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lexically() {
        assert_eq!(
            lexical_join(Path::new("specs/workers/vllm.yaml"), "../queen.yaml"),
            Path::new("specs/queen.yaml")
        );
        assert_eq!(
            lexical_join(Path::new("a.yaml"), "../b.yaml"),
            Path::new("../b.yaml")
        );
        assert_eq!(
            lexical_join(Path::new("/x/y/a.yaml"), "./b.yaml"),
            Path::new("/x/y/b.yaml")
        );
    }
}
