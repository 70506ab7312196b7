//! Microphone and channel colouring: spectral tilt, band limits (or a telephone line) and
//! soft clipping.
//!
//! Cheap microphones, laptop mics and phone lines differ from the studio-ish recordings of
//! Speech Commands mostly in their frequency response: a tilt (bright or dull capsule), a
//! low-frequency roll-off (small capsules, wind filters), a high-frequency limit (low sample
//! rate codecs, MEMS mics) and, on a phone line, the 300-3400 Hz band. Overdriven preamps add
//! clipping. The filters are followed by a rescale to the input RMS (the level is set by the
//! gain step); the clipper, which comes last, keeps the level of the quiet parts and only
//! compresses the peaks.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::dsp::{
    Biquad, butterworth_highpass, butterworth_lowpass, rms, run_cascade, scale_to_rms,
};
use super::{UniformRange, coin};

/// Channel step settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelConfig {
    pub enabled: bool,
    /// Probability that a clip is coloured (when enabled).
    pub prob: f64,
    /// High-frequency shelf gain in dB above 1 kHz relative to below (+: brighter, -: duller).
    pub tilt_db: UniformRange,
    /// Microphone low-frequency roll-off: second-order Butterworth high-pass cutoff, Hz.
    pub highpass_hz: UniformRange,
    /// Microphone / codec bandwidth: fourth-order Butterworth low-pass cutoff, Hz.
    pub lowpass_hz: UniformRange,
    /// Probability that the band is a telephone line's 300-3400 Hz instead of the two above.
    pub telephone_prob: f64,
    /// Probability of soft clipping after the filters.
    pub clip_prob: f64,
    /// How far past the clipper's knee the clip's peak is driven (1: mild, 4: hard).
    pub clip_drive: UniformRange,
}

impl Default for ChannelConfig {
    /// Off; when switched on: half the clips, +-6 dB tilt, 50-300 Hz roll-off, 3-7.5 kHz
    /// bandwidth, a phone line one time in ten, clipping one time in ten.
    fn default() -> Self {
        Self {
            enabled: false,
            prob: 0.5,
            tilt_db: UniformRange::new(-6.0, 6.0),
            highpass_hz: UniformRange::new(50.0, 300.0),
            lowpass_hz: UniformRange::new(3000.0, 7500.0),
            telephone_prob: 0.1,
            clip_prob: 0.1,
            clip_drive: UniformRange::new(1.0, 4.0),
        }
    }
}

/// The pass band of a drawn channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Band {
    /// A microphone's band: 2nd-order high-pass, 4th-order low-pass.
    Microphone { highpass_hz: f32, lowpass_hz: f32 },
    /// An 8 kHz telephone line's 300-3400 Hz band: 4th-order high-pass and an 8th-order
    /// low-pass standing in for the codec's anti-aliasing filter (-45 dB at 5 kHz).
    Telephone,
}

/// One drawn channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelParams {
    pub tilt_db: f32,
    pub band: Band,
    /// Soft-clipping drive, if the clip is clipped.
    pub clip_drive: Option<f32>,
}

impl ChannelConfig {
    /// The probability a clip gets this step (0 when switched off).
    pub fn chance(&self) -> f64 {
        if self.enabled { self.prob } else { 0.0 }
    }

    /// Draw one channel: the tilt, then the telephone coin and the band, then the clipping
    /// coin and the drive.
    pub fn draw(&self, rng: &mut impl Rng) -> ChannelParams {
        let tilt_db = self.tilt_db.draw(rng);
        let band = if coin(rng, self.telephone_prob) {
            Band::Telephone
        } else {
            Band::Microphone {
                highpass_hz: self.highpass_hz.draw(rng),
                lowpass_hz: self.lowpass_hz.draw(rng),
            }
        };
        let clip_drive = coin(rng, self.clip_prob).then(|| self.clip_drive.draw(rng));
        ChannelParams {
            tilt_db,
            band,
            clip_drive,
        }
    }
}

/// Telephone band edges, Hz.
pub const TELEPHONE_LOW_HZ: f32 = 300.0;
pub const TELEPHONE_HIGH_HZ: f32 = 3400.0;
/// Pivot of the tilt shelf: 1 kHz, the middle of the speech band on a log scale.
const TILT_CORNER_HZ: f64 = 1000.0;

/// Colour `x` through a drawn channel: tilt and band limits (then back to the input RMS),
/// then the soft clipper if drawn.
pub fn apply_channel(x: &mut [f32], channel: &ChannelParams) {
    let level = rms(x);
    let mut sections = band_limit(channel.band);
    if channel.tilt_db != 0.0 {
        sections.push(tilt(channel.tilt_db));
    }
    run_cascade(&sections, x);
    scale_to_rms(x, level);
    if let Some(drive) = channel.clip_drive {
        soft_clip(x, drive);
    }
}

