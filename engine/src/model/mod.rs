//! BiFSMNv2 models on burn: the D-FSMN backbone, the binarizers (LPB and baselines), the
//! Haar bands used by Frequency Independent Distillation, and a parameter summary.
//!
//! The eval-mode math of the deployable student is the contract in `docs/MODEL.md`; the
//! kernels crate runs the same math bitwise.

pub mod dfsmn;
pub mod haar;
pub mod layers;
pub mod quant;
pub mod summary;

pub use dfsmn::{BinarizerTrace, Dfsmn, DfsmnConfig, DfsmnLayer, ForwardTrace, PathOutput, Probe};
pub use quant::BinarizerKind;
