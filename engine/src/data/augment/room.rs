//! Room reverberation from a synthetic impulse response.
//!
//! The response is the classic decaying-noise model (e.g. Lehmann & Johansson's diffuse tail):
//! a unit direct-path impulse at time 0, silence for a short pre-delay (the gap before the
//! first reflections arrive), then Gaussian noise under an exponential envelope whose energy
//! falls 60 dB in RT60 seconds. Real rooms absorb high frequencies faster (air absorption,
//! soft furnishings), so the tail is low-passed by a one-pole filter whose cutoff falls
//! log-linearly from 8 kHz at the start of the tail to `tail_cutoff_hz` at t = RT60. The
//! filter output is rescaled to unit power as the cutoff moves, so the broadband energy decay
//! is exactly the drawn RT60 while the tail grows darker: high frequencies decay faster than
//! the broadband RT60, low ones slower. The tail is then scaled to the drawn direct-to-
//! reverberant ratio (DRR): 10 log10(direct energy / tail energy).
//!
//! The clip is convolved with the response through one FFT and cropped to its own length,
//! then rescaled to its original RMS: the room changes the timbre and smearing, not the level
//! (the level is set by the gain step).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::UniformRange;
use super::dsp::{FS, convolve_fft, gaussian, rms, scale_to_rms};

/// Reverberation step settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomConfig {
    pub enabled: bool,
    /// Probability that a clip is reverberated (when enabled).
    pub prob: f64,
    /// Broadband reverberation time in seconds: the tail's energy falls 60 dB in this time.
    pub rt60_s: UniformRange,
    /// Direct-to-reverberant energy ratio in dB (high: close to the mic; low: across a room).
    pub drr_db: UniformRange,
    /// Gap between the direct path and the start of the tail, in milliseconds.
    pub predelay_ms: UniformRange,
    /// Cutoff of the tail's low-pass at t = RT60, in Hz (lower: duller, more absorbent room).
    pub tail_cutoff_hz: UniformRange,
}

impl Default for RoomConfig {
    /// Off; when switched on: half the clips, living rooms to halls (RT60 0.1-1.0 s), the
    /// speaker from close (+12 dB DRR) to across the room (-3 dB), 2-8 ms pre-delay.
    fn default() -> Self {
        Self {
            enabled: false,
            prob: 0.5,
            rt60_s: UniformRange::new(0.1, 1.0),
            drr_db: UniformRange::new(-3.0, 12.0),
            predelay_ms: UniformRange::new(2.0, 8.0),
            tail_cutoff_hz: UniformRange::new(300.0, 2000.0),
        }
    }
}

/// One drawn room.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomParams {
    pub rt60_s: f32,
    pub drr_db: f32,
    pub predelay_ms: f32,
    pub tail_cutoff_hz: f32,
}

impl RoomConfig {
    /// The probability a clip gets this step (0 when switched off).
    pub fn chance(&self) -> f64 {
        if self.enabled { self.prob } else { 0.0 }
    }

    /// Draw one room's parameters.
    pub fn draw(&self, rng: &mut impl Rng) -> RoomParams {
        RoomParams {
            rt60_s: self.rt60_s.draw(rng),
            drr_db: self.drr_db.draw(rng),
            predelay_ms: self.predelay_ms.draw(rng),
            tail_cutoff_hz: self.tail_cutoff_hz.draw(rng),
        }
    }
}

/// Cutoff of the tail's low-pass at the start of the tail: the top of the 16 kHz band, so
/// the first reflections are as bright as the direct sound.
const TAIL_START_CUTOFF_HZ: f64 = 8000.0;
/// The tail's filter coefficient is updated every this many samples (2 ms): the cutoff moves
/// slowly, and an exponential per sample would cost more than the rest of the tail.
const CUTOFF_BLOCK: usize = 32;

/// The impulse response of a drawn room: min(1.2 RT60, 1 s) long (the tail is 72 dB down by
/// 1.2 RT60), direct path of amplitude 1 at sample 0.
pub fn room_impulse_response(room: &RoomParams, rng: &mut impl Rng) -> Vec<f32> {
    let rt60 = f64::from(room.rt60_s).max(0.01);
    let len = ((1.2 * rt60 * FS).round() as usize).clamp(2, FS as usize);
    let predelay =
        ((f64::from(room.predelay_ms.max(0.0)) / 1000.0 * FS).round() as usize).clamp(1, len - 1);
    let mut ir = vec![0.0f32; len];
    ir[0] = 1.0;
    let end_cutoff = f64::from(room.tail_cutoff_hz).clamp(20.0, TAIL_START_CUTOFF_HZ);
    decaying_tail(&mut ir[predelay..], rt60, end_cutoff, rng);
    // Direct energy is 1, so the tail's energy must be 10^(-DRR/10).
    let tail_energy: f64 = ir[1..].iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    if tail_energy > 0.0 {
        let target = 10f64.powf(-f64::from(room.drr_db) / 10.0);
        let g = (target / tail_energy).sqrt() as f32;
        ir[1..].iter_mut().for_each(|v| *v *= g);
    }
    ir
}

