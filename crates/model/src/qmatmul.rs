//! CPU matrix products with GGUF-quantized weights (Q4_1 and Q8_0) for inference.
//!
//! candle's quantized CPU product walks the whole weight matrix once for every input row, so
//! a batch of 16 decoding sequences costs 16 single-token passes, and it has no SIMD kernel for
//! Q4_1 (the format of SmolLM2's layers). Here the input rows are quantized once (to 8-bit
//! blocks, with the same rounding as candle and llama.cpp), and the weight rows are repacked
//! at load time into tiles of eight rows. In a tile, each 32-value block keeps the eight rows'
//! scales side by side and interleaves their values four bytes per row, so one 256-bit
//! byte multiply-add takes four values of all eight rows against four broadcast input bytes,
//! the per-block scaling is one vector operation for eight rows, and the eight results are
//! eight consecutive output columns. A tile's values are unpacked once for up to four input
//! rows; rayon splits the tiles over the threads.
//!
//! The kernel is chosen at run time: with AVX-512 VNNI (and VL), `vpdpbusd` sums four byte
//! products per lane in one instruction; with AVX2 and FMA, byte multiply-adds into 16-bit
//! pairs and then 32-bit lanes; elsewhere a portable loop. All three compute the same integer
//! block sums and the same float operations, so they give the same bits.
//!
//! This module and `gemm` are the crate's only `unsafe` code: the SIMD kernels are
//! `#[target_feature]` functions over raw loads, called only after the lengths they read were
//! checked and the CPU features detected.

#![allow(unsafe_code)]
// Indexed loops over blocks, rows and lanes mirror the kernels' pointer arithmetic.
#![allow(clippy::needless_range_loop)]

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor, bail};
use half::f16;
use rayon::prelude::*;

type CResult<T> = candle_core::Result<T>;

/// Values per quantization block (both formats).
const QK: usize = 32;

/// Weight rows per tile: one 32-bit lane each of a 256-bit vector.
const TILE: usize = 8;

/// Bytes of one tile's block: Q4_1 keeps two values a byte, Q8_0 one.
const Q4_TILE_BYTES: usize = TILE * QK / 2;
const Q8_TILE_BYTES: usize = TILE * QK;

/// Tiles handed to one rayon task at least.
const MIN_TILES: usize = 2;

/// Input rows dotted together with one tile: its values are loaded and unpacked once for all
/// of them, and their sums are independent chains.
const GROUP: usize = 4;

#[derive(Debug)]
enum Blocks {
    /// Per tile and block: the eight rows' scales `d` and minimums `m` (`x = d * q + m`), and
    /// 128 bytes: for `g` in `0..4`, 32 bytes whose bytes `4j..4j + 4` are row `j`'s packed
    /// bytes `4g..4g + 4` (their low nibbles are the block's values `4g..4g + 4`, their high
    /// nibbles values `16 + 4g..16 + 4g + 4`).
    Q4_1 {
        d: Vec<f32>,
        m: Vec<f32>,
        qs: Vec<u8>,
    },
    /// Per tile and block: the eight rows' scales `d` (`x = d * q`), and 256 bytes: for `g` in
    /// `0..8`, 32 bytes whose bytes `4j..4j + 4` are row `j`'s values `4g..4g + 4`.
    Q8_0 { d: Vec<f32>, qs: Vec<i8> },
}

/// A `(rows, cols)` weight matrix kept quantized, repacked into tiles for the kernels below
/// (the last tile padded with zero rows).
#[derive(Debug)]
pub struct QuantMatrix {
    rows: usize,
    cols: usize,
    tiles: usize,
    blocks: Blocks,
}

/// Input rows quantized to 8-bit blocks: values, per-block scales, per-block
/// `scale * sum(values)` rounded as the Q4_1 formula expects (what the minimum multiplies),
/// and per-block integer sums of the values.
struct QuantRows {
    qs: Vec<i8>,
    d: Vec<f32>,
    s: Vec<f32>,
    sum: Vec<i32>,
}

