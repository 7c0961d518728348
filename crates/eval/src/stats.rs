//! The statistics of an A/B test, each a plain function over counts or
//! scores: Wilson score intervals for a proportion, the exact McNemar test
//! for paired pass/fail outcomes, and a paired bootstrap interval for the
//! mean difference of graded scores.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The 0.975 quantile of the standard normal distribution (a two-sided 95%
/// interval).
pub const Z_95: f64 = 1.959963984540054;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The 95% Wilson score interval of `successes` out of `n` (z = 1.959964);
/// `n = 0` gives [0, 1].
///
/// The bounds are clamped to [0, 1]; at 0/n the lower bound is exactly 0
/// and at n/n the upper bound exactly 1 (the closed form gives them only up
/// to rounding). `successes` above `n` count as `n`.
pub fn wilson(successes: usize, n: usize) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let successes = successes.min(n);
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z2 = Z_95 * Z_95;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = Z_95 / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    let low = if successes == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if successes == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    Interval { low, high }
}

/// The exact two-sided McNemar p-value for `b` pairs where only the first
/// passed and `c` where only the second did: min(1, 2·P(X ≤ min(b, c)))
/// for X ~ Binomial(b + c, 1/2); 1 when b + c = 0.
///
/// Computed without overflow for any counts: the largest term
/// C(n, k)/2ⁿ is a product of ratios kept as a mantissa and a power of
/// two, the smaller terms are summed relative to it, and the result is
/// assembled in log space (so a p-value below the smallest double is 0,
/// never NaN). The relative error is a few k·ε for k = min(b, c).
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b.saturating_add(c);
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    if k >= n - k {
        // b = c: P(X ≤ n/2) ≥ 1/2, so the doubled tail is at least 1.
        return 1.0;
    }
    let log_tail = ln_binomial_half_cdf(k, n);
    (std::f64::consts::LN_2 + log_tail).exp().min(1.0)
}

/// ln P(X ≤ k) for X ~ Binomial(n, 1/2), k ≤ n.
fn ln_binomial_half_cdf(k: usize, n: usize) -> f64 {
    // C(n, k) = ∏_{i=1..k} (n − k + i)/i, as mantissa · 2^exponent.
    const SCALE_BITS: i32 = 512;
    let big = 2f64.powi(SCALE_BITS);
    let shrink = 2f64.powi(-SCALE_BITS);
    let mut mantissa = 1.0_f64;
    let mut exponent: i64 = 0;
    for i in 1..=k {
        mantissa *= (n - k + i) as f64 / i as f64;
        if mantissa >= big {
            mantissa *= shrink;
            exponent += i64::from(SCALE_BITS);
        }
    }
    // Σ_{j ≤ k} C(n, j) / C(n, k): the ratios C(n, j−1)/C(n, j) = j/(n−j+1)
    // are at most 1 for k ≤ n/2, so the running term never overflows.
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    for j in (1..=k).rev() {
        term *= j as f64 / (n - j + 1) as f64;
        if term == 0.0 {
            break;
        }
        sum += term;
    }
    let exponent = exponent - n as i64;
    mantissa.ln() + sum.ln() + exponent as f64 * std::f64::consts::LN_2
}

/// The 95% percentile interval of mean(second − first) over `reps`
/// bootstrap resamples of the pairs (seeded; the same inputs give the same
/// interval). Empty input gives [0, 0].
///
/// Pairs are `(first[i], second[i])` for i below the shorter length. Each
/// resample draws that many indices with replacement from a
/// [`ChaCha8Rng`] seeded with `seed`; the bounds are the 2.5th and 97.5th
/// percentiles of the resampled means (linear interpolation between order
/// statistics). `reps = 0` gives the degenerate interval at the observed
/// mean difference.
pub fn paired_bootstrap(first: &[f64], second: &[f64], reps: usize, seed: u64) -> Interval {
    let n = first.len().min(second.len());
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 0.0,
        };
    }
    let diffs: Vec<f64> = first.iter().zip(second).map(|(a, b)| b - a).collect();
    if reps == 0 {
        let mean = diffs.iter().sum::<f64>() / n as f64;
        return Interval {
            low: mean,
            high: mean,
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..reps)
        .map(|_| {
            let total: f64 = (0..n).map(|_| diffs[rng.random_range(0..n)]).sum();
            total / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    Interval {
        low: percentile(&means, 0.025),
        high: percentile(&means, 0.975),
    }
}

/// The `q` quantile of sorted, non-empty `values`, interpolating linearly
/// between the order statistics at positions (len − 1)·q.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let position = last as f64 * q;
    let below = (position.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    match (sorted.get(below), sorted.get(above)) {
        (Some(&lo), Some(&hi)) => lo + fraction * (hi - lo),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 0.0);
        assert_eq!(percentile(&v, 1.0), 4.0);
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert!((percentile(&v, 0.025) - 0.1).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.975), 7.0);
    }

    #[test]
    fn mcnemar_huge_counts_stay_finite() {
        // Far beyond the reference table: no overflow, no NaN.
        let p = mcnemar_exact(1_000_000, 1_003_000);
        assert!(p.is_finite() && p > 0.0 && p < 1.0, "{p}");
        assert_eq!(mcnemar_exact(0, 5000), 0.0); // 2^-4999 underflows to 0
        assert_eq!(mcnemar_exact(400_000, 400_000), 1.0);
        assert_eq!(mcnemar_exact(usize::MAX, usize::MAX), 1.0);
    }
}
