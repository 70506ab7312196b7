//! Streaming conversion of interleaved audio at any rate and channel count to 16 kHz mono.
//!
//! [`crate::audio::resample`] converts a whole buffer at once; a live stream arrives in pieces
//! of arbitrary size, so this keeps a rubato FFT resampler with fixed input chunks and a small
//! pending buffer between calls. The resampler's start-up delay is trimmed, so output sample
//! `k` corresponds to input time `k / 16000` s: capture timestamps stay honest.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use super::CaptureError;
use crate::audio::SAMPLE_RATE;

/// Input frames per resampler call: about 20 ms at 48 kHz, which bounds the added latency.
const CHUNK_FRAMES: usize = 1024;

/// Downmix + resample to 16 kHz mono, fed in chunks of any size.
pub struct ToMono16k {
    channels: usize,
    rate: u32,
    /// `None` when the input is already 16 kHz.
    resampler: Option<Fft<f32>>,
    /// Mono input not yet resampled.
    pending: Vec<f32>,
    /// Resampler output buffer (one call's worth).
    out_buf: Vec<f32>,
    /// Leading output frames still to drop (the resampler's delay).
    skip: usize,
    /// Mono frames consumed by the resampler and samples emitted, for the exact flush length.
    frames_in: u64,
    frames_out: u64,
}

