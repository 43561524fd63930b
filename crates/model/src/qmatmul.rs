//! CPU matrix products with GGUF-quantized weights (Q4_1 and Q8_0) for inference.
//!
//! candle's quantized CPU product walks the whole weight matrix once for every input row, so
//! a batch of 16 decoding sequences costs 16 single-token passes, and it has no SIMD kernel for
//! Q4_1 (the format of SmolLM2's layers). Here the input rows are quantized once (to 8-bit
//! blocks, with the same rounding as candle and llama.cpp), then every weight row is read once
//! per call and dotted with all input rows while it sits in the L1 cache; rayon splits the
//! weight rows over the threads. On x86-64 with AVX2 and FMA (checked at run time) the block
//! dots use 8-bit multiply-adds; elsewhere a portable loop gives the same sums.
//!
//! This is the one module of the crate allowed `unsafe`: the AVX2 kernels are
//! `#[target_feature]` functions over raw loads, called only after the lengths they read were
//! checked and the CPU features detected.

#![allow(unsafe_code)]
// Indexed loops over blocks and rows mirror the kernels' pointer arithmetic.
#![allow(clippy::needless_range_loop)]

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor, bail};
use half::f16;
use rayon::prelude::*;

type CResult<T> = candle_core::Result<T>;

/// Values per quantization block (both formats).
const QK: usize = 32;

/// Weight rows handed to one rayon task at least.
const MIN_ROWS: usize = 16;

/// Input rows dotted together with one weight row: the weight block is loaded and unpacked
/// once for all of them, and their sums are independent chains.
const GROUP: usize = 4;

#[derive(Debug)]
enum Blocks {
    /// Per block: scale `d`, minimum `m`, 16 bytes of two 4-bit values each (value `j` in the
    /// low nibble of byte `j`, value `j + 16` in the high nibble): `x = d * q + m`.
    Q4_1 {
        d: Vec<f32>,
        m: Vec<f32>,
        qs: Vec<u8>,
    },
    /// Per block: scale `d` and 32 signed bytes: `x = d * q`.
    Q8_0 { d: Vec<f32>, qs: Vec<i8> },
}

/// A `(rows, cols)` weight matrix kept quantized, repacked for the kernels below.
#[derive(Debug)]
pub struct QuantMatrix {
    rows: usize,
    cols: usize,
    blocks: Blocks,
}

/// Input rows quantized to 8-bit blocks: values, per-block scales and per-block
/// `scale * sum(values)` (what the Q4_1 minimum multiplies).
struct QuantRows {
    qs: Vec<i8>,
    d: Vec<f32>,
    s: Vec<f32>,
}

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

impl QuantMatrix {
    /// Repacks a 2-D GGUF tensor; `None` for formats without a kernel here (the caller keeps
    /// candle's product for those).
    pub fn from_qtensor(q: &QTensor) -> CResult<Option<Self>> {
        let (rows, cols) = q.shape().dims2()?;
        if cols % QK != 0 {
            return Ok(None);
        }
        let nb = rows * cols / QK;
        let data = q.data()?;
        let blocks = match q.dtype() {
            GgmlDType::Q4_1 => {
                const B: usize = 20;
                if data.len() != nb * B {
                    bail!("Q4_1 tensor of {rows}x{cols} holds {} bytes", data.len());
                }
                let mut d = Vec::with_capacity(nb);
                let mut m = Vec::with_capacity(nb);
                let mut qs = Vec::with_capacity(nb * 16);
                for blk in data.chunks_exact(B) {
                    d.push(f16_at(blk, 0));
                    m.push(f16_at(blk, 2));
                    qs.extend_from_slice(&blk[4..B]);
                }
                Blocks::Q4_1 { d, m, qs }
            }
            GgmlDType::Q8_0 => {
                const B: usize = 34;
                if data.len() != nb * B {
                    bail!("Q8_0 tensor of {rows}x{cols} holds {} bytes", data.len());
                }
                let mut d = Vec::with_capacity(nb);
                let mut qs = Vec::with_capacity(nb * QK);
                for blk in data.chunks_exact(B) {
                    d.push(f16_at(blk, 0));
                    qs.extend(blk[2..B].iter().map(|&b| b as i8));
                }
                Blocks::Q8_0 { d, qs }
            }
            _ => return Ok(None),
        };
        Ok(Some(Self { rows, cols, blocks }))
    }

    /// `(rows, cols)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// `x @ W^T` for `x` of shape `(n, cols)` (f32, CPU); the result is `(n, rows)`.
    pub fn forward(self: &Arc<Self>, x: &Tensor) -> CResult<Tensor> {
        x.apply_op1_no_bwd(&QuantMatMulOp(self.clone()))
    }

