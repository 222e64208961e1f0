//! Loads the handle's spec (or directory of specs) with lifecycle-spec's validation, and turns
//! every diagnostic into a compile error on the attribute's path literal.

use std::path::{Path, PathBuf};

use lifecycle_spec::{Spec, load_spec};
use syn::LitStr;

use crate::ctxt::Ctxt;

/// One spec of a kind directory.
pub(crate) struct Kind {
    /// The spec, if it is valid.
    pub(crate) spec: Option<Spec>,
    /// The variant: from the valid spec, else guessed from the file name (for the stub).
    pub(crate) variant: String,
}

/// What loading produced: the specs (for a directory, one per file, sorted by file name) and
/// every file read (so that the build re-runs when one changes). The errors went to the `Ctxt`.
pub(crate) struct Loaded<T> {
    pub(crate) value: T,
    pub(crate) files: Vec<PathBuf>,
}

/// The directory relative paths are resolved against: the invoking crate's manifest directory.
pub(crate) fn manifest_dir(lit: &LitStr) -> Result<PathBuf, syn::Error> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| {
            syn::Error::new_spanned(lit, "CARGO_MANIFEST_DIR is not set: build with cargo")
        })
}

/// Loads the spec `lit` names, relative to `root`.
pub(crate) fn load_file(
    cx: &Ctxt,
    root: &Path,
    lit: &LitStr,
    fields: &[&str],
) -> Loaded<Option<Spec>> {
    let display = lit.value();
    let loaded = load_spec(&root.join(&display), &display, fields);
    let spec = match loaded.result {
        Ok(spec) => Some(spec),
        Err(diagnostics) => {
            for d in diagnostics {
                cx.error_spanned_by(lit, d);
            }
            None
        }
    };
    Loaded {
        value: spec,
        files: loaded.files,
    }
}

/// Loads every `*.yaml` / `*.yml` file of the directory `lit` names, relative to `root`.
pub(crate) fn load_dir(cx: &Ctxt, root: &Path, lit: &LitStr, fields: &[&str]) -> Loaded<Vec<Kind>> {
    let display_dir = lit.value();
    let dir = root.join(&display_dir);
    let mut unreadable = false;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_type()
                    .map(|t| t.is_file() || t.is_symlink())
                    .unwrap_or(false)
            })
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| (n.ends_with(".yaml") || n.ends_with(".yml")) && !n.starts_with('.'))
            .collect(),
        Err(err) => {
            unreadable = true;
            cx.error_spanned_by(
                lit,
                // Not `dir`: it is under the manifest dir, and a diagnostic names a path
                // the way the user wrote it.
                format!(
                    "--> {display_dir}\n    expected a readable directory of spec files (paths are relative to the crate's Cargo.toml), found an I/O error: {err}"
                ),
            );
            Vec::new()
        }
    };
    names.sort();
    if names.is_empty() && !unreadable {
        cx.error_spanned_by(
            lit,
            format!(
                "--> {display_dir}\n    expected at least one spec file (*.yaml) in this directory, found none"
            ),
        );
    }

    let mut kinds: Vec<Kind> = Vec::with_capacity(names.len());
    let mut origins: Vec<String> = Vec::with_capacity(names.len());
    for name in &names {
        let display = format!("{}/{name}", display_dir.trim_end_matches('/'));
        let loaded = load_spec(&dir.join(name), &display, fields);
        files.extend(loaded.files);
        let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
        let kind = match loaded.result {
            Ok(spec) => Kind {
                variant: spec.variant.to_string(),
                spec: Some(spec),
            },
            Err(diagnostics) => {
                for d in diagnostics {
                    cx.error_spanned_by(lit, d);
                }
                Kind {
                    variant: guess_variant(stem),
                    spec: None,
                }
            }
        };
        if let Some(spec) = &kind.spec {
            for (other, other_file) in kinds.iter().zip(&origins) {
                let Some(other_spec) = &other.spec else {
                    continue;
                };
                if other_spec.variant == spec.variant {
                    cx.syn_error(
                        syn::Error::new_spanned(
                            lit,
                            format!(
                                "--> {display}:1:1\n    variant: expected a variant name no other spec of {display_dir} has, found `{}` (also {other_file})\n    hint: set `variant:` in one of them",
                                spec.variant
                            ),
                        ),
                    );
                }
                if other_spec.name == spec.name {
                    cx.syn_error(
                        syn::Error::new_spanned(
                            lit,
                            format!(
                                "--> {display}:1:1\n    name: expected a name no other spec of {display_dir} has, found `{}` (also {other_file})\n    hint: set `name:` in one of them",
                                spec.name
                            ),
                        ),
                    );
                }
            }
        }
        kinds.push(kind);
        origins.push(display);
    }
    Loaded {
        value: kinds,
        files,
    }
}

/// The variant a stub enum uses for a file whose spec is invalid, so that code naming it still
/// resolves: the file stem in PascalCase.
fn guess_variant(stem: &str) -> String {
    let guess: String = stem
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
        .collect();
    if guess.starts_with(|c: char| c.is_ascii_uppercase()) {
        guess
    } else {
        format!("Kind{guess}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message `load` pushed.
    fn messages<T>(load: impl FnOnce(&Ctxt) -> T) -> Vec<String> {
        let cx = Ctxt::new();
        load(&cx);
        cx.check()
            .err()
            .into_iter()
            .flat_map(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .collect()
    }

    /// A diagnostic names paths as the user wrote them, never under the manifest dir: a build
    /// directory elsewhere changes no message (trybuild builds its cases under the target dir).
    #[test]
    fn paths_show_as_written() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("specs")).unwrap();
        std::fs::write(
            root.path().join("specs/w.yaml"),
            "command: { binary: w }\ndepends_on: [no-such-spec.yaml]\n",
        )
        .unwrap();
        let root_text = root.path().to_str().unwrap();
        let lit = |s: &str| LitStr::new(s, proc_macro2::Span::call_site());

        let missing_file = messages(|cx| load_file(cx, root.path(), &lit("specs/nope.yaml"), &[]));
        let missing_dep = messages(|cx| load_file(cx, root.path(), &lit("specs/w.yaml"), &[]));
        let missing_dir = messages(|cx| load_dir(cx, root.path(), &lit("specs/nope"), &[]));
        for (case, messages, names) in [
            ("file", missing_file, "specs/nope.yaml"),
            ("dependency", missing_dep, "specs/no-such-spec.yaml"),
            ("dir", missing_dir, "specs/nope"),
        ] {
            assert_eq!(messages.len(), 1, "{case}: {messages:?}");
            assert!(messages[0].contains(names), "{case}: {}", messages[0]);
            assert!(
                !messages[0].contains(root_text),
                "{case}: the real path shows: {}",
                messages[0]
            );
        }
    }
}
