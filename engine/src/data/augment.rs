//! Training augmentation on the waveform, exactly the spec's steps in the spec's order
//! (section 1, "Training augmentation"): background noise, gain, speed, time shift, fix length.
//!
//! Randomness is explicit: [`Augmenter::apply`] takes the RNG, and [`clip_rng`] derives one
//! ChaCha stream per (run seed, epoch, clip), so a run's batches do not depend on which thread
//! augments which clip or in what order.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::audio::{CLIP_SAMPLES, fix_length};

/// Probabilities and ranges of each step. The defaults are the spec's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Probability of mixing in background noise (silence clips included).
    pub noise_prob: f64,
    /// Noise weight s ~ U(0, noise_max); x <- (1 - s) x + s noise.
    pub noise_max: f32,
    /// Probability of scaling the amplitude.
    pub gain_prob: f64,
    /// Gain ~ U(gain_min, gain_max).
    pub gain_min: f32,
    pub gain_max: f32,
    /// Probability of the speed/pitch change.
    pub speed_prob: f64,
    /// r ~ U(-speed_max, speed_max); nearest-neighbour resampling by 1/(1 + r).
    pub speed_max: f32,
    /// Probability of the time shift.
    pub shift_prob: f64,
    /// Shift k ~ U{-shift_max..=shift_max} samples, zero filled.
    pub shift_max: usize,
    /// Final length (the model clip).
    pub clip_samples: usize,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            noise_prob: 0.3,
            noise_max: 0.3,
            gain_prob: 0.5,
            gain_min: 0.7,
            gain_max: 1.1,
            speed_prob: 0.5,
            speed_max: 0.2,
            shift_prob: 0.5,
            shift_max: 3200,
            clip_samples: CLIP_SAMPLES,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all: only the final fix-length step runs.
    pub fn none() -> Self {
        Self {
            noise_prob: 0.0,
            gain_prob: 0.0,
            speed_prob: 0.0,
            shift_prob: 0.0,
            ..Self::default()
        }
    }
}

/// Applies [`AugmentConfig`] with a set of background noise recordings (16 kHz mono, any
/// length). Cheap to share between threads: it holds no RNG and no mutable state.
#[derive(Clone, Debug)]
pub struct Augmenter {
    config: AugmentConfig,
    background: Vec<Vec<f32>>,
}

impl Augmenter {
    /// An augmenter; with no background recordings the noise step never applies.
    pub fn new(config: AugmentConfig, background: Vec<Vec<f32>>) -> Self {
        let background = background.into_iter().filter(|n| !n.is_empty()).collect();
        Self { config, background }
    }

    /// The configuration in use.
    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// Augment one clip and fix its length. The RNG draws happen in a fixed order (each
    /// step's coin, then that step's parameters only if it applies), so the same RNG state
    /// always gives the same output.
    pub fn apply(&self, samples: Vec<f32>, rng: &mut impl Rng) -> Vec<f32> {
        let c = &self.config;
        let mut x = samples;

        if coin(rng, c.noise_prob) && !self.background.is_empty() {
            let noise = &self.background[rng.random_range(0..self.background.len())];
            let offset = if noise.len() > x.len() {
                rng.random_range(0..=noise.len() - x.len())
            } else {
                0
            };
            let s = uniform(rng, 0.0, c.noise_max);
            mix_noise(&mut x, noise, offset, s);
        }
        if coin(rng, c.gain_prob) {
            let g = uniform(rng, c.gain_min, c.gain_max);
            x.iter_mut().for_each(|v| *v *= g);
        }
        if coin(rng, c.speed_prob) {
            let r = uniform(rng, -c.speed_max, c.speed_max);
            x = change_speed(&x, r);
        }
        if coin(rng, c.shift_prob) {
            let max = c.shift_max as i64;
            let k = rng.random_range(-max..=max);
            x = time_shift(&x, k);
        }
        fix_length(x, c.clip_samples)
    }
}

