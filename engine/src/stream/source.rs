//! Where samples come from: the microphone, a file, or a generated signal, all as 16 kHz mono
//! delivered in chunks of whatever size the source produces.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::StreamError;
use super::decide::KeywordEvent;
use super::detector::Detector;
use super::scorer::Scorer;
use crate::audio::{self, SAMPLE_RATE};
use crate::capture::{Capture, CaptureConfig, CaptureInfo, CaptureStats, Level};

/// The outcome of one [`SampleSource::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStatus {
    /// This many samples were appended.
    Data(usize),
    /// Nothing yet (a live source); try again shortly.
    Pending,
    /// The source is exhausted.
    End,
}

/// A stream of 16 kHz mono samples.
pub trait SampleSource: Send {
    /// Append the next samples to `out`.
    fn read(&mut self, out: &mut Vec<f32>) -> Result<ReadStatus, StreamError>;
    /// The input level, for sources that have one (the microphone).
    fn level(&self) -> Option<Level> {
        None
    }
    /// Capture counters (overruns), for live sources.
    fn capture_stats(&self) -> Option<CaptureStats> {
        None
    }
    /// What this source is, for messages.
    fn describe(&self) -> String;
}

/// How a [`VecSource`] cuts its samples into reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkPlan {
    /// Every read returns this many samples (the last one fewer).
    Fixed(usize),
    /// Read sizes drawn uniformly from `1..=max` with a seeded RNG (for invariance tests).
    Random { seed: u64, max: usize },
}

/// Samples in memory (a generated stream or a decoded file), delivered by a [`ChunkPlan`].
#[derive(Clone, Debug)]
pub struct VecSource {
    samples: Vec<f32>,
    pos: usize,
    plan: ChunkPlan,
    rng: ChaCha8Rng,
    name: String,
}

impl VecSource {
    /// Deliver `samples` in reads of 1600 samples (100 ms).
    pub fn new(samples: Vec<f32>) -> VecSource {
        VecSource {
            samples,
            pos: 0,
            plan: ChunkPlan::Fixed(1600),
            rng: ChaCha8Rng::seed_from_u64(0),
            name: "generated stream".into(),
        }
    }

    /// Use another chunking.
    pub fn with_chunks(mut self, plan: ChunkPlan) -> VecSource {
        if let ChunkPlan::Random { seed, .. } = plan {
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.plan = plan;
        self
    }

    /// Name it in messages.
    pub fn named(mut self, name: impl Into<String>) -> VecSource {
        self.name = name.into();
        self
    }

    pub fn samples(&self) -> &[f32] {
        &self.samples
    }
}

impl SampleSource for VecSource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<ReadStatus, StreamError> {
        let left = self.samples.len() - self.pos;
        if left == 0 {
            return Ok(ReadStatus::End);
        }
        let n = match self.plan {
            ChunkPlan::Fixed(n) => n.max(1),
            ChunkPlan::Random { max, .. } => self.rng.random_range(1..=max.max(1)),
        }
        .min(left);
        out.extend_from_slice(&self.samples[self.pos..self.pos + n]);
        self.pos += n;
        Ok(ReadStatus::Data(n))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// An audio file in any supported format, decoded, downmixed and resampled to 16 kHz up
/// front, then delivered like a [`VecSource`].
#[derive(Clone, Debug)]
pub struct FileSource {
    inner: VecSource,
    path: PathBuf,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource, StreamError> {
        let samples = audio::load_mono_16k(path)?;
        Ok(FileSource {
            inner: VecSource::new(samples).named(path.display().to_string()),
            path: path.to_path_buf(),
        })
    }

    pub fn with_chunks(mut self, plan: ChunkPlan) -> FileSource {
        self.inner = self.inner.with_chunks(plan);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The decoded samples.
    pub fn samples(&self) -> &[f32] {
        self.inner.samples()
    }
}

impl SampleSource for FileSource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<ReadStatus, StreamError> {
        self.inner.read(out)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// The microphone (see [`crate::capture`]). Never ends by itself; a failed device ends it
/// with an error.
#[derive(Debug)]
pub struct MicSource {
    capture: Capture,
}

impl MicSource {
    /// Open the input device.
    pub fn open(config: &CaptureConfig) -> Result<MicSource, StreamError> {
        Ok(MicSource {
            capture: Capture::open(config)?,
        })
    }

    /// Wrap an already open capture.
    pub fn from_capture(capture: Capture) -> MicSource {
        MicSource { capture }
    }

    pub fn info(&self) -> &CaptureInfo {
        self.capture.info()
    }
}

impl SampleSource for MicSource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<ReadStatus, StreamError> {
        match self.capture.read(out)? {
            0 => Ok(ReadStatus::Pending),
            n => Ok(ReadStatus::Data(n)),
        }
    }
    fn level(&self) -> Option<Level> {
        Some(self.capture.level())
    }
    fn capture_stats(&self) -> Option<CaptureStats> {
        Some(self.capture.stats())
    }
    fn describe(&self) -> String {
        self.capture.info().device.clone()
    }
}

/// Run `detector` over `source` until it ends, calling `on_event` for each event as it
/// happens (a pending live source is polled every 5 ms). Returns all events. The source must
/// deliver audio at the detector's rate (16 kHz).
pub fn run_source<S: Scorer>(
    detector: &mut Detector<S>,
    source: &mut dyn SampleSource,
    mut on_event: impl FnMut(&KeywordEvent),
) -> Result<Vec<KeywordEvent>, StreamError> {
    if detector.sample_rate() != SAMPLE_RATE {
        return Err(StreamError::SampleRate {
            expected: detector.sample_rate(),
            got: SAMPLE_RATE,
        });
    }
    let mut all = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match source.read(&mut buf)? {
            ReadStatus::Data(_) => {
                for ev in detector.push(&buf)? {
                    on_event(&ev);
                    all.push(ev);
                }
            }
            ReadStatus::Pending => std::thread::sleep(Duration::from_millis(5)),
            ReadStatus::End => return Ok(all),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(src: &mut dyn SampleSource) -> (Vec<f32>, Vec<usize>) {
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        while let ReadStatus::Data(n) = src.read(&mut out).unwrap() {
            sizes.push(n);
        }
        (out, sizes)
    }

    #[test]
    fn vec_sources_deliver_everything_in_their_chunking() {
        let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let (got, sizes) = drain(&mut VecSource::new(x.clone()).with_chunks(ChunkPlan::Fixed(300)));
        assert_eq!(got, x);
        assert_eq!(sizes, vec![300, 300, 300, 100]);
        let mut a = VecSource::new(x.clone()).with_chunks(ChunkPlan::Random { seed: 3, max: 50 });
        let mut b = VecSource::new(x.clone()).with_chunks(ChunkPlan::Random { seed: 3, max: 50 });
        let (ga, sa) = drain(&mut a);
        let (gb, sb) = drain(&mut b);
        assert_eq!((ga, sa.clone()), (gb, sb));
        assert!(sa.iter().all(|n| (1..=50).contains(n)));
        assert!(sa.len() > 20);
    }
}
