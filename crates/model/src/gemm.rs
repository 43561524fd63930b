//! A bounds-checked, single-threaded f32 matrix product over slices (the `gemm` crate candle
//! itself multiplies with), for fused kernels that split their work over rayon themselves and
//! multiply many small blocks without making a tensor of each.
//!
//! This module and `qmatmul` are the crate's only `unsafe` code: the one call into `gemm`,
//! after every index it can touch has been checked against the slices' lengths.

#![allow(unsafe_code)]

use candle_core::bail;

/// A read-only matrix view of a slice: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// The row-major `rows x cols` matrix at the start of `data`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose (a view; nothing is copied).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1)
                .checked_mul(self.rs)
                .zip((self.cols - 1).checked_mul(self.cs))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|last| last < self.data.len())
    }
}

/// `dst = a * b` (or `dst += a * b` with `accumulate`), for `dst` row-major with row stride
/// `dst_rs` and as many rows and columns as the product.
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
) -> candle_core::Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        bail!("matmul: ({m} x {k}) times ({} x {n})", b.rows);
    }
    if !a.fits() || !b.fits() {
        bail!("matmul: an operand view runs past its data");
    }
    let out = MatRef {
        data: dst,
        rows: m,
        cols: n,
        rs: dst_rs,
        cs: 1,
    };
    if !out.fits() || dst_rs < n {
        bail!("matmul: the destination does not hold {m} x {n} with row stride {dst_rs}");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                dst[r * dst_rs..r * dst_rs + n].fill(0.0);
            }
        }
        return Ok(());
    }
    let stride = |s: usize| isize::try_from(s).ok();
    let (Some(d_rs), Some(a_rs), Some(a_cs), Some(b_rs), Some(b_cs)) = (
        stride(dst_rs),
        stride(a.rs),
        stride(a.cs),
        stride(b.rs),
        stride(b.cs),
    ) else {
        bail!("matmul: stride too large");
    };
    // SAFETY: `fits` checked above that every element the product reads (`a`, `b`) or writes
    // (`dst`, rows `0..m` at stride `dst_rs`, columns `0..n`) lies inside its slice, and `dst`
    // is borrowed mutably, so it overlaps neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            d_rs,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn naive(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f32> {
        let mut out = vec![0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for p in 0..a.cols {
                    out[i * b.cols + j] +=
                        a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
                }
            }
        }
        out
    }

    #[test]
    fn products_of_views_match_the_naive_loop() {
        let a: Vec<f32> = (0..35).map(|x| (x as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..40).map(|x| (x as f32 * 0.11).cos()).collect();
        // (5 x 7) * (7 x 4), then the transposes (7 x 5)^T and (4 x 7)^T... as views.
        let av = MatRef::row_major(&a, 5, 7);
        let bv = MatRef::row_major(&b[..28], 7, 4);
        let want = naive(av, bv);
        let mut got = vec![9f32; 20];
        matmul(&mut got, 4, av, bv, false).unwrap();
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        // Accumulating adds onto what is there.
        matmul(&mut got, 4, av, bv, true).unwrap();
        for (x, y) in got.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-4);
        }
        // a^T b with a stored as (7 x 5): a transposed view.
        let at = MatRef::row_major(&a, 7, 5).t();
        let want = naive(at, MatRef::row_major(&b[..28], 7, 4));
        let mut got = vec![0f32; 20];
        matmul(&mut got, 4, at, MatRef::row_major(&b[..28], 7, 4), false).unwrap();
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        // A destination row stride wider than the product.
        let mut wide = vec![0f32; 5 * 6];
        matmul(&mut wide, 6, av, bv, false).unwrap();
        assert!((wide[6 + 1] - naive(av, bv)[4 + 1]).abs() < 1e-5);
        assert_eq!(wide[4], 0.0);
    }

    #[test]
    fn views_past_their_data_are_refused() {
        let a = vec![0f32; 10];
        let mut dst = vec![0f32; 4];
        let err = matmul(
            &mut dst,
            2,
            MatRef::row_major(&a, 2, 6),
            MatRef::row_major(&a, 6, 2),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("past its data"), "{err}");
        let err = matmul(
            &mut dst,
            2,
            MatRef::row_major(&a, 3, 2),
            MatRef::row_major(&a, 2, 2),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("destination"), "{err}");
    }
}
