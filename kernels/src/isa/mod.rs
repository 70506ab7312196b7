//! The instruction sets of the kernels: run-time detection and one folder per ISA family.
//!
//! Laid out like tract's `linalg`: every family implements the same kernel interfaces, the
//! portable reference sits beside the SIMD versions, and one test suite (`tests`) is written
//! once and instantiated for every implementation the CPU can run, bit-exact against scalar.
//!
//! * `BitKernels`: the XOR-popcount product of [`crate::gemm`] and the activation binariser of
//!   [`crate::bitpack`], one implementing type per [`Isa`]; `xor_popcount`, `binarize_row`
//!   and `binarize_rows` dispatch on an [`Isa`] with one `match`.
//! * `Simd`: eight-lane `f32` vectors for the binary forward's fused float work, one token
//!   type per backend; `run_simd` runs a `SimdTask` on the backend of an [`Isa`].
//! * `Portable`: portable float code (the kernels of [`crate::fp`] and the float forward)
//!   compiled once more with AVX2 (+FMA) on x86-64 CPUs that have it, by `run_portable`.
//!
//! Folders: `scalar` (the reference, every architecture), `x86_64` (AVX2, AVX-512BW,
//! AVX-512 VPOPCNTDQ), `aarch64` (ARMv8.0 NEON).
//!
//! Production code calls [`Isa::best`] (detected once and cached); tests and benchmarks iterate
//! over [`Isa::available`] and force each one explicitly, so every SIMD path is checked bit-exact
//! against the scalar one on the machine that runs the tests.

pub(crate) mod scalar;
mod simd;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

pub(crate) use simd::Simd;

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// An implementation family of the bit kernels (serialised as [`Isa::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust, `u64::count_ones`. Always available; the reference for every test.
    Scalar,
    /// x86-64 AVX2: nibble-lookup popcount (`vpshufb`) + `vpsadbw`.
    Avx2,
    /// x86-64 AVX-512F + BW without VPOPCNTDQ: the nibble lookup on 512-bit vectors.
    Avx512Bw,
    /// x86-64 AVX-512F + VPOPCNTDQ: native 64-bit lane popcount.
    Avx512Vpopcnt,
    /// aarch64 ARMv8.0 Advanced SIMD (`eor`/`cnt`/`uadalp`/`addp`): no dotprod, no SVE, so it
    /// runs on a Cortex-A53 (Raspberry Pi 3).
    Neon,
}

impl Isa {
    /// Every variant, in order of preference from worst to best.
    pub const ALL: [Isa; 5] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512Bw,
        Isa::Avx512Vpopcnt,
        Isa::Neon,
    ];

    /// Short stable name (used in reports and on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Bw => "avx512bw",
            Isa::Avx512Vpopcnt => "avx512vpopcntdq",
            Isa::Neon => "neon",
        }
    }

    /// Parse a name produced by [`Isa::name`].
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether this CPU can run the variant.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bw => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vpopcnt => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            // Advanced SIMD is part of the aarch64-unknown-linux-gnu baseline.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The variants this CPU supports, scalar first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The fastest supported variant, detected on the first call and cached.
    pub fn best() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            Isa::available()
                .into_iter()
                .next_back()
                .unwrap_or(Isa::Scalar)
        })
    }
}

impl Serialize for Isa {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Isa {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Isa::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ISA '{name}'")))
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the float kernels may use fused multiply-add on this CPU.
///
/// The FP32 baseline path uses FMA where the hardware has it (x86 FMA3, always on aarch64) so
/// that the baseline is honest. The binary path's small float parts never fuse: that keeps its
/// output bit-identical on every ISA and on both architectures.
pub fn has_fma() -> bool {
    static FMA: OnceLock<bool> = OnceLock::new();
    *FMA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(target_arch = "aarch64")]
        {
            true
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            false
        }
    })
}

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
#[inline]
pub(crate) unsafe fn xor_popcount(isa: Isa, job: &PopcountJob<'_>, out: &mut [u32]) {
    // SAFETY: the caller's contract.
    with_bit_kernels!(isa, K => unsafe { K::xor_popcount(job, out) })
}

/// [`BitKernels::binarize_row`] of `isa`.
///
/// # Safety
/// As [`BitKernels::binarize_row`] for `isa`.
#[inline]
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
#[inline]
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

/// A computation written once against [`Simd`], run by [`run_simd`] on one backend.
pub(crate) trait SimdTask {
    type Out;
    /// Implementations are `#[inline(always)]` so that the body is compiled inside the
    /// backend's `#[target_feature]` function.
    fn run<S: Simd>(self, s: S) -> Self::Out;
}

/// Run `task` on the float backend that matches `isa`: the scalar reference for
/// [`Isa::Scalar`], AVX2 for the x86 ISAs, NEON on aarch64. `None` if the CPU lacks it.
pub(crate) fn run_simd<T: SimdTask>(isa: Isa, task: T) -> Option<T::Out> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512Bw | Isa::Avx512Vpopcnt => x86_64::run_avx2(task),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => aarch64::run_neon(task),
        _ => Some(task.run(scalar::Scalar)),
    }
}

/// Portable float code that [`run_portable`] compiles once more with wider vectors.
pub(crate) trait Portable {
    type Out;
    /// `FUSED`: accumulate with fused multiply-add. Implementations are `#[inline(always)]`
    /// so that the body is compiled inside the `#[target_feature]` function that calls it.
    fn run<const FUSED: bool>(self) -> Self::Out;
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
