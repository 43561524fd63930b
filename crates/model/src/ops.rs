//! Fused CPU operations with backward passes for training: RMSNorm, rotate-half RoPE,
//! causal (optionally block-diagonal) softmax and attention, SwiGLU, and a weighted
//! cross-entropy over the vocabulary.
//!
//! candle composes these from many small tensor operations, each of which allocates its
//! result and keeps it alive in the autograd graph; its own fused kernels have no backward.
//! The operations here are candle custom ops (`CustomOp1/2/3`) with a `bwd`, so they record
//! one graph node each and keep only what their backward needs. They run on f32 CPU tensors;
//! on any other device or dtype each function falls back to the composed version in
//! [`composed`], which is also the reference the tests compare against.
//!
//! Work is split over rows with rayon (already used by candle's matrix multiply).

// Indexed loops over equal-length slices are what vectorises best here.
#![allow(clippy::needless_range_loop)]

use std::sync::{Arc, OnceLock};

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, D, DType, Device, Layout, Shape, Storage, Tensor,
    bail,
};
use rayon::prelude::*;

use crate::gemm::{MatRef, matmul};

type CResult<T> = candle_core::Result<T>;

/// Rows handed to one rayon task at least (rows are a few hundred to 50k floats).
const MIN_ROWS: usize = 8;

fn fast_path(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

/// The contiguous f32 data of a forward operand.
fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> CResult<&'a [f32]> {
    let v = match s {
        CpuStorage::F32(v) => v,
        _ => bail!("{what}: expected f32 data"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => bail!("{what}: expected a contiguous tensor"),
    }
}

/// Runs `f` on the contiguous f32 data of `t` (copying only if `t` is strided).
fn with_data<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> CResult<R>) -> CResult<R> {
    let t = t.contiguous()?;
    let (s, l) = t.storage_and_layout();
    match &*s {
        Storage::Cpu(s) => f(slice(s, l, "fused op")?),
        _ => bail!("fused op: expected a CPU tensor"),
    }
}

fn cpu_tensor(data: Vec<f32>, shape: &Shape) -> CResult<Tensor> {
    Tensor::from_vec(data, shape.clone(), &Device::Cpu)
}

/// `exp(x)` for `x <= 88`, with a relative error below 2e-7; written so that loops over it
/// vectorise (candle and libm evaluate `exp` one lane at a time).
#[inline(always)]
fn exp_fast(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.3);
    let n = (x * LOG2E).round_ties_even();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums so the loop vectorises without reassociation flags.
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in a[chunks..].iter().zip(&b[chunks..]) {
        s += x * y;
    }
    s
}

#[inline]
fn max_of(a: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = a.len() / 8 * 8;
    for c in a[..chunks].chunks_exact(8) {
        for i in 0..8 {
            acc[i] = acc[i].max(c[i]);
        }
    }
    let mut m = acc.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &x in &a[chunks..] {
        m = m.max(x);
    }
    m
}

