//! Puts the derive together: the `Lifecycle` impl, and for a directory of specs the kind enum.
//!
//! Everything but the kind enum goes in one `const _: () = { … };` block that reaches
//! lifecycle-core only through its hidden `__private` module (`use <crate>::__private as __lc;`):
//! the specs as statics (each once, see `statics`), the impls, the file tracking. Nothing of it
//! is nameable from the user's crate, and the model can grow without breaking an expansion.

use std::path::{Component, Path, PathBuf};

use lifecycle_spec::Spec;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{DeriveInput, Ident, LitStr};

use crate::attr::{self, Handle, Source};
use crate::ctxt::Ctxt;
use crate::emit::lc;
use crate::fallback;
use crate::statics::Statics;
use crate::valid::{self, Loaded};

/// The derive, resolving spec paths against `CARGO_MANIFEST_DIR`.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    derive_in(input, None)
}

/// The derive, resolving spec paths against `root` when given (tests), else the manifest dir.
pub(crate) fn derive_in(input: &DeriveInput, root: Option<&Path>) -> TokenStream {
    let cx = Ctxt::new();
    let handle = attr::parse(&cx, input);
    let handle = match (cx.check(), handle) {
        (Ok(()), Ok(handle)) => handle,
        (checked, handle) => {
            let krate = match handle {
                Ok(handle) => handle.krate,
                Err(krate) => krate,
            };
            let err = failed(checked).to_compile_error();
            let stub = block(&krate, fallback::handle(input));
            return quote!(#err #stub);
        }
    };
    let lit = match &handle.source {
        Source::File(lit) | Source::Dir { dir: lit, .. } => lit,
    };
    let root = match root {
        Some(root) => root.to_path_buf(),
        None => match valid::manifest_dir(lit) {
            Ok(root) => root,
            Err(err) => {
                let err = err.to_compile_error();
                let stub = block(&handle.krate, fallback::handle(input));
                return quote!(#err #stub);
            }
        },
    };
    // `r#type` fills `{type}`.
    let fields: Vec<String> = handle
        .fields
        .iter()
        .map(|f| f.unraw().to_string())
        .collect();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    match &handle.source {
        Source::File(lit) => expand_file(input, &handle, &root, lit, &fields),
        Source::Dir {
            dir,
            field,
            enum_ident,
        } => expand_dir(input, &handle, &root, dir, field, enum_ident, &fields),
    }
}

fn expand_file(
    input: &DeriveInput,
    handle: &Handle<'_>,
    root: &Path,
    lit: &LitStr,
    fields: &[&str],
) -> TokenStream {
    let cx = Ctxt::new();
    let Loaded { value, files } = valid::load_file(&cx, root, lit, fields);
    let tracking = track(root, &files);
    let spec = match (cx.check(), value) {
        (Ok(()), Some(spec)) => spec,
        (checked, _) => {
            let err = failed(checked).to_compile_error();
            let stub = fallback::handle(input);
            let stub = block(&handle.krate, quote!(#tracking #stub));
            return quote!(#err #stub);
        }
    };
    let statics = Statics::collect(&[&spec]);
    let spec_static = statics.ident(&spec);
    let statics = statics.emit();
    let var_fn = var_fn(&handle.krate, &[&spec], &handle.fields);
    let ident = handle.ident;
    let lc = lc();
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    block(
        &handle.krate,
        quote! {
            #tracking
            #statics
            #[automatically_derived]
            impl #impl_generics #lc::Lifecycle for #ident #ty_generics #where_clause {
                fn spec(&self) -> &'static #lc::Spec {
                    &#spec_static
                }
                #var_fn
            }
        },
    )
}

/// The errors of a phase that produced nothing to expand. There is at least one (`attr` and
/// `valid` say why they give up); if there were none, the stub must still not compile.
fn failed(checked: syn::Result<()>) -> syn::Error {
    checked.err().unwrap_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "lifecycle-macros gave up on this handle without saying why (a bug in lifecycle-macros)",
        )
    })
}

/// `const _: () = { use <crate>::__private as __lc; #items };`
fn block(krate: &syn::Path, items: TokenStream) -> TokenStream {
    let lc = lc();
    quote! {
        const _: () = {
            use #krate::__private as #lc;
            #items
        };
    }
}

