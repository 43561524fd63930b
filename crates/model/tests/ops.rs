//! The fused CPU operations against their composed candle versions: forward values and
//! gradients on random shapes (odd sizes included), masks with packed documents, and
//! the weighted cross-entropy's handling of ignored rows.

#![allow(clippy::unwrap_used)]

use agentune_model::ops::{self, CausalMask, composed};
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn randn(rng: &mut StdRng, dims: &[usize], scale: f32) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Asserts `a` and `b` agree to `tol` relative to the larger magnitude (at least 1).
fn assert_close(a: &Tensor, b: &Tensor, tol: f32, what: &str) {
    let d = max_abs_diff(a, b);
    let m = max_abs(a).max(max_abs(b)).max(1.0);
    assert!(d <= tol * m, "{what}: max difference {d} (scale {m})");
}

/// Values and gradients (through `sum(f(inputs) * upstream)`) of `f` on fresh variables.
fn run<F>(inputs: &[Tensor], upstream: &Tensor, f: F) -> (Tensor, Vec<Tensor>)
where
    F: Fn(&[Tensor]) -> Tensor,
{
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&ts);
    let loss = (&out * upstream).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let g = ts
        .iter()
        .map(|t| {
            grads
                .get(t)
                .cloned()
                .unwrap_or_else(|| t.zeros_like().unwrap())
        })
        .collect();
    (out, g)
}

/// Compares `fused` with `reference`; every reference gradient must be nonzero unless the
/// case is degenerate (`what` ends with "(constant)").
fn compare<F, G>(
    inputs: &[Tensor],
    out_dims: &[usize],
    fused: F,
    reference: G,
    tol: f32,
    what: &str,
) where
    F: Fn(&[Tensor]) -> Tensor,
    G: Fn(&[Tensor]) -> Tensor,
{
    let mut rng = StdRng::seed_from_u64(7);
    let upstream = randn(&mut rng, out_dims, 1.0);
    let (a, ga) = run(inputs, &upstream, fused);
    let (b, gb) = run(inputs, &upstream, reference);
    assert_close(&a, &b, tol, &format!("{what} forward"));
    for (i, (x, y)) in ga.iter().zip(&gb).enumerate() {
        if !what.ends_with("(constant)") {
            assert!(max_abs(y) > 0.0, "{what}: reference gradient {i} is zero");
        }
        assert_close(x, y, tol, &format!("{what} gradient {i}"));
    }
}

#[test]
fn rms_norm_matches_composed() {
    let mut rng = StdRng::seed_from_u64(1);
    for dims in [vec![1, 1], vec![3, 7], vec![2, 5, 33], vec![37, 576]] {
        let h = *dims.last().unwrap();
        let x = randn(&mut rng, &dims, 2.0);
        let w = (randn(&mut rng, &[h], 0.5) + 1.0).unwrap();
        compare(
            &[x, w],
            &dims,
            |t| ops::rms_norm(&t[0], &t[1], 1e-5).unwrap(),
            |t| composed::rms_norm(&t[0], &t[1], 1e-5).unwrap(),
            1e-5,
            &format!("rms_norm {dims:?}"),
        );
    }
}

fn tables(rng: &mut StdRng, t: usize, half: usize) -> (Tensor, Tensor) {
    let a = randn(rng, &[t, half], 3.0);
    (a.cos().unwrap(), a.sin().unwrap())
}

#[test]
fn rope_matches_composed() {
    let mut rng = StdRng::seed_from_u64(2);
    for (b, h, t, d) in [(1, 1, 1, 2), (2, 3, 5, 6), (1, 9, 17, 64), (3, 2, 31, 10)] {
        let x = randn(&mut rng, &[b, h, t, d], 1.0);
        let (cos, sin) = tables(&mut rng, t, d / 2);
        compare(
            &[x],
            &[b, h, t, d],
            |v| ops::rope(&v[0], &cos, &sin).unwrap(),
            |v| composed::rope(&v[0], &cos, &sin).unwrap(),
            1e-6,
            &format!("rope {:?}", (b, h, t, d)),
        );
    }
}

#[test]
fn rope_rejects_mismatched_tables() {
    let mut rng = StdRng::seed_from_u64(3);
    let x = randn(&mut rng, &[1, 2, 5, 8], 1.0);
    let (cos, sin) = tables(&mut rng, 4, 4);
    let err = ops::rope(&x, &cos, &sin).unwrap_err().to_string();
    assert!(err.contains("rope"), "{err}");
}

