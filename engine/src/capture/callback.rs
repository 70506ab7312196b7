//! The real-time side of capture: what runs inside cpal's data callback, and the atomics it
//! shares with the reading thread.
//!
//! The callback runs on the audio thread with a deadline of one device period (a few ms). A
//! heap allocation, a mutex or a log line can block for longer than that (the allocator and
//! the logger take locks, and the thread holding one may be descheduled), and then the device
//! drops audio. So [`on_block`] does arithmetic, one `rtrb` write and relaxed atomic stores,
//! nothing else; everything it reports goes through [`Shared`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use cpal::{FromSample, Sample};
use serde::Serialize;

/// Counters and the level meter, written by the audio thread, read by anyone.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Frames delivered by the device (kept or dropped).
    pub captured_frames: AtomicU64,
    /// Frames dropped because the ring buffer was full (the reader fell behind).
    pub overrun_frames: AtomicU64,
    /// Callbacks that had to drop frames.
    pub overrun_blocks: AtomicU64,
    /// Overruns reported by the device itself (cpal `Xrun` errors).
    pub device_xruns: AtomicU64,
    /// Peak and RMS of the last block, linear, as `f32` bits.
    pub peak_bits: AtomicU32,
    pub rms_bits: AtomicU32,
    /// Set when the stream died (device unplugged, backend error).
    pub failed: AtomicBool,
}

impl Shared {
    pub(crate) fn stats(&self) -> CaptureStats {
        CaptureStats {
            captured_frames: self.captured_frames.load(Ordering::Relaxed),
            overrun_frames: self.overrun_frames.load(Ordering::Relaxed),
            overrun_blocks: self.overrun_blocks.load(Ordering::Relaxed),
            device_xruns: self.device_xruns.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn level(&self) -> Level {
        Level::from_linear(
            f32::from_bits(self.peak_bits.load(Ordering::Relaxed)),
            f32::from_bits(self.rms_bits.load(Ordering::Relaxed)),
        )
    }
}

/// Capture counters since the stream started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CaptureStats {
    /// Frames (one sample per channel) the device delivered.
    pub captured_frames: u64,
    /// Frames dropped because the reader did not keep up (ring buffer full).
    pub overrun_frames: u64,
    /// Device callbacks in which frames were dropped.
    pub overrun_blocks: u64,
    /// Overruns the device or driver reported itself.
    pub device_xruns: u64,
}

/// Level of the last captured block (all channels), in dBFS; `-inf` for digital silence.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Level {
    pub peak_dbfs: f32,
    pub rms_dbfs: f32,
}

impl Level {
    fn from_linear(peak: f32, rms: f32) -> Level {
        Level {
            peak_dbfs: 20.0 * peak.log10(),
            rms_dbfs: 20.0 * rms.log10(),
        }
    }
}

/// A cloneable handle on a capture's level meter and counters, for another thread (e.g. the
/// GUI's meter widget). Reading never blocks the audio thread.
#[derive(Clone, Debug)]
pub struct LevelMeter(pub(crate) Arc<Shared>);

impl LevelMeter {
    /// Peak and RMS of the last block.
    pub fn level(&self) -> Level {
        self.0.level()
    }
    /// Counters since the stream started.
    pub fn stats(&self) -> CaptureStats {
        self.0.stats()
    }
    /// Whether the stream has died.
    pub fn failed(&self) -> bool {
        self.0.failed.load(Ordering::Relaxed)
    }
}

/// The body of the data callback: convert `data` (interleaved, `channels` per frame) to
/// `f32`, copy whole frames into the ring, count what did not fit, publish the level.
///
/// Real-time rules: no allocation (`write_chunk_uninit` + `fill_from_iter` write in place), no
/// lock (`rtrb` is wait-free, the counters are atomics), no logging, no syscalls. When the
/// ring is full the newest frames are dropped (a single producer cannot discard the oldest)
/// and counted, so the reader learns about the gap.
pub(crate) fn on_block<T>(
    data: &[T],
    channels: usize,
    producer: &mut rtrb::Producer<f32>,
    shared: &Shared,
) where
    T: Sample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    let frames = data.len() / channels;
    let fit = (producer.slots() / channels).min(frames);
    if fit > 0
        && let Ok(chunk) = producer.write_chunk_uninit(fit * channels)
    {
        chunk.fill_from_iter(data[..fit * channels].iter().map(|s| s.to_sample::<f32>()));
    }
    if fit < frames {
        shared
            .overrun_frames
            .fetch_add((frames - fit) as u64, Ordering::Relaxed);
        shared.overrun_blocks.fetch_add(1, Ordering::Relaxed);
    }
    shared
        .captured_frames
        .fetch_add(frames as u64, Ordering::Relaxed);

    if !data.is_empty() {
        let (mut peak, mut sum) = (0.0f32, 0.0f32);
        for s in data {
            let v = s.to_sample::<f32>();
            peak = peak.max(v.abs());
            sum += v * v;
        }
        let rms = (sum / data.len() as f32).sqrt();
        shared.peak_bits.store(peak.to_bits(), Ordering::Relaxed);
        shared.rms_bits.store(rms.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frames_are_copied_and_the_rest_counted_as_overrun() {
        let (mut prod, mut cons) = rtrb::RingBuffer::<f32>::new(7);
        let shared = Shared::default();
        // 5 stereo frames into 7 slots: 3 frames fit (6 slots), 2 are dropped.
        let data: Vec<i16> = (0..10).map(|i| i * 1000).collect();
        on_block(&data, 2, &mut prod, &shared);
        assert_eq!(cons.slots(), 6);
        let chunk = cons.read_chunk(6).unwrap();
        let (a, b) = chunk.as_slices();
        let got: Vec<f32> = a.iter().chain(b).copied().collect();
        chunk.commit_all();
        let want: Vec<f32> = (0..6).map(|i| (i * 1000) as f32 / 32768.0).collect();
        assert_eq!(got, want);
        let s = shared.stats();
        assert_eq!(s.captured_frames, 5);
        assert_eq!(s.overrun_frames, 2);
        assert_eq!(s.overrun_blocks, 1);
    }

    #[test]
    fn unsigned_samples_are_centred_and_the_level_is_published() {
        let (mut prod, mut cons) = rtrb::RingBuffer::<f32>::new(16);
        let shared = Shared::default();
        on_block(&[32768u16, 49152, 16384, 32768], 1, &mut prod, &shared);
        let mut got = Vec::new();
        while let Ok(v) = cons.pop() {
            got.push(v);
        }
        assert_eq!(got, vec![0.0, 0.5, -0.5, 0.0]);
        let level = shared.level();
        assert!((level.peak_dbfs - 20.0 * 0.5f32.log10()).abs() < 1e-4);
        let rms = (0.5f32 * 0.5 / 2.0).sqrt();
        assert!((level.rms_dbfs - 20.0 * rms.log10()).abs() < 1e-4);
        assert_eq!(shared.stats().overrun_frames, 0);
    }
}
