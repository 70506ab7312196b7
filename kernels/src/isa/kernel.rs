//! The kernel interfaces every ISA folder implements.

use super::detect::Isa;
use super::simd::Simd;

/// Everything an XOR-popcount kernel needs; the slices are validated by `crate::gemm` first.
pub(crate) struct PopcountJob<'a> {
    /// `rows x stride` activation words.
    pub a: &'a [u64],
    /// Same shape as `a`.
    pub mask: Option<&'a [u64]>,
    /// A multiple of [`crate::bitpack::ROW_BLOCK`].
    pub rows: usize,
    pub stride: usize,
    /// Meaningful words per row (`<= stride`).
    pub words: usize,
    /// Weights in the layout of the ISA (see [`crate::gemm::PreparedBits::new`]).
    pub w: &'a [u64],
    /// A multiple of [`crate::gemm::OUT_BLOCK`].
    pub outs_padded: usize,
}

/// The bit kernels of one [`Isa`]: one implementing type per ISA, in that ISA's folder.
///
/// Every implementation computes exactly the scalar reference's result, bit for bit (the
/// popcounts are integers; the binariser's `sum |r|` uses the canonical 8-lane order of
/// [`crate::bitpack::reduce8`]).
pub(crate) trait BitKernels {
    /// The instruction set the kernels need.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "names the kernels in the test suite")
    )]
    const ISA: Isa;

    /// `out[r][o] = popcount(a[r] ^ w[o])`, or `popcount((a[r] ^ w[o]) & m[r])` with a mask,
    /// for every row of the job and every padded output (`out` is `rows x outs_padded`).
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`]; `a` (and `mask`) hold `rows x stride` words, `w` holds
    /// `outs_padded` weight rows in the layout [`crate::gemm::PreparedBits`] makes for
    /// [`Self::ISA`], and `out` holds `rows x outs_padded` values.
    unsafe fn xor_popcount(job: &PopcountJob<'_>, out: &mut [u32]);

    /// Binarise one row into two planes (ORed into zeroed words) and return `sum |r|`; see
    /// [`crate::bitpack::binarize_row`].
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`]; `tau0` and `tau1` are as long as `x`, and `b1` and `b2`
    /// hold at least `words_for(x.len())` words, zero.
    unsafe fn binarize_row(
        x: &[f32],
        tau0: &[f32],
        tau1: &[f32],
        b1: &mut [u64],
        b2: &mut [u64],
    ) -> f32;

    /// Binarise `s2.len()` rows; see [`crate::bitpack::binarize_rows`].
    ///
    /// # Safety
    /// The CPU supports [`Self::ISA`]; the sizes are those [`crate::bitpack::binarize_rows`]
    /// asserts.
    unsafe fn binarize_rows(
        x: &[f32],
        tau0: &[f32],
        tau1: &[f32],
        out: &mut crate::bitpack::BitRows,
        plane2: usize,
        s2: &mut [f32],
    );
}

/// A computation written once against [`Simd`], run by [`run_simd`](super::dispatch::run_simd) on one backend.
pub(crate) trait SimdTask {
    type Out;
    /// Implementations are `#[inline(always)]` so that the body is compiled inside the
    /// backend's `#[target_feature]` function.
    fn run<S: Simd>(self, s: S) -> Self::Out;
}

/// Portable float code that [`run_portable`](super::dispatch::run_portable) compiles once more with wider vectors.
pub(crate) trait Portable {
    type Out;
    /// `FUSED`: accumulate with fused multiply-add. Implementations are `#[inline(always)]`
    /// so that the body is compiled inside the `#[target_feature]` function that calls it.
    fn run<const FUSED: bool>(self) -> Self::Out;
}