    /// Quantizes `n` rows of `cols` values the way the weight format's partner expects.
    fn quantize_rows(&self, x: &[f32], n: usize) -> QuantRows {
        let nb = n * self.cols / QK;
        let mut qs = vec![0i8; n * self.cols];
        let mut d = vec![0f32; nb];
        let mut s = vec![0f32; nb];
        let with_sum = matches!(self.blocks, Blocks::Q4_1 { .. });
        for (b, (xs, q)) in x.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)).enumerate() {
            let amax = xs.iter().fold(0f32, |a, v| a.max(v.abs()));
            let scale = amax / 127.0;
            let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            let mut sum = 0i32;
            for (qj, &xj) in q.iter_mut().zip(xs) {
                *qj = (xj * inv).round() as i8;
                sum += *qj as i32;
            }
            let dh = f16::from_f32(scale);
            d[b] = dh.to_f32();
            if with_sum {
                s[b] = (f16::from_f32(sum as f32) * dh).to_f32();
            }
        }
        QuantRows { qs, d, s }
    }

    /// Computes `out[r * n + i] = dot(W[r], x[i])` for the weight rows `r0..r0 + out.len() / n`.
    fn rows_into(&self, a: &QuantRows, n: usize, r0: usize, out: &mut [f32]) {
        let nb = self.cols / QK;
        for (rr, out_r) in out.chunks_exact_mut(n).enumerate() {
            let w = (r0 + rr) * nb..(r0 + rr + 1) * nb;
            let mut i = 0;
            while i < n {
                let g = (n - i).min(GROUP);
                let o = &mut out_r[i..i + g];
                match g {
                    4 => self.dot_group::<4>(w.clone(), a, i, o),
                    3 => self.dot_group::<3>(w.clone(), a, i, o),
                    2 => self.dot_group::<2>(w.clone(), a, i, o),
                    _ => self.dot_group::<1>(w.clone(), a, i, o),
                }
                i += g;
            }
        }
    }

    /// Dots the weight row of blocks `w` with input rows `i0..i0 + R` into `out`.
    fn dot_group<const R: usize>(
        &self,
        w: std::ops::Range<usize>,
        a: &QuantRows,
        i0: usize,
        out: &mut [f32],
    ) {
        let nb = w.len();
        let ab = i0 * nb..(i0 + R) * nb;
        let (aq, ad) = (&a.qs[ab.start * QK..ab.end * QK], &a.d[ab.clone()]);
        match &self.blocks {
            Blocks::Q4_1 { d, m, qs } => dot_q4_1::<R>(
                &qs[w.start * 16..w.end * 16],
                &d[w.clone()],
                &m[w],
                aq,
                ad,
                &a.s[ab],
                out,
            ),
            Blocks::Q8_0 { d, qs } => {
                dot_q8_0::<R>(&qs[w.start * QK..w.end * QK], &d[w], aq, ad, out)
            }
        }
    }

    /// `x` holds `n` rows of `cols` values; returns `n` rows of `rows` values.
    pub fn matmul(&self, x: &[f32], n: usize) -> Vec<f32> {
        let a = self.quantize_rows(x, n);
        // Weight-row-major first (each task owns whole weight rows), then transposed.
        let mut out_t = vec![0f32; self.rows * n];
        let tasks = rayon::current_num_threads().max(1) * 4;
        let per_task = self.rows.div_ceil(tasks).max(MIN_ROWS);
        out_t
            .par_chunks_mut(per_task * n)
            .enumerate()
            .for_each(|(t, chunk)| self.rows_into(&a, n, t * per_task, chunk));
        if n == 1 {
            return out_t;
        }
        let mut out = vec![0f32; self.rows * n];
        for (r, row) in out_t.chunks_exact(n).enumerate() {
            for (i, v) in row.iter().enumerate() {
                out[i * self.rows + r] = *v;
            }
        }
        out
    }
}

fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One Q4_1 weight row (`nb` blocks) against `R` consecutive quantized input rows.
fn dot_q4_1<const R: usize>(
    wq: &[u8],
    wd: &[f32],
    wm: &[f32],
    aq: &[i8],
    ad: &[f32],
    as_: &[f32],
    out: &mut [f32],
) {
    let nb = wd.len();
    assert!(wq.len() == nb * 16 && wm.len() == nb && aq.len() == R * nb * QK);
    assert!(ad.len() == R * nb && as_.len() == R * nb && out.len() == R);
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2 and FMA, and the lengths read were checked above.
        unsafe { x86::dot_q4_1::<R>(nb, wq, wd, wm, aq, ad, as_, out) };
        return;
    }
    for (r, o) in out.iter_mut().enumerate() {
        let mut sum = 0f32;
        for b in 0..nb {
            let q = &wq[b * 16..b * 16 + 16];
            let k = r * nb + b;
            let x = &aq[k * QK..k * QK + QK];
            let mut si = 0i32;
            for j in 0..16 {
                si += (q[j] & 0x0F) as i32 * x[j] as i32 + (q[j] >> 4) as i32 * x[j + 16] as i32;
            }
            sum += si as f32 * (wd[b] * ad[k]) + wm[b] * as_[k];
        }
        *o = sum;
    }
}

