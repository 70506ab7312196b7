//! Background noise and babble mixed at a drawn signal-to-noise ratio.
//!
//! SNR = 20 log10(speech level / noise RMS), where the speech level is the RMS of the clip's
//! active part only ([`speech_level`]): a keyword fills perhaps 0.4 s of its 1 s clip, and
//! the plain RMS of the whole clip would count the silence around it, making every word look
//! 4-8 dB quieter than it is and the drawn SNR that much too hard. The noise's RMS is taken
//! over the whole clip (noise is stationary or, for babble, continuous).
//!
//! Sources are the background recordings (cropped at a random offset) and babble: several
//! speech recordings, each scaled to the same speech level and read from a random offset, then
//! summed. On a silent clip (the silence class: all zeros) there is no speech to measure, and
//! the noise is scaled to an absolute level in dBFS instead.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::dsp::rms;
use super::{UniformRange, coin};

/// SNR-controlled noise step settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoiseSnrConfig {
    pub enabled: bool,
    /// Probability that a clip gets noise (when enabled). While enabled, this step replaces
    /// the paper's weight-based mix (`noise_prob`, `noise_max`) on every clip.
    pub prob: f64,
    /// SNR in dB: 20 log10(speech level / noise RMS).
    pub snr_db: UniformRange,
    /// Probability that the noise is babble rather than a background recording (when the
    /// augmenter has both; otherwise whichever it has is used).
    pub babble_prob: f64,
    /// Talkers in one babble sample, drawn uniformly from min..=max (distinct recordings).
    pub babble_talkers_min: usize,
    pub babble_talkers_max: usize,
    /// RMS level in dBFS of the noise put on silent clips (where there is no speech level).
    pub silence_level_dbfs: UniformRange,
}

impl Default for NoiseSnrConfig {
    /// Off; when switched on: most clips (80 %), 0-20 dB SNR (a noisy kitchen to a quiet
    /// office), babble a third of the time, 3-7 talkers (fewer are intelligible, more sound
    /// like a crowd), silence clips at -60 to -20 dBFS (a quiet room to a loud one).
    fn default() -> Self {
        Self {
            enabled: false,
            prob: 0.8,
            snr_db: UniformRange::new(0.0, 20.0),
            babble_prob: 0.3,
            babble_talkers_min: 3,
            babble_talkers_max: 7,
            silence_level_dbfs: UniformRange::new(-60.0, -20.0),
        }
    }
}

impl NoiseSnrConfig {
    /// The probability a clip gets this step (0 when switched off).
    pub fn chance(&self) -> f64 {
        if self.enabled { self.prob } else { 0.0 }
    }
}

/// Frames for the speech level: 20 ms.
const LEVEL_FRAME: usize = 320;
/// Frames more than 30 dB below the loudest frame are not speech.
const ACTIVE_RANGE_DB: f64 = 30.0;
/// A speech level below this (-100 dBFS) means a silent clip.
const SILENT_LEVEL: f32 = 1e-5;

/// The RMS of the active part of `x`: of the 20 ms frames within 30 dB of the loudest one.
/// 0 for silence.
pub fn speech_level(x: &[f32]) -> f32 {
    let frames: Vec<(f64, usize)> = x
        .chunks(LEVEL_FRAME)
        .map(|f| {
            (
                f.iter().map(|&v| f64::from(v) * f64::from(v)).sum(),
                f.len(),
            )
        })
        .collect();
    let loudest = frames
        .iter()
        .map(|&(e, n)| e / n as f64)
        .fold(0.0f64, f64::max);
    if loudest <= 0.0 {
        return 0.0;
    }
    let threshold = loudest * 10f64.powf(-ACTIVE_RANGE_DB / 10.0);
    let (energy, count) = frames
        .iter()
        .filter(|&&(e, n)| e / n as f64 >= threshold)
        .fold((0.0, 0usize), |(e, c), &(fe, n)| (e + fe, c + n));
    (energy / count as f64).sqrt() as f32
}

/// x += g noise with g set so that 20 log10(speech_level(x) / rms(g noise)) = `snr_db`
/// (noise zero past its end). Returns false, leaving `x` alone, if `x` or the noise is silent.
pub fn mix_at_snr(x: &mut [f32], noise: &[f32], snr_db: f32) -> bool {
    let speech = speech_level(x);
    if speech < SILENT_LEVEL {
        return false;
    }
    let target = speech / 10f32.powf(snr_db / 20.0);
    add_scaled(x, noise, target)
}

/// x += g noise with g set so that the noise's RMS is `level_dbfs` (0 dBFS = RMS 1).
/// Returns false, leaving `x` alone, if the noise is silent.
pub fn mix_at_level(x: &mut [f32], noise: &[f32], level_dbfs: f32) -> bool {
    add_scaled(x, noise, 10f32.powf(level_dbfs / 20.0))
}

