//! The error of a generated kind enum's `FromStr`.

/// A text that names no kind of a generated kind enum.
///
/// ```
/// let err = lifecycle_core::error::UnknownKind::new("tgi", &["llamacpp", "vllm"]);
/// assert_eq!(err.to_string(), "unknown kind `tgi`; expected one of: llamacpp, vllm");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{found}`; expected one of: {}", expected.join(", "))]
pub struct UnknownKind {
    /// The text that was parsed.
    pub found: String,
    /// Every kind's name.
    pub expected: &'static [&'static str],
}

impl UnknownKind {
    /// An error for `found`, listing `expected`.
    ///
    /// ```
    /// assert_eq!(lifecycle_core::error::UnknownKind::new("x", &["a"]).found, "x");
    /// ```
    pub fn new(found: &str, expected: &'static [&'static str]) -> UnknownKind {
        UnknownKind {
            found: found.to_owned(),
            expected,
        }
    }
}