/// Masks with the number of query heads stacked per key/value head.
fn masks() -> Vec<(CausalMask, usize)> {
    vec![
        (CausalMask::causal(1, 0), 1),
        (CausalMask::causal(7, 0), 3),
        (CausalMask::causal(5, 4), 2),
        (CausalMask::documents(&[3, 1, 5, 4]).unwrap(), 3),
        (CausalMask::documents(&[13]).unwrap(), 1),
        (CausalMask::documents(&[1, 1, 1]).unwrap(), 2),
    ]
}

/// Every row sees one key: the probabilities are constant and have no gradient.
fn degenerate(mask: &CausalMask) -> &'static str {
    let one_key_rows =
        mask == &CausalMask::causal(1, 0) || mask == &CausalMask::documents(&[1, 1, 1]).unwrap();
    if one_key_rows { " (constant)" } else { "" }
}

#[test]
fn causal_softmax_matches_composed() {
    let mut rng = StdRng::seed_from_u64(4);
    for (mask, rep) in masks() {
        let dims = [2, 3, rep * mask.queries(), mask.keys()];
        let x = randn(&mut rng, &dims, 4.0);
        compare(
            &[x],
            &dims,
            |t| ops::causal_softmax(&t[0], 0.37, &mask).unwrap(),
            |t| composed::causal_softmax(&t[0], 0.37, &mask).unwrap(),
            2e-6,
            &format!("causal_softmax {mask:?}{}", degenerate(&mask)),
        );
    }
}

#[test]
fn causal_softmax_masks_other_documents() {
    let mask = CausalMask::documents(&[2, 3]).unwrap();
    let x = Tensor::zeros((5, 5), DType::F32, &Device::Cpu).unwrap();
    let p = ops::causal_softmax(&x, 1.0, &mask)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let want: [[f32; 5]; 5] = [
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.5, 0.5, 0.0],
        [0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
    ];
    for (row, want) in p.iter().zip(&want) {
        for (a, b) in row.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{p:?}");
        }
    }
}

