//! Small signal-processing pieces shared by the augmentation steps: levels, IIR filters, FFT
//! convolution and a cheap Gaussian source. All at the model's 16 kHz.

use std::cell::RefCell;

use rand::{Rng, RngExt};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use crate::audio::SAMPLE_RATE;

/// The model's sample rate as a float, for filter design.
pub(super) const FS: f64 = SAMPLE_RATE as f64;

/// Root mean square (0 for an empty slice). Summed in f64: a clip is 16000 squares.
pub(super) fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let sum: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    (sum / x.len() as f64).sqrt() as f32
}

/// Scale `x` so its RMS is `target`; a silent `x` is left silent.
pub(super) fn scale_to_rms(x: &mut [f32], target: f32) {
    let now = rms(x);
    if now > 0.0 && target.is_finite() {
        let g = target / now;
        x.iter_mut().for_each(|v| *v *= g);
    }
}

/// Dot product with eight partial sums, so the compiler can vectorise it (a single running
/// sum must be added in order and stays scalar). This is the inner loop of the WSOLA search.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let mut a8 = a.chunks_exact(8);
    let mut b8 = b.chunks_exact(8);
    for (ca, cb) in (&mut a8).zip(&mut b8) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// A standard normal variate, approximated by the Irwin-Hall sum of four uniforms from one
/// 64-bit draw (mean 0, variance 1, bounded at +-3.46). A reverberation tail needs white,
/// roughly Gaussian noise, and this costs no logarithm or square root per sample.
pub(super) fn gaussian(rng: &mut impl Rng) -> f32 {
    let bits: u64 = rng.random();
    let sum: u32 = (0..4).map(|k| ((bits >> (16 * k)) & 0xFFFF) as u32).sum();
    // Each 16-bit uniform has mean 32767.5 and variance (65536^2 - 1) / 12.
    const MEAN: f32 = 4.0 * 32767.5;
    const STD: f32 = 37837.23; // sqrt(4 * (65536^2 - 1) / 12)
    (sum as f32 - MEAN) / STD
}

/// A second-order IIR section (RBJ "Audio EQ cookbook" designs, bilinear transform with
/// pre-warping), run by [`run_cascade`] in transposed direct form II with f64 state: a 50 Hz
/// high-pass at 16 kHz has poles close to the unit circle, where f32 state adds noise.
#[derive(Clone, Copy, Debug)]
pub(super) struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

impl Biquad {
    pub(super) fn lowpass(cutoff_hz: f64, q: f64) -> Self {
        let (cos, alpha) = Self::angle(cutoff_hz, q);
        Self::normalised(
            [(1.0 - cos) / 2.0, 1.0 - cos, (1.0 - cos) / 2.0],
            cos,
            alpha,
        )
    }

    pub(super) fn highpass(cutoff_hz: f64, q: f64) -> Self {
        let (cos, alpha) = Self::angle(cutoff_hz, q);
        Self::normalised(
            [(1.0 + cos) / 2.0, -(1.0 + cos), (1.0 + cos) / 2.0],
            cos,
            alpha,
        )
    }

    /// First-order high-pass (gain 0 at DC, exactly 1 at Nyquist).
    pub(super) fn first_order_highpass(cutoff_hz: f64) -> Self {
        let k = (std::f64::consts::PI * clamp_cutoff(cutoff_hz) / FS).tan();
        let b0 = 1.0 / (1.0 + k);
        Self {
            b0,
            b1: -b0,
            b2: 0.0,
            a1: (k - 1.0) / (k + 1.0),
            a2: 0.0,
        }
    }

    fn angle(cutoff_hz: f64, q: f64) -> (f64, f64) {
        let w0 = 2.0 * std::f64::consts::PI * clamp_cutoff(cutoff_hz) / FS;
        (w0.cos(), w0.sin() / (2.0 * q))
    }

    fn normalised(b: [f64; 3], cos: f64, alpha: f64) -> Self {
        let a0 = 1.0 + alpha;
        Self {
            b0: b[0] / a0,
            b1: b[1] / a0,
            b2: b[2] / a0,
            a1: -2.0 * cos / a0,
            a2: (1.0 - alpha) / a0,
        }
    }

