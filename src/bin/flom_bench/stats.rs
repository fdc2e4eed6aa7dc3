//! Latency statistics over samples in nanoseconds.

/// Nearest-rank percentile of an ascending slice: the smallest sample such
/// that at least `q` percent of the samples are at or below it. 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((q / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// The figures printed for a set of latencies, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Summary {
    /// Sorts `ns` in place and summarises it.
    pub fn of(ns: &mut [u64]) -> Summary {
        if ns.is_empty() {
            return Summary::default();
        }
        ns.sort_unstable();
        let sum: u128 = ns.iter().map(|&v| u128::from(v)).sum();
        let us = |v: u64| v as f64 / 1000.0;
        Summary {
            n: ns.len(),
            mean_us: sum as f64 / ns.len() as f64 / 1000.0,
            p50_us: us(percentile(ns, 50.0)),
            p99_us: us(percentile(ns, 99.0)),
            max_us: us(*ns.last().unwrap_or(&0)),
        }
    }
}

/// `a / b`, or NaN when `b` is zero (printed as "-" / null).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        f64::NAN
    } else {
        a / b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&v, 0.5), 1);
        assert_eq!(percentile(&v, 99.5), 100);
    }

    #[test]
    fn small_sets() {
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 50.0), 7);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[1, 2], 50.0), 1);
        assert_eq!(percentile(&[1, 2], 51.0), 2);
        assert_eq!(percentile(&[1, 2, 3], 50.0), 2);
        // p99 of 10 samples is the largest one
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 99.0), 10);
        assert_eq!(percentile(&v, 90.0), 9);
    }

    #[test]
    fn summary_sorts_and_converts() {
        let mut v = vec![5_000u64, 1_000, 3_000, 2_000, 4_000];
        let s = Summary::of(&mut v);
        assert_eq!(v, vec![1_000, 2_000, 3_000, 4_000, 5_000]);
        assert_eq!(s.n, 5);
        assert_eq!(s.mean_us, 3.0);
        assert_eq!(s.p50_us, 3.0);
        assert_eq!(s.p99_us, 5.0);
        assert_eq!(s.max_us, 5.0);
        assert_eq!(Summary::of(&mut []), Summary::default());
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(3.0, 2.0), 1.5);
        assert!(ratio(1.0, 0.0).is_nan());
    }
}
