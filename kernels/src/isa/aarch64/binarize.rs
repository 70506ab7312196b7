//! The activation binariser on NEON (see [`crate::bitpack::binarize_row`]).

use crate::bitpack::{BitRows, reduce8};
use crate::isa::scalar::binarize::{rows_with, tail as binarize_tail};
use std::arch::aarch64::*;

/// # Safety
/// NEON is available; the sizes are those `crate::bitpack::binarize_rows` asserts.
#[target_feature(enable = "neon")]
pub(super) unsafe fn rows_neon(
    x: &[f32],
    t0: &[f32],
    t1: &[f32],
    out: &mut BitRows,
    plane2: usize,
    s2: &mut [f32],
) {
    // SAFETY: same features as this function.
    rows_with(x, t0, t1, out, plane2, s2, |x, t0, t1, b1, b2| unsafe {
        binarize_neon(x, t0, t1, b1, b2)
    })
}

/// Four floats: (mask of plane 1, mask of plane 2), `|r|` added to `acc`.
///
/// # Safety
/// NEON; four floats are readable at each of `x`, `t0` and `t1`.
#[inline(always)]
unsafe fn step4(
    x: *const f32,
    t0: *const f32,
    t1: *const f32,
    acc: &mut float32x4_t,
) -> (uint32x4_t, uint32x4_t) {
    // SAFETY: the caller guarantees 4 readable floats at each pointer.
    unsafe {
        let xv = vld1q_f32(x);
        let zero = vdupq_n_f32(0.0);
        let u = vsubq_f32(xv, vld1q_f32(t0));
        // NOT(u >= 0): true for NaN, exactly `!(u >= 0)`.
        let m1 = vmvnq_u32(vcgeq_f32(u, zero));
        let s1 = vbslq_f32(m1, vdupq_n_f32(-1.0), vdupq_n_f32(1.0));
        let r = vsubq_f32(vsubq_f32(xv, s1), vld1q_f32(t1));
        let m2 = vmvnq_u32(vcgeq_f32(r, zero));
        *acc = vaddq_f32(*acc, vabsq_f32(r));
        (m1, m2)
    }
}

/// Eight all-ones/all-zeros u32 masks to one byte, element 0 in bit 0.
///
/// # Safety
/// NEON is available.
#[inline(always)]
unsafe fn mask_byte(lo: uint32x4_t, hi: uint32x4_t) -> u64 {
    const WEIGHTS: [u8; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: WEIGHTS has 8 bytes.
    unsafe {
        let b = vmovn_u16(vcombine_u16(vmovn_u32(lo), vmovn_u32(hi)));
        vaddv_u8(vand_u8(b, vld1_u8(WEIGHTS.as_ptr()))) as u64
    }
}

/// # Safety
/// NEON is available; `t0` and `t1` are as long as `x`, and `b1` and `b2` hold
/// `words_for(x.len())` zeroed words.
#[target_feature(enable = "neon")]
pub(super) unsafe fn binarize_neon(
    x: &[f32],
    t0: &[f32],
    t1: &[f32],
    b1: &mut [u64],
    b2: &mut [u64],
) -> f32 {
    let n = x.len();
    let mut acc_lo = vdupq_n_f32(0.0);
    let mut acc_hi = vdupq_n_f32(0.0);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and all three slices have length n.
        let (lo1, lo2, hi1, hi2) = unsafe {
            let (lo1, lo2) = step4(
                x.as_ptr().add(i),
                t0.as_ptr().add(i),
                t1.as_ptr().add(i),
                &mut acc_lo,
            );
            let (hi1, hi2) = step4(
                x.as_ptr().add(i + 4),
                t0.as_ptr().add(i + 4),
                t1.as_ptr().add(i + 4),
                &mut acc_hi,
            );
            (lo1, lo2, hi1, hi2)
        };
        // SAFETY: register-only operations.
        let (m1, m2) = unsafe { (mask_byte(lo1, hi1), mask_byte(lo2, hi2)) };
        b1[i / 64] |= m1 << (i % 64);
        b2[i / 64] |= m2 << (i % 64);
        i += 8;
    }
    let mut lanes = [0f32; 8];
    // SAFETY: lanes has room for 8 floats.
    unsafe {
        vst1q_f32(lanes.as_mut_ptr(), acc_lo);
        vst1q_f32(lanes.as_mut_ptr().add(4), acc_hi);
    }
    binarize_tail(x, t0, t1, b1, b2, i, &mut lanes);
    reduce8(lanes)
}
