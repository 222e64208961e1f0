//! The spec model written as Rust constant expressions: the generated handle holds its spec
//! with no YAML parsing at run time.

use std::time::Duration;

use lifecycle_spec::{
    Backoff, Command, Dependency, HostKeys, InheritEnv, Location, Logs, Part, Pos, Probe,
    ProbeFrom, Readiness, Restart, RestartPolicy, Signal, Spec, StopStep, Template, WaitFor,
};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// Writes model values as tokens, naming types through the crate path `k`.
pub(crate) struct Emitter<'a> {
    pub(crate) k: &'a syn::Path,
}

fn cow_str(text: &str) -> TokenStream {
    quote!(::std::borrow::Cow::Borrowed(#text))
}

fn cow_slice(items: impl IntoIterator<Item = TokenStream>) -> TokenStream {
    let items = items.into_iter();
    quote!(::std::borrow::Cow::Borrowed(&[#(#items),*]))
}

fn duration(d: Duration) -> TokenStream {
    // Spec durations have millisecond precision and are at most 24h.
    let ms = Literal::u64_suffixed(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    quote!(::core::time::Duration::from_millis(#ms))
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(tokens) => quote!(::core::option::Option::Some(#tokens)),
        None => quote!(::core::option::Option::None),
    }
}

impl Emitter<'_> {
    pub(crate) fn spec(&self, spec: &Spec) -> TokenStream {
        let k = self.k;
        let file = cow_str(&spec.file);
        let name = cow_str(&spec.name);
        let variant = cow_str(&spec.variant);
        let instance = option(spec.instance.as_ref().map(|t| self.template(t)));
        let command = self.command(&spec.command);
        let vars = cow_slice(spec.vars.iter().map(|v| {
            let (name, value) = (cow_str(&v.name), cow_str(&v.value));
            quote!(#k::spec::VarDefault { name: #name, value: #value })
        }));
        let readiness = option(spec.readiness.as_ref().map(|r| self.readiness(r)));
        let stop = cow_slice(spec.stop.iter().map(|s| self.stop_step(s)));
        let location = self.location(&spec.location);
        let restart = self.restart(&spec.restart);
        let depends_on = cow_slice(spec.depends_on.iter().map(|d| self.dependency(d)));
        let logs = self.logs(&spec.logs);
        quote! {
            #k::spec::Spec {
                file: #file,
                name: #name,
                variant: #variant,
                instance: #instance,
                command: #command,
                vars: #vars,
                readiness: #readiness,
                stop: #stop,
                location: #location,
                restart: #restart,
                depends_on: #depends_on,
                logs: #logs,
            }
        }
    }

    fn pos(&self, pos: Pos) -> TokenStream {
        let k = self.k;
        let (line, column) = (pos.line, pos.column);
        quote!(#k::spec::Pos { line: #line, column: #column })
    }

    pub(crate) fn template(&self, t: &Template) -> TokenStream {
        let k = self.k;
        let source = cow_str(&t.source);
        let parts = cow_slice(t.parts.iter().map(|p| match p {
            Part::Lit(text) => {
                let text = cow_str(text);
                quote!(#k::spec::Part::Lit(#text))
            }
            Part::Var(name) => {
                let name = cow_str(name);
                quote!(#k::spec::Part::Var(#name))
            }
        }));
        let pos = self.pos(t.pos);
        quote!(#k::spec::Template { source: #source, parts: #parts, pos: #pos })
    }

    fn command(&self, c: &Command) -> TokenStream {
        let k = self.k;
        let binary = self.template(&c.binary);
        let args = cow_slice(c.args.iter().map(|a| self.template(a)));
        let env = cow_slice(c.env.iter().map(|e| {
            let name = cow_str(&e.name);
            let value = self.template(&e.value);
            quote!(#k::spec::EnvVar { name: #name, value: #value })
        }));
        let inherit_env = match &c.inherit_env {
            InheritEnv::All => quote!(#k::spec::InheritEnv::All),
            InheritEnv::Only(names) => {
                let names = cow_slice(names.iter().map(|n| cow_str(n)));
                quote!(#k::spec::InheritEnv::Only(#names))
            }
        };
        quote!(#k::spec::Command { binary: #binary, args: #args, env: #env, inherit_env: #inherit_env })
    }

    fn backoff(&self, b: &Backoff) -> TokenStream {
        let k = self.k;
        let (initial, max) = (duration(b.initial), duration(b.max));
        let factor = Literal::f64_suffixed(b.factor);
        quote!(#k::spec::Backoff { initial: #initial, max: #max, factor: #factor })
    }

    fn readiness(&self, r: &Readiness) -> TokenStream {
        let k = self.k;
        let probe = match &r.probe {
            Probe::Http { url } => {
                let url = self.template(url);
                quote!(#k::spec::Probe::Http { url: #url })
            }
            Probe::Tcp { addr } => {
                let addr = self.template(addr);
                quote!(#k::spec::Probe::Tcp { addr: #addr })
            }
            Probe::Notify => quote!(#k::spec::Probe::Notify),
            Probe::Log { pattern } => {
                let pattern = cow_str(pattern);
                quote!(#k::spec::Probe::Log { pattern: #pattern })
            }
        };
        let (deadline, attempt_timeout) = (duration(r.deadline), duration(r.attempt_timeout));
        let backoff = self.backoff(&r.backoff);
        quote! {
            #k::spec::Readiness { probe: #probe, deadline: #deadline, attempt_timeout: #attempt_timeout, backoff: #backoff }
        }
    }

    fn stop_step(&self, s: &StopStep) -> TokenStream {
        let k = self.k;
        match s {
            StopStep::Signal { signal, grace } => {
                let signal = match signal {
                    Signal::Hup => quote!(Hup),
                    Signal::Int => quote!(Int),
                    Signal::Quit => quote!(Quit),
                    Signal::Term => quote!(Term),
                    Signal::Usr1 => quote!(Usr1),
                    Signal::Usr2 => quote!(Usr2),
                };
                let grace = duration(*grace);
                quote!(#k::spec::StopStep::Signal { signal: #k::spec::Signal::#signal, grace: #grace })
            }
            StopStep::HttpPost { url, grace } => {
                let url = self.template(url);
                let grace = duration(*grace);
                quote!(#k::spec::StopStep::HttpPost { url: #url, grace: #grace })
            }
        }
    }

    fn location(&self, l: &Location) -> TokenStream {
        let k = self.k;
        match l {
            Location::Local => quote!(#k::spec::Location::Local),
            Location::Ssh(ssh) => {
                let host = self.template(&ssh.host);
                let user = option(ssh.user.as_ref().map(|u| self.template(u)));
                let port = self.template(&ssh.port);
                let local_hosts = cow_slice(ssh.local_hosts.iter().map(|h| cow_str(h)));
                let host_keys = match ssh.host_keys {
                    HostKeys::Strict => quote!(#k::spec::HostKeys::Strict),
                    HostKeys::AcceptNew => quote!(#k::spec::HostKeys::AcceptNew),
                };
                let probe_from = match ssh.probe_from {
                    ProbeFrom::Manager => quote!(#k::spec::ProbeFrom::Manager),
                    ProbeFrom::Host => quote!(#k::spec::ProbeFrom::Host),
                };
                let install = option(ssh.install.as_ref().map(|t| self.template(t)));
                quote! {
                    #k::spec::Location::Ssh(#k::spec::Ssh { host: #host, user: #user, port: #port, host_keys: #host_keys, probe_from: #probe_from, install: #install, local_hosts: #local_hosts })
                }
            }
        }
    }

    fn restart(&self, r: &Restart) -> TokenStream {
        let k = self.k;
        let policy = match r.policy {
            RestartPolicy::Never => quote!(Never),
            RestartPolicy::OnFailure => quote!(OnFailure),
            RestartPolicy::Always => quote!(Always),
        };
        let max = r.max;
        let backoff = self.backoff(&r.backoff);
        let reset_after = duration(r.reset_after);
        quote! {
            #k::spec::Restart { policy: #k::spec::RestartPolicy::#policy, max: #max, backoff: #backoff, reset_after: #reset_after }
        }
    }

    fn dependency(&self, d: &Dependency) -> TokenStream {
        let k = self.k;
        let spec = self.spec(&d.spec);
        let wait = match d.wait {
            WaitFor::Healthy => quote!(Healthy),
            WaitFor::Started => quote!(Started),
        };
        let vars = cow_slice(d.vars.iter().map(|b| {
            let name = cow_str(&b.name);
            let value = self.template(&b.value);
            quote!(#k::spec::VarBinding { name: #name, value: #value })
        }));
        quote! {
            #k::spec::Dependency { spec: ::std::borrow::Cow::Borrowed(&#spec), wait: #k::spec::WaitFor::#wait, vars: #vars }
        }
    }

    fn logs(&self, l: &Logs) -> TokenStream {
        let k = self.k;
        let dir = option(l.dir.as_ref().map(|t| self.template(t)));
        let max_size = l.max_size;
        let keep = l.keep;
        quote!(#k::spec::Logs { dir: #dir, max_size: #max_size, keep: #keep })
    }
}
