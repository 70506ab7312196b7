//! Eight-lane `f32` vectors for the binary forward's float work (conv1, epilogues, fused
//! binarisation), written once against [`Simd`] and instantiated per backend:
//!
//! * [`Scalar`]: `[f32; 8]` and plain Rust; the reference every other backend is tested
//!   against, bit for bit;
//! * `Avx2` (x86-64): one `__m256` per vector, `vmovmskps` for the sign masks;
//! * `Neon` (aarch64, ARMv8.0): two `float32x4_t`, a weighted `addv` for the masks.
//!
//! Every operation is lane-wise and IEEE-exact (separate multiply and add, never fused), so all
//! backends produce the same bits. A backend value is a zero-sized token that can only be made
//! where its instructions exist, which is what makes the safe methods sound.

/// The operations the fused kernels need, on 8 lanes.
pub(crate) trait Simd: Copy {
    type V: Copy;
    type M: Copy;
    fn splat(self, v: f32) -> Self::V;
    /// Eight floats from `p[..8]`.
    ///
    /// # Safety
    /// `p` must be valid for reading 8 `f32`.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// # Safety
    /// `p` must be valid for writing 8 `f32`.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Eight `u32` converted as `v as i32 as f32`.
    ///
    /// # Safety
    /// `p` must be valid for reading 8 `u32`.
    unsafe fn load_u32(self, p: *const u32) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    fn abs(self, a: Self::V) -> Self::V;
    /// `!(a >= 0)` per lane (true for NaN), i.e. [`crate::bitpack::sign_bit`].
    fn nge0(self, a: Self::V) -> Self::M;
    /// `m ? t : f` per lane.
    fn select(self, m: Self::M, t: Self::V, f: Self::V) -> Self::V;
    /// The mask as 8 bits, lane `l` in bit `l`.
    fn bits(self, m: Self::M) -> u64;
    fn to_array(self, v: Self::V) -> [f32; 8];

