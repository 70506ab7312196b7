//! Microphone capture and recording clips into a dataset.
//!
//! * [`list_input_devices`] and [`Capture::open`]: pick an input device by name (or the
//!   default), open it in its native rate, channel count and sample format, and read 16 kHz
//!   mono samples from it.
//! * [`vad`]: energy-based speech detection (auto-trim of recorded clips, speech spans of
//!   keywords placed in evaluation streams).
//! * [`record`]: save a recording as a Speech Commands clip and keep the split lists
//!   consistent ([`splits`]).
//!
//! # Threads
//!
//! cpal calls the data callback on its own real-time audio thread. That callback only
//! converts samples to `f32` and copies them into a lock-free single-producer single-consumer
//! ring buffer (`rtrb`); it never allocates, locks or logs, because any of those can block
//! for an unbounded time and the device would then drop audio. Overruns (ring full) and the
//! level of the last block are published through atomics. Everything else, including the
//! downmix and the resampling to 16 kHz, runs in whatever thread calls [`Capture::read`]
//! (the detection thread in the GUI, the main thread in the CLI).
//!
//! No cpal type appears in the public API, so the GUI does not depend on cpal.

mod callback;
mod convert;
mod device;
mod input;
pub mod record;
mod record_error;
pub mod splits;
pub mod vad;

pub use callback::{CaptureStats, Level, LevelMeter};
pub use convert::ToMono16k;
pub use device::{InputDeviceInfo, NativeConfig, SampleKind, list_input_devices};
pub use input::{Capture, CaptureConfig, CaptureInfo};

/// Why capture could not start or stopped.
///
/// Every variant names the device (as the user would type it) and what went wrong. None of
/// them is fatal to the program: the caller can show the message and carry on without audio.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaptureError {
    #[error("the audio system is not available: {0}")]
    NoHost(String),
    #[error("no audio input device found (is a microphone connected?)")]
    NoInputDevice,
    #[error("no audio input device named \"{name}\"; available: {}", list_or_none(.available))]
    DeviceNotFound {
        name: String,
        available: Vec<String>,
    },
    #[error("\"{name}\" matches several input devices: {}; use the full name", .matches.join(", "))]
    AmbiguousDevice { name: String, matches: Vec<String> },
    #[error("cannot read the capabilities of input device \"{device}\": {reason}")]
    Query { device: String, reason: String },
    #[error(
        "input device \"{device}\" refused {requested}: {reason}; it supports: {}",
        list_or_none(.supported)
    )]
    UnsupportedConfig {
        device: String,
        requested: String,
        reason: String,
        supported: Vec<String>,
    },
    #[error("input device \"{device}\" delivers {format} samples, which this program cannot read")]
    UnsupportedFormat { device: String, format: String },
    #[error("cannot start capture on \"{device}\": {reason}")]
    Start { device: String, reason: String },
    #[error("capture from \"{device}\" stopped: {reason}")]
    StreamFailed { device: String, reason: String },
    #[error("input device \"{device}\" delivered no audio for {waited_ms} ms")]
    NoAudio { device: String, waited_ms: u64 },
    #[error("cannot convert {from} Hz to 16 kHz: {reason}")]
    Resampler { from: u32, reason: String },
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
