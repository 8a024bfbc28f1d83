//! Latency percentiles and throughput.

use std::time::Duration;

use serde::Serialize;

/// Percentile summary of a set of latencies, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// The `q`-quantile (0.0..=1.0) of sorted samples by the nearest-rank method: the smallest
/// sample such that at least `q` of all samples are less than or equal to it. `None` when
/// there are no samples.
pub fn nearest_rank(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    // Rank is 1-based: ceil(q * n), at least 1.
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Summary {
    /// Summarises samples in any order. An empty input gives an all-zero summary.
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let total: Duration = samples.iter().sum();
        let at = |q| nearest_rank(&samples, q).map(ms).unwrap_or_default();
        Summary {
            count: samples.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            mean_ms: ms(total) / samples.len() as f64,
        }
    }
}

/// Operations per second; zero when no time passed.
pub fn per_second(ops: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { ops as f64 / secs } else { 0.0 }
}

/// `ours / reference`, or `None` when the reference is zero.
pub fn ratio(ours: f64, reference: f64) -> Option<f64> {
    (reference > 0.0).then(|| ours / reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_picks_the_smallest_sample_covering_the_quantile() {
        let sorted = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(nearest_rank(&sorted, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(nearest_rank(&sorted, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(nearest_rank(&sorted, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(nearest_rank(&sorted, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn nearest_rank_of_few_samples_rounds_up() {
        let sorted = millis(&[10, 20, 30]);
        assert_eq!(nearest_rank(&sorted, 0.5), Some(Duration::from_millis(20)));
        assert_eq!(nearest_rank(&sorted, 0.99), Some(Duration::from_millis(30)));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn summary_sorts_its_input() {
        let s = Summary::of(millis(&[30, 10, 20, 40]));
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ms, 20.0);
        assert_eq!(s.p99_ms, 40.0);
        assert_eq!(s.max_ms, 40.0);
        assert_eq!(s.mean_ms, 25.0);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(Summary::of(Vec::new()), Summary::default());
    }

    #[test]
    fn rates_and_ratios_handle_zero() {
        assert_eq!(per_second(10, Duration::from_secs(2)), 5.0);
        assert_eq!(per_second(10, Duration::ZERO), 0.0);
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
    }
}