fn expand_dir(
    input: &DeriveInput,
    handle: &Handle<'_>,
    root: &Path,
    dir: &LitStr,
    kind_field: &Ident,
    enum_ident: &Ident,
    fields: &[&str],
) -> TokenStream {
    let cx = Ctxt::new();
    let Loaded {
        value: kinds,
        files,
    } = valid::load_dir(&cx, root, dir, fields);
    let tracking = track(root, &files);
    let vis = handle.vis;
    if let Err(errors) = cx.check() {
        let err = errors.to_compile_error();
        let variants: Vec<String> = kinds.iter().map(|kind| kind.variant.clone()).collect();
        let stub_enum = fallback::kind_enum(vis, enum_ident, &variants);
        let stub = fallback::handle(input);
        let stub = block(&handle.krate, quote!(#tracking #stub));
        return quote!(#err #stub_enum #stub);
    }
    let specs: Vec<&Spec> = kinds.iter().filter_map(|kind| kind.spec.as_ref()).collect();
    let statics = Statics::collect(&specs);
    let spec_statics: Vec<TokenStream> = specs.iter().map(|s| statics.ident(s)).collect();
    let statics = statics.emit();
    let lc = lc();
    let variants: Vec<Ident> = specs
        .iter()
        .map(|s| Ident::new(&s.variant, Span::call_site()))
        .collect();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_ref()).collect();
    let dir_text = dir.value();
    let enum_doc = format!(
        "The kinds of `{}`: one variant per spec file in `{dir_text}` ({}). Generated by `#[derive(Lifecycle)]`; a spec file added to the directory adds a variant.",
        handle.ident,
        specs
            .iter()
            .map(|s| format!("`{}` from `{}`", s.variant, s.file))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let variant_docs: Vec<String> = specs
        .iter()
        .map(|s| format!("`{}`, from `{}`.", s.name, s.file))
        .collect();
    let var_fn = var_fn(&handle.krate, &specs, &handle.fields);
    let ident = handle.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let items = quote! {
        #tracking
        #statics

        #[automatically_derived]
        impl #enum_ident {
            /// Every kind, in file-name order.
            #vis const ALL: &'static [#enum_ident] = &[#(#enum_ident::#variants),*];

            /// The kind's spec name, as `FromStr` and `Display` spell it.
            #vis const fn name(self) -> &'static str {
                match self {
                    #( #enum_ident::#variants => #names, )*
                }
            }

            /// The kind's validated spec.
            #vis const fn spec(self) -> &'static #lc::Spec {
                match self {
                    #( #enum_ident::#variants => &#spec_statics, )*
                }
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Display for #enum_ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.name())
            }
        }

        #[automatically_derived]
        impl ::core::str::FromStr for #enum_ident {
            type Err = #lc::UnknownKind;

            fn from_str(text: &str) -> ::core::result::Result<Self, #lc::UnknownKind> {
                match text {
                    #( #names => ::core::result::Result::Ok(#enum_ident::#variants), )*
                    _ => ::core::result::Result::Err(#lc::UnknownKind::new(text, &[#(#names),*])),
                }
            }
        }

        #[automatically_derived]
        impl #impl_generics #lc::Lifecycle for #ident #ty_generics #where_clause {
            fn spec(&self) -> &'static #lc::Spec {
                self.#kind_field.spec()
            }
            #var_fn
        }
    };
    let block = block(&handle.krate, items);
    quote! {
        #[doc = #enum_doc]
        #[derive(
            ::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug,
            ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash,
            ::core::cmp::PartialOrd, ::core::cmp::Ord,
        )]
        #vis enum #enum_ident {
            #( #[doc = #variant_docs] #variants, )*
        }

        #block
    }
}

/// `fn var`: the handle's fields that the spec(s) use, rendered with `Display`.
fn var_fn(krate: &syn::Path, specs: &[&Spec], fields: &[&Ident]) -> TokenStream {
    let used: Vec<&Ident> = fields
        .iter()
        .copied()
        .filter(|field| {
            let name = field.unraw().to_string();
            specs.iter().any(|s| s.variables().contains(&name.as_str()))
        })
        .collect();
    let names: Vec<String> = used.iter().map(|f| f.unraw().to_string()).collect();
    // A marker type per variable, named after it, for the message of a field without `Display`
    // (reported at the field: the call is spanned on it).
    // The crate's path, not `__lc`: a marker named like the alias would shadow it.
    let values = used.iter().map(
        |field| quote_spanned!(field.span()=> #krate::__private::fill::<#field, _>(&self.#field)),
    );
    quote! {
        fn var(&self, name: &str) -> ::core::option::Option<::std::string::String> {
            #(
                #[allow(non_camel_case_types, dead_code)]
                struct #used;
            )*
            match name {
                #( #names => ::core::option::Option::Some(#values), )*
                _ => ::core::option::Option::None,
            }
        }
    }
}

/// `include_bytes!` of every spec file read, once each: editing one rebuilds the crate. Each
/// path is given relative to `CARGO_MANIFEST_DIR` (with `..` where a spec lies outside the
/// crate), so the expansion does not depend on where the crate is.
fn track(root: &Path, files: &[PathBuf]) -> TokenStream {
    let root = lexical(root);
    let mut seen: Vec<PathBuf> = Vec::new();
    let includes = files.iter().filter_map(|file| {
        let file = lexical(file);
        if seen.contains(&file) {
            return None;
        }
        let relative = relative_to(&root, &file);
        seen.push(file);
        let relative = format!("/{}", relative.to_string_lossy());
        Some(quote!(::core::include_bytes!(
            ::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), #relative)
        )))
    });
    quote! {
        #( const _: &[u8] = #includes; )*
    }
}

/// `path` with `.` and `dir/..` taken out, without asking the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `file` relative to `root`, both lexical and absolute: `..` for each component of `root`
/// past their common prefix.
fn relative_to(root: &Path, file: &Path) -> PathBuf {
    let common = root
        .components()
        .zip(file.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in root.components().skip(common) {
        out.push("..");
    }
    for component in file.components().skip(common) {
        out.push(component);
    }
    out
}
