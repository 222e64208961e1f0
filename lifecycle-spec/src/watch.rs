//! The build-script helper that makes new spec files count.

use std::path::Path;

/// Tells Cargo to rebuild the crate when anything under `dir` changes, including files that are
/// added or removed. Call it from the `build.rs` of a crate that derives handles from a
/// directory of specs (`#[lifecycle(spec_dir = "specs/workers")]`):
///
/// ```no_run
/// // in build.rs, `fn main() {` … `}`:
/// lifecycle_spec::watch_specs("specs");
/// ```
///
/// Without it, editing a spec still triggers a rebuild (the derive tracks every file it reads),
/// but a file *added* to a directory is only seen at the next build of the crate for another
/// reason: stable Rust gives a derive no way to watch a directory.
#[allow(clippy::print_stdout)]
pub fn watch_specs(dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    // A directory given to rerun-if-changed is scanned for changes to any file inside it.
    // Printing to stdout is how a build script talks to Cargo.
    println!("cargo::rerun-if-changed={}", dir.display());
}
