//! Eight-lane `f32` vectors for the binary forward's float work (conv1, epilogues, fused
//! binarisation), written once against [`Simd`] and instantiated per backend:
//!
//! * `Scalar` (`isa/scalar/simd.rs`): `[f32; 8]` and plain Rust; the reference every other
//!   backend is tested against, bit for bit;
//! * `Avx2` (`isa/x86_64/simd.rs`): one `__m256` per vector, `vmovmskps` for the sign masks;
//! * `Avx512` (`isa/x86_64/simd.rs`): the same vectors, with the masks in AVX-512 mask
//!   registers (compare into `k`, masked blend, masked multiply for the PReLU);
//! * `Neon` (`isa/aarch64/simd.rs`, ARMv8.0): two `float32x4_t`, a weighted `addv` for the
//!   masks.
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
    /// `valid - 2 * p[l]` per lane, as `f32`: a binary product's ±1 dot product from its
    /// popcount. Exact (every value is an integer below 2^24), so the same bits as
    /// `valid as f32 - 2.0 * (p[l] as i32 as f32)`, which is the default.
    ///
    /// # Safety
    /// `p` must be valid for reading 8 `u32`.
    #[inline(always)]
    unsafe fn load_pm(self, p: *const u32, valid: i32) -> Self::V {
        // SAFETY: the caller's contract.
        let pc = unsafe { self.load_u32(p) };
        self.sub(self.splat(valid as f32), self.mul(self.splat(2.0), pc))
    }
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// IEEE division, correctly rounded on every backend.
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
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
