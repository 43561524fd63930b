//! Paired bootstrap confidence intervals for the difference of two checkpoints' mean scores
//! over the same items: resample items with replacement (seeded, so a report is reproducible),
//! take the mean difference of each resample, and read the interval off its percentiles.
//! A difference is significant when its interval excludes zero.

use agentune_data::rng::Rng;
use serde::Serialize;

/// Settings of the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapSettings {
    /// Resamples drawn.
    pub resamples: usize,
    /// Two-sided confidence level of the interval (0.95 for a 95% interval).
    pub confidence: f64,
    /// Seed of the resampling.
    pub seed: u64,
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        Self {
            resamples: 1000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// The difference `b - a` of two paired score lists, with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedDiff {
    /// Items paired.
    pub n: usize,
    /// Mean of `a` over the paired items.
    pub mean_a: f64,
    /// Mean of `b` over the paired items.
    pub mean_b: f64,
    /// `mean_b - mean_a`.
    pub delta: f64,
    /// Lower end of the interval of `delta`.
    pub lo: f64,
    /// Upper end of the interval of `delta`.
    pub hi: f64,
    /// Whether the interval excludes zero.
    pub significant: bool,
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// The `q` quantile of sorted values (nearest rank on `q * (len - 1)`, rounded).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = (q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[pos.min(sorted.len() - 1)]
}

/// The paired bootstrap of `b - a`: `a[i]` and `b[i]` are the two checkpoints' scores of item
/// `i`. `None` when there is no item or the lists differ in length.
pub fn paired_bootstrap(a: &[f64], b: &[f64], settings: BootstrapSettings) -> Option<PairedDiff> {
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    let n = a.len();
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| y - x).collect();
    let delta = mean(&diffs);
    let mut rng = Rng::new(settings.seed);
    let resamples = settings.resamples.max(1);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut sum = 0.0;
        for _ in 0..n {
            sum += diffs[rng.below(n)];
        }
        means.push(sum / n as f64);
    }
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - settings.confidence.clamp(0.0, 1.0)) / 2.0;
    let lo = quantile(&means, tail);
    let hi = quantile(&means, 1.0 - tail);
    Some(PairedDiff {
        n,
        mean_a: mean(a),
        mean_b: mean(b),
        delta,
        lo,
        hi,
        significant: lo > 0.0 || hi < 0.0,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_clear_improvement_is_significant() {
        // 200 items: the baseline passes 30%, the new checkpoint 80% (all the baseline's
        // passes and more).
        let a: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i % 10 < 3))).collect();
        let b: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i % 10 < 8))).collect();
        let d = paired_bootstrap(&a, &b, BootstrapSettings::default()).unwrap();
        assert_eq!(d.n, 200);
        assert!((d.delta - 0.5).abs() < 1e-12);
        assert!(
            d.lo > 0.4 && d.hi < 0.6 && d.lo <= d.delta && d.delta <= d.hi,
            "{d:?}"
        );
        assert!(d.significant);
        // And the other way round: a clear regression.
        let r = paired_bootstrap(&b, &a, BootstrapSettings::default()).unwrap();
        assert!(r.significant && r.hi < 0.0, "{r:?}");
    }

    #[test]
    fn identical_runs_are_not_significant() {
        let a: Vec<f64> = (0..100).map(|i| f64::from(i % 3) / 2.0).collect();
        let d = paired_bootstrap(&a, &a, BootstrapSettings::default()).unwrap();
        assert_eq!((d.delta, d.lo, d.hi), (0.0, 0.0, 0.0));
        assert!(!d.significant);
    }

    #[test]
    fn a_noisy_small_difference_is_not_significant() {
        // 20 items, one flip each way plus one net gain: the interval spans zero.
        let a = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0].repeat(2);
        let mut b = a.clone();
        b[0] = 0.0;
        b[1] = 1.0;
        b[3] = 1.0;
        let d = paired_bootstrap(&a, &b, BootstrapSettings::default()).unwrap();
        assert!((d.delta - 0.05).abs() < 1e-12);
        assert!(d.lo <= 0.0 && d.hi > 0.0, "{d:?}");
        assert!(!d.significant);
    }

    #[test]
    fn seeded_and_reproducible() {
        let a: Vec<f64> = (0..50).map(|i| f64::from(i % 2)).collect();
        let b: Vec<f64> = (0..50).map(|i| f64::from(u8::from(i % 5 != 0))).collect();
        let s = BootstrapSettings::default();
        assert_eq!(paired_bootstrap(&a, &b, s), paired_bootstrap(&a, &b, s));
        let other = paired_bootstrap(&a, &b, BootstrapSettings { seed: 7, ..s }).unwrap();
        let first = paired_bootstrap(&a, &b, s).unwrap();
        assert_eq!(other.delta, first.delta);
        assert!(paired_bootstrap(&[], &[], s).is_none());
        assert!(paired_bootstrap(&[1.0], &[1.0, 0.0], s).is_none());
    }
}
