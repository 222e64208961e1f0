//! The one place the derive's errors are collected, as serde_derive's `internals/ctxt.rs`:
//! attribute reading (`attr`) and spec loading (`valid`) push every problem they find and go
//! on; `check` hands them back, combined into one `syn::Error` (one `compile_error!` each). A
//! context must be checked: dropping one unchecked is a bug in the derive (errors or not), caught
//! in debug builds, which this crate's tests are.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// The errors of one phase of the derive.
pub(crate) struct Ctxt {
    /// `None` once checked.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Ctxt {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// An error pointing at `tokens`.
    pub(crate) fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.syn_error(syn::Error::new_spanned(tokens, message));
    }

    /// An error as `syn` made it.
    pub(crate) fn syn_error(&self, error: syn::Error) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(error);
        }
    }

    /// Every error pushed, combined in the order found; `Ok` if there were none.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        debug_assert!(
            self.errors.borrow().is_none() || std::thread::panicking(),
            "lifecycle-macros: a context was never checked"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_back_combined_in_order() {
        let cx = Ctxt::new();
        cx.error_spanned_by(quote::quote!(a), "first");
        cx.syn_error(syn::Error::new(proc_macro2::Span::call_site(), "second"));
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    #[should_panic(expected = "never checked")]
    fn an_unchecked_context_is_a_bug() {
        drop(Ctxt::new());
    }
}
