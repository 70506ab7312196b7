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
//!
//! Files: `detect.rs` ([`Isa`], run-time detection), `kernel.rs` (the interfaces), `simd.rs`
//! (the `Simd` trait), `dispatch.rs` (the one `match` per call), `tests.rs` (the suite), and the
//! folders.

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
mod detect;
mod dispatch;
mod kernel;
pub(crate) mod scalar;
mod simd;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

pub use detect::{Isa, has_fma};
pub(crate) use dispatch::{binarize_row, binarize_rows, run_portable, run_simd, xor_popcount};
pub(crate) use kernel::{PopcountJob, Portable, SimdTask};
pub(crate) use simd::Simd;