impl std::fmt::Debug for ToMono16k {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToMono16k")
            .field("channels", &self.channels)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl ToMono16k {
    /// A converter from `rate` Hz with `channels` interleaved channels.
    pub fn new(rate: u32, channels: u16) -> Result<ToMono16k, CaptureError> {
        if rate == 0 || channels == 0 {
            return Err(CaptureError::Resampler {
                from: rate,
                reason: format!("invalid input: {rate} Hz, {channels} channels"),
            });
        }
        let resampler = if rate == SAMPLE_RATE {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    rate as usize,
                    SAMPLE_RATE as usize,
                    CHUNK_FRAMES,
                    1,
                    FixedSync::Input,
                )
                .map_err(|e| CaptureError::Resampler {
                    from: rate,
                    reason: e.to_string(),
                })?,
            )
        };
        let (skip, out_len) = resampler
            .as_ref()
            .map_or((0, 0), |r| (r.output_delay(), r.output_frames_max()));
        Ok(ToMono16k {
            channels: channels as usize,
            rate,
            resampler,
            pending: Vec::new(),
            out_buf: vec![0.0; out_len],
            skip,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Input sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Convert `interleaved` (whole frames; a trailing partial frame is ignored) and append
    /// the 16 kHz mono samples that are ready to `out`. Returns how many were appended.
    pub fn push(&mut self, interleaved: &[f32], out: &mut Vec<f32>) -> Result<usize, CaptureError> {
        let before = out.len();
        let mono = interleaved
            .chunks_exact(self.channels)
            .map(|f| f.iter().sum::<f32>() / self.channels as f32);
        if self.resampler.is_none() {
            out.extend(mono);
            return Ok(out.len() - before);
        }
        self.pending.extend(mono);
        self.drain(out, false)?;
        Ok(out.len() - before)
    }

    /// Convert what is still pending and push the resampler's delay out with silence, so
    /// that the whole input has been converted (`ceil(frames * 16000 / rate)` samples in
    /// total); append the rest to `out`. Call at the end of a finite stream.
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<usize, CaptureError> {
        let before = out.len();
        if self.resampler.is_none() {
            return Ok(0);
        }
        self.drain(out, true)?;
        let target = (self.frames_in * SAMPLE_RATE as u64).div_ceil(self.rate as u64);
        while self.frames_out < target {
            // A chunk of pure silence (partial length 0) moves the delayed tail out.
            let emitted = self.process(None, out)?;
            if emitted == 0 && self.skip == 0 {
                break;
            }
        }
        if self.frames_out > target {
            let extra = (self.frames_out - target) as usize;
            out.truncate(out.len() - extra);
            self.frames_out = target;
        }
        Ok(out.len() - before)
    }

    /// Resample every full chunk of `pending` (and, when `last`, the partial one too).
    fn drain(&mut self, out: &mut Vec<f32>, last: bool) -> Result<(), CaptureError> {
        let Some(need) = self.resampler.as_ref().map(|r| r.input_frames_next()) else {
            return Ok(());
        };
        let pending = std::mem::take(&mut self.pending);
        let mut used = 0;
        let result = loop {
            let have = pending.len() - used;
            if have == 0 || (have < need && !last) {
                break Ok(());
            }
            let n = have.min(need);
            if let Err(e) = self.process(Some(&pending[used..used + n]), out) {
                break Err(e);
            }
            used += n;
        };
        self.pending = pending;
        self.pending.drain(..used);
        result
    }

    /// One resampler call on `input` (at most one chunk; `None` = a chunk of silence). Returns
    /// the samples appended to `out` after dropping the start-up delay.
    fn process(
        &mut self,
        input: Option<&[f32]>,
        out: &mut Vec<f32>,
    ) -> Result<usize, CaptureError> {
        let rate = self.rate;
        let err = |reason: String| CaptureError::Resampler { from: rate, reason };
        let Some(r) = self.resampler.as_mut() else {
            return Ok(0);
        };
        let need = r.input_frames_next();
        let data = input.unwrap_or(&[]);
        let n = data.len();
        // A zero-frame adapter is not allowed; silence is fed as partial length 0 of a
        // one-frame buffer.
        let zero = [0.0f32];
        let (buf, frames) = if n == 0 { (&zero[..], 1) } else { (data, n) };
        let input = InterleavedSlice::new(buf, 1, frames).map_err(|e| err(format!("{e:?}")))?;
        let out_frames = self.out_buf.len();
        let mut output = InterleavedSlice::new_mut(&mut self.out_buf, 1, out_frames)
            .map_err(|e| err(format!("{e:?}")))?;
        let indexing = (n < need).then(|| Indexing::new().partial_len(n));
        let (_, produced) = r
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| err(e.to_string()))?;
        self.frames_in += n as u64;
        let drop = self.skip.min(produced);
        self.skip -= drop;
        out.extend_from_slice(&self.out_buf[drop..produced]);
        let emitted = produced - drop;
        self.frames_out += emitted as u64;
        Ok(emitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, secs: f32, hz: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn sixteen_khz_mono_passes_through_unchanged() {
        let x = tone(16_000, 0.1, 440.0);
        let mut c = ToMono16k::new(16_000, 1).unwrap();
        let mut out = Vec::new();
        for piece in x.chunks(37) {
            c.push(piece, &mut out).unwrap();
        }
        c.flush(&mut out).unwrap();
        assert_eq!(out, x);
    }

    #[test]
    fn stereo_is_averaged() {
        let mut c = ToMono16k::new(16_000, 2).unwrap();
        let mut out = Vec::new();
        c.push(&[1.0, 0.0, 0.5, -0.5, 0.25], &mut out).unwrap();
        assert_eq!(out, vec![0.5, 0.0]);
    }

    #[test]
    fn chunked_resampling_is_aligned_and_independent_of_chunk_sizes() {
        let rate = 44_100;
        let x = tone(rate, 1.0, 440.0);
        let whole = {
            let mut c = ToMono16k::new(rate, 1).unwrap();
            let mut out = Vec::new();
            c.push(&x, &mut out).unwrap();
            c.flush(&mut out).unwrap();
            out
        };
        let pieces = {
            let mut c = ToMono16k::new(rate, 1).unwrap();
            let mut out = Vec::new();
            let mut i = 0;
            let mut n = 1;
            while i < x.len() {
                let end = (i + n).min(x.len());
                c.push(&x[i..end], &mut out).unwrap();
                i = end;
                n = n * 7 % 1301 + 1;
            }
            c.flush(&mut out).unwrap();
            out
        };
        assert_eq!(whole, pieces);
        assert_eq!(whole.len(), 16_000);
        // Delay trimmed: the output tracks a 16 kHz rendering of the same tone (to a fraction
        // of a sample: a 0.1-sample shift of this tone is an error of 0.009).
        let reference = tone(16_000, 1.0, 440.0);
        let err: f32 = whole[1000..15000]
            .iter()
            .zip(&reference[1000..15000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.03, "max error {err}");
    }
}
