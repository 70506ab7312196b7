//! The activation binariser on AVX2 and AVX-512F (see [`crate::bitpack::binarize_row`]).

use crate::bitpack::{BitRows, reduce8};
use crate::isa::scalar::binarize::{rows_with, tail as binarize_tail};
use std::arch::x86_64::*;

/// One 8-float step: returns the two 8-bit masks and adds `|r|` to `acc`.
///
/// # Safety
/// AVX2; eight floats are readable at each of `x`, `t0` and `t1`.
#[inline(always)]
unsafe fn step8(x: *const f32, t0: *const f32, t1: *const f32, acc: &mut __m256) -> (u64, u64) {
    // SAFETY: the caller guarantees 8 readable floats at each pointer and AVX2.
    unsafe {
        let xv = _mm256_loadu_ps(x);
        let u = _mm256_sub_ps(xv, _mm256_loadu_ps(t0));
        let zero = _mm256_setzero_ps();
        // NGE_UQ: "not >= 0", true for NaN, exactly `!(u >= 0)`.
        let m1 = _mm256_cmp_ps::<_CMP_NGE_UQ>(u, zero);
        let s1 = _mm256_blendv_ps(_mm256_set1_ps(1.0), _mm256_set1_ps(-1.0), m1);
        let r = _mm256_sub_ps(_mm256_sub_ps(xv, s1), _mm256_loadu_ps(t1));
        let m2 = _mm256_cmp_ps::<_CMP_NGE_UQ>(r, zero);
        let abs = _mm256_and_ps(r, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff)));
        *acc = _mm256_add_ps(*acc, abs);
        (
            _mm256_movemask_ps(m1) as u32 as u64,
            _mm256_movemask_ps(m2) as u32 as u64,
        )
    }
}

/// # Safety
/// AVX2 is available; `t0` and `t1` are as long as `x`, and `b1` and `b2` hold
/// `words_for(x.len())` zeroed words.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn binarize_avx2(
    x: &[f32],
    t0: &[f32],
    t1: &[f32],
    b1: &mut [u64],
    b2: &mut [u64],
) -> f32 {
    let n = x.len();
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and all three slices have length n.
        let (m1, m2) = unsafe {
            step8(
                x.as_ptr().add(i),
                t0.as_ptr().add(i),
                t1.as_ptr().add(i),
                &mut acc,
            )
        };
        b1[i / 64] |= m1 << (i % 64);
        b2[i / 64] |= m2 << (i % 64);
        i += 8;
    }
    let mut lanes = [0f32; 8];
    // SAFETY: lanes has room for 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    binarize_tail(x, t0, t1, b1, b2, i, &mut lanes);
    reduce8(lanes)
}

/// # Safety
/// AVX2 is available; the sizes are those `crate::bitpack::binarize_rows` asserts.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn rows_avx2(
    x: &[f32],
    t0: &[f32],
    t1: &[f32],
    out: &mut BitRows,
    plane2: usize,
    s2: &mut [f32],
) {
    // SAFETY: same features as this function.
    rows_with(x, t0, t1, out, plane2, s2, |x, t0, t1, b1, b2| unsafe {
        binarize_avx2(x, t0, t1, b1, b2)
    })
}

/// # Safety
/// AVX-512F and AVX2 are available; the sizes are those
/// `crate::bitpack::binarize_rows` asserts.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn rows_avx512(
    x: &[f32],
    t0: &[f32],
    t1: &[f32],
    out: &mut BitRows,
    plane2: usize,
    s2: &mut [f32],
) {
    // SAFETY: same features as this function.
    rows_with(x, t0, t1, out, plane2, s2, |x, t0, t1, b1, b2| unsafe {
        binarize_avx512(x, t0, t1, b1, b2)
    })
}

/// # Safety
/// AVX-512F and AVX2 are available; `t0` and `t1` are as long as `x`, and `b1` and
/// `b2` hold `words_for(x.len())` zeroed words.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn binarize_avx512(
    x: &[f32],
    t0: &[f32],
    t1: &[f32],
    b1: &mut [u64],
    b2: &mut [u64],
) -> f32 {
    let n = x.len();
    let mut acc = _mm256_setzero_ps();
    let zero = _mm512_setzero_ps();
    let one = _mm512_set1_ps(1.0);
    let neg = _mm512_set1_ps(-1.0);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n and all three slices have length n.
        let (xv, t0v, t1v) = unsafe {
            (
                _mm512_loadu_ps(x.as_ptr().add(i)),
                _mm512_loadu_ps(t0.as_ptr().add(i)),
                _mm512_loadu_ps(t1.as_ptr().add(i)),
            )
        };
        let u = _mm512_sub_ps(xv, t0v);
        let m1 = _mm512_cmp_ps_mask::<_CMP_NGE_UQ>(u, zero);
        let s1 = _mm512_mask_blend_ps(m1, one, neg);
        let r = _mm512_sub_ps(_mm512_sub_ps(xv, s1), t1v);
        let m2 = _mm512_cmp_ps_mask::<_CMP_NGE_UQ>(r, zero);
        let abs = _mm512_abs_ps(r);
        // Keep the canonical 8-lane order: elements i..i+8 first, then i+8..i+16.
        let lo = _mm512_castps512_ps256(abs);
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(abs)));
        acc = _mm256_add_ps(acc, lo);
        acc = _mm256_add_ps(acc, hi);
        b1[i / 64] |= (m1 as u64) << (i % 64);
        b2[i / 64] |= (m2 as u64) << (i % 64);
        i += 16;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and all three slices have length n.
        let (m1, m2) = unsafe {
            step8(
                x.as_ptr().add(i),
                t0.as_ptr().add(i),
                t1.as_ptr().add(i),
                &mut acc,
            )
        };
        b1[i / 64] |= m1 << (i % 64);
        b2[i / 64] |= m2 << (i % 64);
        i += 8;
    }
    let mut lanes = [0f32; 8];
    // SAFETY: lanes has room for 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    binarize_tail(x, t0, t1, b1, b2, i, &mut lanes);
    reduce8(lanes)
}
