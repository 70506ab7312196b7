//! Audio in: decode any common file format, downmix, resample to 16 kHz, fix the length.
//!
//! Decoding goes through symphonia (WAV 8/16/24/32-bit PCM and float, FLAC, Ogg Vorbis, MP3,
//! ADPCM WAV); resampling through rubato's FFT resampler. Every failure is an [`AudioError`]
//! that names the file and says what is wrong; nothing here panics on bad input.

mod decode;
mod wav;

pub use decode::{DecodedAudio, decode_bytes, decode_file};
pub use wav::{write_wav_atomic, write_wav_interleaved, write_wav_mono_16k};

use std::path::{Path, PathBuf};

/// The model's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples per model clip (1 s).
pub const CLIP_SAMPLES: usize = 16_000;

/// An audio file could not be turned into samples.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct AudioError {
    pub path: PathBuf,
    pub kind: AudioErrorKind,
}

/// What went wrong with an audio file.
#[derive(Debug, thiserror::Error)]
pub enum AudioErrorKind {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("file is empty (0 bytes)")]
    Empty,
    #[error("not a supported audio file ({0}); supported: WAV, FLAC, Ogg Vorbis, MP3")]
    Unsupported(String),
    #[error("no audio track in the file")]
    NoAudioTrack,
    #[error("malformed audio data: {0}")]
    Malformed(String),
    #[error("file is truncated: {decoded} of {declared} frames present")]
    Truncated { decoded: u64, declared: u64 },
    #[error("file contains no audio samples")]
    NoSamples,
    #[error("resampling from {from} Hz failed: {reason}")]
    Resample { from: u32, reason: String },
    #[error("cannot write file: {0}")]
    Write(String),
}

impl AudioError {
    pub(crate) fn new(path: &Path, kind: AudioErrorKind) -> Self {
        Self {
            path: path.to_path_buf(),
            kind,
        }
    }
}

/// Average all channels of interleaved samples into one.
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect()
}

/// Resample mono samples from `from` Hz to `to` Hz with rubato's synchronous FFT resampler
/// (high quality, delay trimmed). Returns the input unchanged when the rates are equal.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    use rubato::audioadapter_buffers::direct::InterleavedSlice;
    use rubato::{Fft, FixedSync, Resampler};

    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(format!("invalid sample rate {from} -> {to}"));
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| format!("{e:?}"))?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

/// Zero-pad or crop at the end to exactly `len` samples (the reference code's `FixAudioLength`).
pub fn fix_length(mut samples: Vec<f32>, len: usize) -> Vec<f32> {
    samples.resize(len, 0.0);
    samples
}

/// Decode `path`, downmix to mono and resample to 16 kHz (any length).
pub fn load_mono_16k(path: &Path) -> Result<Vec<f32>, AudioError> {
    let decoded = decode_file(path)?;
    decoded.into_mono_16k(path)
}

/// Decode `path` into exactly one model clip: mono, 16 kHz, 16000 samples.
pub fn load_clip(path: &Path) -> Result<Vec<f32>, AudioError> {
    Ok(fix_length(load_mono_16k(path)?, CLIP_SAMPLES))
}

/// Length of a recording in samples at 16 kHz. WAV files are measured from their header;
/// other formats are decoded.
pub fn duration_samples_16k(path: &Path) -> Result<usize, AudioError> {
    if let Ok(reader) = hound::WavReader::open(path) {
        let rate = u64::from(reader.spec().sample_rate.max(1));
        return Ok((u64::from(reader.duration()) * u64::from(SAMPLE_RATE) / rate) as usize);
    }
    Ok(load_mono_16k(path)?.len())
}

/// Peak and RMS level of samples, in dBFS (-inf for digital silence).
pub fn levels_dbfs(samples: &[f32]) -> (f32, f32) {
    if samples.is_empty() {
        return (f32::NEG_INFINITY, f32::NEG_INFINITY);
    }
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
    (20.0 * peak.log10(), 20.0 * rms.log10())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
        assert_eq!(downmix(&[0.25], 1), vec![0.25]);
    }

    #[test]
    fn fix_length_pads_and_crops_at_the_end() {
        assert_eq!(fix_length(vec![1.0; 3], 5), vec![1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(fix_length(vec![1.0, 2.0, 3.0], 2), vec![1.0, 2.0]);
    }

    #[test]
    fn resampling_keeps_a_tone_at_its_frequency() {
        let from = 44_100;
        let x: Vec<f32> = (0..from)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / from as f32).sin())
            .collect();
        let y = resample(&x, from, SAMPLE_RATE).unwrap();
        assert!((y.len() as i64 - 16_000).abs() <= 2, "len {}", y.len());
        // Count zero crossings in the middle: 440 Hz -> 880 per second.
        let mid = &y[2000..14000];
        let crossings = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        let expected = 440.0 * mid.len() as f32 / 16_000.0;
        assert!(
            (crossings as f32 - expected).abs() <= 2.0,
            "{crossings} vs {expected}"
        );
        let (peak, _) = levels_dbfs(mid);
        assert!(peak.abs() < 0.5, "peak {peak} dBFS");
    }
}
