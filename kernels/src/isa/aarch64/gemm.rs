//! aarch64 Advanced SIMD kernel (ARMv8.0: no `udot`, no SVE, so it runs on a Cortex-A53).
//!
//! Row-major weights with a 128-bit-aligned stride. A block is 4 activation rows x 4 weight rows
//! = 16 dot products held in 16 `uint16x8` accumulators; per 128-bit chunk it loads 4 + 4
//! vectors and does 16 x (`eor`, `cnt`, `uadalp`) with independent chains, which keeps the
//! in-order A53 pipelines busy. At the end one `addp` tree (8 + 4 + 2 `vpaddq_u16`) turns the 16
//! accumulators into two vectors of 8 totals, already in `[row][out]` order, widened with
//! `uxtl`. u16 lanes hold any row shorter than 65536 bits (the format's limit is far below).

use crate::bitpack::ROW_BLOCK;
use crate::isa::kernel::PopcountJob;
use std::arch::aarch64::*;

/// Weight rows per block.
const OUTS: usize = 4;

/// # Safety
/// NEON; rows `r0..r0 + 4` and weight rows `o0..o0 + 4` exist in the job, every row has
/// `stride` (even) words, and `out` holds rows `r0..r0 + 4` of `outs_padded` values.
#[inline(always)]
unsafe fn block<const MASKED: bool>(job: &PopcountJob<'_>, r0: usize, o0: usize, out: &mut [u32]) {
    let s = job.stride;
    let chunks = s / 2;
    // SAFETY: rows r0..r0+4 and weight rows o0..o0+4 exist (padded shapes validated by
    // `check`), and every row has `stride` = 2 * chunks words.
    unsafe {
        let a = job.a.as_ptr().add(r0 * s) as *const u8;
        let m = job
            .mask
            .map_or(std::ptr::null(), |m| m.as_ptr().add(r0 * s)) as *const u8;
        let w = job.w.as_ptr().add(o0 * s) as *const u8;
        let rb = s * 8; // bytes per row
        let mut acc = [vdupq_n_u16(0); ROW_BLOCK * OUTS];
        for c in 0..chunks {
            let off = c * 16;
            let mut av = [vdupq_n_u8(0); ROW_BLOCK];
            let mut mv = [vdupq_n_u8(0); ROW_BLOCK];
            let mut wv = [vdupq_n_u8(0); OUTS];
            for i in 0..ROW_BLOCK {
                av[i] = vld1q_u8(a.add(i * rb + off));
                if MASKED {
                    mv[i] = vld1q_u8(m.add(i * rb + off));
                }
            }
            for (k, wv) in wv.iter_mut().enumerate() {
                *wv = vld1q_u8(w.add(k * rb + off));
            }
            for i in 0..ROW_BLOCK {
                for k in 0..OUTS {
                    let mut x = veorq_u8(av[i], wv[k]);
                    if MASKED {
                        x = vandq_u8(x, mv[i]);
                    }
                    acc[i * OUTS + k] = vpadalq_u8(acc[i * OUTS + k], vcntq_u8(x));
                }
            }
        }
        // addp tree: after three levels lane k of t[h] is the total of accumulator 8h + k.
        let p: [uint16x8_t; 8] = std::array::from_fn(|k| vpaddq_u16(acc[2 * k], acc[2 * k + 1]));
        let q: [uint16x8_t; 4] = std::array::from_fn(|k| vpaddq_u16(p[2 * k], p[2 * k + 1]));
        let t = [vpaddq_u16(q[0], q[1]), vpaddq_u16(q[2], q[3])];
        for (h, t) in t.iter().enumerate() {
            let row_a = out.as_mut_ptr().add((r0 + 2 * h) * job.outs_padded + o0);
            let row_b = out
                .as_mut_ptr()
                .add((r0 + 2 * h + 1) * job.outs_padded + o0);
            vst1q_u32(row_a, vmovl_u16(vget_low_u16(*t)));
            vst1q_u32(row_b, vmovl_high_u16(*t));
        }
    }
}

/// # Safety
/// The CPU has the features this function enables; the job's slices have the shapes their
/// fields state (validated by `crate::gemm`), with `w` in this ISA's layout.
#[target_feature(enable = "neon")]
pub(super) unsafe fn neon(job: &PopcountJob<'_>, out: &mut [u32]) {
    for r0 in (0..job.rows).step_by(ROW_BLOCK) {
        for o0 in (0..job.outs_padded).step_by(OUTS) {
            // SAFETY: see `block`.
            unsafe {
                if job.mask.is_some() {
                    block::<true>(job, r0, o0, out)
                } else {
                    block::<false>(job, r0, o0, out)
                }
            }
        }
    }
}
