//! `lifecycle check`: every spec validated by the derive's own code, every problem shown with
//! its line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use lifecycle_core::Lifecycle;

use crate::CliError;
use crate::load::{load_named, spec_files};

/// Checks every spec of `paths`. Returns the report of the valid ones (one line each, naming
/// the variables still to be given with `--set`); the first error, rendered with all the
/// problems of every invalid spec, if any is invalid.
///
/// ```
/// let report = lifecycle_cli::commands::check::check(
///     &[concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/queen.yaml").into()],
///     &Default::default(),
/// ).unwrap();
/// assert!(report.contains("ok"), "{report}");
/// ```
pub fn check(paths: &[PathBuf], vars: &BTreeMap<String, String>) -> Result<String, CliError> {
    let files = spec_files(paths)?;
    let mut report = String::new();
    let mut rendered = String::new();
    let mut count = 0;
    for file in &files {
        match load_named(file, vars) {
            Ok((handle, _)) => {
                let spec = handle.spec();
                let _ = write!(report, "ok    {} ({})", file.display(), spec.name);
                let mut missing: Vec<&str> = spec
                    .variables()
                    .into_iter()
                    .filter(|v| handle.value(v).is_none())
                    .collect();
                missing.dedup();
                if !missing.is_empty() {
                    let _ = write!(report, ": needs --set {}", missing.join(", "));
                }
                report.push('\n');
            }
            Err(CliError::Invalid {
                rendered: text,
                count: n,
            }) => {
                rendered.push_str(&text);
                rendered.push_str("\n\n");
                count += n;
            }
            Err(other) => return Err(other),
        }
    }
    if count > 0 {
        let invalid = rendered.trim_end().to_owned();
        return Err(CliError::Invalid {
            rendered: if report.is_empty() {
                invalid
            } else {
                format!("{report}\n{invalid}")
            },
            count,
        });
    }
    Ok(report)
}
