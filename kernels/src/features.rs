//! The paper's log-mel front end (docs/METHOD.md §1), shared by training and by the board
//! runner.
//!
//! torchaudio `MelSpectrogram(n_fft=2048, hop=512, n_mels=32, center=True, pad_mode="reflect",
//! power=2, normalized=True)` followed by `AmplitudeToDB(ref=1, top_db=None)`: a periodic Hann
//! window, reflect padding of n_fft/2 on each side, power spectrum divided by sum(w^2), HTK mel
//! triangles without area normalisation, then `10*log10(max(p, 1e-10))`.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

/// Front-end settings. The defaults are the paper's; other values are accepted so that a
/// packed model can carry (and check) the settings it was trained with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureParams {
    pub sample_rate: u32,
    /// Samples per clip after padding or cropping (16000 = 1 s).
    pub clip_samples: usize,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub f_min: f32,
    pub f_max: f32,
}

impl Default for FeatureParams {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            clip_samples: 16_000,
            n_fft: 2048,
            hop: 512,
            n_mels: 32,
            f_min: 0.0,
            f_max: 8000.0,
        }
    }
}

impl FeatureParams {
    /// Frames per clip with centred framing: `1 + clip_samples / hop`.
    pub fn frames(&self) -> usize {
        1 + self.clip_samples / self.hop
    }

    /// Number of values per clip (`n_mels * frames`).
    pub fn len(&self) -> usize {
        self.n_mels * self.frames()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check that the settings describe a computable front end.
    pub fn validate(&self) -> Result<(), String> {
        if self.sample_rate == 0 || self.clip_samples == 0 || self.hop == 0 || self.n_mels == 0 {
            return Err("sample_rate, clip_samples, hop and n_mels must be positive".into());
        }
        if self.n_fft < 2 || !self.n_fft.is_multiple_of(2) {
            return Err(format!("n_fft must be even and >= 2, got {}", self.n_fft));
        }
        if self.n_fft / 2 >= self.clip_samples {
            return Err(format!(
                "reflect padding of n_fft/2 = {} needs a clip longer than that, got {} samples",
                self.n_fft / 2,
                self.clip_samples
            ));
        }
        if !(self.f_min >= 0.0 && self.f_max > self.f_min) {
            return Err(format!(
                "need 0 <= f_min < f_max, got {} and {}",
                self.f_min, self.f_max
            ));
        }
        Ok(())
    }
}

/// Floor of the power before the dB conversion (torchaudio's `amin`).
pub const MIN_POWER: f32 = 1e-10;

/// A ready-to-run log-mel front end (window, filterbank and FFT plan built once).
///
/// The spectrum is computed in f64: the dB scale magnifies relative errors of quiet bins, and
/// an f32 FFT drifts by a few hundredths of a dB 90 dB below a clip's peak. The cost is
/// negligible (32 FFTs per clip).
#[derive(Clone)]
pub struct LogMel {
    params: FeatureParams,
    /// Periodic Hann window pre-divided by sqrt(sum w^2) (torchaudio's `normalized=True`).
    window: Vec<f64>,
    /// Sparse triangles: for each mel bin, the first FFT bin and its weights.
    filters: Vec<(usize, Vec<f64>)>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel")
            .field("params", &self.params)
            .finish()
    }
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

impl LogMel {
    /// Build the front end. Panics only if `params.validate()` fails; call that first for
    /// settings that come from a file.
    pub fn new(params: FeatureParams) -> Self {
        if let Err(e) = params.validate() {
            panic!("invalid feature parameters: {e}");
        }
        let n = params.n_fft;
        // Periodic Hann: w[i] = 0.5 - 0.5 cos(2 pi i / n).
        let raw: Vec<f64> = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
            .collect();
        let norm = raw.iter().map(|w| w * w).sum::<f64>().sqrt();
        let window = raw.iter().map(|w| w / norm).collect();

        // torchaudio melscale_fbanks(htk, norm=None): triangles over linearly spaced FFT bins.
        let n_freqs = n / 2 + 1;
        let all_freqs: Vec<f64> = (0..n_freqs)
            .map(|i| i as f64 * (params.sample_rate as f64 / 2.0) / (n_freqs - 1) as f64)
            .collect();
        let m_min = hz_to_mel(params.f_min as f64);
        let m_max = hz_to_mel(params.f_max as f64);
        let f_pts: Vec<f64> = (0..params.n_mels + 2)
            .map(|i| mel_to_hz(m_min + (m_max - m_min) * i as f64 / (params.n_mels + 1) as f64))
            .collect();
        let filters = (0..params.n_mels)
            .map(|m| {
                let (lo, mid, hi) = (f_pts[m], f_pts[m + 1], f_pts[m + 2]);
                let weights: Vec<f64> = all_freqs
                    .iter()
                    .map(|&f| {
                        let down = (f - lo) / (mid - lo);
                        let up = (hi - f) / (hi - mid);
                        down.min(up).max(0.0)
                    })
                    .collect();
                let first = weights.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
                let span = if last >= first {
                    weights[first..=last].to_vec()
                } else {
                    Vec::new()
                };
                (first, span)
            })
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        Self {
            params,
            window,
            filters,
            fft,
        }
    }

