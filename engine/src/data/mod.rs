//! Datasets: the Speech Commands layout, splits and labels, training augmentation, the feature
//! cache, batch loading off the training thread, and the downloader for the official archives.
//!
//! Everything follows the paper's input pipeline (`docs/METHOD.md` §1): clips are 1 s of
//! 16 kHz mono, labels use the reference code's class order, silence clips are all-zero
//! waveforms added to every split, and augmentation happens on the waveform before the log-mel.

pub mod augment;
pub mod cache;
pub mod download;
mod error;
pub mod loader;
pub mod merge;
pub mod scale;
pub mod speech_commands;
pub mod synth;
#[cfg(test)]
pub(crate) mod testutil;

pub use augment::{AugmentConfig, Augmenter, clip_rng, epoch_rng};
pub use cache::{CacheStats, FeatureCache, FillReport};
pub use download::{
    Archive, ArchiveSpec, DownloadError, DownloadOptions, Progress, Stage, download_verified,
    extract_tar_gz, fetch_archive,
};
pub use error::DataError;
pub use loader::{Batch, BatchLoader, LoaderOptions, WaveformCache};
pub use merge::{MergeMode, MergeReport, merge_datasets};
pub use scale::{ScaleOptions, ScaleReport, make_scaled};
pub use speech_commands::{
    ClassCounts, Clip, ClipSource, Dataset, Protocol, Split, demo_root, which_set,
};