#[test]
fn causal_softmax_rejects_wrong_shape() {
    let x = Tensor::zeros((4, 6), DType::F32, &Device::Cpu).unwrap();
    let err = ops::causal_softmax(&x, 1.0, &CausalMask::causal(4, 0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not fit"), "{err}");
}

/// The fused attention against the composed one on random `q`, `k`, `v` of `groups` (batch,
/// group) blocks, `rep` query heads per group and width `d`: values and gradients.
fn check_attention(
    rng: &mut StdRng,
    mask: &CausalMask,
    groups: [usize; 2],
    rep: usize,
    d: usize,
    what: &str,
) {
    let (rows, keys) = (rep * mask.queries(), mask.keys());
    let [b, g] = groups;
    let q = randn(rng, &[b, g, rows, d], 1.0);
    let k = randn(rng, &[b, g, keys, d], 1.0);
    let v = randn(rng, &[b, g, keys, d], 1.0);
    let scale = 1.0 / (d as f64).sqrt();
    compare(
        &[q, k, v],
        &[b, g, rows, d],
        |t| ops::attention(&t[0], &t[1], &t[2], scale, mask).unwrap(),
        |t| {
            let s = t[0].matmul(&t[1].t().unwrap()).unwrap();
            composed::causal_softmax(&s, scale, mask)
                .unwrap()
                .matmul(&t[2])
                .unwrap()
        },
        1e-5,
        what,
    );
}

#[test]
fn attention_matches_composed() {
    let mut rng = StdRng::seed_from_u64(5);
    for (mask, rep) in masks() {
        for d in [1, 8, 13] {
            let what = format!("attention d={d} {mask:?}{}", degenerate(&mask));
            check_attention(&mut rng, &mask, [2, 3], rep, d, &what);
        }
    }
}

/// Sequences longer than one attention tile (128 query rows): tiles start inside documents,
/// documents start inside tiles, and one document spans several tiles.
#[test]
fn attention_matches_composed_across_tiles() {
    let mut rng = StdRng::seed_from_u64(6);
    let cases = [
        (CausalMask::causal(300, 0), 3),
        (CausalMask::causal(150, 40), 1),
        (CausalMask::documents(&[70, 130, 1, 99]).unwrap(), 2),
        (CausalMask::documents(&[260]).unwrap(), 1),
    ];
    for (mask, rep) in cases {
        let what = format!(
            "attention over tiles, {} queries, rep {rep}",
            mask.queries()
        );
        check_attention(&mut rng, &mask, [1, 2], rep, 16, &what);
    }
}

/// The inference kernel equals the composed attention, also on strided key/value views of
/// a larger cache (as the KV cache hands them over).
#[test]
fn attention_infer_matches_composed_on_cache_views() {
    let mut rng = StdRng::seed_from_u64(9);
    for (mask, rep) in masks() {
        for d in [1, 8, 13] {
            let (rows, keys) = (rep * mask.queries(), mask.keys());
            let q = randn(&mut rng, &[2, 3, rows, d], 1.0);
            let cache_k = randn(&mut rng, &[2, 3, keys + 5, d], 1.0);
            let cache_v = randn(&mut rng, &[2, 3, keys + 5, d], 1.0);
            let k = cache_k.narrow(2, 0, keys).unwrap();
            let v = cache_v.narrow(2, 0, keys).unwrap();
            let scale = 1.0 / (d as f64).sqrt();
            let got = ops::attention_infer(&q, &k, &v, scale, &mask).unwrap();
            let s = q.matmul(&k.contiguous().unwrap().t().unwrap()).unwrap();
            let want = composed::causal_softmax(&s, scale, &mask)
                .unwrap()
                .matmul(&v.contiguous().unwrap())
                .unwrap();
            assert_close(
                &got,
                &want,
                1e-5,
                &format!("attention_infer d={d} {mask:?}"),
            );
        }
    }
    let q = Tensor::zeros((1, 1, 2, 4), DType::F32, &Device::Cpu).unwrap();
    let k = Tensor::zeros((1, 1, 3, 4), DType::F32, &Device::Cpu).unwrap();
    let err = ops::attention_infer(&q, &k, &k, 1.0, &CausalMask::causal(2, 0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not fit"), "{err}");
}

#[test]
fn swiglu_matches_composed() {
    let mut rng = StdRng::seed_from_u64(6);
    for dims in [vec![1], vec![3, 7], vec![5, 4099]] {
        let g = randn(&mut rng, &dims, 6.0);
        let u = randn(&mut rng, &dims, 2.0);
        compare(
            &[g, u],
            &dims,
            |t| ops::swiglu(&t[0], &t[1]).unwrap(),
            |t| composed::swiglu(&t[0], &t[1]).unwrap(),
            1e-5,
            &format!("swiglu {dims:?}"),
        );
    }
}

#[test]
fn cross_entropy_matches_composed() {
    let mut rng = StdRng::seed_from_u64(8);
    for (n, vocab) in [(1, 2), (5, 17), (9, 1001), (3, 49152)] {
        let logits = randn(&mut rng, &[n, vocab], 8.0);
        let targets: Vec<u32> = (0..n).map(|_| rng.random_range(0..vocab as u32)).collect();
        let mut weights: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
        if n > 2 {
            weights[1] = 0.0;
        }
        compare(
            &[logits],
            &[],
            |t| ops::cross_entropy(&t[0], &targets, &weights).unwrap(),
            |t| composed::cross_entropy(&t[0], &targets, &weights).unwrap(),
            1e-5,
            &format!("cross_entropy {n}x{vocab}"),
        );
    }
}

#[test]
fn cross_entropy_ignores_zero_weight_rows() {
    let mut rng = StdRng::seed_from_u64(9);
    let logits = randn(&mut rng, &[3, 11], 3.0);
    // Row 1 carries an out-of-range target but no weight: accepted, no gradient.
    let var = Var::from_tensor(&logits).unwrap();
    let loss = ops::cross_entropy(var.as_tensor(), &[2, u32::MAX, 5], &[0.5, 0.0, 0.5]).unwrap();
    let g = loss.backward().unwrap();
    let g = g.get(var.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
    assert!(g[1].iter().all(|&v| v == 0.0));
    assert!(g[0].iter().any(|&v| v != 0.0));
    // Each trained row's gradient sums to zero (softmax minus one-hot).
    assert!(g[0].iter().sum::<f32>().abs() < 1e-6);
    let err = ops::cross_entropy(&logits, &[2, 11, 5], &[1.0, 1.0, 1.0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("target 11 of row 1"), "{err}");
    let err = ops::cross_entropy(&logits, &[2, 1], &[1.0, 1.0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 rows"), "{err}");
}

#[test]
fn cross_entropy_is_mean_nll_with_uniform_weights() {
    // Uniform logits: every row's loss is ln(vocab).
    let logits = Tensor::zeros((4, 10), DType::F32, &Device::Cpu).unwrap();
    let loss = ops::cross_entropy(&logits, &[0, 1, 2, 3], &[0.25; 4])
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!((loss - 10f32.ln()).abs() < 1e-6, "{loss}");
}
