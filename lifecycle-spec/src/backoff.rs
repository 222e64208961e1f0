//! Exponential backoff: initial delay, growth factor, ceiling.

use std::time::Duration;

/// Delays that start at `initial`, grow by `factor` and never pass `max`.
///
/// ```
/// use std::time::Duration;
/// use lifecycle_spec::Backoff;
/// let b = Backoff::READINESS;
/// assert_eq!(b.delay(0), Duration::from_millis(100));
/// assert_eq!(b.delay(3), Duration::from_millis(800));
/// assert_eq!(b.delay(30), Duration::from_millis(3200));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Each delay is the previous one times this (≥ 1).
    pub factor: f64,
}

impl Backoff {
    /// Delays from `initial`, times `factor` at each attempt, never above `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = lifecycle_spec::Backoff::new(Duration::from_millis(10), Duration::from_millis(25), 2.0);
    /// assert_eq!(b.delay(2), Duration::from_millis(25));
    /// ```
    pub const fn new(initial: Duration, max: Duration, factor: f64) -> Backoff {
        Backoff {
            initial,
            max,
            factor,
        }
    }

    /// The readiness default: 100ms, ×2, at most 3200ms.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Backoff::READINESS.factor, 2.0);
    /// ```
    pub const READINESS: Backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(3200),
        factor: 2.0,
    };

    /// The restart default: 1s, ×2, at most 30s.
    ///
    /// ```
    /// assert_eq!(lifecycle_spec::Backoff::RESTART.initial, std::time::Duration::from_secs(1));
    /// ```
    pub const RESTART: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(30),
        factor: 2.0,
    };

    /// The delay before retry number `attempt` (0-based): `min(initial × factor^attempt, max)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = lifecycle_spec::Backoff::new(Duration::from_millis(10), Duration::from_secs(1), 1.5);
    /// assert_eq!(b.delay(2), Duration::from_micros(22_500));
    /// ```
    pub fn delay(&self, attempt: u32) -> Duration {
        let grown =
            self.initial.as_secs_f64() * self.factor.powi(attempt.min(i32::MAX as u32) as i32);
        if !grown.is_finite() || grown >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(grown.max(0.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let b = Backoff::READINESS;
        let delays: Vec<u128> = (0..8).map(|i| b.delay(i).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 3200, 3200]);
        assert_eq!(b.delay(u32::MAX), b.max);
    }

    #[test]
    fn factor_one_is_constant() {
        let b = Backoff {
            factor: 1.0,
            ..Backoff::READINESS
        };
        assert_eq!(b.delay(10), b.initial);
    }
}
