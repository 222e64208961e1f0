//! Where a value sits in its spec file.

use std::fmt;

/// A 1-based line and column in a spec file; `Pos::UNKNOWN` (0:0) for values that did not come
/// from a file (defaults, specs built in code).
///
/// ```
/// use lifecycle_spec::Pos;
/// let pos = Pos::new(12, 14);
/// assert_eq!(pos.to_string(), "12:14");
/// assert!(Pos::UNKNOWN.is_unknown());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Pos {
    /// The position of a value that has no place in a file.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Pos::UNKNOWN.line, 0);
    /// ```
    pub const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    /// A position at `line`, `column` (both 1-based).
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Pos::new(3, 7).line, 3);
    /// ```
    pub const fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    /// Whether this is [`Pos::UNKNOWN`].
    ///
    /// ```
    /// assert!(!lifecycle_spec::Pos::new(1, 1).is_unknown());
    /// ```
    pub const fn is_unknown(self) -> bool {
        self.line == 0
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
