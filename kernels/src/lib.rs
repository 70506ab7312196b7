//! # bifsmn-kernels
//!
//! Everything that runs a trained BiFSMNv2 keyword spotter on a device, with no heavy
//! dependencies so that it cross-compiles to a static aarch64 board runner:
//!
//! * [`features`]: the paper's log-mel front end (shared with training).
//! * [`weights`]: the unfolded float description of a trained network (the export hand-off).
//! * [`isa`]: run-time choice of the instruction set, and the kernels of each (one folder per
//!   ISA family: scalar, x86_64 with AVX2/AVX-512, aarch64 with NEON).
//! * [`bitpack`]: sign-bit packing of weights and the dual-plane activation binariser.
//! * [`gemm`]: XOR-popcount products of bit rows (plain and masked) and their weight layouts.
//! * [`fp`]: float kernels (the FP parts of the binary model and the FP32 baseline).
//! * [`network`]: the network's dimensions, limits, and the checks of an unfolded network.
//! * [`fold`]: BatchNorm and `tau2` folding into per-channel affines.
//! * [`format`](mod@format): the packed `.bkw` model file (writer, validating reader, summary, hash).
//! * [`reference`](mod@reference): the slow literal f64 forward of unfolded weights (the test oracle).
//! * [`infer`]: whole-model inference: [`infer::Engine`] and [`infer::Session`] with per-layer
//!   timing hooks, activation-bit inspection and clip classification.
//! * [`synth`]: deterministic random networks and inputs for tests, benchmarks and self-tests.
//! * [`atomic`]: crash-safe file writes (temp file, fsync, rename), std only.
//! * [`board`], [`stats`], [`wav`]: machine facts, latency statistics and WAV input for the
//!   board runner (`src/bin/bifsmn-runner.rs`); [`report`]: the typed JSON reports the runner
//!   writes and `bifsmn-deploy` reads.

pub mod atomic;
pub mod bitpack;
pub mod board;
pub mod features;
pub mod fold;
pub mod format;
pub mod fp;
pub mod gemm;
pub mod infer;
pub mod isa;
pub mod network;
pub mod reference;
pub mod report;
pub mod stats;
pub mod synth;
pub mod wav;
pub mod weights;
