//! [`ToneScorer`]: a deterministic stand-in for a trained model. Each keyword class is "said"
//! by a pure tone at its own frequency, which makes the detector's timing, smoothing and
//! counting testable exactly (a random packed model detects nothing meaningful, and no trained
//! model is needed to demo the GUI's live view).

use super::StreamError;
use super::scorer::Scorer;

/// Frame length for the per-frame tone decision (10 ms at 16 kHz; 100 Hz bin spacing, so
/// tones at multiples of 100 Hz have whole cycles per frame).
const FRAME: usize = 160;

/// Recognises class `i` by a tone at `freqs[i]` Hz.
///
/// The window is cut into 10 ms frames; a frame belongs to a class when more than half of its
/// energy is at that class's frequency (Goertzel) and it is not near-silent. The class's
/// posterior is the number of its frames divided by the frames of a whole keyword
/// (`keyword_len` samples), capped at 1: it reaches 1 exactly when the whole tone is inside
/// the window, like a model that needs the whole word. The remaining probability goes to the
/// first class without a frequency (the "unknown" class).
#[derive(Clone, Debug)]
pub struct ToneScorer {
    labels: Vec<String>,
    /// Goertzel coefficient per class (`None` = not a tone class).
    coeffs: Vec<Option<f32>>,
    background: usize,
    full_frames: f32,
    rate: u32,
    window: usize,
    counts: Vec<u32>,
}

impl ToneScorer {
    /// Classes `labels` with tone frequencies `freqs` (`None` for unknown/silence; at least
    /// one `None`), keywords lasting `keyword_len` samples, windows of `window` samples at
    /// `rate` Hz.
    pub fn new(
        labels: Vec<String>,
        freqs: Vec<Option<f32>>,
        keyword_len: usize,
        window: usize,
        rate: u32,
    ) -> Result<ToneScorer, StreamError> {
        if labels.len() != freqs.len() {
            return Err(StreamError::Config(format!(
                "{} labels but {} frequencies",
                labels.len(),
                freqs.len()
            )));
        }
        let background = freqs.iter().position(Option::is_none).ok_or_else(|| {
            StreamError::Config("one class must have no tone (the background class)".into())
        })?;
        let coeffs = freqs
            .iter()
            .map(|f| f.map(|f| 2.0 * (2.0 * std::f32::consts::PI * f / rate as f32).cos()))
            .collect();
        Ok(ToneScorer {
            counts: vec![0; labels.len()],
            labels,
            coeffs,
            background,
            full_frames: (keyword_len as f32 / FRAME as f32).round().max(1.0),
            rate,
            window,
        })
    }

    /// The usual test set-up: `unknown` plus keywords `kw0, kw1, ...` at 500, 1000, 1500 ...
    /// Hz, 16 kHz, 1 s windows.
    pub fn standard(keywords: usize, keyword_len: usize) -> ToneScorer {
        let mut labels = vec!["unknown".to_string()];
        let mut freqs = vec![None];
        for k in 0..keywords {
            labels.push(format!("kw{k}"));
            freqs.push(Some(Self::standard_freq(k)));
        }
        ToneScorer::new(labels, freqs, keyword_len, 16_000, 16_000).expect("valid set-up")
    }

    /// Frequency of keyword `k` in [`ToneScorer::standard`].
    pub fn standard_freq(k: usize) -> f32 {
        500.0 * (k + 1) as f32
    }
}

/// Power at the Goertzel frequency, normalised so that a full-scale sinusoid over the whole
/// frame gives its energy `sum(x^2)`.
fn goertzel(frame: &[f32], coeff: f32) -> f32 {
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in frame {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power / frame.len() as f32
}

impl Scorer for ToneScorer {
    fn labels(&self) -> &[String] {
        &self.labels
    }
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn window_len(&self) -> usize {
        self.window
    }
    fn score(&mut self, window: &[f32], out: &mut [f32]) -> Result<(), StreamError> {
        self.counts.fill(0);
        for frame in window.chunks_exact(FRAME) {
            let energy: f32 = frame.iter().map(|x| x * x).sum();
            // Below -60 dBFS RMS a frame is silence, whatever its spectrum.
            if energy < FRAME as f32 * 1e-6 {
                continue;
            }
            let best = self
                .coeffs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.map(|c| (i, goertzel(frame, c) / energy)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((class, share)) = best
                && share > 0.5
            {
                self.counts[class] += 1;
            }
        }
        let mut rest = 1.0f32;
        for (i, o) in out.iter_mut().enumerate() {
            *o = if self.coeffs[i].is_some() {
                (self.counts[i] as f32 / self.full_frames).min(1.0)
            } else {
                0.0
            };
            rest -= *o;
        }
        out[self.background] = rest.max(0.0);
        let sum: f32 = out.iter().sum();
        out.iter_mut().for_each(|o| *o /= sum);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize, hz: f32, amp: f32) -> Vec<f32> {
        (0..len)
            .map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / 16_000.0).sin())
            .collect()
    }

    #[test]
    fn a_whole_tone_scores_one_and_half_a_tone_a_half() {
        let mut s = ToneScorer::standard(2, 8000);
        let mut window = vec![0.0f32; 16_000];
        window[4000..12_000].copy_from_slice(&tone(8000, 1000.0, 0.3));
        let mut p = vec![0.0; 3];
        s.score(&window, &mut p).unwrap();
        assert_eq!(p, vec![0.0, 0.0, 1.0]);

        let mut half = vec![0.0f32; 16_000];
        half[12_000..].copy_from_slice(&tone(4000, 500.0, 0.3));
        s.score(&half, &mut p).unwrap();
        assert_eq!(p, vec![0.5, 0.5, 0.0]);

        s.score(&vec![0.0; 16_000], &mut p).unwrap();
        assert_eq!(p, vec![1.0, 0.0, 0.0]);
    }

    #[test]
    fn noise_is_not_a_keyword() {
        let mut s = ToneScorer::standard(2, 8000);
        let mut state = 1u32;
        let noise: Vec<f32> = (0..16_000)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.5
            })
            .collect();
        let mut p = vec![0.0; 3];
        s.score(&noise, &mut p).unwrap();
        assert_eq!(p[0], 1.0, "{p:?}");
    }
}