/// One Q8_0 weight row (`nb` blocks) against `R` consecutive quantized input rows.
fn dot_q8_0<const R: usize>(wq: &[i8], wd: &[f32], aq: &[i8], ad: &[f32], out: &mut [f32]) {
    let nb = wd.len();
    assert!(wq.len() == nb * QK && aq.len() == R * nb * QK);
    assert!(ad.len() == R * nb && out.len() == R);
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2 and FMA, and the lengths read were checked above.
        unsafe { x86::dot_q8_0::<R>(nb, wq, wd, aq, ad, out) };
        return;
    }
    for (r, o) in out.iter_mut().enumerate() {
        let mut sum = 0f32;
        for b in 0..nb {
            let k = r * nb + b;
            let si: i32 = wq[b * QK..b * QK + QK]
                .iter()
                .zip(&aq[k * QK..k * QK + QK])
                .map(|(&w, &x)| w as i32 * x as i32)
                .sum();
            sum += si as f32 * (wd[b] * ad[k]);
        }
        *o = sum;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! AVX2 block dots: unsigned-by-signed byte multiply-adds into 16-bit pairs, then into
    //! 32-bit lanes, scaled per block into an f32 accumulator.

    use std::arch::x86_64::*;

    use super::QK;

    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// # Safety
    /// AVX2 and FMA available; `wq` holds `nb * 16` bytes, `wd` and `wm` `nb` values, `aq`
    /// `R * nb * 32` bytes, `ad` and `as_` `R * nb` values, `out` `R`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_q4_1<const R: usize>(
        nb: usize,
        wq: &[u8],
        wd: &[f32],
        wm: &[f32],
        aq: &[i8],
        ad: &[f32],
        as_: &[f32],
        out: &mut [f32],
    ) {
        let mask = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut mins = [0f32; R];
        for b in 0..nb {
            // SAFETY: `b < nb`, so bytes `b*16..b*16+16` of `wq` are in bounds.
            let raw = unsafe { _mm_loadu_si128(wq.as_ptr().add(b * 16).cast()) };
            // Low nibbles are values 0..16 of the block, high nibbles 16..32.
            let w = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), mask);
            for r in 0..R {
                let k = r * nb + b;
                // SAFETY: `k < R * nb`, so bytes `k*32..k*32+32` of `aq` are in bounds.
                let x = unsafe { _mm256_loadu_si256(aq.as_ptr().add(k * QK).cast()) };
                let p = _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones);
                let scale = _mm256_set1_ps(wd[b] * ad[k]);
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[r]);
                mins[r] += wm[b] * as_[k];
            }
        }
        for r in 0..R {
            out[r] = hsum(acc[r]) + mins[r];
        }
    }

    /// # Safety
    /// AVX2 and FMA available; `wq` holds `nb * 32` bytes, `wd` `nb` values, `aq` `R * nb * 32`
    /// bytes, `ad` `R * nb` values, `out` `R`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_q8_0<const R: usize>(
        nb: usize,
        wq: &[i8],
        wd: &[f32],
        aq: &[i8],
        ad: &[f32],
        out: &mut [f32],
    ) {
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..nb {
            // SAFETY: `b < nb`, so bytes `b*32..b*32+32` of `wq` are in bounds.
            let w = unsafe { _mm256_loadu_si256(wq.as_ptr().add(b * QK).cast()) };
            // The unsigned-by-signed multiply needs one side >= 0: |w| times x with w's sign.
            let wabs = _mm256_sign_epi8(w, w);
            for r in 0..R {
                let k = r * nb + b;
                // SAFETY: `k < R * nb`, so bytes `k*32..k*32+32` of `aq` are in bounds.
                let x = unsafe { _mm256_loadu_si256(aq.as_ptr().add(k * QK).cast()) };
                let p = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(x, w));
                let p = _mm256_madd_epi16(p, ones);
                let scale = _mm256_set1_ps(wd[b] * ad[k]);
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum(acc[r]);
        }
    }
}