    /// A first-order high shelf: unity gain at DC, `gain` at Nyquist, the transition at
    /// `corner_hz`. It is 1 + (gain - 1) HP with HP the first-order high-pass, folded into one
    /// section: over the common denominator 1 + a1 z^-1 the numerator is
    /// (1 + a1 z^-1) + (gain - 1)(b0 + b1 z^-1).
    pub(super) fn high_shelf(corner_hz: f64, gain: f64) -> Self {
        let hp = Self::first_order_highpass(corner_hz);
        Self {
            b0: 1.0 + (gain - 1.0) * hp.b0,
            b1: hp.a1 + (gain - 1.0) * hp.b1,
            ..hp
        }
    }
}

/// Run a cascade of sections over `x` in place, from a zero state. All sections advance in
/// one pass, sample by sample: each section's recursion is a serial chain of multiply-adds,
/// and interleaving the sections lets the CPU overlap their chains (about 3x faster than one
/// pass per section).
pub(super) fn run_cascade(sections: &[Biquad], x: &mut [f32]) {
    let mut state = vec![(0.0f64, 0.0f64); sections.len()];
    for v in x.iter_mut() {
        let mut signal = f64::from(*v);
        for (s, (s1, s2)) in sections.iter().zip(state.iter_mut()) {
            let out = s.b0 * signal + *s1;
            *s1 = s.b1 * signal - s.a1 * out + *s2;
            *s2 = s.b2 * signal - s.a2 * out;
            signal = out;
        }
        *v = signal as f32;
    }
}

/// Keep a cutoff strictly inside (0, Nyquist), where the bilinear designs are defined.
fn clamp_cutoff(hz: f64) -> f64 {
    hz.clamp(1.0, 0.49 * FS)
}

/// The Q of each second-order section of an even-order Butterworth filter: the poles sit at
/// angles (2k - 1) pi / (2 order) from the negative real axis, and Q = 1 / (2 cos(angle)).
fn butterworth_qs(order: usize) -> impl Iterator<Item = f64> {
    (1..=order / 2).map(move |k| {
        let angle = (2 * k - 1) as f64 * std::f64::consts::PI / (2 * order) as f64;
        1.0 / (2.0 * angle.cos())
    })
}

/// The sections of a Butterworth low-pass of even `order` (flat pass band, -3 dB at the
/// cutoff).
pub(super) fn butterworth_lowpass(cutoff_hz: f64, order: usize) -> impl Iterator<Item = Biquad> {
    butterworth_qs(order).map(move |q| Biquad::lowpass(cutoff_hz, q))
}

/// The sections of a Butterworth high-pass of even `order`.
pub(super) fn butterworth_highpass(cutoff_hz: f64, order: usize) -> impl Iterator<Item = Biquad> {
    butterworth_qs(order).map(move |q| Biquad::highpass(cutoff_hz, q))
}

thread_local! {
    /// One planner per thread: it caches every plan it makes, so each FFT size is planned once
    /// per thread, and no lock is shared between the rayon workers augmenting clips.
    static PLANNER: RefCell<RealFftPlanner<f32>> = RefCell::new(RealFftPlanner::new());
}

/// The smallest FFT size of the form 2^k or 3 * 2^k that holds `n` samples. Only a handful
/// of sizes ever occur (so the plan cache stays small), and both radices are fast.
pub(super) fn fft_len(n: usize) -> usize {
    let pow2 = n.max(1).next_power_of_two();
    let three = 3 * (pow2 / 4);
    if three >= n { three.max(1) } else { pow2 }
}

