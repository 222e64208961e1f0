//! From the command line to handles: spec paths (files or directories of them), `--set`
//! values, and the specs read and validated by the same code as the derive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lifecycle_spec::{Diagnostics, Rule, Spec};

use crate::{CliError, SpecHandle, render_diagnostics};

/// Parses one `--set var=value`.
///
/// ```
/// use lifecycle_cli::load::parse_set;
/// assert_eq!(parse_set("port=9000").unwrap(), ("port".to_owned(), "9000".to_owned()));
/// assert!(parse_set("port").unwrap_err().contains("var=value"));
/// assert!(parse_set("po rt=1").is_err());
/// ```
pub fn parse_set(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!(
            "`{text}` has no value: expected var=value (e.g. --set {text}=VALUE)"
        ));
    };
    if !lifecycle_spec::__private::is_var_name(name) {
        return Err(format!(
            "`{name}` is not a variable name: expected letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// The spec files named by `paths`: each file as given, each directory's `*.yaml` and `*.yml`
/// files (not its subdirectories), sorted. A path that does not exist, or a file that is not
/// `.yaml`/`.yml`, is bad input.
///
/// ```
/// let err = lifecycle_cli::load::spec_files(&["README.md".into()]).unwrap_err();
/// assert_eq!(err.code(), 2);
/// ```
pub fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|err| {
            CliError::BadInput(format!(
                "{}: not a spec file or directory ({err})",
                path.display()
            ))
        })?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|err| CliError::BadInput(format!("{}: {err}", path.display())))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| is_spec_name(p) && p.is_file())
                .collect();
            if found.is_empty() {
                return Err(CliError::BadInput(format!(
                    "{}: a directory with no spec in it (no *.yaml or *.yml file)",
                    path.display()
                )));
            }
            found.sort();
            files.extend(found);
        } else if is_spec_name(path) {
            files.push(path.clone());
        } else {
            return Err(CliError::BadInput(format!(
                "{}: not a spec (a spec is a .yaml or .yml file, or a directory of them)",
                path.display()
            )));
        }
    }
    Ok(files)
}

fn is_spec_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Reads and validates the spec at `path` (with its dependencies) for the values in `vars`:
/// every `{var}` it uses must have a value there or a default in the spec.
///
/// ```
/// let err = lifecycle_cli::load::load(std::path::Path::new("no/such.yaml"), &Default::default()).unwrap_err();
/// assert_eq!(err.code(), 2);
/// ```
pub fn load(path: &Path, vars: &BTreeMap<String, String>) -> Result<SpecHandle, CliError> {
    let fields: Vec<&str> = vars.keys().map(String::as_str).collect();
    let spec = read(path, &fields).map_err(invalid)?;
    Ok(SpecHandle::new(spec, vars.clone()))
}

/// Reads a spec to name its daemons (`down`, `logs`): variables without a value are allowed.
/// Returns the spec and whether every variable it uses has a value (given or a default).
///
/// ```
/// let err = lifecycle_cli::load::load_named(std::path::Path::new("no/such.yaml"), &Default::default()).unwrap_err();
/// assert_eq!(err.code(), 2);
/// ```
pub fn load_named(
    path: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(SpecHandle, bool), CliError> {
    let mut fields: Vec<String> = vars.keys().cloned().collect();
    let first = {
        let names: Vec<&str> = fields.iter().map(String::as_str).collect();
        read(path, &names)
    };
    let diagnostics = match first {
        Ok(spec) => return Ok((SpecHandle::new(spec, vars.clone()), true)),
        Err(diagnostics) => diagnostics,
    };
    // Only variables without a value: read it again with them as given.
    if !diagnostics.iter().all(|d| d.rule == Rule::UnknownVar) {
        return Err(invalid(diagnostics));
    }
    for d in diagnostics.iter() {
        if let Some(var) = d.found_text() {
            let var = var.trim_start_matches('{').trim_end_matches('}').to_owned();
            if !fields.contains(&var) {
                fields.push(var);
            }
        }
    }
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    let spec = read(path, &names).map_err(invalid)?;
    Ok((SpecHandle::new(spec, vars.clone()), false))
}

fn read(path: &Path, fields: &[&str]) -> Result<Spec, Diagnostics> {
    let display = path.to_string_lossy();
    lifecycle_spec::load_spec(path, &display, fields).result
}

/// Diagnostics as bad input, rendered with their lines.
pub(crate) fn invalid(diagnostics: Diagnostics) -> CliError {
    CliError::Invalid {
        rendered: render_diagnostics(&diagnostics, |p| std::fs::read_to_string(p).ok()),
        count: diagnostics.len(),
    }
}