/// The block kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Portable,
    /// AVX2 and FMA.
    Avx2,
    /// AVX2, FMA, AVX-512 F, VL and VNNI.
    Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                if has!("avx512f") && has!("avx512vl") && has!("avx512vnni") {
                    return Self::Vnni;
                }
                return Self::Avx2;
            }
        }
        Self::Portable
    }

    /// Every kernel this CPU runs, slowest first.
    #[cfg(test)]
    fn available() -> Vec<Self> {
        let mut v = vec![Self::Portable];
        match Self::detect() {
            Self::Vnni => v.extend([Self::Avx2, Self::Vnni]),
            Self::Avx2 => v.push(Self::Avx2),
            Self::Portable => {}
        }
        v
    }
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
        let nb = cols / QK;
        let tiles = rows.div_ceil(TILE);
        let data = q.data()?;
        let blocks = match q.dtype() {
            GgmlDType::Q4_1 => {
                const B: usize = 20;
                if data.len() != rows * nb * B {
                    bail!("Q4_1 tensor of {rows}x{cols} holds {} bytes", data.len());
                }
                let mut d = vec![0f32; tiles * nb * TILE];
                let mut m = vec![0f32; tiles * nb * TILE];
                let mut qs = vec![0u8; tiles * nb * Q4_TILE_BYTES];
                for (k, blk) in data.chunks_exact(B).enumerate() {
                    let (r, b) = (k / nb, k % nb);
                    let (tb, j) = ((r / TILE) * nb + b, r % TILE);
                    d[tb * TILE + j] = f16_at(blk, 0);
                    m[tb * TILE + j] = f16_at(blk, 2);
                    for g in 0..4 {
                        let at = tb * Q4_TILE_BYTES + g * 32 + 4 * j;
                        qs[at..at + 4].copy_from_slice(&blk[4 + 4 * g..8 + 4 * g]);
                    }
                }
                Blocks::Q4_1 { d, m, qs }
            }
            GgmlDType::Q8_0 => {
                const B: usize = 34;
                if data.len() != rows * nb * B {
                    bail!("Q8_0 tensor of {rows}x{cols} holds {} bytes", data.len());
                }
                let mut d = vec![0f32; tiles * nb * TILE];
                let mut qs = vec![0i8; tiles * nb * Q8_TILE_BYTES];
                for (k, blk) in data.chunks_exact(B).enumerate() {
                    let (r, b) = (k / nb, k % nb);
                    let (tb, j) = ((r / TILE) * nb + b, r % TILE);
                    d[tb * TILE + j] = f16_at(blk, 0);
                    for g in 0..8 {
                        let at = tb * Q8_TILE_BYTES + g * 32 + 4 * j;
                        for (q, &v) in qs[at..at + 4].iter_mut().zip(&blk[2 + 4 * g..6 + 4 * g]) {
                            *q = v as i8;
                        }
                    }
                }
                Blocks::Q8_0 { d, qs }
            }
            _ => return Ok(None),
        };
        Ok(Some(Self {
            rows,
            cols,
            tiles,
            blocks,
        }))
    }

    /// `(rows, cols)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// `x @ W^T` for `x` of shape `(n, cols)` (f32, CPU); the result is `(n, rows)`.
    pub fn forward(self: &Arc<Self>, x: &Tensor) -> CResult<Tensor> {
        x.apply_op1_no_bwd(&QuantMatMulOp(self.clone()))
    }

    /// Quantizes `n` rows of `cols` values to 8-bit blocks.
    fn quantize_rows(&self, x: &[f32], n: usize) -> QuantRows {
        let nb = n * self.cols / QK;
        let mut qs = vec![0i8; n * self.cols];
        let mut d = vec![0f32; nb];
        let mut s = vec![0f32; nb];
        let mut sums = vec![0i32; nb];
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
            s[b] = (f16::from_f32(sum as f32) * dh).to_f32();
            sums[b] = sum;
        }
        QuantRows {
            qs,
            d,
            s,
            sum: sums,
        }
    }

    /// `x` holds `n` rows of `cols` values; returns `n` rows of `rows` values.
    pub fn matmul(&self, x: &[f32], n: usize) -> Vec<f32> {
        self.matmul_with(Kernel::detect(), x, n)
    }

    fn matmul_with(&self, kernel: Kernel, x: &[f32], n: usize) -> Vec<f32> {
        let a = self.quantize_rows(x, n);
        // Tile-major first (tile `t`'s eight columns for input row `i` at `(t * n + i) * 8`),
        // so each task owns one contiguous piece; then into rows.
        let per_tile = n * TILE;
        let mut out_t = vec![0f32; self.tiles * per_tile];
        let tasks = rayon::current_num_threads().max(1) * 4;
        let per_task = self.tiles.div_ceil(tasks).max(MIN_TILES);
        out_t
            .par_chunks_mut(per_task * per_tile)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, tile_out) in chunk.chunks_exact_mut(per_tile).enumerate() {
                    self.tile_into(kernel, c * per_task + k, &a, n, tile_out);
                }
            });
        if n == 1 {
            out_t.truncate(self.rows);
            return out_t;
        }
        let mut out = vec![0f32; n * self.rows];
        for (t, tile) in out_t.chunks_exact(per_tile).enumerate() {
            let c0 = t * TILE;
            let w = TILE.min(self.rows - c0);
            for (i, v) in tile.chunks_exact(TILE).enumerate() {
                out[i * self.rows + c0..i * self.rows + c0 + w].copy_from_slice(&v[..w]);
            }
        }
        out
    }

    /// Tile `t` against all `n` input rows, into `out` (`n * 8` values, input row-major).
    fn tile_into(&self, kernel: Kernel, t: usize, a: &QuantRows, n: usize, out: &mut [f32]) {
        let mut i = 0;
        while i < n {
            let g = (n - i).min(GROUP);
            let o = &mut out[i * TILE..(i + g) * TILE];
            match g {
                4 => self.tile_group::<4>(kernel, t, a, i, o),
                3 => self.tile_group::<3>(kernel, t, a, i, o),
                2 => self.tile_group::<2>(kernel, t, a, i, o),
                _ => self.tile_group::<1>(kernel, t, a, i, o),
            }
            i += g;
        }
    }

    /// Tile `t` against input rows `i0..i0 + R`, into `out` (`R * 8` values).
    fn tile_group<const R: usize>(
        &self,
        kernel: Kernel,
        t: usize,
        a: &QuantRows,
        i0: usize,
        out: &mut [f32],
    ) {
        let nb = self.cols / QK;
        let w = t * nb..(t + 1) * nb;
        let ab = i0 * nb..(i0 + R) * nb;
        let aq = &a.qs[ab.start * QK..ab.end * QK];
        let ad = &a.d[ab.clone()];
        match &self.blocks {
            Blocks::Q4_1 { d, m, qs } => tile_q4_1::<R>(
                kernel,
                &qs[w.start * Q4_TILE_BYTES..w.end * Q4_TILE_BYTES],
                &d[w.start * TILE..w.end * TILE],
                &m[w.start * TILE..w.end * TILE],
                aq,
                ad,
                &a.s[ab],
                out,
            ),
            Blocks::Q8_0 { d, qs } => tile_q8_0::<R>(
                kernel,
                &qs[w.start * Q8_TILE_BYTES..w.end * Q8_TILE_BYTES],
                &d[w.start * TILE..w.end * TILE],
                aq,
                ad,
                &a.sum[ab],
                out,
            ),
        }
    }
}