    pub fn params(&self) -> &FeatureParams {
        &self.params
    }

    /// Compute the log-mel image of one clip, row-major `[mel][frame]`.
    ///
    /// `samples` is padded with zeros or cropped at the end to `clip_samples` first (the
    /// reference code's `FixAudioLength`).
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; self.params.len()];
        self.compute_into(samples, &mut out);
        out
    }

    /// As [`LogMel::compute`], writing into `out` (length `params.len()`).
    pub fn compute_into(&self, samples: &[f32], out: &mut [f32]) {
        let p = &self.params;
        assert_eq!(out.len(), p.len(), "output buffer has the wrong length");
        let n = p.n_fft;
        let half = n / 2;
        let len = p.clip_samples;
        let sample = |i: usize| samples.get(i).copied().unwrap_or(0.0) as f64;
        // Reflect-padded signal index -> original index (numpy/torch "reflect": no edge repeat).
        let reflect = |j: isize| -> usize {
            let l = len as isize;
            let mut j = j;
            if j < 0 {
                j = -j;
            }
            if j >= l {
                j = 2 * (l - 1) - j;
            }
            j as usize
        };
        let frames = p.frames();
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f64; spectrum.len()];
        for t in 0..frames {
            let start = (t * p.hop) as isize - half as isize;
            for (i, v) in frame.iter_mut().enumerate() {
                *v = sample(reflect(start + i as isize)) * self.window[i];
            }
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .expect("FFT buffers are sized by the plan");
            for (pw, c) in power.iter_mut().zip(&spectrum) {
                *pw = c.re * c.re + c.im * c.im;
            }
            for (m, (first, weights)) in self.filters.iter().enumerate() {
                let e: f64 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, pw)| w * pw)
                    .sum();
                out[m * frames + t] = (10.0 * e.max(MIN_POWER as f64).log10()) as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shape_is_32_by_32() {
        let p = FeatureParams::default();
        assert_eq!(p.frames(), 32);
        assert_eq!(p.len(), 1024);
    }

    #[test]
    fn silence_is_minus_100_db() {
        let lm = LogMel::new(FeatureParams::default());
        let f = lm.compute(&vec![0.0; 16000]);
        assert!(f.iter().all(|&v| (v + 100.0).abs() < 1e-4));
    }

    #[test]
    fn a_tone_lights_up_the_right_mel_bin() {
        let p = FeatureParams::default();
        let lm = LogMel::new(p);
        let x: Vec<f32> = (0..16000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16000.0).sin())
            .collect();
        let f = lm.compute(&x);
        let frames = p.frames();
        let col: Vec<f32> = (0..p.n_mels).map(|m| f[m * frames + 16]).collect();
        let best = col
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        // 1 kHz is 1000 mel; HTK centres are spaced (2840 mel)/33 ~ 86 mel apart: bin 10 or 11.
        assert!((10..=11).contains(&best), "peak at mel bin {best}");
    }

    #[test]
    fn invalid_params_are_reported() {
        let p = FeatureParams {
            n_fft: 3,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = FeatureParams {
            clip_samples: 512,
            ..Default::default()
        };
        assert!(p.validate().unwrap_err().contains("reflect padding"));
    }
}
