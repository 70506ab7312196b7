//! Latency statistics for benchmark reports.

use serde::{Deserialize, Serialize};

/// Summary of a set of durations in microseconds, rounded to nanoseconds (0.001 µs).
/// Percentiles are nearest-rank: the `p`-th percentile of `n` sorted samples is sample number
/// `ceil(p / 100 * n)` (1-based).
///
/// A report read back fills a missing figure with 0 (`serde(default)`): a latency object from
/// another runner version that lacks one is still usable for the figures it has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

impl Latency {
    /// Summarise samples (microseconds); `None` when there are none.
    pub fn from_micros(samples: &[f64]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let rank = |p: f64| s[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        let ns = |v: f64| (v * 1000.0).round() / 1000.0;
        Some(Latency {
            mean: ns(s.iter().sum::<f64>() / n as f64),
            p50: ns(rank(50.0)),
            p90: ns(rank(90.0)),
            p99: ns(rank(99.0)),
            min: ns(s[0]),
            max: ns(s[n - 1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        let l = Latency::from_micros(&v).unwrap();
        assert_eq!(
            (l.p50, l.p90, l.p99, l.min, l.max),
            (50.0, 90.0, 99.0, 1.0, 100.0)
        );
        assert_eq!(l.mean, 50.5);
        let one = Latency::from_micros(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert!(Latency::from_micros(&[]).is_none());
    }
}
