//! From an engine's render to a dataset file: vocal-tract warp, trim, level, placement in a
//! one-second clip, and a room-noise floor under everything.
//!
//! The floor matters for the same reason as in the demo set (`assets/README.md`, "Noise
//! floor"): real recordings never contain digital silence, and a model that learned words on
//! exact zeros sees a different input as soon as a microphone is on.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::speakers::Speaker;
use crate::audio::{self, CLIP_SAMPLES, SAMPLE_RATE};
use crate::capture::vad::{VadConfig, speech_span};

/// Speech plus margins must leave this many samples free in a 1 s clip (25 ms per side).
pub const MAX_SPEECH: usize = CLIP_SAMPLES - 800;
/// Renders with less speech than this (50 ms) are empty.
const MIN_SPEECH: usize = 800;
/// Samples kept on each side of the detected speech (20 ms).
const MARGIN: usize = 320;
/// Linear fade at both ends of the kept segment (8 ms).
const FADE: usize = 128;
/// The centred speech moves by up to this much (0.1 s), clamped to the clip.
const OFFSET_JITTER: i64 = 1600;

/// Why a render was not usable.
#[derive(Clone, Debug, PartialEq)]
pub enum Unusable {
    /// No speech found (or shorter than 50 ms).
    Empty,
    /// Speech longer than a clip allows; samples of speech found.
    TooLong(usize),
    /// The resampler refused the warp.
    Warp(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::Empty => f.write_str("the engine rendered no speech"),
            Unusable::TooLong(n) => write!(
                f,
                "{:.2} s of speech does not fit a 1 s clip",
                *n as f32 / SAMPLE_RATE as f32
            ),
            Unusable::Warp(e) => write!(f, "vocal-tract warp failed: {e}"),
        }
    }
}

/// What was done to one clip, for the manifest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub speech_samples: usize,
    pub offset: usize,
    pub gain_db: f32,
    pub floor_dbfs: f32,
}

/// The speaker's vocal tract: read the samples as if recorded at `warp_hz`.
pub fn warp(samples: &[f32], speaker: &Speaker) -> Result<Vec<f32>, Unusable> {
    audio::resample(samples, speaker.warp_hz, SAMPLE_RATE).map_err(Unusable::Warp)
}

/// The spoken part with margins and fades, or why there is none.
pub fn trim(samples: &[f32]) -> Result<Vec<f32>, Unusable> {
    // Renders are digitally silent around the speech, so the peak-relative threshold decides.
    let vad = VadConfig {
        below_peak_db: 45.0,
        hangover_frames: 0,
        min_speech_frames: 3,
        ..VadConfig::default()
    };
    let span = speech_span(samples, &vad).ok_or(Unusable::Empty)?;
    if span.len() < MIN_SPEECH {
        return Err(Unusable::Empty);
    }
    let start = span.start.saturating_sub(MARGIN);
    let end = (span.end + MARGIN).min(samples.len());
    let mut out = samples[start..end].to_vec();
    let n = out.len();
    for i in 0..FADE.min(n / 2) {
        let g = i as f32 / FADE as f32;
        out[i] *= g;
        out[n - 1 - i] *= g;
    }
    Ok(out)
}

/// Scale to a peak of `-3 dBFS + gain_db`.
pub fn set_level(samples: &mut [f32], gain_db: f32) {
    let peak = samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.0 {
        let g = 10f32.powf((-3.0 + gain_db) / 20.0) / peak;
        samples.iter_mut().for_each(|v| *v *= g);
    }
}

/// A 1 s clip: trimmed speech centred with a seeded offset, levelled, over a noise floor.
pub fn one_second_clip(
    speech: Vec<f32>,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f32>, Placed), Unusable> {
    let mut speech = trim(&speech)?;
    if speech.len() > MAX_SPEECH {
        return Err(Unusable::TooLong(speech.len()));
    }
    let gain_db = rng.random_range(-9.0f32..1.0);
    set_level(&mut speech, gain_db);
    let centred = (CLIP_SAMPLES - speech.len()) as i64 / 2;
    let offset = (centred + rng.random_range(-OFFSET_JITTER..=OFFSET_JITTER))
        .clamp(0, (CLIP_SAMPLES - speech.len()) as i64) as usize;
    let mut clip = vec![0.0; CLIP_SAMPLES];
    clip[offset..offset + speech.len()].copy_from_slice(&speech);
    let floor_dbfs = add_floor(&mut clip, rng);
    Ok((
        clip,
        Placed {
            speech_samples: speech.len(),
            offset,
            gain_db,
            floor_dbfs,
        },
    ))
}

