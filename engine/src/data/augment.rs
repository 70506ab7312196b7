//! Training augmentation on the waveform: the paper's steps (`docs/METHOD.md` §1, "Training
//! augmentation": background noise, gain, speed, time shift, fix length) plus optional steps
//! for robustness to real rooms, microphones and voices, and SpecAugment on the features.
//!
//! Order inside [`Augmenter::apply`], each step with its own probability:
//!
//! 1. voice: pitch and formants shifted, duration kept ([`VoiceConfig`], off by default);
//! 2. speed: the paper's speed/pitch change (length changes);
//! 3. room: reverberation with a synthetic impulse response ([`RoomConfig`], off);
//! 4. noise: the paper's weight-based mix, or, when [`NoiseSnrConfig`] is enabled, background
//!    noise or babble at a drawn SNR instead (the paper's mix then never runs);
//! 5. channel: microphone / telephone colouring and soft clipping ([`ChannelConfig`], off);
//! 6. gain, 7. time shift (the paper's), 8. fix length.
//!
//! SpecAugment ([`spec_augment`], [`Augmenter::spec_augment_features`]) runs on the log-mel
//! features afterwards. With the new steps off ([`AugmentConfig::default`]) the paper's steps
//! run with the paper's values; gain commutes with speed, but the noise is now mixed after the
//! speed change, so the background is no longer sped up with the word.
//!
//! Randomness is explicit: [`Augmenter::apply`] takes the RNG, and [`clip_rng`] derives one
//! ChaCha stream per (run seed, epoch, clip), so a run's batches do not depend on which thread
//! augments which clip or in what order. Each step draws two numbers from that stream whether
//! or not it applies, or is even enabled: its coin and a seed. A step that applies draws its
//! parameters from its own generator made from that seed. So the stream position after each
//! step never depends on the config or on earlier draws: switching one step on or off, or
//! changing its ranges, leaves the random numbers of every other step as they were.

mod channel;
mod dsp;
mod noise;
mod room;
mod spec;
mod voice;

pub use channel::{
    Band, ChannelConfig, ChannelParams, TELEPHONE_HIGH_HZ, TELEPHONE_LOW_HZ, apply_channel,
    soft_clip,
};
pub use noise::{NoiseSnrConfig, mix_at_level, mix_at_snr, speech_level};
pub use room::{RoomConfig, RoomParams, reverberate, room_impulse_response};
pub use spec::{SpecAugmentConfig, spec_augment};
pub use voice::{VoiceConfig, pitch_shift, wsola_stretch};

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::audio::{CLIP_SAMPLES, fix_length};

/// Probabilities and ranges of each step. The defaults are the paper's, with every step the
/// paper does not have switched off; [`AugmentConfig::robust`] switches them on.
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
    /// Pitch and formant shift with the duration kept.
    #[serde(default)]
    pub voice: VoiceConfig,
    /// Room reverberation.
    #[serde(default)]
    pub room: RoomConfig,
    /// Background noise and babble at a drawn SNR; replaces the paper's mix while enabled.
    #[serde(default)]
    pub noise_snr: NoiseSnrConfig,
    /// Microphone / telephone colouring and soft clipping.
    #[serde(default)]
    pub channel: ChannelConfig,
    /// Time and frequency masks on the features (applied by the loader after the log-mel).
    #[serde(default)]
    pub spec_augment: SpecAugmentConfig,
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
            voice: VoiceConfig::default(),
            room: RoomConfig::default(),
            noise_snr: NoiseSnrConfig::default(),
            channel: ChannelConfig::default(),
            spec_augment: SpecAugmentConfig::default(),
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

    /// For a keyword spotter that must work in real rooms, through real microphones, for
    /// voices unlike the training speakers': the paper's gain, speed and shift, plus every new
    /// step on with its default values (each documented on its `Default`):
    ///
    /// - voice 30 %, +-3 semitones: more speakers than the set has, without drowning the
    ///   paper's speed change (50 %, which moves pitch too);
    /// - room 50 %, RT60 0.1-1.0 s, DRR -3..+12 dB: half the clips stay close-talk dry, as
    ///   the test set is, the other half span living rooms to halls;
    /// - noise at SNR 80 %, 0-20 dB, babble 30 % of the time (3-7 talkers), silence clips
    ///   at -60..-20 dBFS: a deployed device hears noise almost always, and the SNR range
    ///   is where keyword spotters go from reliable to failing (below 0 dB few do);
    /// - channel 50 %, tilt +-6 dB, 50-300 Hz / 3-7.5 kHz band, telephone 10 %, clipping
    ///   10 % with drive 1-4: cheap mics and codecs, rarely a phone line or a hot preamp;
    /// - SpecAugment 80 %, 2 time masks <= 4 frames, 2 frequency masks <= 4 mel bins:
    ///   missing bits of time or band, without erasing a keyword (32 frames x 32 bins).
    pub fn robust() -> Self {
        let mut c = Self::default();
        c.voice.enabled = true;
        c.room.enabled = true;
        c.noise_snr.enabled = true;
        c.channel.enabled = true;
        c.spec_augment.enabled = true;
        c
    }
}

