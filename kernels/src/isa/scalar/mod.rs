//! The portable reference of every kernel: plain Rust, compiled for every architecture.
//!
//! Every SIMD kernel in the other folders is tested bit-exact against these (see
//! `crate::isa::tests`); the SIMD binarisers also use [`binarize::tail`] for their last
//! elements.

pub(crate) mod binarize;
mod gemm;
mod simd;

pub(crate) use simd::Scalar;

use super::detect::Isa;
use super::kernel::{BitKernels, PopcountJob};
use crate::bitpack::BitRows;

/// The scalar bit kernels: `u64::count_ones` on row-major weights, one element at a time.
pub(crate) struct ScalarBits;

impl BitKernels for ScalarBits {
    const ISA: Isa = Isa::Scalar;

    /// # Safety
    /// As [`BitKernels::xor_popcount`].
    #[inline(always)]
    unsafe fn xor_popcount(job: &PopcountJob<'_>, out: &mut [u32]) {
        gemm::run(job, out)
    }

    /// # Safety
    /// As [`BitKernels::binarize_row`].
    #[inline(always)]
    unsafe fn binarize_row(
        x: &[f32],
        tau0: &[f32],
        tau1: &[f32],
        b1: &mut [u64],
        b2: &mut [u64],
    ) -> f32 {
        binarize::row(x, tau0, tau1, b1, b2)
    }

    /// # Safety
    /// As [`BitKernels::binarize_rows`].
    #[inline(always)]
    unsafe fn binarize_rows(
        x: &[f32],
        tau0: &[f32],
        tau1: &[f32],
        out: &mut BitRows,
        plane2: usize,
        s2: &mut [f32],
    ) {
        binarize::rows_with(x, tau0, tau1, out, plane2, s2, binarize::row)
    }
}