/// Continuous speech (a sentence): trimmed, levelled, with 0.3 s of floor on each side.
pub fn long_form(speech: Vec<f32>, rng: &mut ChaCha8Rng) -> Result<(Vec<f32>, Placed), Unusable> {
    let mut speech = trim(&speech)?;
    let gain_db = rng.random_range(-9.0f32..1.0);
    set_level(&mut speech, gain_db);
    let pad = (SAMPLE_RATE as usize * 3) / 10;
    let mut out = vec![0.0; pad];
    out.extend_from_slice(&speech);
    out.resize(speech.len() + 2 * pad, 0.0);
    let floor_dbfs = add_floor(&mut out, rng);
    Ok((
        out,
        Placed {
            speech_samples: speech.len(),
            offset: pad,
            gain_db,
            floor_dbfs,
        },
    ))
}

/// Add a seeded room-noise floor at -70..-50 dBFS RMS: white noise through a one-pole
/// low-pass whose corner (2-6 kHz) is drawn per clip. Returns the floor's level.
pub fn add_floor(samples: &mut [f32], rng: &mut ChaCha8Rng) -> f32 {
    let level_dbfs = rng.random_range(-70.0f32..-50.0);
    let corner_hz = rng.random_range(2000.0f32..6000.0);
    let mut noise_rng = ChaCha8Rng::seed_from_u64(rng.random());
    let floor = lowpassed_noise(samples.len(), corner_hz, &mut noise_rng);
    let rms = (floor.iter().map(|v| v * v).sum::<f32>() / floor.len().max(1) as f32).sqrt();
    let g = if rms > 0.0 {
        10f32.powf(level_dbfs / 20.0) / rms
    } else {
        0.0
    };
    for (s, n) in samples.iter_mut().zip(&floor) {
        *s += g * n;
    }
    level_dbfs
}

/// Uniform white noise through a one-pole low-pass at `corner_hz`.
pub fn lowpassed_noise(len: usize, corner_hz: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let a = (-2.0 * std::f32::consts::PI * corner_hz / SAMPLE_RATE as f32).exp();
    let mut y = 0.0f32;
    (0..len)
        .map(|_| {
            let x: f32 = rng.random_range(-1.0f32..1.0);
            y = (1.0 - a) * x + a * y;
            y
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize, at: usize, n: usize) -> Vec<f32> {
        let mut x = vec![0.0; len];
        for (i, v) in x[at..at + n].iter_mut().enumerate() {
            *v = 0.5 * (i as f32 * 0.2).sin();
        }
        x
    }

    #[test]
    fn a_word_is_trimmed_levelled_and_placed_over_a_floor() {
        let render = tone(30000, 9000, 6000);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (clip, placed) = one_second_clip(render, &mut rng).unwrap();
        assert_eq!(clip.len(), CLIP_SAMPLES);
        assert!((6000..=6000 + 2 * MARGIN + 320).contains(&placed.speech_samples));
        let peak = clip.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let want = 10f32.powf((-3.0 + placed.gain_db) / 20.0);
        assert!((peak / want - 1.0).abs() < 0.01, "peak {peak} want {want}");
        // Outside the speech only the floor is left, at the drawn level within 1 dB.
        let outside: Vec<f32> = clip[..placed.offset].to_vec();
        assert!(outside.iter().all(|&v| v != 0.0), "no digital silence");
        let (_, rms) = audio::levels_dbfs(&outside);
        assert!(
            (rms - placed.floor_dbfs).abs() < 1.0,
            "{rms} vs {}",
            placed.floor_dbfs
        );
        // Centred within the jitter.
        let centre = placed.offset + placed.speech_samples / 2;
        assert!((centre as i64 - 8000).abs() <= OFFSET_JITTER + 1);
    }

    #[test]
    fn too_long_and_empty_renders_are_refused() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let long = tone(40000, 1000, 20000);
        assert!(matches!(
            one_second_clip(long, &mut rng),
            Err(Unusable::TooLong(_))
        ));
        assert_eq!(
            one_second_clip(vec![0.0; 16000], &mut rng),
            Err(Unusable::Empty)
        );
        assert_eq!(trim(&tone(16000, 100, 200)), Err(Unusable::Empty));
    }

    #[test]
    fn long_form_keeps_the_whole_sentence() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (out, placed) = long_form(tone(80000, 5000, 60000), &mut rng).unwrap();
        assert_eq!(placed.offset, 4800);
        assert_eq!(out.len(), placed.speech_samples + 9600);
        assert!(placed.speech_samples >= 60000);
    }

    #[test]
    fn warp_changes_length_by_the_tract_factor() {
        use super::super::speakers::EngineKind;
        let s = Speaker {
            id: String::new(),
            engine: EngineKind::Espeak,
            voice: String::new(),
            pitch: 50.0,
            rate: 175.0,
            warp_hz: 17600,
            split: crate::data::Split::Train,
            timbre: None,
        };
        let x: Vec<f32> = (0..17600).map(|i| (i as f32 * 0.05).sin()).collect();
        let y = warp(&x, &s).unwrap();
        assert!((y.len() as i64 - 16000).abs() <= 2, "{}", y.len());
    }
}
