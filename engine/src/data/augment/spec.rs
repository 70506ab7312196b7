//! SpecAugment (Park et al. 2019) time and frequency masking on the log-mel features.
//!
//! Features are the front end's layout (`bifsmn_kernels::features::LogMel::compute`):
//! row-major `[n_mels][frames]`, one row per mel bin from the lowest band up, so value
//! (mel m, frame t) is at `m * frames + t`. A time mask blanks a run of columns, a frequency
//! mask a run of rows. Masked values are set to the clip's mean over all bins (computed before
//! masking), which after the log is a neutral "nothing special here" level; zero would be a
//! loud 0 dB.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::step_rng;

/// SpecAugment settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpecAugmentConfig {
    pub enabled: bool,
    /// Probability that a clip's features are masked (when enabled).
    pub prob: f64,
    /// Time masks per clip; each is up to `max_time_width` frames wide (width ~ U{0..=max}).
    pub time_masks: usize,
    pub max_time_width: usize,
    /// Frequency masks per clip; each is up to `max_freq_width` mel bins wide.
    pub freq_masks: usize,
    pub max_freq_width: usize,
}

impl Default for SpecAugmentConfig {
    /// Off; when switched on: 80 % of clips, two time masks of up to 4 frames (128 ms of the
    /// 32-frame second: less than a syllable, so a keyword stays recognisable) and two
    /// frequency masks of up to 4 of the 32 mel bins.
    fn default() -> Self {
        Self {
            enabled: false,
            prob: 0.8,
            time_masks: 2,
            max_time_width: 4,
            freq_masks: 2,
            max_freq_width: 4,
        }
    }
}

impl SpecAugmentConfig {
    /// The probability a clip gets this step (0 when switched off).
    pub fn chance(&self) -> f64 {
        if self.enabled { self.prob } else { 0.0 }
    }
}

/// Mask `features` (row-major `[n_mels][frames]`) in place. Like every waveform step, the coin
/// and the step's seed are drawn from `rng` whether or not the step is enabled, so the stream
/// position afterwards does not depend on the config; with the step off or the coin lost,
/// the features are untouched. Features of the wrong length are left untouched too.
pub fn spec_augment(
    features: &mut [f32],
    n_mels: usize,
    frames: usize,
    config: &SpecAugmentConfig,
    rng: &mut impl Rng,
) {
    let Some(mut rng) = step_rng(rng, config.chance()) else {
        return;
    };
    if n_mels == 0 || frames == 0 || features.len() != n_mels * frames {
        return;
    }
    let mean = (features.iter().map(|&v| f64::from(v)).sum::<f64>() / features.len() as f64) as f32;
    for _ in 0..config.time_masks {
        let (start, width) = draw_mask(&mut rng, frames, config.max_time_width);
        for row in features.chunks_exact_mut(frames) {
            row[start..start + width].fill(mean);
        }
    }
    for _ in 0..config.freq_masks {
        let (start, width) = draw_mask(&mut rng, n_mels, config.max_freq_width);
        features[start * frames..(start + width) * frames].fill(mean);
    }
}

/// A mask within `0..size`: width ~ U{0..=min(max_width, size)}, start ~ U{0..=size - width}.
fn draw_mask(rng: &mut impl Rng, size: usize, max_width: usize) -> (usize, usize) {
    let width = rng.random_range(0..=max_width.min(size));
    let start = rng.random_range(0..=size - width);
    (start, width)
}

#[cfg(test)]
mod tests {
    use super::super::clip_rng;
    use super::*;

    const MELS: usize = 32;
    const FRAMES: usize = 32;

    /// Distinct values, none equal to their mean.
    fn features() -> Vec<f32> {
        (0..MELS * FRAMES)
            .map(|i| -80.0 + (i as f32 * 0.37).sin() * 30.0 + i as f32 * 0.01)
            .collect()
    }

