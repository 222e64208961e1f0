//! The spec model written as Rust constant expressions, so that a derived handle holds its spec
//! with no YAML parsing at run time. The model is `#[non_exhaustive]`: every value is built by
//! the hidden `const fn` constructors of `lifecycle_spec::__private`, reached through the
//! generated block's `use <crate>::__private as __lc;` ([`LC`]).

use std::time::Duration;

use lifecycle_spec::{
    Backoff, Command, Dependency, HostKeys, InheritEnv, Location, Logs, Part, Probe, ProbeFrom,
    Readiness, Restart, RestartPolicy, Signal, Spec, StopStep, Template, WaitFor,
};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::statics::Statics;

/// The name the generated block gives `<crate>::__private`.
pub(crate) const LC: &str = "__lc";

/// Writes the model as tokens; a dependency is a reference to its static in `statics`.
pub(crate) struct Emitter<'a> {
    pub(crate) statics: &'a Statics<'a>,
}

/// The alias [`LC`] as an identifier.
pub(crate) fn lc() -> syn::Ident {
    syn::Ident::new(LC, proc_macro2::Span::call_site())
}

fn millis(d: Duration) -> Literal {
    // Spec durations have millisecond precision and are at most 24h.
    Literal::u64_unsuffixed(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(tokens) => quote!(::core::option::Option::Some(#tokens)),
        None => quote!(::core::option::Option::None),
    }
}

/// What the derive emits for a kind of value the spec language has and this derive does not
/// know: lifecycle-spec is newer than lifecycle-macros.
fn unknown(what: &str) -> TokenStream {
    let message = format!(
        "this spec uses a {what} that this version of lifecycle-macros cannot emit: update lifecycle-macros to the version of lifecycle-spec"
    );
    quote!(::core::compile_error!(#message))
}

/// A `&'static [T]` of `items`. The items are calls (of `const fn`s), which Rust does not
/// promote to `'static`, and an argument's temporaries are not extended; an inline `const`
/// block is evaluated once, at compile time, and its value lives for the program. Two
/// constraints follow, both checked by every build of a derived handle: a `const` that refers
/// to a static (a dependency's `&SPEC_…`) needs Rust 1.83 (the workspace needs 1.89), and no
/// model type may hold interior mutability (a `OnceLock` cache, say), which a `const` cannot
/// point to.
fn slice(items: impl IntoIterator<Item = TokenStream>) -> TokenStream {
    let items: Vec<TokenStream> = items.into_iter().collect();
    if items.is_empty() {
        quote!(&[])
    } else {
        quote!(const { &[#(#items),*] })
    }
}

fn words<'t>(words: impl IntoIterator<Item = &'t str>) -> TokenStream {
    let lc = lc();
    slice(words.into_iter().map(|word| quote!(#lc::word(#word))))
}

impl Emitter<'_> {
    /// `__lc::spec(…)`, the arguments in the order of the spec's fields.
    pub(crate) fn spec(&self, spec: &Spec) -> TokenStream {
        let lc = lc();
        let (file, name, variant) = (&*spec.file, &*spec.name, &*spec.variant);
        let instance = option(spec.instance.as_ref().map(|t| self.template(t)));
        let command = self.command(&spec.command);
        let vars = slice(spec.vars.iter().map(|v| {
            let (name, value) = (&*v.name, &*v.value);
            quote!(#lc::var_default(#name, #value))
        }));
        let readiness = option(spec.readiness.as_ref().map(|r| self.readiness(r)));
        let stop = slice(spec.stop.iter().map(|s| self.stop_step(s)));
        let location = self.location(&spec.location);
        let restart = self.restart(&spec.restart);
        let depends_on = slice(spec.depends_on.iter().map(|d| self.dependency(d)));
        let logs = self.logs(&spec.logs);
        quote! {
            #lc::spec(
                #file, #name, #variant, #instance, #command, #vars, #readiness, #stop,
                #location, #restart, #depends_on, #logs,
            )
        }
    }

    fn template(&self, t: &Template) -> TokenStream {
        let lc = lc();
        let source = &*t.source;
        let parts = slice(t.parts.iter().map(|p| match p {
            Part::Lit(text) => {
                let text = &**text;
                quote!(#lc::lit(#text))
            }
            Part::Var(name) => {
                let name = &**name;
                quote!(#lc::var(#name))
            }
        }));
        let (line, column) = (
            Literal::u32_unsuffixed(t.pos.line),
            Literal::u32_unsuffixed(t.pos.column),
        );
        quote!(#lc::template(#source, #parts, #line, #column))
    }

    fn command(&self, c: &Command) -> TokenStream {
        let lc = lc();
        let binary = self.template(&c.binary);
        let args = slice(c.args.iter().map(|a| self.template(a)));
        let env = slice(c.env.iter().map(|e| {
            let name = &*e.name;
            let value = self.template(&e.value);
            quote!(#lc::env_var(#name, #value))
        }));
        let inherit_env = match &c.inherit_env {
            InheritEnv::All => quote!(#lc::InheritEnv::All),
            InheritEnv::Only(names) => {
                let names = words(names.iter().map(|n| &**n));
                quote!(#lc::inherit_only(#names))
            }
        };
        quote!(#lc::command(#binary, #args, #env, #inherit_env))
    }

    fn backoff(&self, b: &Backoff) -> TokenStream {
        let lc = lc();
        let (initial, max) = (millis(b.initial), millis(b.max));
        let factor = Literal::f64_unsuffixed(b.factor);
        quote!(#lc::backoff(#initial, #max, #factor))
    }

    fn readiness(&self, r: &Readiness) -> TokenStream {
        let lc = lc();
        let probe = match &r.probe {
            Probe::Http { url, .. } => {
                let url = self.template(url);
                quote!(#lc::http_probe(#url))
            }
            Probe::Tcp { addr, .. } => {
                let addr = self.template(addr);
                quote!(#lc::tcp_probe(#addr))
            }
            Probe::Notify => quote!(#lc::notify_probe()),
            Probe::Log { pattern, .. } => {
                let pattern = &**pattern;
                quote!(#lc::log_probe(#pattern))
            }
            other => unknown(other.kind()),
        };
        let (deadline, attempt_timeout) = (millis(r.deadline), millis(r.attempt_timeout));
        let backoff = self.backoff(&r.backoff);
        quote!(#lc::readiness(#probe, #deadline, #attempt_timeout, #backoff))
    }

    fn stop_step(&self, s: &StopStep) -> TokenStream {
        let lc = lc();
        match s {
            StopStep::Signal { signal, grace, .. } => {
                let signal = match signal {
                    Signal::Hup => quote!(Hup),
                    Signal::Int => quote!(Int),
                    Signal::Quit => quote!(Quit),
                    Signal::Term => quote!(Term),
                    Signal::Usr1 => quote!(Usr1),
                    Signal::Usr2 => quote!(Usr2),
                };
                let grace = millis(*grace);
                quote!(#lc::signal_step(#lc::Signal::#signal, #grace))
            }
            StopStep::HttpPost { url, grace, .. } => {
                let url = self.template(url);
                let grace = millis(*grace);
                quote!(#lc::http_post_step(#url, #grace))
            }
            _ => unknown("stop step"),
        }
    }

    fn location(&self, l: &Location) -> TokenStream {
        let lc = lc();
        match l {
            Location::Local => quote!(#lc::local()),
            Location::Ssh(ssh) => {
                let host = self.template(&ssh.host);
                let user = option(ssh.user.as_ref().map(|u| self.template(u)));
                let port = self.template(&ssh.port);
                let local_hosts = words(ssh.local_hosts.iter().map(|h| &**h));
                let host_keys = match ssh.host_keys {
                    HostKeys::Strict => quote!(#lc::HostKeys::Strict),
                    HostKeys::AcceptNew => quote!(#lc::HostKeys::AcceptNew),
                };
                let probe_from = match ssh.probe_from {
                    ProbeFrom::Manager => quote!(#lc::ProbeFrom::Manager),
                    ProbeFrom::Host => quote!(#lc::ProbeFrom::Host),
                };
                let install = option(ssh.install.as_ref().map(|t| self.template(t)));
                quote!(#lc::ssh(#host, #user, #port, #host_keys, #probe_from, #install, #local_hosts))
            }
            _ => unknown("location"),
        }
    }

    fn restart(&self, r: &Restart) -> TokenStream {
        let lc = lc();
        let policy = match r.policy {
            RestartPolicy::Never => quote!(Never),
            RestartPolicy::OnFailure => quote!(OnFailure),
            RestartPolicy::Always => quote!(Always),
        };
        let max = Literal::u32_unsuffixed(r.max);
        let backoff = self.backoff(&r.backoff);
        let reset_after = millis(r.reset_after);
        quote!(#lc::restart(#lc::RestartPolicy::#policy, #max, #backoff, #reset_after))
    }

    fn dependency(&self, d: &Dependency) -> TokenStream {
        let lc = lc();
        let spec = self.statics.ident(&d.spec);
        let wait = match d.wait {
            WaitFor::Healthy => quote!(Healthy),
            WaitFor::Started => quote!(Started),
        };
        let vars = slice(d.vars.iter().map(|b| {
            let name = &*b.name;
            let value = self.template(&b.value);
            quote!(#lc::var_binding(#name, #value))
        }));
        quote!(#lc::dependency(&#spec, #lc::WaitFor::#wait, #vars))
    }

    fn logs(&self, l: &Logs) -> TokenStream {
        let lc = lc();
        let dir = option(l.dir.as_ref().map(|t| self.template(t)));
        let max_size = Literal::u64_unsuffixed(l.max_size);
        let keep = Literal::u32_unsuffixed(l.keep);
        quote!(#lc::logs(#dir, #max_size, #keep))
    }
}