/// `x[i] = exp(scale * (x[i] - max))` in place; returns the sum (eight partial sums, so the
/// loop vectorises).
#[inline]
fn exp_shifted_inplace(x: &mut [f32], scale: f32, max: f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = x.len() / 8 * 8;
    for c in x[..chunks].chunks_exact_mut(8) {
        for i in 0..8 {
            let e = exp_fast(scale * (c[i] - max));
            c[i] = e;
            acc[i] += e;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for v in &mut x[chunks..] {
        let e = exp_fast(scale * (*v - max));
        *v = e;
        s += e;
    }
    s
}

/// Softmax of `scale * row[a..b]` in place, every other entry of the row set to 0.
#[inline]
fn masked_softmax_row(row: &mut [f32], a: usize, b: usize, scale: f32) {
    let max = max_of(&row[a..b]);
    let inv = 1.0 / exp_shifted_inplace(&mut row[a..b], scale, max);
    row[a..b].iter_mut().for_each(|v| *v *= inv);
    row[..a].iter_mut().for_each(|v| *v = 0.0);
    row[b..].iter_mut().for_each(|v| *v = 0.0);
}

// ---------------------------------------------------------------------------------------------
// RMSNorm
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct RmsNorm {
    eps: f32,
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "agentune-rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let x = slice(s1, l1, "rms_norm x")?;
        let w = slice(s2, l2, "rms_norm weight")?;
        let h = w.len();
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h)
            .zip(x.par_chunks(h))
            .with_min_len(MIN_ROWS)
            .for_each(|(o, x)| {
                let r = 1.0 / (dot(x, x) / h as f32 + self.eps).sqrt();
                for ((o, &x), &w) in o.iter_mut().zip(x).zip(w) {
                    *o = x * r * w;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>)> {
        let h = w.elem_count();
        let (dx, dw) = with_data(x, |x| {
            with_data(w, |w| {
                with_data(grad, |g| {
                    let mut dx = vec![0f32; x.len()];
                    let rows = x.len() / h;
                    let block = rows.div_ceil(rayon::current_num_threads() * 4).max(1) * h;
                    let dw = dx
                        .par_chunks_mut(block)
                        .zip(x.par_chunks(block).zip(g.par_chunks(block)))
                        .map(|(dx, (x, g))| {
                            let mut dw = vec![0f32; h];
                            for ((dx, x), g) in dx.chunks_mut(h).zip(x.chunks(h)).zip(g.chunks(h)) {
                                let r = 1.0 / (dot(x, x) / h as f32 + self.eps).sqrt();
                                // c = mean(g * w * xhat)
                                let mut c = 0f32;
                                for i in 0..h {
                                    c += g[i] * w[i] * x[i];
                                }
                                let c = c * r / h as f32;
                                for i in 0..h {
                                    let xhat = x[i] * r;
                                    dx[i] = r * (g[i] * w[i] - xhat * c);
                                    dw[i] += g[i] * xhat;
                                }
                            }
                            dw
                        })
                        .reduce(
                            || vec![0f32; h],
                            |mut a, b| {
                                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                                a
                            },
                        );
                    Ok((dx, dw))
                })
            })
        })?;
        Ok((
            Some(cpu_tensor(dx, x.shape())?),
            Some(cpu_tensor(dw, w.shape())?),
        ))
    }
}

/// RMSNorm over the last dimension: `x / sqrt(mean(x^2) + eps) * w`, with gradients for `x`
/// and `w`.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> CResult<Tensor> {
    if !fast_path(&[x, w]) {
        return composed::rms_norm(x, w, eps);
    }
    let h = x.dim(D::Minus1)?;
    if h == 0 || x.elem_count() == 0 {
        return composed::rms_norm(x, w, eps);
    }
    if w.dims() != [h] {
        bail!(
            "rms_norm: weight {:?} does not match x {:?}",
            w.dims(),
            x.dims()
        );
    }
    x.contiguous()?
        .apply_op2(&w.contiguous()?, RmsNorm { eps: eps as f32 })
}

// ---------------------------------------------------------------------------------------------
// RoPE
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Rope {
    /// +1 forward, -1 for the inverse rotation (the backward pass).
    sign: f32,
}

fn rope_kernel(x: &[f32], cos: &[f32], sin: &[f32], t: usize, sign: f32) -> Vec<f32> {
    let half = cos.len() / t;
    let d = 2 * half;
    let mut out = vec![0f32; x.len()];
    // One task per (batch, head) plane of t rows.
    out.par_chunks_mut(t * d)
        .zip(x.par_chunks(t * d))
        .for_each(|(o, x)| {
            for ((o, x), (c, s)) in o
                .chunks_mut(d)
                .zip(x.chunks(d))
                .zip(cos.chunks(half).zip(sin.chunks(half)))
            {
                let (x1, x2) = x.split_at(half);
                let (o1, o2) = o.split_at_mut(half);
                for i in 0..half {
                    let s = sign * s[i];
                    o1[i] = x1[i] * c[i] - x2[i] * s;
                    o2[i] = x2[i] * c[i] + x1[i] * s;
                }
            }
        });
    out
}

impl CustomOp3 for Rope {
    fn name(&self) -> &'static str {
        "agentune-rope"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let x = slice(s1, l1, "rope x")?;
        let cos = slice(s2, l2, "rope cos")?;
        let sin = slice(s3, l3, "rope sin")?;
        let t = l2.dims()[0];
        Ok((
            CpuStorage::F32(rope_kernel(x, cos, sin, t, self.sign)),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let t = cos.dim(0)?;
        let dx = with_data(grad, |g| {
            with_data(cos, |c| {
                with_data(sin, |s| Ok(rope_kernel(g, c, s, t, -self.sign)))
            })
        })?;
        Ok((Some(cpu_tensor(dx, x.shape())?), None, None))
    }
}

/// Rotate-half RoPE (Hugging Face layout) on `x` of shape `(b, heads, t, d)` with tables
/// `cos`, `sin` of shape `(t, d/2)`; gradient to `x` only.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> CResult<Tensor> {
    let (_, _, t, d) = x.dims4()?;
    if t == 0 || d == 0 || x.elem_count() == 0 {
        return Ok(x.clone());
    }
    if cos.dims() != [t, d / 2] || sin.dims() != [t, d / 2] || d % 2 != 0 {
        bail!(
            "rope: tables {:?}/{:?} do not fit x {:?}",
            cos.dims(),
            sin.dims(),
            x.dims()
        );
    }
    if !fast_path(&[x, cos, sin]) {
        return composed::rope(x, cos, sin);
    }
    x.contiguous()?.apply_op3(
        &cos.contiguous()?.detach(),
        &sin.contiguous()?.detach(),
        Rope { sign: 1.0 },
    )
}

// ---------------------------------------------------------------------------------------------
// Causal and block-diagonal softmax, attention
// ---------------------------------------------------------------------------------------------

/// Which keys each query may see: keys `start(i) ..= offset + i` for query `i` of `t`, where
/// `offset` keys (a cache) precede the first query. Without document starts `start(i)` is 0
/// (plain causal); with them a query sees only the keys of its own packed document.
///
/// Score rows are matched to queries cyclically (row `r` is query `r % t`), so query heads
/// stacked along the rows share one mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausalMask {
    t: usize,
    offset: usize,
    starts: Option<Arc<[u32]>>,
}

impl CausalMask {
    /// Plain causal mask for `t` queries after `offset` cached keys.
    pub fn causal(t: usize, offset: usize) -> Self {
        Self {
            t,
            offset,
            starts: None,
        }
    }

    /// Block-diagonal causal mask for documents of the given lengths packed into one
    /// sequence (no cache): each token sees only earlier tokens of its own document.
    pub fn documents(doc_lens: &[usize]) -> CResult<Self> {
        let t: usize = doc_lens.iter().sum();
        if u32::try_from(t).is_err() {
            bail!("causal mask: {t} tokens is too many");
        }
        let mut starts = Vec::with_capacity(t);
        let mut start = 0usize;
        for &len in doc_lens {
            starts.extend(std::iter::repeat_n(start as u32, len));
            start += len;
        }
        Ok(Self {
            t,
            offset: 0,
            starts: Some(starts.into()),
        })
    }

    /// Number of queries.
    pub fn queries(&self) -> usize {
        self.t
    }

    /// Number of keys (cached plus new).
    pub fn keys(&self) -> usize {
        self.offset + self.t
    }

    /// Whether the mask is block-diagonal over packed documents.
    pub fn has_documents(&self) -> bool {
        self.starts.is_some()
    }

    /// The keys `lo..hi` that score row `row` may see.
    #[inline]
    fn range(&self, row: usize) -> (usize, usize) {
        let i = row % self.t;
        let lo = self.starts.as_ref().map_or(0, |s| s[i] as usize);
        (lo, self.offset + i + 1)
    }

    /// The mask as an additive `(rows, keys)` tensor of 0 and -inf, for composed attention.
    pub fn to_additive(&self, rows: usize, device: &Device) -> CResult<Tensor> {
        let s = self.keys();
        let mut mask = vec![f32::NEG_INFINITY; rows * s];
        for (r, row) in mask.chunks_mut(s).enumerate() {
            let (lo, hi) = self.range(r);
            row[lo..hi].iter_mut().for_each(|m| *m = 0.0);
        }
        Tensor::from_vec(mask, (rows, s), device)
    }

    fn check(&self, dims: &[usize], what: &str) -> CResult<(usize, usize)> {
        let (rows, s) = match dims {
            [.., r, s] => (*r, *s),
            _ => bail!("{what}: expected at least two dimensions, got {dims:?}"),
        };
        if self.t == 0 || rows % self.t != 0 || s != self.keys() {
            bail!(
                "{what}: scores {dims:?} do not fit a mask of {} queries and {} keys",
                self.t,
                self.keys()
            );
        }
        Ok((rows, s))
    }
}

/// Masked softmax of `scale * x` over each row of `x` (rows of length `s`) into `out`.
fn softmax_rows(x: &[f32], out: &mut [f32], s: usize, scale: f32, mask: &CausalMask) {
    out.par_chunks_mut(s)
        .zip(x.par_chunks(s))
        .enumerate()
        .with_min_len(MIN_ROWS)
        .for_each(|(r, (o, x))| {
            let (lo, hi) = mask.range(r);
            o[lo..hi].copy_from_slice(&x[lo..hi]);
            masked_softmax_row(o, lo, hi, scale);
        });
}

/// Gradient of the scores: `scale * y * (g - sum(g * y))` per row (zero where masked, since
/// `y` is zero there).
fn softmax_bwd_rows(y: &[f32], g: &[f32], s: usize, scale: f32, mask: &CausalMask) -> Vec<f32> {
    let mut dx = vec![0f32; y.len()];
    dx.par_chunks_mut(s)
        .zip(y.par_chunks(s).zip(g.par_chunks(s)))
        .enumerate()
        .with_min_len(MIN_ROWS)
        .for_each(|(r, (dx, (y, g)))| {
            let (lo, hi) = mask.range(r);
            let c = dot(&y[lo..hi], &g[lo..hi]);
            for ((d, &y), &g) in dx[lo..hi].iter_mut().zip(&y[lo..hi]).zip(&g[lo..hi]) {
                *d = scale * y * (g - c);
            }
        });
    dx
}

#[derive(Debug, Clone)]
struct CausalSoftmax {
    scale: f32,
    mask: CausalMask,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "agentune-causal-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = slice(s, l, "causal_softmax")?;
        let (_, keys) = self.mask.check(l.dims(), "causal_softmax")?;
        let mut out = vec![0f32; x.len()];
        softmax_rows(x, &mut out, keys, self.scale, &self.mask);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        let keys = self.mask.keys();
        let dx = with_data(res, |y| {
            with_data(grad, |g| {
                Ok(softmax_bwd_rows(y, g, keys, self.scale, &self.mask))
            })
        })?;
        Ok(Some(cpu_tensor(dx, x.shape())?))
    }
}