/// x <- (1 - s) x + s noise, with the noise read from `offset` and zero past its end.
pub fn mix_noise(x: &mut [f32], noise: &[f32], offset: usize, s: f32) {
    let window = noise.get(offset..).unwrap_or_default();
    for (i, v) in x.iter_mut().enumerate() {
        let n = window.get(i).copied().unwrap_or(0.0);
        *v = (1.0 - s) * *v + s * n;
    }
}

/// Nearest-neighbour resampling by 1/(1 + r): output sample k is input sample round(k/(1 + r)),
/// for every k with k/(1 + r) < len. So r > 0 stretches (slower, lower) to about len (1 + r)
/// samples and r < 0 compresses. The length change is intended; fix length comes last.
pub fn change_speed(x: &[f32], r: f32) -> Vec<f32> {
    if x.is_empty() || r == 0.0 {
        return x.to_vec();
    }
    let step = 1.0 / (1.0 + r as f64);
    let len = x.len() as f64;
    let mut out = Vec::with_capacity((len / step).ceil() as usize + 1);
    let mut k = 0usize;
    loop {
        let t = k as f64 * step;
        if t >= len {
            break;
        }
        out.push(x[(t.round() as usize).min(x.len() - 1)]);
        k += 1;
    }
    out
}

/// Shift by `k` samples keeping the length, zero filled. Positive k drops the first k samples
/// and pads the end (the sound moves earlier); negative k pads the start and drops the end.
pub fn time_shift(x: &[f32], k: i64) -> Vec<f32> {
    let n = x.len();
    let m = (k.unsigned_abs() as usize).min(n);
    let mut out = Vec::with_capacity(n);
    if k >= 0 {
        out.extend_from_slice(&x[m..]);
        out.resize(n, 0.0);
    } else {
        out.resize(m, 0.0);
        out.extend_from_slice(&x[..n - m]);
    }
    out
}

/// The RNG for one clip in one epoch: a ChaCha8 stream keyed by the run seed, with the epoch as
/// the stream id and a private 2^32-word window per clip index. No two (epoch, clip) pairs
/// share random numbers, and the numbers do not depend on the order clips are processed in.
pub fn clip_rng(run_seed: u64, epoch: u64, clip_index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(key(run_seed, DOMAIN_AUGMENT));
    rng.set_stream(epoch);
    rng.set_word_pos(u128::from(clip_index) << 32);
    rng
}

/// The RNG for an epoch's shuffle, independent of every [`clip_rng`] stream.
pub fn epoch_rng(run_seed: u64, epoch: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(key(run_seed, DOMAIN_SHUFFLE));
    rng.set_stream(epoch);
    rng
}

const DOMAIN_AUGMENT: u64 = 0x6175_676d_656e_7431; // "augment1"
const DOMAIN_SHUFFLE: u64 = 0x7368_7566_666c_6531; // "shuffle1"