/// One Q4_1 tile (`nb` blocks) against `R` consecutive quantized input rows: `out[r * 8 + j]`
/// is the dot of the tile's row `j` with input row `r`.
#[allow(clippy::too_many_arguments)]
fn tile_q4_1<const R: usize>(
    kernel: Kernel,
    wq: &[u8],
    wd: &[f32],
    wm: &[f32],
    aq: &[i8],
    ad: &[f32],
    as_: &[f32],
    out: &mut [f32],
) {
    let nb = wd.len() / TILE;
    assert!(wd.len() == nb * TILE && wm.len() == nb * TILE && wq.len() == nb * Q4_TILE_BYTES);
    assert!(aq.len() == R * nb * QK && ad.len() == R * nb && as_.len() == R * nb);
    assert!(out.len() == R * TILE);
    match kernel {
        // SAFETY: the CPU has the kernel's features (detected), and the lengths it reads were
        // checked above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Vnni => unsafe { x86::q4_1_vnni::<R>(nb, wq, wd, wm, aq, ad, as_, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { x86::q4_1_avx2::<R>(nb, wq, wd, wm, aq, ad, as_, out) },
        _ => {
            for r in 0..R {
                let (mut acc, mut mins) = ([0f32; TILE], [0f32; TILE]);
                for b in 0..nb {
                    let k = r * nb + b;
                    let x = &aq[k * QK..k * QK + QK];
                    let q = &wq[b * Q4_TILE_BYTES..(b + 1) * Q4_TILE_BYTES];
                    for j in 0..TILE {
                        let mut si = 0i32;
                        for g in 0..4 {
                            for i in 0..4 {
                                let v = q[g * 32 + 4 * j + i];
                                si += (v & 0x0F) as i32 * x[4 * g + i] as i32
                                    + (v >> 4) as i32 * x[16 + 4 * g + i] as i32;
                            }
                        }
                        let l = b * TILE + j;
                        acc[j] = (si as f32).mul_add(wd[l] * ad[k], acc[j]);
                        mins[j] = wm[l].mul_add(as_[k], mins[j]);
                    }
                }
                for (o, (a, m)) in out[r * TILE..(r + 1) * TILE]
                    .iter_mut()
                    .zip(acc.iter().zip(&mins))
                {
                    *o = a + m;
                }
            }
        }
    }
}