/// Softmax of `scale * scores` over the last dimension under `mask` (masked entries are 0),
/// for scores `(.., rows, keys)` with `rows` a multiple of the mask's queries.
pub fn causal_softmax(scores: &Tensor, scale: f64, mask: &CausalMask) -> CResult<Tensor> {
    mask.check(scores.dims(), "causal_softmax")?;
    if !fast_path(&[scores]) {
        return composed::causal_softmax(scores, scale, mask);
    }
    scores.contiguous()?.apply_op1(CausalSoftmax {
        scale: scale as f32,
        mask: mask.clone(),
    })
}

/// Query rows per attention tile. A tile multiplies only the keys its rows can see: from its
/// first row's document start to its last row, so the blocks above the causal diagonal and
/// outside the documents are never computed (about half of a plain causal score matrix).
const ATTN_TILE: usize = 128;

#[derive(Debug, Clone)]
struct Attention {
    scale: f32,
    mask: CausalMask,
}

/// One attention tile: `(batch, group)` block `bg`, stacked query head `h` of the group,
/// queries `i0..i1` and the keys `lo..hi` they may see.
#[derive(Debug, Clone, Copy)]
struct Tile {
    bg: usize,
    h: usize,
    i0: usize,
    i1: usize,
    lo: usize,
    hi: usize,
}