/// The first `signal.len()` samples of the linear convolution `signal * ir`, through one
/// zero-padded real FFT (long enough that nothing wraps around).
pub(super) fn convolve_fft(signal: &[f32], ir: &[f32]) -> Vec<f32> {
    if signal.is_empty() || ir.is_empty() {
        return signal.to_vec();
    }
    let n = fft_len(signal.len() + ir.len() - 1);
    let (forward, inverse) = PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        (p.plan_fft_forward(n), p.plan_fft_inverse(n))
    });
    let mut buffer = forward.make_input_vec();
    let mut signal_spectrum = forward.make_output_vec();
    let mut ir_spectrum = forward.make_output_vec();
    let mut scratch = forward.make_scratch_vec();
    buffer[..signal.len()].copy_from_slice(signal);
    // The buffers come from the plan, so their lengths are right and the transforms cannot
    // fail; should one fail anyway, the clip is returned dry rather than garbled.
    if forward
        .process_with_scratch(&mut buffer, &mut signal_spectrum, &mut scratch)
        .is_err()
    {
        return signal.to_vec();
    }
    buffer.iter_mut().for_each(|v| *v = 0.0);
    buffer[..ir.len()].copy_from_slice(ir);
    if forward
        .process_with_scratch(&mut buffer, &mut ir_spectrum, &mut scratch)
        .is_err()
    {
        return signal.to_vec();
    }
    multiply_spectra(&mut signal_spectrum, &ir_spectrum, n);
    let mut out = inverse.make_output_vec();
    let mut inverse_scratch = inverse.make_scratch_vec();
    if inverse
        .process_with_scratch(&mut signal_spectrum, &mut out, &mut inverse_scratch)
        .is_err()
    {
        return signal.to_vec();
    }
    out.truncate(signal.len());
    out
}

/// a <- a * b / n (realfft's inverse is unscaled). The DC and Nyquist bins of a real signal's
/// spectrum are real; their imaginary parts are set to exactly zero, as the inverse requires.
fn multiply_spectra(a: &mut [Complex<f32>], b: &[Complex<f32>], n: usize) {
    let scale = 1.0 / n as f32;
    for (x, y) in a.iter_mut().zip(b) {
        *x = *x * *y * scale;
    }
    if let Some(first) = a.first_mut() {
        first.im = 0.0;
    }
    if let Some(last) = a.last_mut() {
        last.im = 0.0;
    }
}

#[cfg(test)]
pub(super) mod test_signals {
    //! Test helpers: tones and their measured power.

    use super::FS;

    pub fn sine(freq: f64, amplitude: f32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / FS).sin() as f32)
            .collect()
    }

    /// Power of `x` at `freq` (single-bin DFT with a Hann window, as mean-square amplitude).
    pub fn tone_power(x: &[f32], freq: f64) -> f64 {
        let n = x.len() as f64;
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, &v) in x.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
            let phase = 2.0 * std::f64::consts::PI * freq * i as f64 / FS;
            re += w * f64::from(v) * phase.cos();
            im += w * f64::from(v) * phase.sin();
            wsum += w;
        }
        let amplitude = 2.0 * (re * re + im * im).sqrt() / wsum;
        amplitude * amplitude / 2.0
    }

    pub fn db(ratio: f64) -> f64 {
        10.0 * ratio.log10()
    }
}

#[cfg(test)]
mod tests {
    use super::test_signals::*;
    use super::*;

    #[test]
    fn fft_convolution_matches_direct_convolution() {
        let x: Vec<f32> = (0..1000).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
        let h: Vec<f32> = (0..300).map(|i| 1.0 / (1.0 + i as f32)).collect();
        let y = convolve_fft(&x, &h);
        assert_eq!(y.len(), x.len());
        for n in [0, 1, 299, 300, 650, 999] {
            let direct: f32 = (0..=n.min(299)).map(|k| h[k] * x[n - k]).sum();
            assert!((y[n] - direct).abs() < 1e-3, "n {n}: {} vs {direct}", y[n]);
        }
        assert_eq!(fft_len(1000), 1024);
        assert_eq!(fft_len(700), 768);
        assert_eq!(fft_len(35199), 49152);
    }

    #[test]
    fn butterworth_is_flat_in_the_pass_band_and_steep_past_the_cutoff() {
        let lowpass: Vec<Biquad> = butterworth_lowpass(2000.0, 4).collect();
        let mut low = sine(500.0, 1.0, 16000);
        run_cascade(&lowpass, &mut low);
        assert!(db(tone_power(&low[4000..], 500.0) / 0.5).abs() < 0.2);
        let mut high = sine(4000.0, 1.0, 16000);
        run_cascade(&lowpass, &mut high);
        // Fourth order: about -24 dB an octave above the cutoff (-27 with pre-warping).
        assert!(db(tone_power(&high[4000..], 4000.0) / 0.5) < -22.0);
    }

    #[test]
    fn gaussian_has_unit_variance() {
        let mut rng = super::super::clip_rng(1, 2, 3);
        let xs: Vec<f32> = (0..20000).map(|_| gaussian(&mut rng)).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / xs.len() as f32;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