/// First-order high shelf: unity gain at low frequencies, `db` at high ones, the transition
/// around 1 kHz (H = (g s + w) / (s + w) before the bilinear transform).
fn tilt(db: f32) -> Biquad {
    Biquad::high_shelf(TILT_CORNER_HZ, 10f64.powf(f64::from(db) / 20.0))
}

/// The filter sections of a pass band.
fn band_limit(band: Band) -> Vec<Biquad> {
    match band {
        Band::Microphone {
            highpass_hz,
            lowpass_hz,
        } => butterworth_highpass(f64::from(highpass_hz), 2)
            .chain(butterworth_lowpass(f64::from(lowpass_hz), 4))
            .collect(),
        Band::Telephone => butterworth_highpass(f64::from(TELEPHONE_LOW_HZ), 4)
            .chain(butterworth_lowpass(f64::from(TELEPHONE_HIGH_HZ), 8))
            .collect(),
    }
}

/// Soft clipping relative to the clip's own peak P: y = (P / drive) tanh(drive x / P).
/// Quiet parts pass at unity gain (tanh(u) ~ u), so the level is kept; the peaks are pushed
/// `drive` times past the knee and come out at P tanh(drive) / drive, 2.4 to 12 dB lower for
/// drive 1 to 4. So for any input within full scale the output peaks stay below 0.77.
pub fn soft_clip(x: &mut [f32], drive: f32) {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak <= 0.0 || drive.is_nan() || drive <= 0.0 {
        return;
    }
    let into_knee = drive / peak;
    let back = peak / drive;
    x.iter_mut()
        .for_each(|v| *v = back * (into_knee * *v).tanh());
}

#[cfg(test)]
mod tests {
    use super::super::dsp::test_signals::{db, sine, tone_power};
    use super::*;

    /// Gain in dB of the band limits alone at `freq`, measured after the filters settle.
    fn band_gain_db(band: Band, freq: f64) -> f64 {
        let mut x = sine(freq, 0.5, 16000);
        run_cascade(&band_limit(band), &mut x);
        db(tone_power(&x[4000..], freq) / tone_power(&sine(freq, 0.5, 12000), freq))
    }

    #[test]
    fn telephone_band_removes_5_khz_and_passes_1_khz() {
        assert!(band_gain_db(Band::Telephone, 5000.0) < -30.0);
        assert!(band_gain_db(Band::Telephone, 1000.0).abs() < 1.0);
        assert!(band_gain_db(Band::Telephone, 100.0) < -30.0);
        let mic = Band::Microphone {
            highpass_hz: 100.0,
            lowpass_hz: 4000.0,
        };
        assert!(band_gain_db(mic, 1000.0).abs() < 0.5);
        assert!(band_gain_db(mic, 7000.0) < -15.0);
    }

    #[test]
    fn tilt_moves_the_high_to_low_ratio_in_the_drawn_direction() {
        let x: Vec<f32> = sine(100.0, 0.3, 16000)
            .iter()
            .zip(sine(6000.0, 0.3, 16000))
            .map(|(a, b)| a + b)
            .collect();
        let ratio_db = |y: &[f32]| db(tone_power(y, 6000.0) / tone_power(y, 100.0));
        let before = ratio_db(&x);
        for drawn in [-6.0f32, -2.0, 3.0, 6.0] {
            let mut y = x.clone();
            run_cascade(&[tilt(drawn)], &mut y);
            let change = ratio_db(&y) - before;
            assert!(
                (change - f64::from(drawn)).abs() < 1.0,
                "drawn {drawn} dB, ratio moved {change:.2} dB"
            );
        }
    }

    #[test]
    fn channel_keeps_the_rms_without_clipping() {
        let x: Vec<f32> = (0..16000)
            .map(|i| ((i * 7919 % 997) as f32 / 997.0) - 0.5)
            .collect();
        let mut y = x.clone();
        let channel = ChannelParams {
            tilt_db: 4.0,
            band: Band::Telephone,
            clip_drive: None,
        };
        apply_channel(&mut y, &channel);
        assert!((rms(&y) / rms(&x) - 1.0).abs() < 1e-4);
        assert_ne!(x, y);
    }

    #[test]
    fn soft_clipping_bounds_peaks_and_keeps_quiet_parts() {
        for drive in [1.0f32, 2.5, 4.0] {
            // A full-scale tone followed by a quiet one.
            let mut x = sine(440.0, 1.0, 8000);
            x.extend(sine(440.0, 0.01, 8000));
            let mut y = x.clone();
            soft_clip(&mut y, drive);
            let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(
                peak < 1.0 && peak <= drive.tanh() / drive + 1e-6,
                "peak {peak}"
            );
            let quiet = tone_power(&y[8000..], 440.0) / tone_power(&x[8000..], 440.0);
            assert!(db(quiet).abs() < 0.01, "quiet part moved {} dB", db(quiet));
            // The loud part is distorted: a third harmonic appears.
            let third = tone_power(&y[..8000], 1320.0) / tone_power(&y[..8000], 440.0);
            assert!(db(third) > -40.0, "third harmonic {} dB", db(third));
        }
    }
}
