//! # bifsmn-engine
//!
//! The workbench's engine: everything except the GUI, with no GUI types.
//!
//! * [`audio`]: decode any common audio file, downmix, resample to 16 kHz, fix the length.
//! * [`features`]: the paper's 32x32 log-mel front end (implemented in `bifsmn-kernels`, so that
//!   the board runner computes exactly the same features).
//! * [`data`]: Speech Commands datasets, splits and labels, augmentation, feature cache, batch
//!   loading and the archive downloader.
//! * [`model`]: the D-FSMN teacher and the BiFSMNv2 student on burn, with the Learning
//!   Propagation Binarizer and the baseline binarizers.
//! * [`train`]: the trainer thread (events, commands, checkpoints, distillation, evaluation).
//! * [`export`]: trained model -> packed 1-bit `.bkw` (the kernels' format).
//! * [`onnx`]: the FP32 teacher as a standard ONNX model, and tract running it.
//! * [`bench`] and [`ablate`]: the comparison tables of `bifsmn bench` and `bifsmn ablate`.
//! * [`capture`]: microphone input (cpal) into a lock-free ring, recording clips into a dataset.
//! * [`stream`]: streaming keyword detection over any sample source, and its evaluation.
//! * [`fsutil`]: crash-safe writes and folder copies.

pub mod ablate;
pub mod audio;
pub mod bench;
pub mod capture;
pub mod data;
pub mod export;
pub mod fsutil;
pub mod model;
pub mod onnx;
pub mod stream;
pub mod train;
pub mod version;

/// The log-mel front end, shared with the board runner.
pub mod features {
    pub use bifsmn_kernels::features::*;
}
