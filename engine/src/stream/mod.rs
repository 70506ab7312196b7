//! Streaming keyword detection over any 16 kHz sample source, and its evaluation.
//!
//! ```text
//!  SampleSource ──samples──▶ Windower ──1 s window every hop──▶ Scorer ──posteriors──▶ Decider ──▶ KeywordEvent
//!  (mic, file, generated)    (absolute sample grid)             (packed model)        (smooth, threshold, refractory)
//! ```
//!
//! * [`Windower`]: windows of the model's clip length ending at every multiple of the hop
//!   (counted from the first sample; the stream is preceded by silence, so the first window
//!   ends one hop in). Windows sit on an absolute grid, so the chunk sizes the samples arrive
//!   in cannot change which windows are scored: feeding a signal in any pieces gives the same
//!   events as feeding it whole.
//! * [`Scorer`]: one window in, class posteriors out. [`ModelScorer`] runs the packed `.bkw`
//!   through `bifsmn_kernels::infer` (the board runner's code, so what fires here fires
//!   there); [`ToneScorer`] is a deterministic stand-in for tests and demos.
//! * [`Decider`]: moving average of the last few posteriors, threshold, a refractory time
//!   after each event and re-arming only after the class's score fell below the threshold.
//! * [`Detector`]: the three together, with a bounded [`ScoreTrace`] for plots, compute
//!   timing ([`DetectorStats`]: real-time factor) and latency figures ([`Latency`]).
//! * [`live`]: a detection thread reading a source and sending [`live::LiveMessage`]s (the GUI
//!   and `bifsmn listen`).
//! * [`mix`] builds evaluation streams (keywords over background noise at chosen SNRs), and
//!   [`eval`] sweeps thresholds over them: false accepts per hour and false-reject rate.
//!
//! # Why a 100 ms hop by default
//!
//! A spoken keyword lasts 0.4-0.8 s and the model sees 1 s, so a keyword is wholly inside the
//! window for roughly 0.2-0.6 s: at a 100 ms hop that is 2-6 windows, enough for a 3-window
//! average to rise clearly above single-window flukes. The hop bounds the timing error and
//! adds at most one hop of latency; halving it doubles the compute for no accuracy gain at
//! the feature resolution (the log-mel hop is 32 ms). At 10 windows per second the packed
//! model costs a small fraction of real time on a laptop and leaves headroom on a Cortex-A53.

pub mod decide;
pub mod detector;
pub mod eval;
pub mod live;
pub mod mix;
pub mod scorer;
pub mod source;
pub mod tone;
pub mod trace;
pub mod window;

pub use decide::{Decider, DecisionConfig, KeywordEvent};
pub use detector::{Detector, DetectorConfig, DetectorStats, Latency};
pub use scorer::{ModelScorer, Scorer, default_keywords};
pub use source::{
    ChunkPlan, FileSource, MicSource, ReadStatus, SampleSource, VecSource, run_source,
};
pub use tone::ToneScorer;
pub use trace::{ScoreTrace, TracePoint};
pub use window::Windower;

use std::path::PathBuf;

use crate::audio::AudioError;
use crate::capture::CaptureError;
use crate::data::DataError;

/// Errors of streaming detection and evaluation.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("invalid detector settings: {0}")]
    Config(String),
    #[error("cannot load model {}: {reason}", path.display())]
    Model { path: PathBuf, reason: String },
    #[error("scoring a window failed: {0}")]
    Score(String),
    #[error("the model expects {expected} Hz audio, the stream is {got} Hz")]
    SampleRate { expected: u32, got: u32 },
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("cannot build the evaluation stream: {0}")]
    Mix(String),
}