/// The shapes of one attention call: `bg` (batch x group) blocks of `rep * t` query rows and
/// `keys` key rows of width `d`.
#[derive(Debug, Clone, Copy)]
struct AttnDims {
    bg: usize,
    rep: usize,
    t: usize,
    keys: usize,
    d: usize,
}

impl AttnDims {
    /// Offset of tile `x`'s first query row in `q` (and in the output and its gradient).
    fn q_at(&self, x: &Tile) -> usize {
        ((x.bg * self.rep + x.h) * self.t + x.i0) * self.d
    }

    /// Offset of tile `x`'s first key row in `k` and `v`.
    fn k_at(&self, x: &Tile) -> usize {
        (x.bg * self.keys + x.lo) * self.d
    }
}

impl Attention {
    fn dims(&self, q: &Layout, k: &Layout) -> CResult<AttnDims> {
        let (b, g, rows, d) = q.shape().dims4()?;
        let keys = k.shape().dims4()?.2;
        let t = self.mask.queries();
        Ok(AttnDims {
            bg: b * g,
            rep: rows / t,
            t,
            keys,
            d,
        })
    }

    fn tiles(&self, n: &AttnDims) -> Vec<Tile> {
        let mut out = Vec::new();
        for bg in 0..n.bg {
            for h in 0..n.rep {
                for i0 in (0..n.t).step_by(ATTN_TILE) {
                    let i1 = (i0 + ATTN_TILE).min(n.t);
                    out.push(Tile {
                        bg,
                        h,
                        i0,
                        i1,
                        lo: self.mask.range(i0).0,
                        hi: self.mask.range(i1 - 1).1,
                    });
                }
            }
        }
        out
    }

    /// The probabilities `(i1 - i0, hi - lo)` of tile `x`, masked entries 0.
    fn tile_probs(&self, n: &AttnDims, x: &Tile, q: &[f32], k: &[f32]) -> CResult<Vec<f32>> {
        let (m, l) = (x.i1 - x.i0, x.hi - x.lo);
        let mut p = vec![0f32; m * l];
        let qt = MatRef::row_major(&q[n.q_at(x)..], m, n.d);
        let kt = MatRef::row_major(&k[n.k_at(x)..], l, n.d).t();
        matmul(&mut p, l, qt, kt, false)?;
        for (r, row) in p.chunks_mut(l).enumerate() {
            let (a, b) = self.mask.range(x.i0 + r);
            masked_softmax_row(row, a - x.lo, b - x.lo, self.scale);
        }
        Ok(p)
    }
}

/// The gradients of `q`, `k` and `v`, accumulated over tiles.
struct AttnGrads {
    dq: Vec<f32>,
    dk: Vec<f32>,
    dv: Vec<f32>,
}

impl AttnGrads {
    fn zeros(q: usize, k: usize) -> Self {
        Self {
            dq: vec![0.0; q],
            dk: vec![0.0; k],
            dv: vec![0.0; k],
        }
    }

