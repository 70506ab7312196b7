//! # bifsmn-engine
//!
//! The workbench's engine: everything except the GUI, with no GUI types.
//!
//! * [`audio`]: decode any common audio file, downmix, resample to 16 kHz, fix the length.
//! * [`data`]: Speech Commands datasets, splits and labels, augmentation, feature cache, batch
//!   loading and the archive downloader.
//! * [`features`]: the paper's 32x32 log-mel front end (implemented in `bifsmn-kernels`, so that
//!   the board runner computes exactly the same features).
//! * [`fsutil`]: crash-safe writes.
//! * [`deploy`]: SSH to ARMv8 boards: board profiles, host keys, upload runner and model, run
//!   `bench`/`classify` there and bring the reports back, many boards at once.

pub mod audio;
pub mod capture;
pub mod data;
pub mod deploy;
pub mod fsutil;

/// The log-mel front end, shared with the board runner.
pub mod features {
    pub use bifsmn_kernels::features::*;
}
pub mod cli;
pub mod model;
pub mod train;
pub mod version;
pub mod export;
pub mod ablate;
pub mod bench;
pub mod stream;
