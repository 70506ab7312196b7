//! Energy-based voice activity detection: where the spoken part of a recording is.
//!
//! The recording is cut into 10 ms frames. A frame is speech when its energy is both well
//! above the noise floor (the 10th percentile of frame energies) and not far below the
//! loudest frame; the span runs from the first to the last speech frame, widened by a short
//! hangover so that soft onsets and endings (`s`, `f`) are kept. This is deliberately simple:
//! it only has to find one word in a short recording made on purpose. The floor comes from the
//! recording itself, so at least a tenth of it must be background: record about twice the
//! word's length (`bifsmn record --trim` records 2 s by default).

use serde::{Deserialize, Serialize};

use crate::audio::{CLIP_SAMPLES, SAMPLE_RATE};

/// Detector settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VadConfig {
    /// Frame length in samples (160 = 10 ms at 16 kHz).
    pub frame: usize,
    /// A speech frame is at least this far above the noise floor (dB).
    pub above_floor_db: f32,
    /// ... and at most this far below the loudest frame (dB).
    pub below_peak_db: f32,
    /// Frames kept before the first and after the last speech frame.
    pub hangover_frames: usize,
    /// Fewer speech frames than this is "no speech" (clicks, bumps).
    pub min_speech_frames: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            frame: (SAMPLE_RATE / 100) as usize,
            above_floor_db: 12.0,
            below_peak_db: 35.0,
            hangover_frames: 5,
            min_speech_frames: 5,
        }
    }
}

/// A span of samples `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeechSpan {
    pub start: usize,
    pub end: usize,
}

impl SpeechSpan {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    /// Middle sample.
    pub fn centre(&self) -> usize {
        self.start + self.len() / 2
    }
}

/// The spoken part of `samples`, or `None` if nothing stands out from the background.
pub fn speech_span(samples: &[f32], cfg: &VadConfig) -> Option<SpeechSpan> {
    let frame = cfg.frame.max(1);
    let energies: Vec<f32> = samples
        .chunks(frame)
        .map(|f| {
            let p = f.iter().map(|v| v * v).sum::<f32>() / f.len() as f32;
            10.0 * p.max(1e-12).log10()
        })
        .collect();
    if energies.is_empty() {
        return None;
    }
    let mut sorted = energies.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let peak = sorted[sorted.len() - 1];
    let threshold = (floor + cfg.above_floor_db).max(peak - cfg.below_peak_db);
    let speech: Vec<usize> = (0..energies.len())
        .filter(|&i| energies[i] >= threshold && energies[i] > -100.0)
        .collect();
    if speech.len() < cfg.min_speech_frames || peak - floor < cfg.above_floor_db {
        return None;
    }
    let first = speech[0].saturating_sub(cfg.hangover_frames);
    let last = (speech[speech.len() - 1] + 1 + cfg.hangover_frames).min(energies.len());
    Some(SpeechSpan {
        start: first * frame,
        end: (last * frame).min(samples.len()),
    })
}

/// A clip of exactly `len` samples centred on `span`, taking the real surrounding audio where
/// the recording has it and zeros beyond its ends. Returns the clip and whether the speech
/// was longer than `len` (then its middle `len` samples are kept).
pub fn centre_in_clip(samples: &[f32], span: SpeechSpan, len: usize) -> (Vec<f32>, bool) {
    let truncated = span.len() > len;
    let start = span.centre() as i64 - (len / 2) as i64;
    let clip = (0..len as i64)
        .map(|i| {
            let j = start + i;
            if j >= 0 {
                samples.get(j as usize).copied().unwrap_or(0.0)
            } else {
                0.0
            }
        })
        .collect();
    (clip, truncated)
}

/// [`speech_span`] then [`centre_in_clip`] into a 1 s model clip.
pub fn trim_to_clip(samples: &[f32], cfg: &VadConfig) -> Option<(Vec<f32>, SpeechSpan, bool)> {
    let span = speech_span(samples, cfg)?;
    let (clip, truncated) = centre_in_clip(samples, span, CLIP_SAMPLES);
    Some((clip, span, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quiet noise with a 0.4 s "word" (a loud tone burst) starting at `at`.
    fn recording(len: usize, at: usize) -> Vec<f32> {
        let mut state = 12345u32;
        (0..len)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let word = if (at..at + 6400).contains(&i) {
                    0.5 * (i as f32 * 0.2).sin()
                } else {
                    0.0
                };
                0.002 * noise + word
            })
            .collect()
    }

    #[test]
    fn finds_the_word_within_the_hangover() {
        let x = recording(32_000, 10_000);
        let span = speech_span(&x, &VadConfig::default()).unwrap();
        assert!((10_000 - 960..=10_000).contains(&span.start), "{span:?}");
        assert!((16_400..=16_400 + 960).contains(&span.end), "{span:?}");
    }

    #[test]
    fn silence_and_steady_noise_have_no_speech() {
        assert_eq!(speech_span(&vec![0.0; 16_000], &VadConfig::default()), None);
        let noise = recording(16_000, usize::MAX - 7000);
        assert_eq!(speech_span(&noise, &VadConfig::default()), None);
        assert_eq!(speech_span(&[], &VadConfig::default()), None);
    }

    #[test]
    fn the_word_is_centred_in_a_one_second_clip() {
        let x = recording(32_000, 20_000);
        let (clip, span, truncated) = trim_to_clip(&x, &VadConfig::default()).unwrap();
        assert_eq!(clip.len(), CLIP_SAMPLES);
        assert!(!truncated);
        // The clip's energy centre is its middle (within a frame or two of hangover asymmetry).
        let (num, den) = clip
            .iter()
            .enumerate()
            .fold((0.0f64, 0.0f64), |(n, d), (i, v)| {
                let e = (*v as f64) * (*v as f64);
                (n + i as f64 * e, d + e)
            });
        let centre = num / den;
        assert!(
            (centre - 8000.0).abs() < 400.0,
            "centre {centre}, span {span:?}"
        );
    }

    #[test]
    fn centring_pads_with_zeros_outside_the_recording() {
        let x = vec![1.0f32; 100];
        let (clip, truncated) = centre_in_clip(&x, SpeechSpan { start: 0, end: 100 }, 300);
        assert!(!truncated);
        assert_eq!(clip.iter().filter(|v| **v == 1.0).count(), 100);
        assert_eq!(clip[100..200], vec![1.0; 100][..]);
        let (_, truncated) = centre_in_clip(&x, SpeechSpan { start: 0, end: 100 }, 50);
        assert!(truncated);
    }
}
