//! The lifecycle spec language: the model of a daemon's lifecycle, the YAML reader that checks
//! it (every problem at once, each with file, line, column, field, what was found and what was
//! expected), and the templates that handles fill in.
//!
//! The `yaml` feature (on by default) reads spec files; the derive uses it at compile time. The
//! model, templates and address checks need no YAML: a program running derived handles uses
//! this crate without the feature, so no YAML parser ends up in it.
//!
//! ```
//! # #[cfg(feature = "yaml")] {
//! let errors = lifecycle_spec::parse_spec(
//!     "specs/queen.yaml",
//!     "command: { binary: queen }\nreadiness:\n  probe: notify\n  backoff: { initial: 5s, max: 1s }\n",
//!     &[],
//! )
//! .unwrap_err();
//! assert_eq!(errors.rules(), [lifecycle_spec::Rule::BackoffOrder]);
//! assert!(errors.to_string().starts_with("--> specs/queen.yaml:4:23"));
//! # }
//! ```

#![cfg_attr(not(feature = "yaml"), allow(dead_code))]

use std::borrow::Cow;

mod address;
mod backoff;
mod construct;
mod dependency;
mod diagnostic;
mod duration;
mod location;
mod logs;
mod pos;
mod readiness;
mod restart;
mod signal;
mod size;
mod spec;
mod stop;
mod template;
mod watch;

#[cfg(feature = "yaml")]
mod load;
#[cfg(feature = "yaml")]
mod yaml;

/// Text in a spec: borrowed when compiled into a program, owned when read at run time.
///
/// ```
/// let borrowed: lifecycle_spec::Str = "queen".into();
/// assert_eq!(borrowed, "queen");
/// ```
pub type Str = Cow<'static, str>;
/// A list in a spec: borrowed when compiled into a program, owned when read at run time.
///
/// ```
/// let args: lifecycle_spec::List<u8> = vec![1, 2].into();
/// assert_eq!(args.len(), 2);
/// ```
pub type List<T> = Cow<'static, [T]>;

pub use backoff::Backoff;
pub use dependency::{Dependency, VarBinding, WaitFor};
pub use diagnostic::{Diagnostic, Diagnostics, Found, Rule};
pub use duration::{DisplayDuration, MAX_DURATION};
pub use location::{HostKeys, Location, ProbeFrom, Ssh};
pub use logs::Logs;
pub use pos::Pos;
pub use readiness::{Probe, Readiness};
pub use restart::{Restart, RestartPolicy};
pub use signal::{Signal, SignalError};
pub use spec::{Command, EnvVar, InheritEnv, Spec, VarDefault};
pub use stop::StopStep;
pub use template::{Part, RenderError, Template, TemplateError};
pub use watch::watch_specs;

// The grammars, for this crate's decoders; others reach them through `__private`.
#[cfg_attr(not(feature = "yaml"), allow(unused_imports))]
pub(crate) use {
    address::{check_host, check_user, parse_http_url, parse_port, parse_tcp_addr},
    duration::{DurationError, parse_duration},
    size::{SizeError, parse_size},
    spec::is_spec_name,
    template::is_var_name,
};

#[cfg(feature = "yaml")]
pub use load::{Loaded, load_spec, parse_spec};

/// Not part of the API: the constructors the derive's generated code calls (the model is
/// `#[non_exhaustive]`), the grammars `lifecycle-core` checks rendered values with, and (with
/// the `yaml` feature) the keys of each mapping the decoders allow, which the CLI's JSON Schema
/// is tested against. They may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::address::{
        AddressError, HttpUrl, check_host, check_user, parse_http_url, parse_port, parse_tcp_addr,
    };
    pub use crate::construct::*;
    pub use crate::duration::{DurationError, parse_duration};
    pub use crate::size::{SizeError, parse_size};
    pub use crate::spec::is_spec_name;
    pub use crate::template::is_var_name;
    #[cfg(feature = "yaml")]
    pub use crate::yaml::keys::mapping_keys;
}
