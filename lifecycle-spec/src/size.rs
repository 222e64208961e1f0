//! Byte sizes with mandatory units: `512KiB`, `10MiB`, `1GB`.

/// Why a size text was refused.
///
/// ```
/// assert_eq!(lifecycle_spec::__private::parse_size("10"), Err(lifecycle_spec::__private::SizeError::MissingUnit));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// A number with no unit after it.
    #[error("a number without a unit")]
    MissingUnit,
    /// A unit that is not one of `B`, `KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`.
    #[error("an unknown unit `{0}`")]
    UnknownUnit(String),
    /// Anything else that is not `<integer><unit>`.
    #[error("not of the form <number><unit>")]
    Malformed,
    /// More than 1 TiB.
    #[error("larger than 1TiB")]
    TooLarge,
}

/// Parses `<integer><unit>`, units `B`, `KB`/`MB`/`GB` (powers of 1000) and `KiB`/`MiB`/`GiB`
/// (powers of 1024).
///
/// ```
/// use lifecycle_spec::__private::parse_size;
/// assert_eq!(parse_size("10MiB"), Ok(10 * 1024 * 1024));
/// assert_eq!(parse_size("2KB"), Ok(2000));
/// assert!(parse_size("10").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(SizeError::Malformed);
    }
    let scale: u64 = match unit {
        "" => return Err(SizeError::MissingUnit),
        "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other if other.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            return Err(SizeError::UnknownUnit(other.to_owned()));
        }
        _ => return Err(SizeError::Malformed),
    };
    let value: u64 = digits.parse().map_err(|_| SizeError::TooLarge)?;
    let bytes = value.checked_mul(scale).ok_or(SizeError::TooLarge)?;
    if bytes > 1 << 40 {
        return Err(SizeError::TooLarge);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("3MB"), Ok(3_000_000));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_size("10"), Err(SizeError::MissingUnit));
        assert_eq!(parse_size("10mb"), Err(SizeError::UnknownUnit("mb".into())));
        assert_eq!(parse_size("MiB"), Err(SizeError::Malformed));
        assert_eq!(parse_size("1.5MiB"), Err(SizeError::Malformed));
        assert_eq!(parse_size("2000GiB"), Err(SizeError::TooLarge));
    }
}