    /// [`crate::fp::prelu`] per lane: `v * (1 if v >= 0 else a)`.
    #[inline(always)]
    fn prelu(self, v: Self::V, a: Self::V) -> Self::V {
        self.mul(v, self.select(self.nge0(v), a, self.splat(1.0)))
    }
}

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
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> [f32; 8] {
        // SAFETY: the caller guarantees 8 readable floats.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: [f32; 8]) {
        // SAFETY: the caller guarantees 8 writable floats.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
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

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::Avx2;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
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
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn load_u32(self, p: *const u32) -> __m256 {
            unsafe { _mm256_cvtepi32_ps(_mm256_loadu_si256(p.cast())) }
        }
        #[inline(always)]
        fn add(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        fn sub(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_sub_ps(a, b) }
        }
        #[inline(always)]
        fn mul(self, a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        fn abs(self, a: __m256) -> __m256 {
            unsafe { _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff))) }
        }
        #[inline(always)]
        fn nge0(self, a: __m256) -> __m256 {
            // NGE_UQ: "not >= 0", true for NaN.
            unsafe { _mm256_cmp_ps::<_CMP_NGE_UQ>(a, _mm256_setzero_ps()) }
        }
        #[inline(always)]
        fn select(self, m: __m256, t: __m256, f: __m256) -> __m256 {
            unsafe { _mm256_blendv_ps(f, t, m) }
        }
        #[inline(always)]
        fn bits(self, m: __m256) -> u64 {
            unsafe { _mm256_movemask_ps(m) as u32 as u64 }
        }
        #[inline(always)]
        fn to_array(self, v: __m256) -> [f32; 8] {
            let mut a = [0f32; 8];
            unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) };
            a
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) use arm::Neon;

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::Simd;
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
            unsafe { F8(vdupq_n_f32(v), vdupq_n_f32(v)) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> F8 {
            unsafe { F8(vld1q_f32(p), vld1q_f32(p.add(4))) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: F8) {
            unsafe {
                vst1q_f32(p, v.0);
                vst1q_f32(p.add(4), v.1);
            }
        }
        #[inline(always)]
        unsafe fn load_u32(self, p: *const u32) -> F8 {
            unsafe {
                let cvt = |q: uint32x4_t| vcvtq_f32_s32(vreinterpretq_s32_u32(q));
                F8(cvt(vld1q_u32(p)), cvt(vld1q_u32(p.add(4))))
            }
        }
        #[inline(always)]
        fn add(self, a: F8, b: F8) -> F8 {
            unsafe { F8(vaddq_f32(a.0, b.0), vaddq_f32(a.1, b.1)) }
        }
        #[inline(always)]
        fn sub(self, a: F8, b: F8) -> F8 {
            unsafe { F8(vsubq_f32(a.0, b.0), vsubq_f32(a.1, b.1)) }
        }
        #[inline(always)]
        fn mul(self, a: F8, b: F8) -> F8 {
            unsafe { F8(vmulq_f32(a.0, b.0), vmulq_f32(a.1, b.1)) }
        }
        #[inline(always)]
        fn abs(self, a: F8) -> F8 {
            unsafe { F8(vabsq_f32(a.0), vabsq_f32(a.1)) }
        }
        #[inline(always)]
        fn nge0(self, a: F8) -> M8 {
            // NOT(a >= 0): true for NaN.
            unsafe {
                let z = vdupq_n_f32(0.0);
                M8(vmvnq_u32(vcgeq_f32(a.0, z)), vmvnq_u32(vcgeq_f32(a.1, z)))
            }
        }
        #[inline(always)]
        fn select(self, m: M8, t: F8, f: F8) -> F8 {
            unsafe { F8(vbslq_f32(m.0, t.0, f.0), vbslq_f32(m.1, t.1, f.1)) }
        }
        #[inline(always)]
        fn bits(self, m: M8) -> u64 {
            const WEIGHTS: [u8; 8] = [1, 2, 4, 8, 16, 32, 64, 128];
            unsafe {
                let b = vmovn_u16(vcombine_u16(vmovn_u32(m.0), vmovn_u32(m.1)));
                vaddv_u8(vand_u8(b, vld1_u8(WEIGHTS.as_ptr()))) as u64
            }
        }
        #[inline(always)]
        fn to_array(self, v: F8) -> [f32; 8] {
            let mut a = [0f32; 8];
            unsafe {
                vst1q_f32(a.as_mut_ptr(), v.0);
                vst1q_f32(a.as_mut_ptr().add(4), v.1);
            }
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SplitMix64;

    /// Awkward values: signed zeros, ties with the thresholds, subnormals, infinities, NaN.
    fn edge_values(g: &mut SplitMix64, n: usize) -> Vec<f32> {
        let special = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::MIN_POSITIVE / 4.0,
            -f32::MIN_POSITIVE / 4.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e30,
            -1e30,
            0.25,
        ];
        (0..n)
            .map(|i| {
                if i % 3 == 0 {
                    special[(g.next_u64() % special.len() as u64) as usize]
                } else {
                    g.uniform(-3.0, 3.0)
                }
            })
            .collect()
    }

    fn same(a: [f32; 8], b: [f32; 8]) -> bool {
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Every operation of backend `s` equals the scalar reference bit for bit.
    fn check_backend<S: Simd>(s: S) {
        let r = Scalar;
        let mut g = SplitMix64::new(42);
        for _ in 0..2000 {
            let a = edge_values(&mut g, 8);
            let b = edge_values(&mut g, 8);
            let c = edge_values(&mut g, 8);
            let u: Vec<u32> = (0..8)
                .map(|i| match i {
                    0 => 0,
                    1 => u32::MAX,
                    _ => (g.next_u64() % 70_000) as u32,
                })
                .collect();
            // SAFETY: every slice has 8 elements.
            let (va, vb, vc, ra, rb, rc) = unsafe {
                (
                    s.load(a.as_ptr()),
                    s.load(b.as_ptr()),
                    s.load(c.as_ptr()),
                    r.load(a.as_ptr()),
                    r.load(b.as_ptr()),
                    r.load(c.as_ptr()),
                )
            };
            let t = |v: S::V| s.to_array(v);
            assert!(same(t(s.add(va, vb)), r.add(ra, rb)));
            assert!(same(t(s.sub(va, vb)), r.sub(ra, rb)));
            assert!(same(t(s.mul(va, vb)), r.mul(ra, rb)));
            assert!(same(t(s.abs(va)), r.abs(ra)));
            assert!(same(t(s.prelu(va, vb)), r.prelu(ra, rb)));
            assert_eq!(s.bits(s.nge0(va)), r.bits(r.nge0(ra)));
            assert!(same(
                t(s.select(s.nge0(vc), va, vb)),
                r.select(r.nge0(rc), ra, rb)
            ));
            assert!(same(t(s.splat(a[3])), r.splat(a[3])));
            // SAFETY: 8 u32 each; 8 floats of room.
            unsafe {
                assert!(same(t(s.load_u32(u.as_ptr())), r.load_u32(u.as_ptr())));
                let mut out = [0f32; 8];
                s.store(out.as_mut_ptr(), va);
                assert!(same(out, ra));
            }
        }
        // The scalar reference is the literal definition.
        for v in edge_values(&mut g, 64) {
            let lane = r.to_array(r.prelu(r.splat(v), r.splat(0.25)))[0];
            assert_eq!(lane.to_bits(), crate::fp::prelu(v, 0.25).to_bits());
        }
    }

    #[test]
    fn scalar_reference_is_the_definition() {
        check_backend(Scalar);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_matches_the_scalar_reference() {
        match Avx2::new() {
            Some(s) => check_backend(s),
            None => eprintln!("note: no AVX2 on this CPU"),
        }
    }

    #[cfg(target_arch = "aarch64")]
    #[test]
    fn neon_matches_the_scalar_reference() {
        check_backend(Neon::new().expect("NEON is baseline on aarch64"));
    }
}
