//! The NEON [`Simd`] backend: two `float32x4_t` per vector (ARMv8.0).

use crate::isa::simd::Simd;
use std::arch::aarch64::*;

/// ARMv8.0 Advanced SIMD (part of the aarch64 baseline).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon(());

impl Neon {
    pub(crate) fn new() -> Option<Neon> {
        std::arch::is_aarch64_feature_detected!("neon").then_some(Neon(()))
    }
}

#[derive(Clone, Copy)]
pub(crate) struct F8(float32x4_t, float32x4_t);
#[derive(Clone, Copy)]
pub(crate) struct M8(uint32x4_t, uint32x4_t);

// SAFETY (every method): a `Neon` exists only where NEON does; the pointer methods pass
// their callers' guarantees on.
impl Simd for Neon {
    type V = F8;
    type M = M8;
    #[inline(always)]
    fn splat(self, v: f32) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vdupq_n_f32(v), vdupq_n_f32(v)) }
    }
    /// # Safety
    /// As [`Simd::load`].
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; the caller guarantees the 8 lanes
        // behind the pointer.
        unsafe { F8(vld1q_f32(p), vld1q_f32(p.add(4))) }
    }
    /// # Safety
    /// As [`Simd::store`].
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: F8) {
        // SAFETY: a `Neon` exists only where NEON does; the caller guarantees the 8 lanes
        // behind the pointer.
        unsafe {
            vst1q_f32(p, v.0);
            vst1q_f32(p.add(4), v.1);
        }
    }
    /// # Safety
    /// As [`Simd::load_u32`].
    #[inline(always)]
    unsafe fn load_u32(self, p: *const u32) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; the caller guarantees the 8 lanes
        // behind the pointer.
        unsafe {
            let cvt = |q: uint32x4_t| vcvtq_f32_s32(vreinterpretq_s32_u32(q));
            F8(cvt(vld1q_u32(p)), cvt(vld1q_u32(p.add(4))))
        }
    }
    #[inline(always)]
    fn add(self, a: F8, b: F8) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vaddq_f32(a.0, b.0), vaddq_f32(a.1, b.1)) }
    }
    #[inline(always)]
    fn sub(self, a: F8, b: F8) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vsubq_f32(a.0, b.0), vsubq_f32(a.1, b.1)) }
    }
    #[inline(always)]
    fn mul(self, a: F8, b: F8) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vmulq_f32(a.0, b.0), vmulq_f32(a.1, b.1)) }
    }
    #[inline(always)]
    fn div(self, a: F8, b: F8) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vdivq_f32(a.0, b.0), vdivq_f32(a.1, b.1)) }
    }
    #[inline(always)]
    fn abs(self, a: F8) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vabsq_f32(a.0), vabsq_f32(a.1)) }
    }
    #[inline(always)]
    fn nge0(self, a: F8) -> M8 {
        // NOT(a >= 0): true for NaN.
        // SAFETY: a `Neon` exists only where NEON does; register-only operations.
        unsafe {
            let z = vdupq_n_f32(0.0);
            M8(vmvnq_u32(vcgeq_f32(a.0, z)), vmvnq_u32(vcgeq_f32(a.1, z)))
        }
    }
    #[inline(always)]
    fn select(self, m: M8, t: F8, f: F8) -> F8 {
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe { F8(vbslq_f32(m.0, t.0, f.0), vbslq_f32(m.1, t.1, f.1)) }
    }
    #[inline(always)]
    fn bits(self, m: M8) -> u64 {
        const WEIGHTS: [u8; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe {
            let b = vmovn_u16(vcombine_u16(vmovn_u32(m.0), vmovn_u32(m.1)));
            vaddv_u8(vand_u8(b, vld1_u8(WEIGHTS.as_ptr()))) as u64
        }
    }
    #[inline(always)]
    fn to_array(self, v: F8) -> [f32; 8] {
        let mut a = [0f32; 8];
        // SAFETY: a `Neon` exists only where NEON does; register-only (or local-array) operations.
        unsafe {
            vst1q_f32(a.as_mut_ptr(), v.0);
            vst1q_f32(a.as_mut_ptr().add(4), v.1);
        }
        a
    }
}
