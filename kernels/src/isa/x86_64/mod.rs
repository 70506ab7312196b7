//! x86-64 kernels: AVX2, AVX-512BW and AVX-512 VPOPCNTDQ bit kernels, the AVX2 [`super::Simd`]
//! backend, and the AVX2 (+FMA) compilations of the portable float code.
//!
//! Every `#[target_feature]` function here is reached only through a [`BitKernels`] type, an
//! [`Avx2`] token or [`run_portable`], each of which stands for a run-time check of the CPU.

mod binarize;
mod gemm;
mod simd;

pub(crate) use simd::{Avx2, Avx512};

use super::detect::Isa;
use super::kernel::{BitKernels, PopcountJob, Portable, SimdTask};
use crate::bitpack::BitRows;

/// AVX2: nibble-lookup popcount (`vpshufb`) + `vpsadbw`, 8-float binariser.
pub(crate) struct Avx2Bits;

/// AVX-512F + BW: the nibble lookup on 512-bit vectors, 16-float binariser.
pub(crate) struct Avx512BwBits;

/// AVX-512F + VPOPCNTDQ: native 64-bit lane popcount, 16-float binariser.
pub(crate) struct Avx512VpopcntBits;

/// The [`BitKernels`] impl of one type: its popcount kernel and its row binariser.
macro_rules! bit_kernels {
    ($ty:ty, $isa:expr, $popcount:path, $row:path, $rows:path) => {
        impl BitKernels for $ty {
            const ISA: Isa = $isa;

            /// # Safety
            /// As [`BitKernels::xor_popcount`].
            #[inline(always)]
            unsafe fn xor_popcount(job: &PopcountJob<'_>, out: &mut [u32]) {
                // SAFETY: the caller's contract (the CPU has the features, the shapes hold).
                unsafe { $popcount(job, out) }
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
                unsafe { $row(x, tau0, tau1, b1, b2) }
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
                unsafe { $rows(x, tau0, tau1, out, plane2, s2) }
            }
        }
    };
}

bit_kernels!(
    Avx2Bits,
    Isa::Avx2,
    gemm::avx2,
    binarize::binarize_avx2,
    binarize::rows_avx2
);
// AVX-512F is part of both AVX-512 variants; they differ in the popcount only.
bit_kernels!(
    Avx512BwBits,
    Isa::Avx512Bw,
    gemm::avx512bw,
    binarize::binarize_avx512,
    binarize::rows_avx512
);
bit_kernels!(
    Avx512VpopcntBits,
    Isa::Avx512Vpopcnt,
    gemm::avx512vpopcnt,
    binarize::binarize_avx512,
    binarize::rows_avx512
);

/// [`super::run_simd`] for the x86 ISAs: `task` on [`Avx2`], compiled with AVX2 enabled.
pub(super) fn run_avx2<T: SimdTask>(task: T) -> Option<T::Out> {
    let s = Avx2::new()?;
    // SAFETY: the token proves AVX2.
    Some(unsafe { with_avx2(s, task) })
}

#[target_feature(enable = "avx2")]
fn with_avx2<T: SimdTask>(s: Avx2, task: T) -> T::Out {
    task.run(s)
}

/// [`super::run_simd`] for the AVX-512 ISAs: `task` on [`Avx512`] (compiled with AVX2 and
/// AVX-512 F/VL/BW/DQ enabled), or on [`Avx2`] where the CPU lacks VL or DQ.
pub(super) fn run_avx512<T: SimdTask>(task: T) -> Option<T::Out> {
    match Avx512::new() {
        // SAFETY: the token proves AVX2 and AVX-512 F/VL/BW/DQ.
        Some(s) => Some(unsafe { with_avx512(s, task) }),
        None => run_avx2(task),
    }
}

#[target_feature(enable = "avx2,avx512f,avx512vl,avx512bw,avx512dq")]
fn with_avx512<T: SimdTask>(s: Avx512, task: T) -> T::Out {
    task.run(s)
}

/// [`super::run_portable`] on a CPU with AVX2.
///
/// # Safety
/// The CPU has AVX2, and FMA too when `fused`.
#[inline(always)]
pub(super) unsafe fn run_portable<P: Portable>(fused: bool, code: P) -> P::Out {
    // SAFETY: the caller's contract.
    unsafe {
        if fused {
            portable_avx2_fma(code)
        } else {
            portable_avx2(code)
        }
    }
}

#[target_feature(enable = "avx2")]
fn portable_avx2<P: Portable>(code: P) -> P::Out {
    code.run::<false>()
}

#[target_feature(enable = "avx2,fma")]
fn portable_avx2_fma<P: Portable>(code: P) -> P::Out {
    code.run::<true>()
}