    fn config(time_masks: usize, freq_masks: usize) -> SpecAugmentConfig {
        SpecAugmentConfig {
            enabled: true,
            prob: 1.0,
            time_masks,
            max_time_width: 5,
            freq_masks,
            max_freq_width: 3,
        }
    }

    #[test]
    fn a_time_mask_is_a_contiguous_run_of_columns_set_to_the_mean() {
        let x = features();
        let mean = (x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64) as f32;
        let mut widths = std::collections::HashSet::new();
        for i in 0..100 {
            let mut y = x.clone();
            spec_augment(&mut y, MELS, FRAMES, &config(1, 0), &mut clip_rng(1, 0, i));
            let changed: Vec<usize> = (0..FRAMES)
                .filter(|&t| (0..MELS).any(|m| y[m * FRAMES + t] != x[m * FRAMES + t]))
                .collect();
            for &t in &changed {
                assert!((0..MELS).all(|m| y[m * FRAMES + t] == mean), "whole column");
            }
            if let (Some(first), Some(last)) = (changed.first(), changed.last()) {
                assert_eq!(last - first + 1, changed.len(), "contiguous");
            }
            assert!(changed.len() <= 5);
            widths.insert(changed.len());
        }
        assert_eq!(widths.len(), 6, "widths 0..=5 all occur: {widths:?}");
    }

    #[test]
    fn a_frequency_mask_is_a_contiguous_run_of_rows_set_to_the_mean() {
        let x = features();
        let mean = (x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64) as f32;
        for i in 0..100 {
            let mut y = x.clone();
            spec_augment(&mut y, MELS, FRAMES, &config(0, 1), &mut clip_rng(2, 0, i));
            let changed: Vec<usize> = (0..MELS)
                .filter(|&m| y[m * FRAMES..(m + 1) * FRAMES] != x[m * FRAMES..(m + 1) * FRAMES])
                .collect();
            for &m in &changed {
                assert!(y[m * FRAMES..(m + 1) * FRAMES].iter().all(|&v| v == mean));
            }
            if let (Some(first), Some(last)) = (changed.first(), changed.last()) {
                assert_eq!(last - first + 1, changed.len(), "contiguous");
            }
            assert!(changed.len() <= 3);
        }
    }

    #[test]
    fn masks_stay_within_bounds_and_the_rest_is_untouched() {
        let x = features();
        let mean = (x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64) as f32;
        for i in 0..50 {
            let mut y = x.clone();
            spec_augment(&mut y, MELS, FRAMES, &config(2, 2), &mut clip_rng(3, 0, i));
            // Every value is either the original or the mean; at most 2 x 5 columns plus
            // 2 x 3 rows are touched.
            assert!(y.iter().zip(&x).all(|(a, b)| a == b || *a == mean));
            let touched = y.iter().zip(&x).filter(|(a, b)| a != b).count();
            assert!(touched <= 10 * MELS + 6 * FRAMES);
        }
        // Off, or a losing coin: untouched. Wrong sizes: untouched.
        let mut y = x.clone();
        let off = SpecAugmentConfig::default();
        spec_augment(&mut y, MELS, FRAMES, &off, &mut clip_rng(3, 1, 0));
        assert_eq!(y, x);
        spec_augment(
            &mut y,
            MELS,
            FRAMES + 1,
            &config(2, 2),
            &mut clip_rng(3, 1, 0),
        );
        assert_eq!(y, x);
        // Widths larger than the image are capped at it.
        let mut small = vec![1.0, 2.0, 3.0, 4.0];
        let wide = SpecAugmentConfig {
            max_time_width: 100,
            max_freq_width: 100,
            ..config(3, 3)
        };
        spec_augment(&mut small, 2, 2, &wide, &mut clip_rng(3, 2, 0));
        assert!(
            small
                .iter()
                .all(|&v| [1.0, 2.0, 3.0, 4.0, 2.5].contains(&v))
        );
    }
}
