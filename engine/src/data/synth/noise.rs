//! The corpus's `_background_noise_` folder: white, pink and brown noise, and babble made of
//! the training speakers' sentences of negative words (never keywords, never a validation or
//! test voice). Each file is 10 s at 16 kHz, -20 dBFS RMS, seeded.

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{ItemKind, Plan, SynthError, item_rng};
use crate::audio::{self, SAMPLE_RATE};
use crate::data::Split;
use crate::data::speech_commands::BACKGROUND_DIR;

const SECONDS: usize = 10;
const LEVEL_DBFS: f32 = -20.0;
/// Talkers summed into the babble.
const TALKERS: usize = 6;

/// Write whichever of the four noise files is missing.
pub fn write_background(root: &Path, plan: &Plan, seed: u64) -> Result<(), SynthError> {
    let dir = root.join(BACKGROUND_DIR);
    let len = SECONDS * SAMPLE_RATE as usize;
    let mut rng = item_rng(seed, &["background"]);
    let white: Vec<f32> = (0..len + SAMPLE_RATE as usize)
        .map(|_| gaussian(&mut rng))
        .collect();
    let coloured = [
        ("white_noise.wav", white[..len].to_vec()),
        (
            "pink_noise.wav",
            pink(&white)[SAMPLE_RATE as usize..].to_vec(),
        ),
        (
            "brown_noise.wav",
            brown(&white)[SAMPLE_RATE as usize..].to_vec(),
        ),
    ];
    for (name, samples) in coloured {
        write_if_missing(&dir.join(name), samples)?;
    }
    let babble_path = dir.join("babble.wav");
    if !babble_path.is_file()
        && let Some(samples) = babble(root, plan, seed, len)?
    {
        write_if_missing(&babble_path, samples)?;
    }
    Ok(())
}

fn write_if_missing(path: &Path, mut samples: Vec<f32>) -> Result<(), SynthError> {
    if path.is_file() {
        return Ok(());
    }
    normalise(&mut samples, LEVEL_DBFS);
    audio::write_wav_mono_16k(path, &samples).map_err(|e| SynthError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Mean-free, then scaled to `dbfs` RMS.
fn normalise(samples: &mut [f32], dbfs: f32) {
    let n = samples.len().max(1) as f32;
    let mean = samples.iter().sum::<f32>() / n;
    samples.iter_mut().for_each(|v| *v -= mean);
    let rms = (samples.iter().map(|v| v * v).sum::<f32>() / n).sqrt();
    if rms > 0.0 {
        let g = 10f32.powf(dbfs / 20.0) / rms;
        samples.iter_mut().for_each(|v| *v *= g);
    }
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    // Box-Muller; u1 is kept away from 0 so the log is finite.
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// Paul Kellet's refined pink filter (-3 dB/octave).
fn pink(white: &[f32]) -> Vec<f32> {
    let mut b = [0.0f32; 7];
    white
        .iter()
        .map(|&w| {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153_852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b.iter().sum::<f32>() + w * 0.5362;
            b[6] = w * 0.115926;
            out
        })
        .collect()
}

/// A leaky integrator (-6 dB/octave above ~13 Hz), then a 20 Hz one-pole high-pass.
fn brown(white: &[f32]) -> Vec<f32> {
    let leak = 0.995f32;
    let hp = (-2.0 * std::f32::consts::PI * 20.0 / SAMPLE_RATE as f32).exp();
    let (mut y, mut prev_in, mut prev_out) = (0.0f32, 0.0f32, 0.0f32);
    white
        .iter()
        .map(|&w| {
            y = leak * y + 0.1 * w;
            let out = hp * (prev_out + y - prev_in);
            prev_in = y;
            prev_out = out;
            out
        })
        .collect()
}

/// Up to six training speakers' sentences, each RMS-equalised, looped from a seeded start and
/// summed. `None` when the corpus has no training sentences.
fn babble(root: &Path, plan: &Plan, seed: u64, len: usize) -> Result<Option<Vec<f32>>, SynthError> {
    let mut sources: Vec<Vec<f32>> = Vec::new();
    let candidates = plan
        .speakers
        .iter()
        .filter(|(s, _)| s.split == Split::Train)
        .flat_map(|(_, items)| {
            items
                .iter()
                .filter(|i| i.kind == ItemKind::Sentence)
                .take(1)
        });
    for item in candidates {
        let path = root.join(&item.rel);
        if !path.is_file() {
            continue;
        }
        let mut samples = audio::load_mono_16k(&path).map_err(|e| SynthError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        normalise(&mut samples, LEVEL_DBFS);
        sources.push(samples);
        if sources.len() == TALKERS {
            break;
        }
    }
    if sources.is_empty() {
        return Ok(None);
    }
    let mut rng = ChaCha8Rng::from_seed(super::seed_bytes(seed, &["babble"]));
    let mut out = vec![0.0f32; len];
    for s in &sources {
        let start = rng.random_range(0..s.len());
        for (i, v) in out.iter_mut().enumerate() {
            *v += s[(start + i) % s.len()];
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band_energy(x: &[f32], lo: usize, hi: usize) -> f32 {
        // Crude: energy of the signal's first difference grows with frequency; compare the
        // slopes instead with a sum over a DFT at a few frequencies.
        let n = 4096.min(x.len());
        (lo..hi)
            .step_by(((hi - lo) / 8).max(1))
            .map(|f| {
                let w = 2.0 * std::f32::consts::PI * f as f32 / SAMPLE_RATE as f32;
                let (mut re, mut im) = (0.0f32, 0.0f32);
                for (i, v) in x[..n].iter().enumerate() {
                    re += v * (w * i as f32).cos();
                    im += v * (w * i as f32).sin();
                }
                re * re + im * im
            })
            .sum()
    }

    #[test]
    fn coloured_noises_tilt_down_in_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let white: Vec<f32> = (0..40000).map(|_| gaussian(&mut rng)).collect();
        let ratio =
            |x: &[f32]| band_energy(&x[16000..], 100, 400) / band_energy(&x[16000..], 4000, 7000);
        let (w, p, b) = (ratio(&white), ratio(&pink(&white)), ratio(&brown(&white)));
        assert!(p > 3.0 * w && b > 3.0 * p, "white {w} pink {p} brown {b}");
    }

    #[test]
    fn normalise_sets_the_level() {
        let mut x: Vec<f32> = (0..1000).map(|i| 0.3 + (i as f32).sin()).collect();
        normalise(&mut x, -20.0);
        let (_, rms) = audio::levels_dbfs(&x);
        assert!((rms + 20.0).abs() < 0.01, "{rms}");
    }
}
