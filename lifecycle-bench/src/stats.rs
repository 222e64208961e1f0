//! Medians and spreads of repeated measurements.

use std::time::Duration;

/// A sample of durations.
#[derive(Clone)]
pub(crate) struct Sample(pub(crate) Vec<Duration>);

impl Sample {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.0.clone();
        v.sort();
        v
    }

    /// The median (the mean of the middle two for even counts).
    pub(crate) fn median(&self) -> Duration {
        let v = self.sorted();
        match v.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2,
        }
    }

    /// The `p`-th percentile (0–100), nearest rank: the smallest value that at least `p` % of
    /// the sample do not exceed.
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let v = self.sorted();
        let rank = (p / 100.0 * v.len() as f64).ceil() as usize;
        v.get(rank.clamp(1, v.len().max(1)) - 1)
            .copied()
            .unwrap_or_default()
    }

    /// The number of values.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The smallest and largest values.
    pub(crate) fn range(&self) -> (Duration, Duration) {
        let v = self.sorted();
        (
            v.first().copied().unwrap_or_default(),
            v.last().copied().unwrap_or_default(),
        )
    }
}

/// `1.234 s` / `12.3 ms` / `45 µs`.
pub(crate) fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// This process's own CPU time so far: (user, system), from getrusage.
pub(crate) fn own_cpu_time()
-> Result<(Duration, Duration), Box<dyn std::error::Error + Send + Sync>> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let of =
        |t: nix::sys::time::TimeVal| -> Result<Duration, Box<dyn std::error::Error + Send + Sync>> {
            Ok(Duration::from_secs(u64::try_from(t.tv_sec())?)
                + Duration::from_micros(u64::try_from(t.tv_usec())?))
        };
    Ok((of(usage.user_time())?, of(usage.system_time())?))
}