/// A range a parameter is drawn from uniformly; `min == max` always gives that value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniformRange {
    pub min: f32,
    pub max: f32,
}

impl UniformRange {
    pub const fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// A value ~ U(min, max) (`min` if the range is empty).
    pub fn draw(&self, rng: &mut impl Rng) -> f32 {
        uniform(rng, self.min, self.max)
    }
}

/// Applies [`AugmentConfig`] with a set of background noise recordings (16 kHz mono, any
/// length) and optionally speech recordings for babble. Cheap to share between threads: it
/// holds no RNG and no mutable state (FFT plans are cached per thread).
#[derive(Clone, Debug)]
pub struct Augmenter {
    config: AugmentConfig,
    background: Vec<Vec<f32>>,
    babble: Vec<noise::Talker>,
}

impl Augmenter {
    /// An augmenter; with no background recordings the noise step never applies.
    pub fn new(config: AugmentConfig, background: Vec<Vec<f32>>) -> Self {
        let background = background.into_iter().filter(|n| !n.is_empty()).collect();
        Self {
            config,
            background,
            babble: Vec::new(),
        }
    }

    /// Add speech recordings (16 kHz mono, any length: e.g. non-keyword words and sentences
    /// from the training split) for babble noise. Empty and silent recordings are dropped.
    /// Only the SNR noise step ([`NoiseSnrConfig`]) uses them.
    pub fn with_babble(mut self, recordings: Vec<Vec<f32>>) -> Self {
        self.babble = recordings
            .into_iter()
            .filter_map(noise::Talker::new)
            .collect();
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// Number of usable babble recordings.
    pub fn babble_count(&self) -> usize {
        self.babble.len()
    }

    /// Augment one clip and fix its length, in the order given in the module documentation.
    /// Every step draws its coin and seed whatever the config (see the module documentation),
    /// so the same RNG state always gives the same output, and one step's settings never
    /// change another step's random numbers.
    pub fn apply(&self, samples: Vec<f32>, rng: &mut impl Rng) -> Vec<f32> {
        let c = &self.config;
        let mut x = samples;

        if let Some(mut r) = step_rng(rng, c.voice.chance()) {
            x = pitch_shift(&x, c.voice.draw(&mut r));
        }
        if let Some(mut r) = step_rng(rng, c.speed_prob) {
            x = change_speed(&x, uniform(&mut r, -c.speed_max, c.speed_max));
        }
        if let Some(mut r) = step_rng(rng, c.room.chance()) {
            let ir = room_impulse_response(&c.room.draw(&mut r), &mut r);
            x = reverberate(&x, &ir);
        }
        // Both noise steps draw their coins; the SNR step, while enabled, replaces the mix.
        let spec_mix_prob = if c.noise_snr.enabled {
            0.0
        } else {
            c.noise_prob
        };
        if let Some(mut r) = step_rng(rng, spec_mix_prob) {
            self.mix_background(&mut x, &mut r);
        }
        if let Some(mut r) = step_rng(rng, c.noise_snr.chance()) {
            noise::add_noise(&mut x, &c.noise_snr, &self.background, &self.babble, &mut r);
        }
        if let Some(mut r) = step_rng(rng, c.channel.chance()) {
            apply_channel(&mut x, &c.channel.draw(&mut r));
        }
        if let Some(mut r) = step_rng(rng, c.gain_prob) {
            let g = uniform(&mut r, c.gain_min, c.gain_max);
            x.iter_mut().for_each(|v| *v *= g);
        }
        if let Some(mut r) = step_rng(rng, c.shift_prob) {
            let max = c.shift_max as i64;
            x = time_shift(&x, r.random_range(-max..=max));
        }
        fix_length(x, c.clip_samples)
    }

    /// SpecAugment on one clip's log-mel features (row-major `[n_mels][frames]`, see
    /// [`spec_augment`]), with this augmenter's [`SpecAugmentConfig`]. Leaves the features
    /// untouched when the step is off, but still draws its coin and seed from `rng`. Call it
    /// with the clip's RNG after [`Augmenter::apply`].
    pub fn spec_augment_features(
        &self,
        features: &mut [f32],
        n_mels: usize,
        frames: usize,
        rng: &mut impl Rng,
    ) {
        spec_augment(features, n_mels, frames, &self.config.spec_augment, rng);
    }

    /// The paper's mix: a random crop of a random background recording, weight ~ U(0, max).
    fn mix_background(&self, x: &mut [f32], rng: &mut impl Rng) {
        if self.background.is_empty() {
            return;
        }
        let noise = &self.background[rng.random_range(0..self.background.len())];
        let offset = if noise.len() > x.len() {
            rng.random_range(0..=noise.len() - x.len())
        } else {
            0
        };
        let s = uniform(rng, 0.0, self.config.noise_max);
        mix_noise(x, noise, offset, s);
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

/// One step's draws from the clip's stream: its coin, then a seed, both always drawn. Returns
/// the step's own generator if the coin says the step applies.
fn step_rng(rng: &mut impl Rng, p: f64) -> Option<ChaCha8Rng> {
    let applies = coin(rng, p);
    let seed: u64 = rng.random();
    applies.then(|| ChaCha8Rng::seed_from_u64(seed))
}

fn coin(rng: &mut impl Rng, p: f64) -> bool {
    // Always draw, even for p = 0 or 1, so the stream position never depends on the config.
    let u: f64 = rng.random();
    u < p
}

fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    // rand panics on a non-finite range; a config typed by hand may hold one.
    if hi > lo && lo.is_finite() && hi.is_finite() {
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

    fn babble_recordings() -> Vec<Vec<f32>> {
        (0..8)
            .map(|k| {
                (0..16000)
                    .map(|i| {
                        let t = i as f32 / 16000.0;
                        let env = (-(t - 0.5).powi(2) * 40.0).exp();
                        env * (2.0 * std::f32::consts::PI * (180.0 + 37.0 * k as f32) * t).sin()
                    })
                    .collect()
            })
            .collect()
    }

    fn background() -> Vec<Vec<f32>> {
        vec![
            (0..40000)
                .map(|v| ((v * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect(),
        ]
    }

    fn word() -> Vec<f32> {
        (0..16000)
            .map(|i| {
                let t = i as f32 / 16000.0;
                let env = if (0.3..0.7).contains(&t) { 0.4 } else { 0.0 };
                env * (2.0 * std::f32::consts::PI * (220.0 + 300.0 * t) * t).sin()
            })
            .collect()
    }

    fn robust_augmenter(config: AugmentConfig) -> Augmenter {
        Augmenter::new(config, background()).with_babble(babble_recordings())
    }

    #[test]
    fn robust_turns_every_new_step_on_and_default_keeps_them_off() {
        let r = AugmentConfig::robust();
        assert!(r.voice.enabled && r.room.enabled && r.noise_snr.enabled);
        assert!(r.channel.enabled && r.spec_augment.enabled);
        assert!(r.voice.prob > 0.0 && r.room.prob > 0.0 && r.noise_snr.prob > 0.0);
        assert!(r.channel.prob > 0.0 && r.spec_augment.prob > 0.0);
        // The paper's own steps keep the paper's values.
        let d = AugmentConfig::default();
        assert_eq!((r.gain_prob, r.speed_prob, r.shift_prob), (0.5, 0.5, 0.5));
        assert!(!d.voice.enabled && !d.room.enabled && !d.noise_snr.enabled);
        assert!(!d.channel.enabled && !d.spec_augment.enabled);
        let n = AugmentConfig::none();
        assert!(!n.voice.enabled && !n.room.enabled && !n.noise_snr.enabled);
        assert!(!n.channel.enabled && !n.spec_augment.enabled);
        assert_eq!(d.room.rt60_s, UniformRange::new(0.1, 1.0));
        assert_eq!(d.noise_snr.snr_db, UniformRange::new(0.0, 20.0));
        assert_eq!(d.voice.semitones, UniformRange::new(-3.0, 3.0));
    }

    #[test]
    fn configs_without_the_new_steps_still_load() {
        let old = r#"{"noise_prob":0.3,"noise_max":0.3,"gain_prob":0.5,"gain_min":0.7,
            "gain_max":1.1,"speed_prob":0.5,"speed_max":0.2,"shift_prob":0.5,
            "shift_max":3200,"clip_samples":16000}"#;
        let c: AugmentConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c, AugmentConfig::default());
        // A sub-struct with only some fields fills in the rest.
        let partial = old.replace('}', r#","room":{"enabled":true}}"#);
        let c: AugmentConfig = serde_json::from_str(&partial).unwrap();
        assert!(c.room.enabled);
        assert_eq!(c.room.rt60_s, RoomConfig::default().rt60_s);
        let round: AugmentConfig =
            serde_json::from_str(&serde_json::to_string(&AugmentConfig::robust()).unwrap())
                .unwrap();
        assert_eq!(round, AugmentConfig::robust());
    }

    #[test]
    fn robust_is_deterministic_and_keeps_the_length() {
        let aug = robust_augmenter(AugmentConfig::robust());
        let clip = word();
        for i in 0..20 {
            let a = aug.apply(clip.clone(), &mut clip_rng(8, 1, i));
            let b = aug.apply(clip.clone(), &mut clip_rng(8, 1, i));
            assert_eq!(a, b, "clip {i}");
            assert_eq!(a.len(), 16000);
            assert!(a.iter().all(|v| v.is_finite()));
            let mut fa = vec![-50.0f32; 32 * 32];
            fa[7] = 3.0;
            let mut fb = fa.clone();
            let (mut ra, mut rb) = (clip_rng(8, 1, i), clip_rng(8, 1, i));
            aug.spec_augment_features(&mut fa, 32, 32, &mut ra);
            aug.spec_augment_features(&mut fb, 32, 32, &mut rb);
            assert_eq!(fa, fb);
        }
        let outputs: std::collections::HashSet<Vec<u32>> = (0..20)
            .map(|i| {
                aug.apply(clip.clone(), &mut clip_rng(8, 1, i))
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            })
            .collect();
        assert_eq!(outputs.len(), 20, "every clip augmented differently");
        // Silence and empty input survive every step.
        let silent = aug.apply(vec![0.0; 16000], &mut clip_rng(8, 2, 0));
        assert!(silent.iter().all(|v| v.is_finite()));
        assert_eq!(aug.apply(vec![], &mut clip_rng(8, 2, 1)).len(), 16000);
    }

    /// Every config variant the tests toggle between: none, the paper's, robust, and robust with
    /// each step switched off in turn.
    fn config_variants() -> Vec<AugmentConfig> {
        let mut variants = vec![
            AugmentConfig::none(),
            AugmentConfig::default(),
            AugmentConfig::robust(),
        ];
        let offs: [fn(&mut AugmentConfig); 9] = [
            |c| c.voice.enabled = false,
            |c| c.speed_prob = 0.0,
            |c| c.room.enabled = false,
            |c| c.noise_prob = 0.0,
            |c| c.noise_snr.enabled = false,
            |c| c.channel.enabled = false,
            |c| c.gain_prob = 0.0,
            |c| c.shift_prob = 0.0,
            |c| c.spec_augment.enabled = false,
        ];
        for off in offs {
            let mut c = AugmentConfig::robust();
            off(&mut c);
            variants.push(c);
        }
        variants
    }

    #[test]
    fn stream_position_after_apply_never_depends_on_the_config() {
        let clip = word();
        let mut after = std::collections::HashSet::new();
        for config in config_variants() {
            let aug = robust_augmenter(config);
            let mut rng = clip_rng(10, 0, 3);
            aug.apply(clip.clone(), &mut rng);
            let mut features = vec![0.5f32; 32 * 32];
            aug.spec_augment_features(&mut features, 32, 32, &mut rng);
            after.insert(rng.random::<u64>());
        }
        assert_eq!(
            after.len(),
            1,
            "every config leaves the stream at one place"
        );
    }

    #[test]
    fn switching_earlier_steps_on_or_off_keeps_the_gain_and_shift_draws() {
        // Gain and shift alone on a constant clip: the drawn gain is y / x, the shift k is
        // where the constant starts or stops.
        let mut spec_only = AugmentConfig::none();
        spec_only.gain_prob = 1.0;
        spec_only.shift_prob = 1.0;
        let mut all = AugmentConfig::robust();
        all.gain_prob = 1.0;
        all.shift_prob = 1.0;
        [all.voice.prob, all.speed_prob, all.room.prob] = [1.0, 1.0, 1.0];
        [all.noise_snr.prob, all.channel.prob] = [1.0, 1.0];
        let mut all_but_gain = all.clone();
        all_but_gain.gain_prob = 0.0;
        for i in 0..10 {
            let with = robust_augmenter(all.clone()).apply(word(), &mut clip_rng(11, 0, i));
            let without =
                robust_augmenter(all_but_gain.clone()).apply(word(), &mut clip_rng(11, 0, i));
            let alone = Augmenter::new(spec_only.clone(), vec![])
                .apply(vec![0.5; 16000], &mut clip_rng(11, 0, i));
            let g = alone
                .iter()
                .copied()
                .find(|&v| v != 0.0)
                .expect("some samples kept")
                / 0.5;
            // With every earlier step on, the same gain multiplies the same signal.
            let scaled: Vec<f32> = without.iter().map(|v| v * g).collect();
            assert_eq!(with, scaled, "clip {i}: gain {g}");
        }
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
