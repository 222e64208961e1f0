//! `#[derive(Lifecycle)]`: typed daemon handles from YAML lifecycle specs, validated when the
//! crate compiles. Use it through `lifecycle-core`, which re-exports it:
//!
//! ```ignore
//! use lifecycle_core::Lifecycle;
//!
//! #[derive(Lifecycle)]
//! #[lifecycle(spec = "specs/queen.yaml")]
//! struct QueenHandle {
//!     port: u16,
//! }
//! ```
//!
//! The layout follows thiserror's: `attr` reads the attributes, `valid` loads and checks the
//! specs, both into one error collector (`ctxt`, as serde_derive's); `emit` writes the spec
//! model as Rust constants and `statics` each spec of an expansion once; `expand` puts the
//! block together, and `fallback` emits a stub impl when something is wrong, so that the only
//! errors a user sees are the real ones.

mod attr;
mod ctxt;
mod emit;
mod expand;
mod fallback;
mod statics;
mod valid;

use proc_macro::TokenStream;

/// Derives `lifecycle_core::Lifecycle` for a struct with named fields, from a spec file
/// (`#[lifecycle(spec = "specs/queen.yaml")]` on the struct) or from a directory of specs, one
/// per kind (`#[lifecycle(spec_dir = "specs/workers")]` on the field whose type names the kind
/// enum to generate). Paths are relative to the crate's `Cargo.toml`. Every `{var}` of a spec
/// must be a field of the struct or have a default under `vars:`.
///
/// See the `lifecycle-core` documentation and the README for the spec language.
#[proc_macro_derive(Lifecycle, attributes(lifecycle))]
pub fn derive_lifecycle(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::derive(&input).into()
}

#[cfg(test)]
mod never_panics;
#[cfg(test)]
mod snapshots;
