//! Not part of the API (reached through `__private`): the constructors the code
//! `#[derive(Lifecycle)]` generates builds specs with. The model's types are
//! `#[non_exhaustive]`, so a spec compiled into a program is built by these `const fn`s, one per
//! type, taking every field. A field added to the
//! spec language gets a new constructor beside the old one, which fills the new field with its
//! default: a crate expanded by an older derive still compiles.
//!
//! Durations are whole milliseconds (a spec's precision); texts and lists are `'static`, as a
//! compiled spec's are.

use std::borrow::Cow;
use std::time::Duration;

use crate::{
    Backoff, Command, Dependency, EnvVar, HostKeys, InheritEnv, Location, Logs, Part, Pos, Probe,
    ProbeFrom, Readiness, Restart, RestartPolicy, Signal, Spec, Ssh, StopStep, Str, Template,
    VarBinding, VarDefault, WaitFor,
};

const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A whole spec.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    file: &'static str,
    name: &'static str,
    variant: &'static str,
    instance: Option<Template>,
    command: Command,
    vars: &'static [VarDefault],
    readiness: Option<Readiness>,
    stop: &'static [StopStep],
    location: Location,
    restart: Restart,
    depends_on: &'static [Dependency],
    logs: Logs,
) -> Spec {
    Spec {
        file: word(file),
        name: word(name),
        variant: word(variant),
        instance,
        command,
        vars: Cow::Borrowed(vars),
        readiness,
        stop: Cow::Borrowed(stop),
        location,
        restart,
        depends_on: Cow::Borrowed(depends_on),
        logs,
    }
}

/// `command:`.
pub const fn command(
    binary: Template,
    args: &'static [Template],
    env: &'static [EnvVar],
    inherit_env: InheritEnv,
) -> Command {
    Command {
        binary,
        args: Cow::Borrowed(args),
        env: Cow::Borrowed(env),
        inherit_env,
    }
}

/// `inherit_env: [names]`.
pub const fn inherit_only(names: &'static [Str]) -> InheritEnv {
    InheritEnv::Only(Cow::Borrowed(names))
}

/// A text of the spec: a name, a value, an entry of a list (`inherit_env`, `local_hosts`).
pub const fn word(word: &'static str) -> Str {
    Cow::Borrowed(word)
}

/// One `command.env` entry.
pub const fn env_var(name: &'static str, value: Template) -> EnvVar {
    EnvVar {
        name: word(name),
        value,
    }
}

/// One `vars:` default.
pub const fn var_default(name: &'static str, value: &'static str) -> VarDefault {
    VarDefault {
        name: word(name),
        value: word(value),
    }
}

/// A template as parsed, with its place in the file.
pub const fn template(
    source: &'static str,
    parts: &'static [Part],
    line: u32,
    column: u32,
) -> Template {
    Template {
        source: word(source),
        parts: Cow::Borrowed(parts),
        pos: Pos::new(line, column),
    }
}

/// A literal run of a template.
pub const fn lit(text: &'static str) -> Part {
    Part::Lit(Cow::Borrowed(text))
}

/// A `{name}` of a template.
pub const fn var(name: &'static str) -> Part {
    Part::Var(Cow::Borrowed(name))
}

/// `readiness:`.
pub const fn readiness(
    probe: Probe,
    deadline_ms: u64,
    attempt_timeout_ms: u64,
    backoff: Backoff,
) -> Readiness {
    Readiness {
        probe,
        deadline: ms(deadline_ms),
        attempt_timeout: ms(attempt_timeout_ms),
        backoff,
    }
}

/// `probe: { http: url }`.
pub const fn http_probe(url: Template) -> Probe {
    Probe::Http { url }
}

/// `probe: { tcp: addr }`.
pub const fn tcp_probe(addr: Template) -> Probe {
    Probe::Tcp { addr }
}

/// `probe: notify`.
pub const fn notify_probe() -> Probe {
    Probe::Notify
}

/// `probe: { log: pattern }`.
pub const fn log_probe(pattern: &'static str) -> Probe {
    Probe::Log {
        pattern: word(pattern),
    }
}

/// A `backoff:`.
pub const fn backoff(initial_ms: u64, max_ms: u64, factor: f64) -> Backoff {
    Backoff::new(ms(initial_ms), ms(max_ms), factor)
}

/// A stop step `{ signal, grace }`.
pub const fn signal_step(signal: Signal, grace_ms: u64) -> StopStep {
    StopStep::Signal {
        signal,
        grace: ms(grace_ms),
    }
}

/// A stop step `{ http_post, grace }`.
pub const fn http_post_step(url: Template, grace_ms: u64) -> StopStep {
    StopStep::HttpPost {
        url,
        grace: ms(grace_ms),
    }
}

/// `location: local`.
pub const fn local() -> Location {
    Location::Local
}

/// `location: { ssh: … }`.
pub const fn ssh(
    host: Template,
    user: Option<Template>,
    port: Template,
    host_keys: HostKeys,
    probe_from: ProbeFrom,
    install: Option<Template>,
    local_hosts: &'static [Str],
) -> Location {
    Location::Ssh(Ssh {
        host,
        user,
        port,
        host_keys,
        probe_from,
        install,
        local_hosts: Cow::Borrowed(local_hosts),
    })
}

/// `restart:`.
pub const fn restart(
    policy: RestartPolicy,
    max: u32,
    backoff: Backoff,
    reset_after_ms: u64,
) -> Restart {
    Restart {
        policy,
        max,
        backoff,
        reset_after: ms(reset_after_ms),
    }
}

/// One `depends_on:` entry; `spec` is the dependency's spec, emitted once per expansion.
pub const fn dependency(
    spec: &'static Spec,
    wait: WaitFor,
    vars: &'static [VarBinding],
) -> Dependency {
    Dependency {
        spec: Cow::Borrowed(spec),
        wait,
        vars: Cow::Borrowed(vars),
    }
}

/// One `depends_on[].vars` entry.
pub const fn var_binding(name: &'static str, value: Template) -> VarBinding {
    VarBinding {
        name: word(name),
        value,
    }
}

/// `logs:`.
pub const fn logs(dir: Option<Template>, max_size: u64, keep: u32) -> Logs {
    Logs {
        dir,
        max_size,
        keep,
    }
}
