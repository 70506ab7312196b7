//! Writing clips as 16-bit WAV, atomically.

use std::path::Path;

use super::{AudioError, AudioErrorKind, SAMPLE_RATE};
use crate::fsutil::write_atomic;

/// Write mono samples at `sample_rate` as 16-bit PCM WAV via a temp file + fsync + rename.
pub fn write_wav_atomic(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), AudioError> {
    write_wav_interleaved(path, samples, sample_rate, 1)
}

/// Write interleaved samples of `channels` channels as 16-bit PCM WAV, atomically. Samples
/// are clamped to [-1, 1] and rounded to the nearest 16-bit value.
pub fn write_wav_interleaved(
    path: &Path,
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
) -> Result<(), AudioError> {
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let mut w = hound::WavWriter::new(&mut bytes, spec)
            .map_err(|e| AudioError::new(path, AudioErrorKind::Write(e.to_string())))?;
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            w.write_sample(v)
                .map_err(|e| AudioError::new(path, AudioErrorKind::Write(e.to_string())))?;
        }
        w.finalize()
            .map_err(|e| AudioError::new(path, AudioErrorKind::Write(e.to_string())))?;
    }
    write_atomic(path, bytes.get_ref())
        .map_err(|e| AudioError::new(path, AudioErrorKind::Write(e.to_string())))
}

/// Write a 16 kHz mono clip (the dataset format).
pub fn write_wav_mono_16k(path: &Path, samples: &[f32]) -> Result<(), AudioError> {
    write_wav_atomic(path, samples, SAMPLE_RATE)
}