/// The product as a candle operation (no backward: inference only).
struct QuantMatMulOp(Arc<QuantMatrix>);

impl CustomOp1 for QuantMatMulOp {
    fn name(&self) -> &'static str {
        "quant-matmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> CResult<(CpuStorage, Shape)> {
        let x = match s {
            CpuStorage::F32(v) => v,
            _ => bail!("quant-matmul: expected f32 input"),
        };
        let Some((a, b)) = l.contiguous_offsets() else {
            bail!("quant-matmul: expected a contiguous input");
        };
        let (n, cols) = l.shape().dims2()?;
        if cols != self.0.cols {
            bail!(
                "quant-matmul: input has {cols} columns, the weight {}",
                self.0.cols
            );
        }
        let out = self.0.matmul(&x[a..b], n);
        Ok((CpuStorage::F32(out), Shape::from((n, self.0.rows))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module};

    use super::*;

    fn input(n: usize, k: usize, seed: u32) -> Vec<f32> {
        // Deterministic values in [-2, 2) with a few zero blocks' worth of spread.
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n * k)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 4000) as f32 / 1000.0 - 2.0
            })
            .collect()
    }

    fn check(dtype: GgmlDType, rows: usize, cols: usize, n: usize) {
        let dev = Device::Cpu;
        let w = Tensor::from_vec(input(rows, cols, 7), (rows, cols), &dev).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let ours = Arc::new(QuantMatrix::from_qtensor(&q).unwrap().unwrap());
        assert_eq!(ours.dims(), (rows, cols));
        let x = Tensor::from_vec(input(n, cols, 11), (n, cols), &dev).unwrap();
        let got = ours.forward(&x).unwrap();
        assert_eq!(got.dims(), &[n, rows]);
        let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let theirs = QMatMul::from_qtensor(q)
            .unwrap()
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let scale = theirs.iter().fold(0f32, |a, v| a.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale,
                "{dtype:?} {rows}x{cols} n={n}: element {i}: ours {a}, candle {b}"
            );
        }
        // Every row of a batch equals that row computed alone.
        for i in [0, n - 1] {
            let solo = ours.matmul(&input(n, cols, 11)[i * cols..(i + 1) * cols], 1);
            assert_eq!(solo, got[i * rows..(i + 1) * rows]);
        }
    }

    #[test]
    fn q4_1_matches_candles_product() {
        for n in [1, 3, 17] {
            check(GgmlDType::Q4_1, 70, 96, n);
        }
    }

    #[test]
    fn q8_0_matches_candles_product() {
        for n in [1, 5] {
            check(GgmlDType::Q8_0, 50, 64, n);
        }
    }

    /// The kernels in use (SIMD where the CPU has it) against the block formula, written out.
    #[test]
    fn kernels_equal_the_block_formula() {
        const R: usize = 3;
        let w = Tensor::from_vec(input(2, 128, 3), (2, 128), &Device::Cpu).unwrap();
        let x = input(R, 128, 5);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
            let a = m.quantize_rows(&x, R);
            let mut got = [0f32; R];
            let mut want = [0f32; R];
            match &m.blocks {
                Blocks::Q4_1 { d, m: mins, qs } => {
                    dot_q4_1::<R>(&qs[..64], &d[..4], &mins[..4], &a.qs, &a.d, &a.s, &mut got);
                    for (r, want) in want.iter_mut().enumerate() {
                        for b in 0..4 {
                            let k = r * 4 + b;
                            let mut si = 0i32;
                            for j in 0..16 {
                                let q = qs[b * 16 + j];
                                si += (q & 15) as i32 * a.qs[k * 32 + j] as i32
                                    + (q >> 4) as i32 * a.qs[k * 32 + j + 16] as i32;
                            }
                            *want += si as f32 * d[b] * a.d[k] + mins[b] * a.s[k];
                        }
                    }
                }
                Blocks::Q8_0 { d, qs } => {
                    dot_q8_0::<R>(&qs[..128], &d[..4], &a.qs, &a.d, &mut got);
                    for (r, want) in want.iter_mut().enumerate() {
                        for b in 0..4 {
                            let k = r * 4 + b;
                            let si: i32 = (0..32)
                                .map(|j| qs[b * 32 + j] as i32 * a.qs[k * 32 + j] as i32)
                                .sum();
                            *want += si as f32 * d[b] * a.d[k];
                        }
                    }
                }
            }
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                    "{dtype:?}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn other_formats_are_left_to_candle() {
        let w = Tensor::zeros((4, 256), candle_core::DType::F32, &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4K).unwrap();
        assert!(QuantMatrix::from_qtensor(&q).unwrap().is_none());
    }
}