/// One Q8_0 tile (`nb` blocks) against `R` consecutive quantized input rows (`sum`: the input
/// blocks' integer sums); `out` as for [`tile_q4_1`].
#[allow(clippy::too_many_arguments)]
fn tile_q8_0<const R: usize>(
    kernel: Kernel,
    wq: &[i8],
    wd: &[f32],
    aq: &[i8],
    ad: &[f32],
    sum: &[i32],
    out: &mut [f32],
) {
    let nb = wd.len() / TILE;
    assert!(wd.len() == nb * TILE && wq.len() == nb * Q8_TILE_BYTES);
    assert!(aq.len() == R * nb * QK && ad.len() == R * nb && sum.len() == R * nb);
    assert!(out.len() == R * TILE);
    match kernel {
        // SAFETY: the CPU has the kernel's features (detected), and the lengths it reads were
        // checked above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Vnni => unsafe { x86::q8_0_vnni::<R>(nb, wq, wd, aq, ad, sum, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { x86::q8_0_avx2::<R>(nb, wq, wd, aq, ad, out) },
        _ => {
            for r in 0..R {
                let mut acc = [0f32; TILE];
                for b in 0..nb {
                    let k = r * nb + b;
                    let x = &aq[k * QK..k * QK + QK];
                    let q = &wq[b * Q8_TILE_BYTES..(b + 1) * Q8_TILE_BYTES];
                    for j in 0..TILE {
                        let mut si = 0i32;
                        for g in 0..8 {
                            for i in 0..4 {
                                si += q[g * 32 + 4 * j + i] as i32 * x[4 * g + i] as i32;
                            }
                        }
                        acc[j] = (si as f32).mul_add(wd[b * TILE + j] * ad[k], acc[j]);
                    }
                }
                out[r * TILE..(r + 1) * TILE].copy_from_slice(&acc);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The tile kernels. Lane `j` of every vector belongs to the tile's row `j`; a group of
    //! four input bytes is broadcast to all lanes, so one multiply-add sums four values of
    //! each of the eight rows. The integer sums of a block are scaled by the eight rows'
    //! scales times the input block's scale into an f32 accumulator per input row.

    use std::arch::x86_64::*;

    use super::{Q4_TILE_BYTES, Q8_TILE_BYTES, QK, TILE};

    /// Four bytes of `x` from `at`, in every 32-bit lane.
    ///
    /// # Safety
    /// AVX2 available; `x.add(at)` to `x.add(at + 4)` is readable.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn bcast4(x: *const i8, at: usize) -> __m256i {
        // SAFETY: the caller guarantees the four bytes are readable; the read is unaligned.
        _mm256_set1_epi32(unsafe { x.add(at).cast::<i32>().read_unaligned() })
    }

    /// `acc` plus the block sums `s` (one i32 lane per tile row) times the rows' scales `d`
    /// times the input block's scale `ad`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn scale_into(acc: __m256, s: __m256i, d: __m256, ad: f32) -> __m256 {
        _mm256_fmadd_ps(
            _mm256_cvtepi32_ps(s),
            _mm256_mul_ps(d, _mm256_set1_ps(ad)),
            acc,
        )
    }

    /// Group `g` of block `b` of a Q4_1 tile: its low and high nibbles as bytes.
    ///
    /// # Safety
    /// AVX2 available; `b < nb` for a `wq` of `nb * 128` bytes and `g < 4`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn nibbles(wq: &[u8], b: usize, g: usize) -> (__m256i, __m256i) {
        let mask = _mm256_set1_epi8(0x0F);
        // SAFETY: the caller guarantees the 32 bytes at `b * 128 + g * 32` are in bounds.
        let raw = unsafe { _mm256_loadu_si256(wq.as_ptr().add(b * Q4_TILE_BYTES + g * 32).cast()) };
        (
            _mm256_and_si256(raw, mask),
            _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask),
        )
    }

    /// Adds block `b`'s integer sums `s` (one vector per input row) into the rows'
    /// accumulators: scaled into `acc`, and for Q4_1 (`wm` and `as_` given) the minimums'
    /// terms into `mins`, a chain of its own.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn add_block<const R: usize>(
        acc: &mut [__m256; R],
        mins: &mut [__m256; R],
        s: &[__m256i; R],
        b: usize,
        nb: usize,
        wd: &[f32],
        ad: &[f32],
        q4_1: Option<(&[f32], &[f32])>,
    ) {
        let lanes = |v: &[f32]| -> __m256 {
            let v = &v[b * TILE..(b + 1) * TILE];
            // SAFETY: `v` holds the eight values read.
            unsafe { _mm256_loadu_ps(v.as_ptr()) }
        };
        let d = lanes(wd);
        for r in 0..R {
            acc[r] = scale_into(acc[r], s[r], d, ad[r * nb + b]);
        }
        if let Some((wm, as_)) = q4_1 {
            let m = lanes(wm);
            for r in 0..R {
                mins[r] = _mm256_fmadd_ps(m, _mm256_set1_ps(as_[r * nb + b]), mins[r]);
            }
        }
    }

    /// Stores `acc[r] + mins[r]` as row `r` of `out` (`R * 8` values).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn store_rows<const R: usize>(acc: &[__m256; R], mins: &[__m256; R], out: &mut [f32]) {
        for (r, o) in out.chunks_exact_mut(TILE).take(R).enumerate() {
            // SAFETY: `o` holds eight values.
            unsafe { _mm256_storeu_ps(o.as_mut_ptr(), _mm256_add_ps(acc[r], mins[r])) };
        }
    }

    /// # Safety
    /// AVX2 and FMA available; `wq` holds `nb * 128` bytes, `wd` and `wm` `nb * 8` values,
    /// `aq` `R * nb * 32` bytes, `ad` and `as_` `R * nb` values, `out` `R * 8`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn q4_1_avx2<const R: usize>(
        nb: usize,
        wq: &[u8],
        wd: &[f32],
        wm: &[f32],
        aq: &[i8],
        ad: &[f32],
        as_: &[f32],
        out: &mut [f32],
    ) {
        let ones = _mm256_set1_epi16(1);
        let (mut acc, mut mins) = ([_mm256_setzero_ps(); R], [_mm256_setzero_ps(); R]);
        for b in 0..nb {
            // Eight byte-pair products per 16-bit lane at most, each pair at most
            // 2 * 15 * 127: the 16-bit sums stay below 30,481 and cannot overflow.
            let mut p = [_mm256_setzero_si256(); R];
            for g in 0..4 {
                // SAFETY: `b < nb` and `g < 4`.
                let (lo, hi) = unsafe { nibbles(wq, b, g) };
                for r in 0..R {
                    let x = aq.as_ptr().wrapping_add((r * nb + b) * QK);
                    // SAFETY: `r * nb + b < R * nb`, so the block's 32 bytes are in bounds.
                    let (xl, xh) = unsafe { (bcast4(x, 4 * g), bcast4(x, 16 + 4 * g)) };
                    p[r] = _mm256_add_epi16(p[r], _mm256_maddubs_epi16(lo, xl));
                    p[r] = _mm256_add_epi16(p[r], _mm256_maddubs_epi16(hi, xh));
                }
            }
            let s = p.map(|p| _mm256_madd_epi16(p, ones));
            add_block(&mut acc, &mut mins, &s, b, nb, wd, ad, Some((wm, as_)));
        }
        store_rows(&acc, &mins, out);
    }

    /// # Safety
    /// AVX2, FMA, AVX-512 F, VL and VNNI available; lengths as for [`q4_1_avx2`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn q4_1_vnni<const R: usize>(
        nb: usize,
        wq: &[u8],
        wd: &[f32],
        wm: &[f32],
        aq: &[i8],
        ad: &[f32],
        as_: &[f32],
        out: &mut [f32],
    ) {
        let (mut acc, mut mins) = ([_mm256_setzero_ps(); R], [_mm256_setzero_ps(); R]);
        for b in 0..nb {
            // Low and high nibbles in two chains, so one input row does not wait on a single
            // chain of eight dependent multiply-adds.
            let mut s = [[_mm256_setzero_si256(); R]; 2];
            for g in 0..4 {
                // SAFETY: `b < nb` and `g < 4`.
                let (lo, hi) = unsafe { nibbles(wq, b, g) };
                for r in 0..R {
                    let x = aq.as_ptr().wrapping_add((r * nb + b) * QK);
                    // SAFETY: `r * nb + b < R * nb`, so the block's 32 bytes are in bounds.
                    let (xl, xh) = unsafe { (bcast4(x, 4 * g), bcast4(x, 16 + 4 * g)) };
                    s[0][r] = _mm256_dpbusd_epi32(s[0][r], lo, xl);
                    s[1][r] = _mm256_dpbusd_epi32(s[1][r], hi, xh);
                }
            }
            let s = std::array::from_fn(|r| _mm256_add_epi32(s[0][r], s[1][r]));
            add_block(&mut acc, &mut mins, &s, b, nb, wd, ad, Some((wm, as_)));
        }
        store_rows(&acc, &mins, out);
    }

    /// # Safety
    /// AVX2 and FMA available; `wq` holds `nb * 256` bytes, `wd` `nb * 8` values, `aq`
    /// `R * nb * 32` bytes, `ad` `R * nb` values, `out` `R * 8`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn q8_0_avx2<const R: usize>(
        nb: usize,
        wq: &[i8],
        wd: &[f32],
        aq: &[i8],
        ad: &[f32],
        out: &mut [f32],
    ) {
        let ones = _mm256_set1_epi16(1);
        let (mut acc, mut zero) = ([_mm256_setzero_ps(); R], [_mm256_setzero_ps(); R]);
        for b in 0..nb {
            let mut s = [_mm256_setzero_si256(); R];
            for g in 0..8 {
                // SAFETY: `b < nb`, so the 32 bytes at `b * 256 + g * 32` are in bounds.
                let w = unsafe {
                    _mm256_loadu_si256(wq.as_ptr().add(b * Q8_TILE_BYTES + g * 32).cast())
                };
                // The unsigned-by-signed multiply needs one side >= 0: |w| times x with w's
                // sign. A pair is at most 2 * 128 * 127 = 32,512: no 16-bit overflow.
                let wabs = _mm256_sign_epi8(w, w);
                for r in 0..R {
                    let x = aq.as_ptr().wrapping_add((r * nb + b) * QK);
                    // SAFETY: `r * nb + b < R * nb`, so the block's 32 bytes are in bounds.
                    let xg = unsafe { bcast4(x, 4 * g) };
                    let p = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xg, w));
                    s[r] = _mm256_add_epi32(s[r], _mm256_madd_epi16(p, ones));
                }
            }
            add_block(&mut acc, &mut zero, &s, b, nb, wd, ad, None);
        }
        store_rows(&acc, &zero, out);
    }

    /// # Safety
    /// AVX2, FMA, AVX-512 F, VL and VNNI available; lengths as for [`q8_0_avx2`], and `sum`
    /// holds `R * nb` values.
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn q8_0_vnni<const R: usize>(
        nb: usize,
        wq: &[i8],
        wd: &[f32],
        aq: &[i8],
        ad: &[f32],
        sum: &[i32],
        out: &mut [f32],
    ) {
        // `vpdpbusd` multiplies unsigned by signed bytes: the weights shifted by 128 are
        // unsigned, and 128 times the input block's sum is taken off afterwards.
        let flip = _mm256_set1_epi8(i8::MIN);
        let (mut acc, mut zero) = ([_mm256_setzero_ps(); R], [_mm256_setzero_ps(); R]);
        for b in 0..nb {
            // Even and odd groups in two chains (see `q4_1_vnni`).
            let mut s = [[_mm256_setzero_si256(); R]; 2];
            for g in 0..8 {
                // SAFETY: `b < nb`, so the 32 bytes at `b * 256 + g * 32` are in bounds.
                let w = unsafe {
                    _mm256_loadu_si256(wq.as_ptr().add(b * Q8_TILE_BYTES + g * 32).cast())
                };
                let wu = _mm256_xor_si256(w, flip);
                for r in 0..R {
                    let x = aq.as_ptr().wrapping_add((r * nb + b) * QK);
                    // SAFETY: `r * nb + b < R * nb`, so the block's 32 bytes are in bounds.
                    let xg = unsafe { bcast4(x, 4 * g) };
                    s[g % 2][r] = _mm256_dpbusd_epi32(s[g % 2][r], wu, xg);
                }
            }
            let s = std::array::from_fn(|r| {
                let s = _mm256_add_epi32(s[0][r], s[1][r]);
                _mm256_sub_epi32(s, _mm256_set1_epi32(128 * sum[r * nb + b]))
            });
            add_block(&mut acc, &mut zero, &s, b, nb, wd, ad, None);
        }
        store_rows(&acc, &zero, out);
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
        // 70 rows: the last tile is padded with two zero rows.
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

    /// Every kernel this CPU runs gives the bits of the portable one, and the portable one
    /// equals the block formula written out over the GGUF blocks (not over the tiles).
    #[test]
    fn kernels_equal_the_block_formula() {
        let (rows, cols, n) = (19, 128, 7);
        let nb = cols / QK;
        let w = Tensor::from_vec(input(rows, cols, 3), (rows, cols), &Device::Cpu).unwrap();
        let x = input(n, cols, 5);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            let q = QTensor::quantize(&w, dtype).unwrap();
            let raw = q.data().unwrap();
            let m = QuantMatrix::from_qtensor(&q).unwrap().unwrap();
            let a = m.quantize_rows(&x, n);
            let mut want = vec![0f32; n * rows];
            for i in 0..n {
                for r in 0..rows {
                    let mut sum = 0f32;
                    for b in 0..nb {
                        let k = i * nb + b;
                        let xs = &a.qs[k * QK..k * QK + QK];
                        sum += match dtype {
                            GgmlDType::Q4_1 => {
                                let blk = &raw[(r * nb + b) * 20..(r * nb + b + 1) * 20];
                                let mut si = 0i32;
                                for j in 0..16 {
                                    let v = blk[4 + j];
                                    si += (v & 15) as i32 * xs[j] as i32
                                        + (v >> 4) as i32 * xs[j + 16] as i32;
                                }
                                si as f32 * f16_at(blk, 0) * a.d[k] + f16_at(blk, 2) * a.s[k]
                            }
                            _ => {
                                let blk = &raw[(r * nb + b) * 34..(r * nb + b + 1) * 34];
                                let si: i32 = (0..32)
                                    .map(|j| blk[2 + j] as i8 as i32 * xs[j] as i32)
                                    .sum();
                                si as f32 * f16_at(blk, 0) * a.d[k]
                            }
                        };
                    }
                    want[i * rows + r] = sum;
                }
            }
            let portable = m.matmul_with(Kernel::Portable, &x, n);
            for (e, (g, w)) in portable.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                    "{dtype:?}: element {e}: {g} vs {w}"
                );
            }
            for kernel in Kernel::available() {
                assert_eq!(
                    m.matmul_with(kernel, &x, n),
                    portable,
                    "{dtype:?}: the {kernel:?} kernel"
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
