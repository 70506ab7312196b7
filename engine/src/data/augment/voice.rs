//! Voice perturbation: pitch and formants shifted together, duration kept.
//!
//! Resampling by 2^(semitones / 12) moves every frequency (the voice's pitch and its vocal-tract
//! resonances alike, much as a shorter or longer vocal tract would) but also changes the
//! duration; a WSOLA time stretch (waveform-similarity overlap-add, Verhelst & Roelands 1993)
//! then restores the original length without moving the frequencies back. The paper's `speed`
//! step is different: it changes speed and pitch together.

use std::sync::LazyLock;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::UniformRange;
use super::dsp::dot;

/// Voice perturbation step settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceConfig {
    pub enabled: bool,
    /// Probability that a clip is pitch shifted (when enabled).
    pub prob: f64,
    /// Shift in semitones (12 = one octave up).
    pub semitones: UniformRange,
}

impl Default for VoiceConfig {
    /// Off; when switched on: a third of the clips, +-3 semitones (a factor 0.84-1.19, about
    /// the spread of adult vocal-tract lengths around the mean).
    fn default() -> Self {
        Self {
            enabled: false,
            prob: 0.3,
            semitones: UniformRange::new(-3.0, 3.0),
        }
    }
}

impl VoiceConfig {
    /// The probability a clip gets this step (0 when switched off).
    pub fn chance(&self) -> f64 {
        if self.enabled { self.prob } else { 0.0 }
    }

    /// Draw a shift in semitones.
    pub fn draw(&self, rng: &mut impl Rng) -> f32 {
        self.semitones.draw(rng)
    }
}

/// Shift pitch and formants by `semitones`, keeping the length. 0 returns the input unchanged.
pub fn pitch_shift(x: &[f32], semitones: f32) -> Vec<f32> {
    if x.is_empty() || semitones == 0.0 || !semitones.is_finite() {
        return x.to_vec();
    }
    let factor = 2f64.powf(f64::from(semitones) / 12.0);
    let shifted = resample_linear(x, factor);
    wsola_stretch(&shifted, x.len())
}