/// x += noise scaled to RMS `target` over x's length.
fn add_scaled(x: &mut [f32], noise: &[f32], target: f32) -> bool {
    let noise = &noise[..noise.len().min(x.len())];
    // RMS over the clip's length: missing noise counts as zeros.
    let noise_rms = rms(noise) * (noise.len() as f32 / x.len().max(1) as f32).sqrt();
    if noise_rms <= 0.0 {
        return false;
    }
    let g = target / noise_rms;
    x.iter_mut().zip(noise).for_each(|(v, n)| *v += g * n);
    true
}

/// A babble source: a speech recording and its speech level (precomputed once).
#[derive(Clone, Debug)]
pub(super) struct Talker {
    samples: Vec<f32>,
    level: f32,
}

impl Talker {
    /// A talker, or `None` for a silent or empty recording (it could not be levelled).
    pub(super) fn new(samples: Vec<f32>) -> Option<Self> {
        let level = speech_level(&samples);
        (level >= SILENT_LEVEL).then_some(Self { samples, level })
    }
}

/// `len` samples of babble: `count` distinct talkers (fewer if there are fewer), each scaled
/// to speech level 1 and read circularly from a random offset, so that each word lands at a
/// random place in the clip whatever its place in its own recording.
pub(super) fn babble(talkers: &[Talker], count: usize, len: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    let count = count.min(talkers.len());
    let mut chosen: Vec<usize> = Vec::with_capacity(count);
    while chosen.len() < count {
        // Rejection sampling: count <= talkers.len(), and count is at most a handful.
        let i = rng.random_range(0..talkers.len());
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    for &i in &chosen {
        let talker = &talkers[i];
        let offset = rng.random_range(0..talker.samples.len());
        add_looped(&mut out, &talker.samples, offset, 1.0 / talker.level);
    }
    out
}

/// out[k] += gain src[(offset + k) mod src.len()]: the source looped to fill `out`.
fn add_looped(out: &mut [f32], src: &[f32], offset: usize, gain: f32) {
    if src.is_empty() {
        return;
    }
    let mut pos = offset % src.len();
    let mut filled = 0;
    while filled < out.len() {
        let take = (src.len() - pos).min(out.len() - filled);
        for (o, s) in out[filled..filled + take]
            .iter_mut()
            .zip(&src[pos..pos + take])
        {
            *o += gain * s;
        }
        filled += take;
        pos = 0;
    }
}

/// `len` samples of a background recording from a random offset: a plain crop when the
/// recording is long enough, otherwise the recording looped.
fn background_crop(recording: &[f32], len: usize, rng: &mut impl Rng) -> Vec<f32> {
    let offset = if recording.len() >= len {
        rng.random_range(0..=recording.len() - len)
    } else {
        rng.random_range(0..recording.len())
    };
    let mut out = vec![0.0f32; len];
    add_looped(&mut out, recording, offset, 1.0);
    out
}

/// The step: pick babble or a background recording, then mix it at a drawn SNR, or at a
/// drawn absolute level if `x` is silent. Does nothing if there is no source at all.
pub(super) fn add_noise(
    x: &mut [f32],
    config: &NoiseSnrConfig,
    background: &[Vec<f32>],
    talkers: &[Talker],
    rng: &mut impl Rng,
) {
    let want_babble = coin(rng, config.babble_prob);
    let babble_source = !talkers.is_empty() && (want_babble || background.is_empty());
    let noise = if babble_source {
        let lo = config.babble_talkers_min.max(1);
        let hi = config.babble_talkers_max.max(lo);
        let count = rng.random_range(lo..=hi);
        babble(talkers, count, x.len(), rng)
    } else if !background.is_empty() {
        let recording = &background[rng.random_range(0..background.len())];
        background_crop(recording, x.len(), rng)
    } else {
        return;
    };
    if speech_level(x) < SILENT_LEVEL {
        mix_at_level(x, &noise, config.silence_level_dbfs.draw(rng));
    } else {
        mix_at_snr(x, &noise, config.snr_db.draw(rng));
    }
}

#[cfg(test)]
mod tests {
    use super::super::dsp::test_signals::{sine, tone_power};
    use super::super::{AugmentConfig, Augmenter, clip_rng};
    use super::*;

    /// A 0.2 s tone burst in the middle of a second of silence.
    fn word() -> Vec<f32> {
        let mut x = vec![0.0f32; 16000];
        for (i, v) in x[6400..9600].iter_mut().enumerate() {
            *v = 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16000.0).sin();
        }
        x
    }

    fn hum(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 % 1009) as f32 / 1009.0 - 0.5) * 0.2)
            .collect()
    }

    fn snr_only(snr: UniformRange) -> AugmentConfig {
        let mut c = AugmentConfig::none();
        c.noise_snr.enabled = true;
        c.noise_snr.prob = 1.0;
        c.noise_snr.snr_db = snr;
        c
    }

    fn db(a: f32, b: f32) -> f32 {
        20.0 * (a / b).log10()
    }

    #[test]
    fn speech_level_measures_the_word_not_the_silence_around_it() {
        let x = word();
        let burst_rms = 0.3 / 2f32.sqrt();
        assert!(db(speech_level(&x), burst_rms).abs() < 0.05);
        // The whole clip's RMS would be 7 dB lower (0.2 s of 1 s).
        assert!(db(rms(&x), burst_rms) < -6.9);
        assert_eq!(speech_level(&[0.0; 100]), 0.0);
        assert_eq!(speech_level(&[]), 0.0);
    }

    #[test]
    fn measured_snr_is_the_drawn_snr_on_a_word_in_silence() {
        let clean = word();
        for snr in [0.0f32, 7.5, 20.0] {
            let aug = Augmenter::new(snr_only(UniformRange::new(snr, snr)), vec![hum(40000)]);
            for i in 0..5 {
                let y = aug.apply(clean.clone(), &mut clip_rng(1, 0, i));
                let noise: Vec<f32> = y.iter().zip(&clean).map(|(a, b)| a - b).collect();
                let measured = db(speech_level(&clean), rms(&noise));
                assert!(
                    (measured - snr).abs() < 0.5,
                    "drawn {snr}, measured {measured}"
                );
            }
        }
        // A drawn range: every measured SNR falls inside it, and the range is used.
        let aug = Augmenter::new(snr_only(UniformRange::new(0.0, 20.0)), vec![hum(40000)]);
        let snrs: Vec<f32> = (0..40)
            .map(|i| {
                let y = aug.apply(clean.clone(), &mut clip_rng(2, 0, i));
                let noise: Vec<f32> = y.iter().zip(&clean).map(|(a, b)| a - b).collect();
                db(speech_level(&clean), rms(&noise))
            })
            .collect();
        assert!(snrs.iter().all(|s| (-0.01..20.01).contains(s)), "{snrs:?}");
        let spread = snrs.iter().fold(f32::MIN, |a, &b| a.max(b))
            - snrs.iter().fold(f32::MAX, |a, &b| a.min(b));
        assert!(spread > 10.0);
    }

    #[test]
    fn silent_clips_get_noise_at_the_absolute_level() {
        let mut config = snr_only(UniformRange::new(0.0, 20.0));
        config.noise_snr.silence_level_dbfs = UniformRange::new(-30.0, -30.0);
        let aug = Augmenter::new(config.clone(), vec![hum(40000)]);
        let y = aug.apply(vec![0.0; 16000], &mut clip_rng(3, 0, 0));
        assert!((20.0 * rms(&y).log10() + 30.0).abs() < 0.05);

        config.noise_snr.silence_level_dbfs = UniformRange::new(-60.0, -20.0);
        let aug = Augmenter::new(config, vec![hum(40000)]);
        for i in 0..20 {
            let level = 20.0 * rms(&aug.apply(vec![0.0; 16000], &mut clip_rng(3, 1, i))).log10();
            assert!((-60.01..-19.99).contains(&level), "{level} dBFS");
        }
    }

    #[test]
    fn babble_is_a_sum_of_several_levelled_talkers() {
        // Ten "talkers", each a tone of its own frequency at its own level.
        let freqs: Vec<f64> = (0..10).map(|k| 300.0 + 200.0 * k as f64).collect();
        let talkers: Vec<Talker> = freqs
            .iter()
            .enumerate()
            .filter_map(|(k, &f)| Talker::new(sine(f, 0.05 * (k + 1) as f32, 16000)))
            .collect();
        let mut rng = clip_rng(4, 0, 0);
        for _ in 0..10 {
            let count = rng.random_range(3..=7);
            let b = babble(&talkers, count, 16000, &mut rng);
            let powers: Vec<f64> = freqs.iter().map(|&f| tone_power(&b, f)).collect();
            let present: Vec<f64> = powers.iter().copied().filter(|&p| p > 0.1).collect();
            assert_eq!(present.len(), count, "{powers:?}");
            // Each talker is levelled to speech level 1 (power 1), whatever its own level.
            assert!(present.iter().all(|p| (p - 1.0).abs() < 0.05), "{powers:?}");
        }
        // Through the augmenter: babble only (no background), several talkers audible.
        let mut config = snr_only(UniformRange::new(10.0, 10.0));
        config.noise_snr.babble_prob = 1.0;
        config.noise_snr.silence_level_dbfs = UniformRange::new(-20.0, -20.0);
        let recordings = freqs.iter().map(|&f| sine(f, 0.1, 16000)).collect();
        let aug = Augmenter::new(config, vec![]).with_babble(recordings);
        let y = aug.apply(vec![0.0; 16000], &mut clip_rng(4, 1, 0));
        let audible = freqs.iter().filter(|&&f| tone_power(&y, f) > 1e-4).count();
        assert!((3..=7).contains(&audible), "{audible} talkers");
    }

    #[test]
    fn no_source_means_no_noise_and_short_noise_is_looped() {
        let aug = Augmenter::new(snr_only(UniformRange::new(5.0, 5.0)), vec![]);
        assert_eq!(aug.apply(word(), &mut clip_rng(5, 0, 0)), word());
        // A 0.1 s recording still covers the whole clip.
        let aug = Augmenter::new(snr_only(UniformRange::new(5.0, 5.0)), vec![hum(1600)]);
        let y = aug.apply(word(), &mut clip_rng(5, 0, 1));
        assert!(rms(&y[..3200]) > 0.0 && rms(&y[12800..]) > 0.0);
    }
}
