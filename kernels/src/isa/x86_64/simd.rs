//! The AVX2 [`Simd`] backend: one `__m256` per vector.

use crate::isa::simd::Simd;
use std::arch::x86_64::*;

/// AVX2 (and AVX): only constructible where the CPU has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    pub(crate) fn new() -> Option<Avx2> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

// SAFETY (every method): an `Avx2` exists only on CPUs with AVX2 (see `Avx2::new`); the
// pointer methods pass their callers' guarantees on.
impl Simd for Avx2 {
    type V = __m256;
    type M = __m256;
    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_set1_ps(v) }
    }
    /// # Safety
    /// As [`Simd::load`].
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; the caller guarantees the 8 lanes
        // behind the pointer.
        unsafe { _mm256_loadu_ps(p) }
    }
    /// # Safety
    /// As [`Simd::store`].
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: an `Avx2` exists only where AVX2 does; the caller guarantees the 8 lanes
        // behind the pointer.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    /// # Safety
    /// As [`Simd::load_u32`].
    #[inline(always)]
    unsafe fn load_u32(self, p: *const u32) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; the caller guarantees the 8 lanes
        // behind the pointer.
        unsafe { _mm256_cvtepi32_ps(_mm256_loadu_si256(p.cast())) }
    }
    /// # Safety
    /// As [`Simd::load_pm`].
    #[inline(always)]
    unsafe fn load_pm(self, p: *const u32, valid: i32) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; the caller guarantees the 8 lanes
        // behind the pointer. Integer arithmetic is exact here (values below 2^24).
        unsafe {
            let pc = _mm256_loadu_si256(p.cast());
            let d = _mm256_sub_epi32(_mm256_set1_epi32(valid), _mm256_add_epi32(pc, pc));
            _mm256_cvtepi32_ps(d)
        }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))) }
    }
    #[inline(always)]
    fn nge0(self, a: __m256) -> __m256 {
        // NGE_UQ: "not >= 0", true for NaN.
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only operations.
        unsafe { _mm256_cmp_ps::<_CMP_NGE_UQ>(a, _mm256_setzero_ps()) }
    }
    #[inline(always)]
    fn select(self, m: __m256, t: __m256, f: __m256) -> __m256 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_blendv_ps(f, t, m) }
    }
    #[inline(always)]
    fn bits(self, m: __m256) -> u64 {
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_movemask_ps(m) as u32 as u64 }
    }
    #[inline(always)]
    fn to_array(self, v: __m256) -> [f32; 8] {
        let mut a = [0f32; 8];
        // SAFETY: an `Avx2` exists only where AVX2 does; register-only (or local-array) operations.
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
        a
    }
}

/// AVX-512 F/VL/BW/DQ on 8 lanes: the AVX2 vectors, with comparisons into mask registers
/// (`__mmask8`) and the PReLU as one masked multiply. On this project's AVX-512 machine
/// (AMD Zen 4), compare-into-vector plus `vblendvps` is what limits the float work; the mask
/// forms run that mix 1.6-1.8x faster (docs/BENCH.md), while 16 lanes gain nothing over them.
/// Every result is the same IEEE operation as in [`Avx2`], so the bits are the same.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(Avx2);

impl Avx512 {
    pub(crate) fn new() -> Option<Avx512> {
        let has = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq");
        let avx2 = Avx2::new()?;
        has.then_some(Avx512(avx2))
    }
}

// SAFETY (every method): an `Avx512` exists only on CPUs with AVX2 and AVX-512 F/VL/BW/DQ (see
// `Avx512::new`); the pointer methods pass their callers' guarantees on.
impl Simd for Avx512 {
    type V = __m256;
    type M = __mmask8;
    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        self.0.splat(v)
    }
    /// # Safety
    /// As [`Simd::load`].
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { self.0.load(p) }
    }
    /// # Safety
    /// As [`Simd::store`].
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: the caller's contract.
        unsafe { self.0.store(p, v) }
    }
    /// # Safety
    /// As [`Simd::load_u32`].
    #[inline(always)]
    unsafe fn load_u32(self, p: *const u32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { self.0.load_u32(p) }
    }
    /// # Safety
    /// As [`Simd::load_pm`].
    #[inline(always)]
    unsafe fn load_pm(self, p: *const u32, valid: i32) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { self.0.load_pm(p, valid) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        self.0.add(a, b)
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        self.0.sub(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        self.0.mul(a, b)
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        self.0.div(a, b)
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        self.0.abs(a)
    }
    #[inline(always)]
    fn nge0(self, a: __m256) -> __mmask8 {
        // NGE_UQ: "not >= 0", true for NaN.
        // SAFETY: an `Avx512` exists only where AVX-512VL does; register-only operations.
        unsafe { _mm256_cmp_ps_mask::<_CMP_NGE_UQ>(a, _mm256_setzero_ps()) }
    }
    #[inline(always)]
    fn select(self, m: __mmask8, t: __m256, f: __m256) -> __m256 {
        // SAFETY: an `Avx512` exists only where AVX-512VL does; register-only operations.
        unsafe { _mm256_mask_blend_ps(m, f, t) }
    }
    #[inline(always)]
    fn bits(self, m: __mmask8) -> u64 {
        m as u64
    }
    #[inline(always)]
    fn to_array(self, v: __m256) -> [f32; 8] {
        self.0.to_array(v)
    }
    /// `v * a` where `!(v >= 0)`, `v` elsewhere: the lanes the default multiplies by 1.0, which
    /// leaves every value (signed zeros included) unchanged.
    #[inline(always)]
    fn prelu(self, v: __m256, a: __m256) -> __m256 {
        // SAFETY: an `Avx512` exists only where AVX-512VL does; register-only operations.
        unsafe { _mm256_mask_mul_ps(v, self.nge0(v), v, a) }
    }
}
