//! What the derive emits when the spec is wrong: the errors, plus stubs that keep the rest of
//! the user's code compiling, so the errors that show are the real ones (serde_derive does the
//! same).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{DeriveInput, Ident, Visibility};

/// An impl of `Lifecycle` that is never run: the crate does not compile.
pub(crate) fn handle(input: &DeriveInput, k: &syn::Path) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #k::Lifecycle for #ident #ty_generics #where_clause {
            fn spec(&self) -> &'static #k::spec::Spec {
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
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #vis enum #ident { #(#variants,)* }
    }
}
