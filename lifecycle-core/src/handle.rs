//! The contract between a derived handle and the executor.

use crate::spec::{Spec, Template};

/// A daemon handle: a validated spec and the values of its variables. Implemented by
/// `#[derive(Lifecycle)]`; the executor drives any `Lifecycle`.
///
/// ```
/// use lifecycle_core::Lifecycle;
///
/// #[derive(Lifecycle)]
/// #[lifecycle(spec = "../specs/hive.yaml")]
/// struct HiveHandle {
///     host: String,
/// }
///
/// let hive = HiveHandle { host: "gpu1".into() };
/// // `host` comes from the field, `port` from the spec's `vars:` default.
/// assert_eq!(hive.var("host").as_deref(), Some("gpu1"));
/// assert_eq!(hive.value("port").as_deref(), Some("7835"));
/// ```
pub trait Lifecycle {
    /// The validated spec, compiled into the program.
    fn spec(&self) -> &'static Spec;

    /// The value of the handle's field `name` (with `Display`), if the spec uses such a field.
    fn var(&self, name: &str) -> Option<String>;

    /// The value of `{name}`: the handle's field, else the spec's `vars:` default.
    fn value(&self, name: &str) -> Option<String> {
        self.var(name)
            .or_else(|| self.spec().default_var(name).map(str::to_owned))
    }

    /// Renders one of the spec's templates with this handle's values.
    ///
    /// ```
    /// use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// let queen = QueenHandle { port: 7900 };
    /// let url = match &queen.spec().readiness.as_ref().unwrap().probe {
    ///     lifecycle_core::spec::Probe::Http { url } => queen.render(url).unwrap(),
    ///     _ => unreachable!(),
    /// };
    /// assert_eq!(url, "http://127.0.0.1:7900/health");
    /// ```
    fn render(&self, template: &Template) -> Result<String, VarError> {
        template
            .render(|name| self.value(name))
            .map_err(|err| VarError {
                spec: self.spec().name.to_string(),
                file: self.spec().file.to_string(),
                pos: template.pos,
                var: err.var,
            })
    }
}

/// A template variable had no value at run time. The derive rules this out for its handles;
/// it can happen with specs read at run time.
///
/// ```
/// let err = lifecycle_core::VarError {
///     spec: "queen".into(),
///     file: "specs/queen.yaml".into(),
///     pos: lifecycle_core::spec::Pos::new(3, 9),
///     var: "port".into(),
/// };
/// assert_eq!(err.to_string(), "--> specs/queen.yaml:3:9: daemon `queen`: `{port}` has no value (no field, no default)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--> {file}:{pos}: daemon `{spec}`: `{{{var}}}` has no value (no field, no default)")]
pub struct VarError {
    /// The spec's name.
    pub spec: String,
    /// The spec file.
    pub file: String,
    /// Where the template is.
    pub pos: crate::spec::Pos,
    /// The variable.
    pub var: String,
}
