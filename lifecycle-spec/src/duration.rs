//! Durations with mandatory units: `100ms`, `5s`, `2m`, `1h`, `1m30s`.

use std::fmt;
use std::time::Duration;

/// The longest duration a spec may state. Anything longer is a typo (`5000h`) or a wait that
/// should not exist.
///
/// ```
/// assert!(lifecycle_spec::__private::parse_duration("25h").is_err());
/// assert_eq!(lifecycle_spec::__private::parse_duration("24h"), Ok(lifecycle_spec::MAX_DURATION));
/// ```
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a duration text was refused.
///
/// ```
/// assert_eq!(lifecycle_spec::__private::parse_duration("5"), Err(lifecycle_spec::__private::DurationError::MissingUnit));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing but whitespace.
    #[error("an empty duration")]
    Empty,
    /// A number with no unit after it, such as `5`.
    #[error("a number without a unit")]
    MissingUnit,
    /// A unit that is not one of `ms`, `s`, `m`, `h`.
    #[error("an unknown unit `{0}`")]
    UnknownUnit(String),
    /// A fraction such as `1.5s`.
    #[error("a fractional number")]
    Fraction,
    /// Anything else that is not `<digits><unit>` repeated.
    #[error("not of the form <number><unit>")]
    Malformed,
    /// Longer than [`MAX_DURATION`].
    #[error("longer than 24h")]
    TooLong,
}

/// Parses a duration written as one or more `<integer><unit>` groups, units `ms`, `s`, `m`, `h`.
///
/// ```
/// use std::time::Duration;
/// use lifecycle_spec::__private::parse_duration;
/// assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
/// assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert!(parse_duration("5").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let bytes = text.as_bytes();
    let mut total_ms: u128 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(DurationError::Malformed);
        }
        let digits = &text[start..i];
        if i < bytes.len() && (bytes[i] == b'.' || bytes[i] == b',') {
            return Err(DurationError::Fraction);
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        let scale: u128 = match unit {
            "" => {
                return Err(if i == bytes.len() {
                    DurationError::MissingUnit
                } else {
                    DurationError::Malformed
                });
            }
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        // More than 39 digits cannot fit even a u128; anything past 24h is refused anyway.
        let value: u128 = digits.parse().map_err(|_| DurationError::TooLong)?;
        total_ms = value
            .checked_mul(scale)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or(DurationError::TooLong)?;
        if total_ms > MAX_DURATION.as_millis() {
            return Err(DurationError::TooLong);
        }
    }
    // total_ms <= 24h in ms, which fits a u64.
    Ok(Duration::from_millis(total_ms as u64))
}

/// Displays a duration the way a spec would write it: `100ms`, `5s`, `2m`, `1m30s`.
///
/// ```
/// use std::time::Duration;
/// use lifecycle_spec::DisplayDuration;
/// assert_eq!(DisplayDuration(Duration::from_millis(3200)).to_string(), "3200ms");
/// assert_eq!(DisplayDuration(Duration::from_secs(90)).to_string(), "1m30s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisplayDuration(pub Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let mut secs = ms / 1000;
        for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_unit_and_compounds() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("1h2m3s4ms"),
            Ok(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("5"), Err(DurationError::MissingUnit));
        assert_eq!(parse_duration("1.5s"), Err(DurationError::Fraction));
        assert_eq!(
            parse_duration("5sec"),
            Err(DurationError::UnknownUnit("sec".into()))
        );
        assert_eq!(parse_duration("s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("5 s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("-5s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("25h"), Err(DurationError::TooLong));
        assert_eq!(
            parse_duration("99999999999999999999999999999999999999999999h"),
            Err(DurationError::TooLong)
        );
    }

    #[test]
    fn display_round_trips() {
        for text in ["0s", "1ms", "3200ms", "5s", "2m", "1h", "1m30s", "1h1s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(DisplayDuration(d).to_string(), text);
        }
    }
}
