//! Declare, check and run the lifecycle of daemons.
//!
//! Lifecycles are YAML spec files (see the README for the language), compiled by
//! `#[derive(Lifecycle)]` into typed handles; the whole spec is validated when the crate builds,
//! and the handle holds it as constants.
//!
//! ```
//! use lifecycle_core::Lifecycle;
//!
//! #[derive(Lifecycle)]
//! #[lifecycle(spec = "../specs/queen.yaml")]
//! struct QueenHandle {
//!     port: u16,
//! }
//!
//! let queen = QueenHandle { port: 9000 };
//! assert_eq!(queen.spec().name, "queen-rbee");
//! assert_eq!(queen.render(&queen.spec().command.args[1]).unwrap(), "9000");
//! ```

mod handle;
mod unknown_kind;

pub use handle::{Lifecycle, VarError};
pub use lifecycle_macros::Lifecycle;
pub use unknown_kind::UnknownKind;

/// The spec model (re-exported from `lifecycle-spec`): what a derived handle holds.
pub use lifecycle_spec as spec;
