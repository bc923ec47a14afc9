//! Order statistics over timed runs, shared by the bench binaries.

use std::time::Duration;

pub fn median(v: &[Duration]) -> Duration {
    pct(v, 0.5)
}

/// The `p`-quantile (nearest rank); `v` must not be empty.
pub fn pct(v: &[Duration], p: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}