/// Read `x` at times 0, factor, 2 factor, ... with linear interpolation: factor > 1 raises
/// every frequency by `factor` and shortens the signal by it. Linear interpolation is a mild
/// low-pass, which is also what keeps the little content above 16 kHz / (2 factor) from
/// aliasing much when shifting up by at most a few semitones.
fn resample_linear(x: &[f32], factor: f64) -> Vec<f32> {
    let last = (x.len() - 1) as f64;
    let len = (last / factor).floor() as usize + 1;
    (0..len)
        .map(|k| {
            let t = k as f64 * factor;
            let i = t.floor() as usize;
            let frac = (t - i as f64) as f32;
            let a = x[i.min(x.len() - 1)];
            let b = x[(i + 1).min(x.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// WSOLA frame: 24 ms, long enough to hold two periods of an 85 Hz voice.
const FRAME: usize = 384;
/// Synthesis hop: half a frame, where periodic Hann windows sum to exactly 1.
const HOP: usize = FRAME / 2;
/// Each frame may move up to +-6 ms from its nominal place to line up with the previous
/// frame's waveform: half the period of an 83 Hz voice, so a match is always in reach.
const TOLERANCE: usize = 96;

static HANN: LazyLock<Vec<f32>> = LazyLock::new(|| {
    (0..FRAME)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / FRAME as f64).cos()) as f32)
        .collect()
});

/// Time-stretch `x` to `out_len` samples without changing its frequencies.
///
/// Output frame k (at k HOP) is read from near k HOP len/out_len in the input; within
/// +-TOLERANCE the read position is the one whose first half best matches (normalised cross-
/// correlation) the natural continuation of the previous frame, so overlapping frames add up
/// in phase instead of beating. Frames are Hann windowed, overlap-added and divided by the
/// window sum.
pub fn wsola_stretch(x: &[f32], out_len: usize) -> Vec<f32> {
    if x.is_empty() || out_len == 0 {
        return vec![0.0; out_len];
    }
    let ratio = x.len() as f64 / out_len as f64;
    let energy = prefix_energy(x);
    let mut out = vec![0.0f32; out_len + FRAME];
    let mut weight = vec![0.0f32; out_len + FRAME];
    let mut previous: Option<usize> = None;
    for out_pos in (0..out_len).step_by(HOP) {
        let nominal = (out_pos as f64 * ratio).round() as usize;
        let start = match previous {
            None => nominal,
            Some(p) => best_match(x, &energy, p + HOP, nominal),
        };
        overlap_add(&mut out, &mut weight, x, start, out_pos);
        previous = Some(start);
    }
    out.truncate(out_len);
    for (v, w) in out.iter_mut().zip(&weight) {
        // Only the first half-frame has weights below 1 (the first window's rise); a floor
        // keeps its first samples from being divided by ~0.
        *v /= w.max(1e-3);
    }
    out
}

/// prefix[i] = sum of x[..i]^2, for the energy of any window in O(1).
fn prefix_energy(x: &[f32]) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(x.len() + 1);
    let mut sum = 0.0f64;
    prefix.push(sum);
    for &v in x {
        sum += f64::from(v) * f64::from(v);
        prefix.push(sum);
    }
    prefix
}

/// The read position within +-TOLERANCE of `nominal` whose next HOP samples correlate best
/// with x[natural..natural + HOP] (what would have followed the previous frame).
fn best_match(x: &[f32], energy: &[f64], natural: usize, nominal: usize) -> usize {
    let Some(template) = x.get(natural..natural + HOP) else {
        return nominal; // near the end there is nothing to match: read where planned
    };
    let lo = nominal.saturating_sub(TOLERANCE);
    let hi = (nominal + TOLERANCE).min(x.len() - HOP);
    if lo > hi {
        return nominal;
    }
    let score = |c: usize| {
        let e = energy[c + HOP] - energy[c];
        f64::from(dot(template, &x[c..c + HOP])) / (e.max(0.0) + 1e-12).sqrt()
    };
    // Start from the nominal position so that ties (silence) keep the planned timing. Then
    // every other position, then the two beside the best: speech correlations (energy mostly
    // below 2 kHz, periods of 8 samples and more) do not peak unseen between two even
    // positions, and this halves the cost of the search.
    let start = nominal.clamp(lo, hi);
    let mut best = (start, score(start));
    for c in (lo..=hi).step_by(2) {
        let s = score(c);
        if s > best.1 {
            best = (c, s);
        }
    }
    let centre = best.0;
    for c in [centre.saturating_sub(1).max(lo), (centre + 1).min(hi)] {
        let s = score(c);
        if s > best.1 {
            best = (c, s);
        }
    }
    best.0
}

/// Add the Hann-windowed frame x[start..start + FRAME] (zero past the end) at `out_pos`.
fn overlap_add(out: &mut [f32], weight: &mut [f32], x: &[f32], start: usize, out_pos: usize) {
    let available = x.len().saturating_sub(start).min(FRAME);
    let src = x.get(start..start + available).unwrap_or_default();
    let window = &HANN[..];
    for (i, w) in window.iter().enumerate() {
        let v = src.get(i).copied().unwrap_or(0.0);
        out[out_pos + i] += w * v;
        weight[out_pos + i] += w;
    }
}

#[cfg(test)]
mod tests {
    use super::super::dsp::test_signals::{sine, tone_power};
    use super::*;

    fn peak_frequency(x: &[f32], lo: f64, hi: f64) -> f64 {
        let mut best = (lo, 0.0);
        let mut f = lo;
        while f <= hi {
            let p = tone_power(x, f);
            if p > best.1 {
                best = (f, p);
            }
            f += 0.25;
        }
        best.0
    }

    #[test]
    fn three_semitones_up_moves_a_200_hz_tone_to_238_hz_and_keeps_the_length() {
        let x = sine(200.0, 0.5, 16000);
        let y = pitch_shift(&x, 3.0);
        assert_eq!(y.len(), x.len());
        let peak = peak_frequency(&y[2000..14000], 150.0, 320.0);
        let expected = 200.0 * 2f64.powf(3.0 / 12.0); // 237.8 Hz
        assert!((peak - expected).abs() < 2.0, "peak {peak} Hz");
        // The level is kept: no frames dropped or doubled.
        let rms = |s: &[f32]| (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt();
        assert!((rms(&y[2000..14000]) / rms(&x[2000..14000]) - 1.0).abs() < 0.05);

        let down = pitch_shift(&x, -3.0);
        assert_eq!(down.len(), x.len());
        let peak = peak_frequency(&down[2000..14000], 120.0, 260.0);
        assert!(
            (peak - 200.0 / 2f64.powf(0.25)).abs() < 2.0,
            "peak {peak} Hz"
        );
    }

    #[test]
    fn zero_semitones_is_the_identity_and_unit_stretch_is_near_it() {
        // A chirp with an envelope: not periodic, so there is one best alignment.
        let x: Vec<f32> = (0..16000)
            .map(|i| {
                let t = i as f32 / 16000.0;
                (t * 6.0).sin() * (2.0 * std::f32::consts::PI * (150.0 + 400.0 * t) * t).sin()
            })
            .collect();
        assert_eq!(pitch_shift(&x, 0.0), x);
        let y = wsola_stretch(&x, x.len());
        let worst = x[HOP..]
            .iter()
            .zip(&y[HOP..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "max error {worst}");
    }

    #[test]
    fn stretch_handles_short_and_empty_input() {
        assert_eq!(wsola_stretch(&[], 5), vec![0.0; 5]);
        assert_eq!(pitch_shift(&[], 2.0), Vec::<f32>::new());
        let y = pitch_shift(&[0.5; 100], 2.0);
        assert_eq!(y.len(), 100);
        assert!(y.iter().all(|v| v.is_finite()));
    }
}