    fn add(mut self, o: Self) -> Self {
        for (a, b) in [
            (&mut self.dq, &o.dq),
            (&mut self.dk, &o.dk),
            (&mut self.dv, &o.dv),
        ] {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        self
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "agentune-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let q = slice(s1, l1, "attention q")?;
        let k = slice(s2, l2, "attention k")?;
        let v = slice(s3, l3, "attention v")?;
        let n = self.dims(l1, l2)?;
        let tiles = self.tiles(&n);
        let outs = tiles
            .par_iter()
            .map(|x| {
                let p = self.tile_probs(&n, x, q, k)?;
                let (m, l) = (x.i1 - x.i0, x.hi - x.lo);
                let mut o = vec![0f32; m * n.d];
                let vt = MatRef::row_major(&v[n.k_at(x)..], l, n.d);
                matmul(&mut o, n.d, MatRef::row_major(&p, m, l), vt, false)?;
                Ok(o)
            })
            .collect::<CResult<Vec<_>>>()?;
        let mut out = vec![0f32; q.len()];
        for (x, o) in tiles.iter().zip(outs) {
            let at = n.q_at(x);
            out[at..at + o.len()].copy_from_slice(&o);
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (q, k, v) = (
            q.detach().contiguous()?,
            k.detach().contiguous()?,
            v.detach().contiguous()?,
        );
        let grad = grad.detach().contiguous()?;
        let n = self.dims(q.layout(), k.layout())?;
        let tiles = self.tiles(&n);
        // The probabilities are recomputed tile by tile rather than kept from the forward
        // pass, so no (rows x keys) matrix outlives its tile.
        // Each worker sums the gradients of every `parts`-th tile into its own buffers (tiles
        // share key rows), and the buffers are added at the end.
        let parts = rayon::current_num_threads().clamp(1, tiles.len().max(1));
        let grads = with_data(&q, |qd| {
            with_data(&k, |kd| {
                with_data(&v, |vd| {
                    with_data(&grad, |gd| {
                        let mut parts = (0..parts)
                            .into_par_iter()
                            .map(|c| {
                                let mut acc = AttnGrads::zeros(qd.len(), kd.len());
                                for x in tiles.iter().skip(c).step_by(parts) {
                                    self.tile_bwd(&n, x, [qd, kd, vd, gd], &mut acc)?;
                                }
                                Ok(acc)
                            })
                            .collect::<CResult<Vec<_>>>()?
                            .into_iter();
                        let first = parts
                            .next()
                            .unwrap_or_else(|| AttnGrads::zeros(qd.len(), kd.len()));
                        Ok(parts.fold(first, AttnGrads::add))
                    })
                })
            })
        })?;
        Ok((
            Some(cpu_tensor(grads.dq, q.shape())?),
            Some(cpu_tensor(grads.dk, k.shape())?),
            Some(cpu_tensor(grads.dv, v.shape())?),
        ))
    }
}

impl Attention {
    /// Adds tile `x`'s share of the gradients to `acc`: `[q, k, v, upstream gradient]`.
    fn tile_bwd(
        &self,
        n: &AttnDims,
        x: &Tile,
        [q, k, v, g]: [&[f32]; 4],
        acc: &mut AttnGrads,
    ) -> CResult<()> {
        let (m, l, d) = (x.i1 - x.i0, x.hi - x.lo, n.d);
        let (qa, ka) = (n.q_at(x), n.k_at(x));
        let p = self.tile_probs(n, x, q, k)?;
        let pm = MatRef::row_major(&p, m, l);
        let gt = MatRef::row_major(&g[qa..], m, d);
        let qt = MatRef::row_major(&q[qa..], m, d);
        let kt = MatRef::row_major(&k[ka..], l, d);
        let vt = MatRef::row_major(&v[ka..], l, d);
        // dv += p^T g; dp = g v^T.
        matmul(&mut acc.dv[ka..], d, pm.t(), gt, true)?;
        let mut ds = vec![0f32; m * l];
        matmul(&mut ds, l, gt, vt.t(), false)?;
        // ds = scale * p * (dp - sum(p * dp)) (zero where p is).
        for (r, (dsr, pr)) in ds.chunks_mut(l).zip(p.chunks(l)).enumerate() {
            let (a, b) = self.mask.range(x.i0 + r);
            let (a, b) = (a - x.lo, b - x.lo);
            let c = dot(&pr[a..b], &dsr[a..b]);
            for (s, &y) in dsr[a..b].iter_mut().zip(&pr[a..b]) {
                *s = self.scale * y * (*s - c);
            }
            dsr[..a].iter_mut().for_each(|s| *s = 0.0);
            dsr[b..].iter_mut().for_each(|s| *s = 0.0);
        }
        let dsm = MatRef::row_major(&ds, m, l);
        // dq = ds k (the tile's own rows); dk += ds^T q.
        matmul(&mut acc.dq[qa..], d, dsm, kt, true)?;
        matmul(&mut acc.dk[ka..], d, dsm.t(), qt, true)?;
        Ok(())
    }
}

/// Checks that `q` `(b, g, rows, d)`, `k` and `v` `(b, g, keys, d)` fit each other and
/// `mask`; returns `(b, g, rows, d)`.
fn check_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &CausalMask,
) -> CResult<(usize, usize, usize, usize)> {
    let (b, g, rows, d) = q.dims4()?;
    let (kb, kg, keys, kd) = k.dims4()?;
    if (kb, kg, kd) != (b, g, d) || v.dims() != k.dims() {
        bail!(
            "attention: q {:?}, k {:?}, v {:?} do not fit",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    mask.check(&[rows, keys], "attention")?;
    Ok((b, g, rows, d))
}

/// Attention `softmax(scale * q k^T, mask) v` for `q` `(b, groups, rows, d)` and `k`, `v`
/// `(b, groups, keys, d)`: query heads sharing a key/value head are stacked along the rows
/// (row `r` is query `r % t`). Only `q`, `k`, `v` are kept for the backward pass, which
/// recomputes the probabilities.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    mask: &CausalMask,
) -> CResult<Tensor> {
    check_attention(q, k, v, mask)?;
    if !fast_path(&[q, k, v]) {
        let p = composed::causal_softmax(&q.matmul(&k.t()?)?, scale, mask)?;
        return p.matmul(v);
    }
    q.contiguous()?.apply_op3(
        &k.contiguous()?,
        &v.contiguous()?,
        Attention {
            scale: scale as f32,
            mask: mask.clone(),
        },
    )
}

/// Inference attention over a KV cache (forward only): for `q` `(b, g, rows, d)` and `k`, `v`
/// `(b, g, keys, d)` (strided views of a cache are read in place, never copied), each query row
/// scores the keys the mask lets it see, softmaxes them and sums the values, all in one pass
/// split over rows. Same result as [`attention`] without its graph or score matrix.
pub fn attention_infer(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    mask: &CausalMask,
) -> CResult<Tensor> {
    let (b, g, rows, d) = check_attention(q, k, v, mask)?;
    if !fast_path(&[q, k, v]) {
        let p = composed::causal_softmax(&q.matmul(&k.t()?)?, scale, mask)?;
        return p.matmul(&v.contiguous()?);
    }
    let q = q.contiguous()?;
    let (qs, ql) = q.storage_and_layout();
    let (ks, kl) = k.storage_and_layout();
    let (vs, vl) = v.storage_and_layout();
    let (Storage::Cpu(qs), Storage::Cpu(ks), Storage::Cpu(vs)) = (&*qs, &*ks, &*vs) else {
        bail!("attention: expected CPU tensors");
    };
    let qd = slice(qs, ql, "attention")?;
    let (kd, kst) = strided_rows(ks, kl, "attention keys")?;
    let (vd, vst) = strided_rows(vs, vl, "attention values")?;
    let scale = scale as f32;
    let mut out = vec![0f32; b * g * rows * d];
    out.par_chunks_mut(d)
        .zip(qd.par_chunks(d))
        .enumerate()
        .for_each_init(Vec::new, |scores, (i, (o, qrow))| {
            let (bg, r) = (i / rows, i % rows);
            let (bb, gg) = (bg / g, bg % g);
            let kbase = bb * kst[0] + gg * kst[1];
            let vbase = bb * vst[0] + gg * vst[1];
            let (lo, hi) = mask.range(r);
            scores.clear();
            scores.extend((lo..hi).map(|j| {
                let at = kbase + j * kst[2];
                dot(qrow, &kd[at..at + d]) * scale
            }));
            let max = max_of(scores);
            let mut sum = 0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let inv = 1.0 / sum;
            o.iter_mut().for_each(|x| *x = 0.0);
            for (j, &p) in (lo..hi).zip(scores.iter()) {
                let at = vbase + j * vst[2];
                let w = p * inv;
                for (x, &vv) in o.iter_mut().zip(&vd[at..at + d]) {
                    *x += w * vv;
                }
            }
        });
    cpu_tensor(out, q.shape())
}

/// The f32 data under a 4-D layout whose last dimension is contiguous, with the strides of
/// the first three dimensions (offsets already applied: index 0 is the layout's start).
fn strided_rows<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> CResult<(&'a [f32], [usize; 3])> {
    let v = match s {
        CpuStorage::F32(v) => v,
        _ => bail!("{what}: expected f32 data"),
    };
    let st = l.stride();
    let dims = l.dims();
    if st.len() != 4 || st[3] != 1 {
        bail!("{what}: expected a 4-D tensor with contiguous rows, strides {st:?}");
    }
    let start = l.start_offset();
    let end = start
        + (0..4)
            .map(|i| dims[i].saturating_sub(1) * st[i])
            .sum::<usize>()
        + 1;
    if dims.contains(&0) || end > v.len() {
        bail!("{what}: layout {dims:?} / {st:?} out of its storage");
    }
    Ok((&v[start..end], [st[0], st[1], st[2]]))
}

// ---------------------------------------------------------------------------------------------
// SwiGLU
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct SwiGlu;

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_fast(-x))
}

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "agentune-swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> CResult<(CpuStorage, Shape)> {
        let gate = slice(s1, l1, "swiglu gate")?;
        let up = slice(s2, l2, "swiglu up")?;
        let mut out = vec![0f32; gate.len()];
        out.par_chunks_mut(4096)
            .zip(gate.par_chunks(4096).zip(up.par_chunks(4096)))
            .for_each(|(o, (g, u))| {
                for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                    *o = g * sigmoid(g) * u;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> CResult<(Option<Tensor>, Option<Tensor>)> {
        let n = gate.elem_count();
        let (dg, du) = with_data(gate, |ga| {
            with_data(up, |u| {
                with_data(grad, |gr| {
                    let mut dg = vec![0f32; n];
                    let mut du = vec![0f32; n];
                    dg.par_chunks_mut(4096)
                        .zip(du.par_chunks_mut(4096))
                        .zip(ga.par_chunks(4096).zip(u.par_chunks(4096)))
                        .zip(gr.par_chunks(4096))
                        .for_each(|(((dg, du), (ga, u)), gr)| {
                            for i in 0..dg.len() {
                                let s = sigmoid(ga[i]);
                                let silu = ga[i] * s;
                                du[i] = gr[i] * silu;
                                dg[i] = gr[i] * u[i] * s * (1.0 + ga[i] * (1.0 - s));
                            }
                        });
                    Ok((dg, du))
                })
            })
        })?;
        Ok((
            Some(cpu_tensor(dg, gate.shape())?),
            Some(cpu_tensor(du, up.shape())?),
        ))
    }
}

/// `silu(gate) * up`, the Llama MLP's gating, with gradients for both inputs.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> CResult<Tensor> {
    if gate.dims() != up.dims() {
        bail!(
            "swiglu: gate {:?} and up {:?} differ",
            gate.dims(),
            up.dims()
        );
    }
    if !fast_path(&[gate, up]) {
        return composed::swiglu(gate, up);
    }
    gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu)
}

