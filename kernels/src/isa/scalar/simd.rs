//! The scalar [`Simd`] backend: `[f32; 8]` and plain Rust.

use crate::isa::simd::Simd;

/// The portable reference.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    type V = [f32; 8];
    type M = [bool; 8];
    #[inline(always)]
    fn splat(self, v: f32) -> [f32; 8] {
        [v; 8]
    }
    /// # Safety
    /// As [`Simd::load`].
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> [f32; 8] {
        // SAFETY: the caller guarantees 8 readable floats.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    /// # Safety
    /// As [`Simd::store`].
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: [f32; 8]) {
        // SAFETY: the caller guarantees 8 writable floats.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    /// # Safety
    /// As [`Simd::load_u32`].
    #[inline(always)]
    unsafe fn load_u32(self, p: *const u32) -> [f32; 8] {
        // SAFETY: the caller guarantees 8 readable u32.
        let v = unsafe { p.cast::<[u32; 8]>().read_unaligned() };
        v.map(|x| x as i32 as f32)
    }
    #[inline(always)]
    fn add(self, a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] + b[l])
    }
    #[inline(always)]
    fn sub(self, a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] - b[l])
    }
    #[inline(always)]
    fn mul(self, a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] * b[l])
    }
    #[inline(always)]
    fn div(self, a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] / b[l])
    }
    #[inline(always)]
    fn abs(self, a: [f32; 8]) -> [f32; 8] {
        a.map(f32::abs)
    }
    #[inline(always)]
    fn nge0(self, a: [f32; 8]) -> [bool; 8] {
        a.map(crate::bitpack::sign_bit)
    }
    #[inline(always)]
    fn select(self, m: [bool; 8], t: [f32; 8], f: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| if m[l] { t[l] } else { f[l] })
    }
    #[inline(always)]
    fn bits(self, m: [bool; 8]) -> u64 {
        m.iter()
            .enumerate()
            .fold(0, |acc, (l, &b)| acc | (b as u64) << l)
    }
    #[inline(always)]
    fn to_array(self, v: [f32; 8]) -> [f32; 8] {
        v
    }
}
