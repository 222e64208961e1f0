//! What the derive emits when the spec is wrong: the errors, plus stubs that keep the rest of
//! the user's code compiling, so that the errors that show are the real ones. This follows
//! thiserror's `impl/src/fallback.rs`, which emits its error together with an empty `Error`
//! impl and a `Display` impl whose `fmt` is `unreachable!()`; serde_derive does not (it emits
//! only the errors). A kind directory also gets a stub enum with the variants that could be determined.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{DeriveInput, Ident, Visibility};

use crate::emit::lc;

/// An impl of `Lifecycle` that is never run: the crate does not compile. It goes in the
/// expansion's block, where `__lc` is lifecycle-core's `__private`.
pub(crate) fn handle(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let lc = lc();
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #lc::Lifecycle for #ident #ty_generics #where_clause {
            fn spec(&self) -> &'static #lc::Spec {
                ::core::unreachable!("the spec of this handle did not compile")
            }
            fn var(&self, _: &str) -> ::core::option::Option<::std::string::String> {
                ::core::option::Option::None
            }
        }
    }
}
/// A kind enum with the variants that could be determined, so that code naming them resolves.
pub(crate) fn kind_enum(vis: &Visibility, ident: &Ident, variants: &[String]) -> TokenStream {
    let mut seen: Vec<&str> = Vec::new();
    let variants: Vec<Ident> = variants
        .iter()
        .filter(|v| {
            let fresh = !seen.contains(&v.as_str()) && syn::parse_str::<Ident>(v).is_ok();
            seen.push(v);
            fresh
        })
        .map(|v| Ident::new(v, Span::call_site()))
        .collect();
    quote! {
        #[derive(
            ::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug,
            ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash,
            ::core::cmp::PartialOrd, ::core::cmp::Ord,
        )]
        #vis enum #ident { #(#variants,)* }
    }
}