// ---------------------------------------------------------------------------------------------
// Weighted cross-entropy
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct CrossEntropy {
    targets: Arc<[u32]>,
    weights: Arc<[f32]>,
    /// Per-row log-sum-exp from the forward pass, reused by the backward pass.
    lse: OnceLock<Vec<f32>>,
}

fn row_lse(x: &[f32]) -> f32 {
    let max = max_of(x);
    let mut acc = [0f32; 8];
    let chunks = x.len() / 8 * 8;
    for c in x[..chunks].chunks_exact(8) {
        for i in 0..8 {
            acc[i] += exp_fast(c[i] - max);
        }
    }
    let mut s: f32 = acc.iter().sum();
    for &v in &x[chunks..] {
        s += exp_fast(v - max);
    }
    max + s.ln()
}

impl CrossEntropy {
    fn compute_lse(&self, x: &[f32], vocab: usize) -> Vec<f32> {
        x.par_chunks(vocab)
            .zip(self.weights.par_iter())
            .map(|(row, &w)| if w == 0.0 { 0.0 } else { row_lse(row) })
            .collect()
    }
}

impl CustomOp1 for CrossEntropy {
    fn name(&self) -> &'static str {
        "agentune-cross-entropy"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = slice(s, l, "cross_entropy logits")?;
        let vocab = l.dims()[1];
        let lse = self.compute_lse(x, vocab);
        let loss: f64 = x
            .par_chunks(vocab)
            .zip(lse.par_iter())
            .zip(self.targets.par_iter().zip(self.weights.par_iter()))
            .map(|((row, &lse), (&t, &w))| {
                if w == 0.0 {
                    0.0
                } else {
                    w as f64 * (lse - row[t as usize]) as f64
                }
            })
            .sum();
        let _ = self.lse.set(lse);
        Ok((CpuStorage::F32(vec![loss as f32]), Shape::from(())))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> CResult<Option<Tensor>> {
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let g = g.first().copied().unwrap_or(0.0);
        let vocab = x.dim(1)?;
        let dx = with_data(x, |x| {
            let computed;
            let lse = match self.lse.get() {
                Some(l) => l,
                None => {
                    computed = self.compute_lse(x, vocab);
                    &computed
                }
            };
            let mut dx = vec![0f32; x.len()];
            dx.par_chunks_mut(vocab)
                .zip(x.par_chunks(vocab))
                .zip(lse.par_iter())
                .zip(self.targets.par_iter().zip(self.weights.par_iter()))
                .for_each(|(((d, row), &lse), (&t, &w))| {
                    if w == 0.0 {
                        return;
                    }
                    let c = g * w;
                    for (d, &v) in d.iter_mut().zip(row) {
                        *d = c * exp_fast(v - lse);
                    }
                    d[t as usize] -= c;
                });
            Ok(dx)
        })?;
        Ok(Some(cpu_tensor(dx, x.shape())?))
    }
}

