//! The scalar activation binariser, and the row loop every ISA's batched binariser shares.

use crate::bitpack::{BitRows, reduce8, sign_bit, words_for};

/// One row, all elements scalar (see [`crate::bitpack::binarize_row`]).
#[inline(always)]
pub(crate) fn row(x: &[f32], tau0: &[f32], tau1: &[f32], b1: &mut [u64], b2: &mut [u64]) -> f32 {
    let mut lanes = [0f32; 8];
    tail(x, tau0, tau1, b1, b2, 0, &mut lanes);
    reduce8(lanes)
}

/// The row loop of [`crate::bitpack::binarize_rows`] around one row kernel (which ORs into
/// zeroed words).
#[inline(always)]
pub(crate) fn rows_with(
    x: &[f32],
    tau0: &[f32],
    tau1: &[f32],
    out: &mut BitRows,
    plane2: usize,
    s2: &mut [f32],
    row: impl Fn(&[f32], &[f32], &[f32], &mut [u64], &mut [u64]) -> f32,
) {
    let k = tau0.len();
    let words = words_for(k);
    for (r, s) in s2.iter_mut().enumerate() {
        let (b1, b2) = out.row_pair_mut(r, plane2 + r);
        b1[..words].fill(0);
        b2[..words].fill(0);
        *s = row(&x[r * k..(r + 1) * k], tau0, tau1, b1, b2) / k as f32;
    }
}

/// Scalar binarisation of elements `start..` (start must be a multiple of 8 so that the lane of
/// element `i` is `i % 8`). The words must already be zero for those elements.
#[inline(always)]
pub(crate) fn tail(
    x: &[f32],
    tau0: &[f32],
    tau1: &[f32],
    b1: &mut [u64],
    b2: &mut [u64],
    start: usize,
    lanes: &mut [f32; 8],
) {
    for i in start..x.len() {
        let u = x[i] - tau0[i];
        let n1 = sign_bit(u);
        let s1 = if n1 { -1.0 } else { 1.0 };
        let r = (x[i] - s1) - tau1[i];
        let n2 = sign_bit(r);
        b1[i / 64] |= (n1 as u64) << (i % 64);
        b2[i / 64] |= (n2 as u64) << (i % 64);
        lanes[i % 8] += r.abs();
    }
}