/// Fill `tail` with low-passed Gaussian noise under an envelope falling 60 dB in `rt60`
/// seconds, the low-pass cutoff falling from 8 kHz to `end_cutoff` Hz at t = rt60.
fn decaying_tail(tail: &mut [f32], rt60: f64, end_cutoff: f64, rng: &mut impl Rng) {
    // Amplitude falls by 10^3 (60 dB in energy) over rt60 * FS samples.
    let decay_per_sample = (-3.0 * std::f64::consts::LN_10 / (rt60 * FS)).exp();
    let cutoff_ratio = end_cutoff / TAIL_START_CUTOFF_HZ;
    let mut envelope = 1.0f64;
    let mut state = 0.0f64;
    for (b, block) in tail.chunks_mut(CUTOFF_BLOCK).enumerate() {
        let t = (b * CUTOFF_BLOCK) as f64 / FS;
        let cutoff = TAIL_START_CUTOFF_HZ * cutoff_ratio.powf(t / rt60);
        let a = (-2.0 * std::f64::consts::PI * cutoff / FS).exp();
        // A one-pole low-pass y = (1 - a) x + a y' turns unit-power white noise into noise of
        // power (1 - a) / (1 + a); undo that so only the colour changes, not the level.
        let unit_power = ((1.0 + a) / (1.0 - a)).sqrt();
        for v in block {
            state = (1.0 - a) * f64::from(gaussian(rng)) + a * state;
            *v = (envelope * state * unit_power) as f32;
            envelope *= decay_per_sample;
        }
    }
}

/// Convolve `x` with the room's response, keep `x`'s length and RMS.
pub fn reverberate(x: &[f32], ir: &[f32]) -> Vec<f32> {
    let mut y = convolve_fft(x, ir);
    scale_to_rms(&mut y, rms(x));
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::augment::clip_rng;

    fn room(rt60_s: f32, drr_db: f32) -> RoomParams {
        RoomParams {
            rt60_s,
            drr_db,
            predelay_ms: 5.0,
            tail_cutoff_hz: 500.0,
        }
    }

    /// RT60 from the Schroeder energy decay curve of the reverberant part: the slope of a
    /// least-squares line through the curve between -5 and -25 dB (T20), extrapolated to 60 dB.
    fn schroeder_rt60(tail: &[f32]) -> f64 {
        let mut edc: Vec<f64> = tail.iter().map(|&v| f64::from(v) * f64::from(v)).collect();
        for i in (0..edc.len() - 1).rev() {
            edc[i] += edc[i + 1];
        }
        let total = edc[0];
        let points: Vec<(f64, f64)> = edc
            .iter()
            .enumerate()
            .map(|(i, &e)| (i as f64 / FS, 10.0 * (e / total).log10()))
            .filter(|&(_, db)| (-25.0..=-5.0).contains(&db))
            .collect();
        let n = points.len() as f64;
        let (mt, md) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), &(t, d)| (a + t / n, b + d / n));
        let cov: f64 = points.iter().map(|&(t, d)| (t - mt) * (d - md)).sum();
        let var: f64 = points.iter().map(|&(t, _)| (t - mt) * (t - mt)).sum();
        -60.0 / (cov / var)
    }

    #[test]
    fn decay_curve_gives_the_drawn_rt60_for_short_and_long_rooms() {
        for (i, rt60) in [0.15f32, 0.3, 0.6, 0.95].into_iter().enumerate() {
            for seed in 0..3 {
                let ir = room_impulse_response(&room(rt60, 3.0), &mut clip_rng(seed, 0, i as u64));
                assert_eq!(
                    ir.len(),
                    ((1.2 * rt60 * 16000.0).round() as usize).min(16000)
                );
                let fitted = schroeder_rt60(&ir[1..]);
                let err = (fitted / f64::from(rt60) - 1.0).abs();
                assert!(err < 0.25, "RT60 {rt60}: fitted {fitted:.3} s");
            }
        }
    }

    #[test]
    fn response_has_the_drawn_direct_to_reverberant_ratio_and_pre_delay() {
        for drr in [-3.0f32, 0.0, 12.0] {
            let ir = room_impulse_response(&room(0.5, drr), &mut clip_rng(4, 0, 0));
            assert_eq!(ir[0], 1.0);
            // 5 ms pre-delay = 80 samples of silence after the direct path.
            assert!(ir[1..80].iter().all(|&v| v == 0.0));
            assert!(ir[80..90].iter().any(|&v| v != 0.0));
            let tail: f64 = ir[1..].iter().map(|&v| f64::from(v).powi(2)).sum();
            assert!((10.0 * (1.0 / tail).log10() - f64::from(drr)).abs() < 0.01);
        }
    }

    #[test]
    fn tail_gets_darker_as_it_decays() {
        // High frequencies decay faster: the zero-crossing rate (a proxy for the spectral
        // centroid) of the late tail is well below that of the early tail.
        let ir = room_impulse_response(&room(0.8, 0.0), &mut clip_rng(5, 0, 0));
        let rate = |x: &[f32]| {
            x.windows(2)
                .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
                .count() as f64
                / x.len() as f64
        };
        let early = rate(&ir[100..2000]);
        let late = rate(&ir[8000..12000]);
        assert!(late < 0.7 * early, "early {early:.3}, late {late:.3}");
    }

    #[test]
    fn reverberation_keeps_length_and_rms_and_smears_in_time() {
        let mut x = vec![0.0f32; 16000];
        for (i, v) in x[4000..6000].iter_mut().enumerate() {
            *v = 0.3 * (i as f32 * 0.07).sin();
        }
        let ir = room_impulse_response(&room(0.7, 0.0), &mut clip_rng(6, 0, 0));
        let y = reverberate(&x, &ir);
        assert_eq!(y.len(), x.len());
        assert!((rms(&y) / rms(&x) - 1.0).abs() < 1e-4);
        // The tone stopped at 6000; the room keeps it ringing afterwards.
        assert!(rms(&y[7000..9000]) > 0.01 * rms(&y[4000..6000]));
        assert_eq!(reverberate(&[], &ir), Vec::<f32>::new());
    }
}