/// `sum_i weights[i] * -log softmax(logits[i])[targets[i]]` for `logits` `(n, vocab)`: a
/// scalar. Rows with weight 0 cost nothing and may carry any target; to get the mean over
/// trained tokens pass `1 / count` as the weight of each trained token. The backward pass
/// writes the logits' gradient directly (no probability tensor is kept).
pub fn cross_entropy(logits: &Tensor, targets: &[u32], weights: &[f32]) -> CResult<Tensor> {
    let (n, vocab) = logits.dims2()?;
    if vocab == 0 {
        bail!("cross_entropy: empty vocabulary");
    }
    if targets.len() != n || weights.len() != n {
        bail!(
            "cross_entropy: {n} rows of logits but {} targets and {} weights",
            targets.len(),
            weights.len()
        );
    }
    for (i, (&t, &w)) in targets.iter().zip(weights).enumerate() {
        if !w.is_finite() {
            bail!("cross_entropy: weight {w} of row {i} is not finite");
        }
        if w != 0.0 && t as usize >= vocab {
            bail!("cross_entropy: target {t} of row {i} is outside the vocabulary ({vocab})");
        }
    }
    if !fast_path(&[logits]) {
        return composed::cross_entropy(logits, targets, weights);
    }
    logits.contiguous()?.apply_op1(CrossEntropy {
        targets: targets.into(),
        weights: weights.into(),
        lse: OnceLock::new(),
    })
}

