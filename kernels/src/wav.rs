//! Minimal WAV input for the board runner: PCM 8/16/24/32-bit or float, any channel count
//! (averaged to mono), at the model's sample rate (no resampling on the board).

use std::path::Path;

/// Why a clip could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot read WAV {path}: {source}")]
    Read { path: String, source: hound::Error },
    #[error("{path} is {found} Hz but the model expects {expected} Hz (resample it first)")]
    SampleRate {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("{path} has no samples")]
    Empty { path: String },
}

/// Read `path` as mono `f32` samples in `[-1, 1]`, requiring `expected_rate`.
pub fn read_mono(path: &Path, expected_rate: u32) -> Result<Vec<f32>, WavError> {
    let name = path.display().to_string();
    let err = |source| WavError::Read {
        path: name.clone(),
        source,
    };
    let mut r = hound::WavReader::open(path).map_err(err)?;
    let spec = r.spec();
    if spec.sample_rate != expected_rate {
        return Err(WavError::SampleRate {
            path: name,
            found: spec.sample_rate,
            expected: expected_rate,
        });
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>().map_err(err)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(err)?
        }
    };
    let ch = spec.channels.max(1) as usize;
    let mono: Vec<f32> = interleaved
        .chunks(ch)
        .map(|f| f.iter().sum::<f32>() / f.len() as f32)
        .collect();
    if mono.is_empty() {
        return Err(WavError::Empty { path: name });
    }
    Ok(mono)
}

/// Write mono 16-bit PCM (used by tests and tools to make clips).
pub fn write_mono16(path: &Path, samples: &[f32], rate: u32) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rate_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let x: Vec<f32> = (0..100).map(|i| (i as f32 / 50.0) - 1.0).collect();
        write_mono16(&p, &x, 16000).unwrap();
        let y = read_mono(&p, 16000).unwrap();
        assert_eq!(y.len(), 100);
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-4));
        assert!(matches!(
            read_mono(&p, 8000),
            Err(WavError::SampleRate { found: 16000, .. })
        ));
        let bad = dir.path().join("b.wav");
        std::fs::write(&bad, b"RIFF....junk").unwrap();
        assert!(
            read_mono(&bad, 16000)
                .unwrap_err()
                .to_string()
                .contains("b.wav")
        );
    }
}
