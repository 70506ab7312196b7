//! aarch64 kernels (ARMv8.0 Advanced SIMD: no dotprod, no SVE, so they run on a Cortex-A53):
//! the NEON bit kernels and the NEON [`super::Simd`] backend. The portable float code needs no
//! second compilation here: NEON is part of the baseline.

mod binarize;
mod gemm;
mod simd;

pub(crate) use simd::Neon;

use super::detect::Isa;
use super::kernel::{BitKernels, PopcountJob, SimdTask};
use crate::bitpack::BitRows;

/// NEON: `eor`/`cnt`/`uadalp` popcount on row-major weights, 8-float binariser.
pub(crate) struct NeonBits;

impl BitKernels for NeonBits {
    const ISA: Isa = Isa::Neon;

    /// # Safety
    /// As [`BitKernels::xor_popcount`].
    #[inline(always)]
    unsafe fn xor_popcount(job: &PopcountJob<'_>, out: &mut [u32]) {
        // SAFETY: the caller's contract (NEON is baseline, the shapes hold).
        unsafe { gemm::neon(job, out) }
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
        // SAFETY: the caller's contract.
        unsafe { binarize::binarize_neon(x, tau0, tau1, b1, b2) }
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
        // SAFETY: the caller's contract.
        unsafe { binarize::rows_neon(x, tau0, tau1, out, plane2, s2) }
    }
}

/// [`super::run_simd`] for [`Isa::Neon`]: `task` on [`Neon`].
pub(super) fn run_neon<T: SimdTask>(task: T) -> Option<T::Out> {
    Some(task.run(Neon::new()?))
}