/// The same operations composed from candle's differentiable tensor operations: the fallback
/// off the CPU fast path and the reference for the tests.
pub mod composed {
    use candle_core::{D, DType, Tensor};

    use super::{CResult, CausalMask};

    /// RMSNorm over the last dimension.
    pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> CResult<Tensor> {
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        let x = x.broadcast_div(&(ms + eps)?.sqrt()?)?;
        x.broadcast_mul(w)
    }

    /// Rotate-half RoPE on `(b, heads, t, d)` with `(t, d/2)` tables.
    pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> CResult<Tensor> {
        let half = x.dim(D::Minus1)? / 2;
        let cos = Tensor::cat(&[cos, cos], D::Minus1)?;
        let sin = Tensor::cat(&[sin, sin], D::Minus1)?;
        let x1 = x.narrow(D::Minus1, 0, half)?;
        let x2 = x.narrow(D::Minus1, half, half)?;
        let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
    }

    /// Masked softmax of `scale * scores` over the last dimension.
    pub fn causal_softmax(scores: &Tensor, scale: f64, mask: &CausalMask) -> CResult<Tensor> {
        let rows = scores.dim(D::Minus2)?;
        let additive = mask
            .to_additive(rows, scores.device())?
            .to_dtype(scores.dtype())?;
        let x = (scores * scale)?.broadcast_add(&additive)?;
        let max = x.max_keepdim(D::Minus1)?.detach();
        let e = x.broadcast_sub(&max)?.exp()?;
        let sum = e.sum_keepdim(D::Minus1)?;
        e.broadcast_div(&sum)
    }

    /// `silu(gate) * up`.
    pub fn swiglu(gate: &Tensor, up: &Tensor) -> CResult<Tensor> {
        gate.silu()? * up
    }

    /// Weighted sum of the rows' negative log-likelihoods.
    pub fn cross_entropy(logits: &Tensor, targets: &[u32], weights: &[f32]) -> CResult<Tensor> {
        let (n, vocab) = logits.dims2()?;
        let dev = logits.device();
        let safe: Vec<u32> = targets
            .iter()
            .map(|&t| if (t as usize) < vocab { t } else { 0 })
            .collect();
        let ids = Tensor::from_vec(safe, (n, 1), dev)?;
        let w = Tensor::from_vec(weights.to_vec(), n, dev)?.to_dtype(logits.dtype())?;
        let max = logits.max_keepdim(D::Minus1)?.detach();
        let shifted = logits.broadcast_sub(&max)?;
        let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
        let logp = shifted.broadcast_sub(&lse)?;
        let picked = logp.gather(&ids, D::Minus1)?.squeeze(D::Minus1)?;
        (picked.neg()? * w)?.sum_all()?.to_dtype(DType::F32)
    }
}
