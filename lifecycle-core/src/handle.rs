//! The contract between a derived handle and the executor, and the handle's own methods.

use std::future::Future;

use crate::plan::{PlanError, VarError};
use crate::spec::{Spec, Template};
use crate::{DaemonManager, Running, StartError, Status, StopError, Stopped};

/// A daemon handle: a validated spec and the values of its variables. Implemented by
/// `#[derive(Lifecycle)]`, which supplies [`spec`](Lifecycle::spec) and [`var`](Lifecycle::var);
/// the lifecycle methods run on the global [`DaemonManager`] (use the manager's methods of the
/// same names for another one).
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
    ///     lifecycle_core::spec::Probe::Http { url, .. } => queen.render(url).unwrap(),
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

    /// The daemon's key, which names its record and log: the spec's name, and `@` the rendered
    /// `instance` if the spec has one.
    ///
    /// ```
    /// use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/hive.yaml")]
    /// # struct HiveHandle { host: String }
    /// assert_eq!(HiveHandle { host: "gpu1".into() }.key().unwrap(), "rbee-hive@gpu1");
    /// ```
    fn key(&self) -> Result<String, VarError> {
        let spec = self.spec();
        let instance = spec.instance.as_ref().map(|i| self.render(i)).transpose()?;
        Ok(crate::plan::key(&spec.name, instance.as_deref()))
    }

    /// Makes sure the daemon runs and is ready (see [`DaemonManager::ensure_running`]).
    ///
    /// ```no_run
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo() -> Result<(), lifecycle_core::StartError> {
    /// let running = QueenHandle { port: 7833 }.ensure_running().await?;
    /// println!("pid {}, ready in {:?} at {:?}", running.pid, running.elapsed, running.probe);
    /// # Ok(()) }
    /// ```
    fn ensure_running(&self) -> impl Future<Output = Result<Running, StartError>> + Send + 'static
    where
        Self: Sized,
    {
        let call = DaemonManager::global().map(|m| m.ensure_running(self));
        async move { call?.await }
    }

    /// Starts the daemon; an error if it already runs (see [`DaemonManager::start`]).
    ///
    /// ```no_run
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo() -> Result<(), lifecycle_core::StartError> {
    /// QueenHandle { port: 7833 }.start().await?;
    /// # Ok(()) }
    /// ```
    fn start(&self) -> impl Future<Output = Result<Running, StartError>> + Send + 'static
    where
        Self: Sized,
    {
        let call = DaemonManager::global().map(|m| m.start(self));
        async move { call?.await }
    }

    /// Stops the daemon and its dependents (see [`DaemonManager::stop`]).
    ///
    /// ```no_run
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo() -> Result<(), lifecycle_core::StopError> {
    /// let stopped = QueenHandle { port: 7833 }.stop().await?;
    /// println!("{stopped:?}");
    /// # Ok(()) }
    /// ```
    fn stop(&self) -> impl Future<Output = Result<Stopped, StopError>> + Send + 'static
    where
        Self: Sized,
    {
        let call = DaemonManager::global().map(|m| m.stop(self));
        async move { call?.await }
    }

    /// The daemon's state, PID and health (see [`DaemonManager::status`]).
    ///
    /// ```no_run
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// println!("{}", QueenHandle { port: 7833 }.status().await?.state);
    /// # Ok(()) }
    /// ```
    fn status(&self) -> impl Future<Output = Result<Status, StatusError>> + Send + 'static
    where
        Self: Sized,
    {
        let call = DaemonManager::global().map(|m| m.status(self));
        async move { Ok(call?.await?) }
    }

    /// Whether the daemon runs and its probe passes now.
    ///
    /// ```no_run
    /// # use lifecycle_core::Lifecycle;
    /// # #[derive(Lifecycle)]
    /// # #[lifecycle(spec = "../specs/queen.yaml")]
    /// # struct QueenHandle { port: u16 }
    /// # async fn demo() {
    /// assert!(QueenHandle { port: 7833 }.is_healthy().await);
    /// # }
    /// ```
    fn is_healthy(&self) -> impl Future<Output = bool> + Send + 'static
    where
        Self: Sized,
    {
        let call = DaemonManager::global().ok().map(|m| m.is_healthy(self));
        async move {
            match call {
                Some(call) => call.await,
                None => false,
            }
        }
    }
}

/// `status` could not run.
///
/// ```
/// let err = lifecycle_core::StatusError::from(lifecycle_core::error::PlanError::Var(lifecycle_core::error::VarError {
///     spec: "q".into(), file: "q.yaml".into(), pos: lifecycle_core::spec::Pos::new(1, 1), var: "port".into(),
/// }));
/// assert!(err.to_string().contains("{port}"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// No manager.
    #[error(transparent)]
    Manager(#[from] crate::ManagerError),
    /// The handle's values do not make a valid plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
}