/// A 256-bit ChaCha key from a 64-bit seed and a domain tag, via SplitMix64 (so nearby seeds
/// give unrelated keys and the two domains never share a key).
fn key(seed: u64, domain: u64) -> [u8; 32] {
    let mut state = seed ^ domain;
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

fn coin(rng: &mut impl Rng, p: f64) -> bool {
    // Always draw, even for p = 0 or 1, so the stream position never depends on the config.
    let u: f64 = rng.random();
    u < p
}

fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(f: impl FnOnce(&mut AugmentConfig)) -> AugmentConfig {
        let mut c = AugmentConfig::none();
        f(&mut c);
        c
    }

    #[test]
    fn defaults_are_the_spec() {
        let c = AugmentConfig::default();
        assert_eq!((c.noise_prob, c.noise_max), (0.3, 0.3));
        assert_eq!((c.gain_prob, c.gain_min, c.gain_max), (0.5, 0.7, 1.1));
        assert_eq!((c.speed_prob, c.speed_max), (0.5, 0.2));
        assert_eq!(
            (c.shift_prob, c.shift_max, c.clip_samples),
            (0.5, 3200, 16000)
        );
    }

    #[test]
    fn positive_shift_drops_the_start_and_pads_the_end() {
        let x: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        assert_eq!(time_shift(&x, 2), vec![3.0, 4.0, 5.0, 6.0, 0.0, 0.0]);
        assert_eq!(time_shift(&x, -2), vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(time_shift(&x, 0), x);
        assert_eq!(time_shift(&x, 100), vec![0.0; 6]);
        assert_eq!(time_shift(&x, -100), vec![0.0; 6]);
    }

    #[test]
    fn shift_step_stays_in_range_and_keeps_a_shifted_copy() {
        let aug = Augmenter::new(only(|c| c.shift_prob = 1.0), vec![]);
        // A single impulse at 8000: after the shift it sits at 8000 - k.
        let mut x = vec![0.0; 16000];
        x[8000] = 1.0;
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            let y = aug.apply(x.clone(), &mut clip_rng(1, 0, i));
            let pos = y.iter().position(|&v| v == 1.0).expect("impulse kept");
            let k = 8000 - pos as i64;
            assert!((-3200..=3200).contains(&k), "shift {k}");
            seen.insert(k.signum());
        }
        assert!(
            seen.contains(&1) && seen.contains(&-1),
            "both directions occur"
        );
    }

    #[test]
    fn gain_stays_in_range_and_applies_about_half_the_time() {
        let aug = Augmenter::new(only(|c| c.gain_prob = 0.5), vec![]);
        let (mut applied, mut lo, mut hi) = (0, f32::MAX, f32::MIN);
        let n = 2000;
        for i in 0..n {
            let y = aug.apply(vec![1.0; 16000], &mut clip_rng(7, 3, i));
            let g = y[0];
            assert!(y.iter().all(|&v| v == g), "one gain per clip");
            assert!((0.7..1.1).contains(&g) || g == 1.0, "gain {g}");
            if g != 1.0 {
                applied += 1;
                lo = lo.min(g);
                hi = hi.max(g);
            }
        }
        let frac = applied as f64 / n as f64;
        assert!((0.45..0.55).contains(&frac), "applied {frac}");
        assert!(
            lo < 0.75 && hi > 1.05,
            "range [{lo}, {hi}] should span U(0.7, 1.1)"
        );
    }

    #[test]
    fn speed_changes_the_length_before_fix_length() {
        let x: Vec<f32> = (0..16000).map(|v| v as f32).collect();
        let slow = change_speed(&x, 0.2);
        assert!((slow.len() as i64 - 19200).abs() <= 1, "len {}", slow.len());
        let fast = change_speed(&x, -0.2);
        assert!((fast.len() as i64 - 12800).abs() <= 1, "len {}", fast.len());
        // Nearest neighbour: every output is an input sample, in order, starting at the start.
        assert_eq!(slow[0], 0.0);
        assert!(slow.windows(2).all(|w| w[1] >= w[0]));
        assert!(fast.iter().all(|v| v.fract() == 0.0));
        // Compressing by 1/(1-0.2) = 1.25 visits sample round(1.25 k).
        assert_eq!(fast[4], 5.0);
        assert_eq!(change_speed(&x, 0.0), x);

        // Through the augmenter the result is fixed back to 16000 samples.
        let aug = Augmenter::new(only(|c| c.speed_prob = 1.0), vec![]);
        let y = aug.apply(x.clone(), &mut clip_rng(0, 0, 0));
        assert_eq!(y.len(), 16000);
        assert_ne!(y, x);
    }

    #[test]
    fn noise_mix_uses_a_crop_and_weight_in_range() {
        // Noise is a ramp longer than the clip; on a silent clip the result is s * crop.
        let noise: Vec<f32> = (0..40000).map(|v| v as f32 / 40000.0).collect();
        let aug = Augmenter::new(only(|c| c.noise_prob = 1.0), vec![noise.clone()]);
        for i in 0..50 {
            let y = aug.apply(vec![0.0; 16000], &mut clip_rng(2, 0, i));
            assert_eq!(y.len(), 16000);
            // Ramp slope gives s; intercept gives the offset.
            let s = (y[1000] - y[0]) * 40000.0 / 1000.0;
            assert!((0.0..0.3).contains(&s), "s {s}");
            if s > 1e-3 {
                let offset = (y[0] / s * 40000.0).round() as usize;
                assert!(offset <= 40000 - 16000, "offset {offset}");
            }
        }
        // Shorter noise is zero padded.
        let mut x = vec![1.0; 8];
        mix_noise(&mut x, &[1.0, 1.0, 1.0], 0, 0.25);
        assert_eq!(x, vec![1.0, 1.0, 1.0, 0.75, 0.75, 0.75, 0.75, 0.75]);
    }

    #[test]
    fn silence_gets_noise_and_no_background_means_no_noise() {
        let with = Augmenter::new(only(|c| c.noise_prob = 1.0), vec![vec![0.5; 20000]]);
        let nonzero = (0..20)
            .filter(|&i| {
                let y = with.apply(vec![0.0; 16000], &mut clip_rng(3, 0, i));
                y.iter().any(|&v| v != 0.0)
            })
            .count();
        assert!(nonzero >= 19, "noise reaches silence clips");
        let without = Augmenter::new(only(|c| c.noise_prob = 1.0), vec![]);
        let y = without.apply(vec![0.0; 16000], &mut clip_rng(3, 0, 0));
        assert!(y.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn none_only_fixes_the_length() {
        let aug = Augmenter::new(AugmentConfig::none(), vec![vec![1.0; 16000]]);
        let x: Vec<f32> = (0..12000).map(|v| (v as f32 * 0.01).sin()).collect();
        let y = aug.apply(x.clone(), &mut clip_rng(9, 9, 9));
        assert_eq!(&y[..12000], &x[..]);
        assert!(y[12000..].iter().all(|&v| v == 0.0));
        assert_eq!(y.len(), 16000);
    }

    #[test]
    fn same_seed_same_output_in_any_order() {
        let noise: Vec<f32> = (0..30000)
            .map(|v| ((v * 7919) % 1000) as f32 / 1000.0)
            .collect();
        let aug = Augmenter::new(AugmentConfig::default(), vec![noise]);
        let clip: Vec<f32> = (0..16000).map(|v| (v as f32 * 0.003).sin()).collect();
        let forward: Vec<Vec<f32>> = (0..32)
            .map(|i| aug.apply(clip.clone(), &mut clip_rng(42, 5, i)))
            .collect();
        let backward: Vec<Vec<f32>> = (0..32)
            .rev()
            .map(|i| aug.apply(clip.clone(), &mut clip_rng(42, 5, i)))
            .collect();
        for (i, y) in backward.iter().rev().enumerate() {
            assert_eq!(y, &forward[i], "clip {i}");
        }
        // Other seeds, epochs and clip indices give other augmentations.
        let base = &forward[0];
        let differs =
            |seed, epoch, idx| aug.apply(clip.clone(), &mut clip_rng(seed, epoch, idx)) != *base;
        assert!((43..53).any(|s| differs(s, 5, 0)));
        assert!((6..16).any(|e| differs(42, e, 0)));
        assert!(forward.iter().skip(1).any(|y| y != base));
    }

    #[test]
    fn rng_streams_are_distinct() {
        let mut a = clip_rng(1, 0, 0);
        let mut b = clip_rng(1, 0, 1);
        let mut c = clip_rng(1, 1, 0);
        let mut d = epoch_rng(1, 0);
        let xs: Vec<u64> = [&mut a, &mut b, &mut c, &mut d]
            .into_iter()
            .map(|r| r.random::<u64>())
            .collect();
        let unique: std::collections::HashSet<_> = xs.iter().collect();
        assert_eq!(unique.len(), 4);
        assert_eq!(clip_rng(1, 0, 1).random::<u64>(), xs[1]);
    }
}
