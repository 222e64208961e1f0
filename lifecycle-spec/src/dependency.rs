//! `depends_on`: daemons started before this one and stopped after it.

use std::borrow::Cow;

use crate::{List, Spec, Str, Template};

/// A daemon this one needs. Its spec is embedded (checked together with this one, no cycles).
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// // A dependency is read from the file its `spec:` path names, relative to the spec.
/// # }
/// use lifecycle_spec::WaitFor;
/// assert_eq!(WaitFor::Healthy.name(), "healthy");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Dependency {
    /// The dependency's spec.
    pub spec: Cow<'static, Spec>,
    /// What "started" means before this daemon is spawned.
    pub wait: WaitFor,
    /// Values for the dependency's variables, templated over this spec's variables.
    pub vars: List<VarBinding>,
}

/// One `depends_on[].vars` entry: the dependency's `{name}` takes `value`.
///
/// ```
/// # #[cfg(feature = "yaml")] {
/// let dir = std::env::temp_dir().join(format!("lifecycle-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("q.yaml"), "command: { binary: q, args: [\"{port}\"] }\n").unwrap();
/// std::fs::write(dir.join("w.yaml"), "command: { binary: w }\nvars: { queen_port: 7 }\ndepends_on:\n  - { spec: q.yaml, wait: started, vars: { port: \"{queen_port}\" } }\n").unwrap();
/// let spec = lifecycle_spec::load_spec(&dir.join("w.yaml"), "w.yaml", &[]).result.unwrap();
/// let binding = &spec.depends_on[0].vars[0];
/// assert_eq!((binding.name.as_ref(), binding.value.source.as_ref()), ("port", "{queen_port}"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VarBinding {
    /// The dependency's variable.
    pub name: Str,
    /// Its value, rendered with this spec's variables.
    pub value: Template,
}

/// How far a dependency must get before the dependent is spawned.
///
/// ```
/// assert_eq!("started".parse(), Ok(lifecycle_spec::WaitFor::Started));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitFor {
    /// Its readiness probe passed (it must have one).
    Healthy,
    /// It was spawned.
    Started,
}

impl WaitFor {
    /// The spelling in a spec.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::WaitFor::Started.name(), "started");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            WaitFor::Healthy => "healthy",
            WaitFor::Started => "started",
        }
    }
}

impl std::str::FromStr for WaitFor {
    type Err = ();

    fn from_str(text: &str) -> Result<WaitFor, ()> {
        match text {
            "healthy" => Ok(WaitFor::Healthy),
            "started" => Ok(WaitFor::Started),
            _ => Err(()),
        }
    }
}
