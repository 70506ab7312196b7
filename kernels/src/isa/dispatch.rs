//! Dispatch on an [`Isa`]: one `match` per call, to the kernels of the ISA's folder.

#[cfg(target_arch = "aarch64")]
use super::aarch64;
use super::detect::{Isa, has_fma};
use super::kernel::{BitKernels, PopcountJob, Portable, SimdTask};
use super::scalar;
#[cfg(target_arch = "x86_64")]
use super::x86_64;

/// Evaluate `$body` with the type `$k` naming the [`BitKernels`] of `$isa` (the scalar ones for
/// an ISA of another architecture, which the callers reject first with [`Isa::is_supported`]).
macro_rules! with_bit_kernels {
    ($isa:expr, $k:ident => $body:expr) => {
        match $isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                type $k = x86_64::Avx2Bits;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bw => {
                type $k = x86_64::Avx512BwBits;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vpopcnt => {
                type $k = x86_64::Avx512VpopcntBits;
                $body
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => {
                type $k = aarch64::NeonBits;
                $body
            }
            _ => {
                type $k = scalar::ScalarBits;
                $body
            }
        }
    };
}

/// [`BitKernels::xor_popcount`] of `isa`.
///
/// # Safety
/// As [`BitKernels::xor_popcount`] for `isa`.
#[inline(always)]
pub(crate) unsafe fn xor_popcount(isa: Isa, job: &PopcountJob<'_>, out: &mut [u32]) {
    // SAFETY: the caller's contract.
    with_bit_kernels!(isa, K => unsafe { K::xor_popcount(job, out) })
}

/// [`BitKernels::binarize_row`] of `isa`.
///
/// # Safety
/// As [`BitKernels::binarize_row`] for `isa`.
#[inline(always)]
pub(crate) unsafe fn binarize_row(
    isa: Isa,
    x: &[f32],
    tau0: &[f32],
    tau1: &[f32],
    b1: &mut [u64],
    b2: &mut [u64],
) -> f32 {
    // SAFETY: the caller's contract.
    with_bit_kernels!(isa, K => unsafe { K::binarize_row(x, tau0, tau1, b1, b2) })
}

/// [`BitKernels::binarize_rows`] of `isa`.
///
/// # Safety
/// As [`BitKernels::binarize_rows`] for `isa`.
#[inline(always)]
pub(crate) unsafe fn binarize_rows(
    isa: Isa,
    x: &[f32],
    tau0: &[f32],
    tau1: &[f32],
    out: &mut crate::bitpack::BitRows,
    plane2: usize,
    s2: &mut [f32],
) {
    // SAFETY: the caller's contract.
    with_bit_kernels!(isa, K => unsafe { K::binarize_rows(x, tau0, tau1, out, plane2, s2) })
}

/// Run `task` on the float backend that matches `isa`: the scalar reference for
/// [`Isa::Scalar`], AVX2 for [`Isa::Avx2`], the AVX-512 mask-register backend for the AVX-512 ISAs, NEON on aarch64. `None` if the CPU lacks it.
pub(crate) fn run_simd<T: SimdTask>(isa: Isa, task: T) -> Option<T::Out> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86_64::run_avx2(task),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Bw | Isa::Avx512Vpopcnt => x86_64::run_avx512(task),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => aarch64::run_neon(task),
        _ => Some(task.run(scalar::Scalar)),
    }
}

/// Run `code` compiled with AVX2 (and FMA for [`FloatMode::Fused`] where [`has_fma`]) on x86-64
/// CPUs that have AVX2, as plain portable code elsewhere (aarch64's baseline has NEON, and the
/// compiler vectorises for it already). Fused only where [`has_fma`].
///
/// [`FloatMode::Fused`]: crate::fp::FloatMode::Fused
#[inline(always)]
pub(crate) fn run_portable<P: Portable>(mode: crate::fp::FloatMode, code: P) -> P::Out {
    let fused = mode == crate::fp::FloatMode::Fused && has_fma();
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, and FMA when `fused` (see `has_fma`).
        return unsafe { x86_64::run_portable(fused, code) };
    }
    if fused {
        code.run::<true>()
    } else {
        code.run::<false>()
    }
}
