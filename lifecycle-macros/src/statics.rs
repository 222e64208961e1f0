//! Every spec of one expansion — the handle's own and, transitively, their dependencies' — each
//! emitted once, as a `static` of its own; a dependent refers to its dependency's static. Two
//! worker specs that need the queen carry one queen between them.

use lifecycle_spec::Spec;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use crate::emit::{Emitter, lc};

/// The specs of an expansion, dependencies before their dependents, without repeats.
pub(crate) struct Statics<'s> {
    specs: Vec<(&'s Spec, Ident)>,
}

impl<'s> Statics<'s> {
    /// The specs `roots` and everything they depend on.
    pub(crate) fn collect(roots: &[&'s Spec]) -> Statics<'s> {
        let mut statics = Statics { specs: Vec::new() };
        for root in roots {
            statics.add(root);
        }
        statics
    }

    fn add(&mut self, spec: &'s Spec) {
        if self.find(spec).is_some() {
            return;
        }
        for dependency in spec.depends_on.iter() {
            self.add(&dependency.spec);
        }
        let base = format!("SPEC_{}", spec.name.to_ascii_uppercase().replace('-', "_"));
        let mut name = base.clone();
        let mut n = 1;
        while self.specs.iter().any(|(_, ident)| *ident == name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.specs
            .push((spec, Ident::new(&name, Span::call_site())));
    }

    fn find(&self, spec: &Spec) -> Option<&Ident> {
        self.specs
            .iter()
            .find(|(known, _)| *known == spec)
            .map(|(_, ident)| ident)
    }

    /// The static that holds `spec`, one of the collected specs.
    pub(crate) fn ident(&self, spec: &Spec) -> TokenStream {
        match self.find(spec) {
            Some(ident) => quote!(#ident),
            // Not reached: every spec of the expansion was collected.
            None => quote!(::core::compile_error!(
                "lifecycle-macros: a spec was not collected"
            )),
        }
    }

    /// `static SPEC_<NAME>: __lc::Spec = …;` for each spec.
    pub(crate) fn emit(&self) -> TokenStream {
        let lc = lc();
        let emitter = Emitter { statics: self };
        let items = self.specs.iter().map(|(spec, ident)| {
            let value = emitter.spec(spec);
            quote!(static #ident: #lc::Spec = #value;)
        });
        quote!(#(#items)*)
    }
}
