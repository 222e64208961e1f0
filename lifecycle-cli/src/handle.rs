//! A handle over a spec read at run time: what `#[derive(Lifecycle)]` generates at compile time,
//! made from a file and `--set` values instead.

use std::collections::BTreeMap;

use lifecycle_core::Lifecycle;
use lifecycle_core::spec::Spec;

/// A spec read from a file, and the values of its variables given on the command line.
///
/// The spec is leaked (`&'static`), as a derived handle's is compiled in: a command reads its
/// specs once, at its start, and they live as long as the process.
///
/// ```
/// use lifecycle_cli::SpecHandle;
/// use lifecycle_core::Lifecycle;
///
/// let spec = lifecycle_spec::parse_spec(
///     "queen.yaml",
///     "command: { binary: queen-rbee, args: [\"--port\", \"{port}\"] }\nvars: { port: 7833 }\n",
///     &[],
/// )
/// .unwrap();
/// let queen = SpecHandle::new(spec, [("port".to_owned(), "9000".to_owned())].into());
/// assert_eq!(queen.value("port").as_deref(), Some("9000"));
/// ```
#[derive(Clone, Debug)]
pub struct SpecHandle {
    spec: &'static Spec,
    vars: BTreeMap<String, String>,
}

impl SpecHandle {
    /// A handle of `spec` with `vars` (a variable's value; the spec's `vars:` give the rest).
    ///
    /// ```
    /// # let spec = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q }\n", &[]).unwrap();
    /// let queen = lifecycle_cli::SpecHandle::new(spec, Default::default());
    /// ```
    pub fn new(spec: Spec, vars: BTreeMap<String, String>) -> SpecHandle {
        SpecHandle {
            spec: Box::leak(Box::new(spec)),
            vars,
        }
    }

    /// The values given for the spec's variables.
    ///
    /// ```
    /// # let spec = lifecycle_spec::parse_spec("q.yaml", "command: { binary: q }\n", &[]).unwrap();
    /// let queen = lifecycle_cli::SpecHandle::new(spec, Default::default());
    /// assert!(queen.vars().is_empty());
    /// ```
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

impl Lifecycle for SpecHandle {
    fn spec(&self) -> &'static Spec {
        self.spec
    }

    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}
