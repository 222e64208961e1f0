//! The `#[lifecycle(...)]` attributes: where the spec is, which field is the kind.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::ctxt::Ctxt;

/// What the attributes of a handle say.
pub(crate) struct Handle<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    /// `crate = "path"`: where `lifecycle_core` is, for re-exporting crates.
    pub(crate) krate: syn::Path,
    /// The named fields, in order.
    pub(crate) fields: Vec<&'a Ident>,
    pub(crate) source: Source<'a>,
}

/// Where the handle's spec comes from.
pub(crate) enum Source<'a> {
    /// `#[lifecycle(spec = "specs/queen.yaml")]` on the struct.
    File(LitStr),
    /// `#[lifecycle(spec_dir = "specs/workers")]` on a field whose type is the enum to generate.
    Dir {
        dir: LitStr,
        field: &'a Ident,
        enum_ident: &'a Ident,
    },
}

/// Reads the attributes of `input`, every problem into `cx`: the handle, or when there is none
/// to expand (with at least one error in `cx`) the path of lifecycle-core, for the stub.
pub(crate) fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Result<Handle<'a>, syn::Path> {
    let mut krate: Option<syn::Path> = None;
    let handle = parse_handle(cx, input, &mut krate);
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::lifecycle_core));
    match handle {
        Some(handle) => Ok(Handle { krate, ..handle }),
        None => Err(krate),
    }
}

fn parse_handle<'a>(
    cx: &Ctxt,
    input: &'a DeriveInput,
    krate: &mut Option<syn::Path>,
) -> Option<Handle<'a>> {
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => Some(named),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        cx.error_spanned_by(
            &input.ident,
            "#[derive(Lifecycle)] needs a struct with named fields: its fields fill the spec's `{var}`s",
        );
        return None;
    };

    let mut spec: Option<LitStr> = None;
    // Whether `spec` or `spec_dir` was written at all, valid or not: a broken one is reported
    // as such, not also as missing.
    let mut source_written = false;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("lifecycle"))
    {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("spec") {
                source_written = true;
                let lit: LitStr = meta.value()?.parse()?;
                if spec.replace(lit).is_some() {
                    return Err(meta.error("`spec` is given twice"));
                }
                Ok(())
            } else if meta.path.is_ident("crate") {
                let lit: LitStr = meta.value()?.parse()?;
                *krate = Some(lit.parse()?);
                Ok(())
            } else if meta.path.is_ident("spec_dir") {
                source_written = true;
                Err(meta.error("`spec_dir` goes on the field whose type is the kind enum: `#[lifecycle(spec_dir = \"specs/workers\")] kind: WorkerKind`"))
            } else {
                Err(meta.error("unknown lifecycle attribute; expected `spec = \"path/to/spec.yaml\"` or `crate = \"path\"`"))
            }
        });
        if let Err(err) = parsed {
            cx.syn_error(err);
        }
    }

    let mut dir: Option<(LitStr, &Ident, &Ident)> = None;
    for field in &named.named {
        for attr in field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("lifecycle"))
        {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("spec_dir") {
                    source_written = true;
                    let lit: LitStr = meta.value()?.parse()?;
                    let (Some(field_ident), Some(enum_ident)) = (field.ident.as_ref(), type_ident(&field.ty)) else {
                        return Err(syn::Error::new_spanned(
                            &field.ty,
                            "the field with `spec_dir` must have a plain type name, the enum to generate (e.g. `kind: WorkerKind`)",
                        ));
                    };
                    if dir.replace((lit, field_ident, enum_ident)).is_some() {
                        return Err(meta.error("only one field can take `spec_dir`"));
                    }
                    Ok(())
                } else {
                    Err(meta.error("unknown lifecycle field attribute; expected `spec_dir = \"path/to/specs\"`"))
                }
            });
            if let Err(err) = parsed {
                cx.syn_error(err);
            }
        }
    }

    let source = match (spec, dir) {
        (Some(file), None) => Some(Source::File(file)),
        (None, Some((dir, field, enum_ident))) => Some(Source::Dir {
            dir,
            field,
            enum_ident,
        }),
        (Some(file), Some(_)) => {
            cx.error_spanned_by(
                file,
                "a handle takes its spec from `spec` or from a field's `spec_dir`, not both",
            );
            None
        }
        (None, None) if source_written => None,
        (None, None) => {
            cx.error_spanned_by(
                &input.ident,
                "#[derive(Lifecycle)] needs `#[lifecycle(spec = \"specs/<name>.yaml\")]` on the struct, or `#[lifecycle(spec_dir = \"specs/<dir>\")]` on the field that names the kind",
            );
            None
        }
    };
    Some(Handle {
        ident: &input.ident,
        vis: &input.vis,
        krate: syn::parse_quote!(::lifecycle_core),
        fields: named
            .named
            .iter()
            .filter_map(|f| f.ident.as_ref())
            .collect(),
        source: source?,
    })
}

/// `WorkerKind` for `kind: WorkerKind`; `None` for paths, references, generics.
fn type_ident(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            let segment = path.path.segments.first()?;
            segment.arguments.is_none().then_some(&segment.ident)
        }
        _ => None,
    }
}
