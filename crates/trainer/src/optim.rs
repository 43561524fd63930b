//! AdamW over flat f32 shards, in place: the master weights, the gradient and both moments are
//! plain f32 vectors updated element by element in one pass, with no temporary tensors.
//! Decoupled weight decay applies only where a [`Layout`](crate::params::Layout) says so
//! (not to norm weights or biases).

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// AdamW's hyper-parameters (the learning rate comes per step from the schedule).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWParams {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
}

/// The moments of one shard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Moments {
    /// First moment (mean of gradients).
    pub exp_avg: Vec<f32>,
    /// Second moment (mean of squared gradients).
    pub exp_avg_sq: Vec<f32>,
}

impl Moments {
    /// Zero moments for a shard of `len` values.
    pub fn zeros(len: usize) -> Self {
        Self {
            exp_avg: vec![0.0; len],
            exp_avg_sq: vec![0.0; len],
        }
    }
}

/// One AdamW update of `param` in place. `step` counts from 1 (bias correction); `grad_scale`
/// multiplies every gradient first (global-norm clipping); `decay_runs` say where weight decay
/// applies (see [`Layout::decay_runs`](crate::params::Layout::decay_runs)).
#[allow(clippy::too_many_arguments)]
pub fn adamw_step(
    hp: &AdamWParams,
    lr: f64,
    step: u64,
    grad_scale: f32,
    param: &mut [f32],
    grad: &[f32],
    m: &mut Moments,
    decay_runs: &[(Range<usize>, bool)],
) {
    let b1 = hp.beta1 as f32;
    let b2 = hp.beta2 as f32;
    let bc1 = 1.0 - hp.beta1.powi(step.min(i32::MAX as u64) as i32);
    let bc2 = 1.0 - hp.beta2.powi(step.min(i32::MAX as u64) as i32);
    // p -= lr * (m / bc1) / (sqrt(v / bc2) + eps) = p - step_size * m / (sqrt(v) / sqrt(bc2) + eps)
    let step_size = (lr / bc1) as f32;
    let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
    let eps = hp.eps as f32;
    for (range, decay) in decay_runs {
        let keep = if *decay {
            (1.0 - lr * hp.weight_decay) as f32
        } else {
            1.0
        };
        let r = range.clone();
        let p = &mut param[r.clone()];
        let g = &grad[r.clone()];
        let ma = &mut m.exp_avg[r.clone()];
        let va = &mut m.exp_avg_sq[r];
        for (((p, &g), ma), va) in p.iter_mut().zip(g).zip(ma.iter_mut()).zip(va.iter_mut()) {
            let g = g * grad_scale;
            *ma = b1 * *ma + (1.0 - b1) * g;
            *va = b2 * *va + (1.0 - b2) * g * g;
            *p = *p * keep - step_size * *ma / (va.sqrt() * inv_sqrt_bc2 + eps);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The textbook update, in f64, one element at a time.
    fn reference(
        hp: &AdamWParams,
        lr: f64,
        grads: &[f64],
        p0: f64,
        decay: bool,
    ) -> (f64, f64, f64) {
        let (mut p, mut m, mut v) = (p0, 0.0, 0.0);
        for (t, &g) in grads.iter().enumerate() {
            let t = (t + 1) as i32;
            if decay {
                p -= lr * hp.weight_decay * p;
            }
            m = hp.beta1 * m + (1.0 - hp.beta1) * g;
            v = hp.beta2 * v + (1.0 - hp.beta2) * g * g;
            let mh = m / (1.0 - hp.beta1.powi(t));
            let vh = v / (1.0 - hp.beta2.powi(t));
            p -= lr * mh / (vh.sqrt() + hp.eps);
        }
        (p, m, v)
    }

    #[test]
    fn matches_the_textbook_update_and_skips_decay_where_told() {
        let hp = AdamWParams {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        };
        let lr = 1e-2;
        let grads = [[0.5f32, -0.25, 2.0, 0.0], [0.1, 0.3, -1.0, 0.0]];
        let mut p = vec![1.0f32, -2.0, 0.5, 3.0];
        let mut m = Moments::zeros(4);
        let runs = vec![(0..2, true), (2..4, false)];
        for (t, g) in grads.iter().enumerate() {
            adamw_step(&hp, lr, t as u64 + 1, 1.0, &mut p, g, &mut m, &runs);
        }
        let p0 = [1.0, -2.0, 0.5, 3.0];
        for i in 0..4 {
            let gs: Vec<f64> = grads.iter().map(|g| f64::from(g[i])).collect();
            let (rp, rm, rv) = reference(&hp, lr, &gs, p0[i], i < 2);
            assert!((f64::from(p[i]) - rp).abs() < 1e-6, "{i}: {} vs {rp}", p[i]);
            assert!((f64::from(m.exp_avg[i]) - rm).abs() < 1e-6);
            assert!((f64::from(m.exp_avg_sq[i]) - rv).abs() < 1e-6);
        }
        // No gradient and no decay: the value does not move.
        assert_eq!(p[3], 3.0);
        // Scaling the gradient by 0.5 is the same as halving it beforehand.
        let mut a = vec![1.0f32];
        let mut b = vec![1.0f32];
        let (mut ma, mut mb) = (Moments::zeros(1), Moments::zeros(1));
        adamw_step(&hp, lr, 1, 0.5, &mut a, &[0.8], &mut ma, &[(0..1, true)]);
        adamw_step(&hp, lr, 1, 1.0, &mut b, &[0.4], &mut mb, &[(0..1, true)]);
        assert_eq!(a, b);
    }
}
