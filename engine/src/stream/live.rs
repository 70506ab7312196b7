//! A detection thread: reads a [`SampleSource`], runs a [`Detector`], and reports through a
//! channel. This is how the GUI and `bifsmn listen` drive live detection: the caller never
//! blocks on the detector, it drains [`LiveMessage`]s when it likes (e.g. once per frame).
//!
//! ```no_run
//! use bifsmn_engine::capture::CaptureConfig;
//! use bifsmn_engine::stream::live::{LiveDetector, LiveMessage};
//! use bifsmn_engine::stream::{DetectorConfig, MicSource, ModelScorer};
//!
//! let scorer = ModelScorer::load("model.bkw".as_ref(), 0)?;
//! let mic = MicSource::open(&CaptureConfig::default())?; // device errors surface here
//! let live = LiveDetector::spawn(Box::new(mic), scorer, DetectorConfig::default())?;
//! for msg in live.messages().iter() {
//!     if let LiveMessage::Event(ev) = msg {
//!         println!("{} at {:.2} s", ev.label, ev.time_s);
//!     }
//! }
//! # Ok::<(), bifsmn_engine::stream::StreamError>(())
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, bounded};
use serde::Serialize;

use super::StreamError;
use super::decide::KeywordEvent;
use super::detector::{Detector, DetectorConfig, DetectorStats, Latency};
use super::scorer::Scorer;
use super::source::{ReadStatus, SampleSource};
use crate::audio::SAMPLE_RATE;
use crate::capture::{CaptureStats, Level};

/// What the detection thread reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// A keyword was detected.
    Event(KeywordEvent),
    /// The smoothed scores of one window (10 per second at the default hop).
    Scores { sample: u64, smoothed: Vec<f32> },
    /// Input level, about 20 times per second (live sources only).
    Level(Level),
    /// Counters, about once per second and once more before [`LiveMessage::Stopped`].
    Stats {
        detector: DetectorStats,
        latency: Latency,
        capture: Option<CaptureStats>,
    },
    /// The source or the scorer failed; the thread stops after this.
    Error(String),
    /// The thread has ended (source exhausted, stopped, or failed); last message.
    Stopped { position: u64 },
}

/// Handle on a running detection thread. Dropping it stops the thread.
pub struct LiveDetector {
    rx: Receiver<LiveMessage>,
    stop: Arc<AtomicBool>,
    threshold: Arc<AtomicU32>,
    thread: Option<JoinHandle<()>>,
    labels: Vec<String>,
}

impl LiveDetector {
    /// Start detecting on `source` with `scorer`. Configuration errors are returned here;
    /// errors while running arrive as [`LiveMessage::Error`].
    pub fn spawn<S: Scorer + 'static>(
        source: Box<dyn SampleSource>,
        scorer: S,
        config: DetectorConfig,
    ) -> Result<LiveDetector, StreamError> {
        let threshold = Arc::new(AtomicU32::new(config.threshold.to_bits()));
        let detector = Detector::new(scorer, config)?;
        // Every source delivers 16 kHz; a model for another rate would be fed the wrong audio.
        if detector.sample_rate() != SAMPLE_RATE {
            return Err(StreamError::SampleRate {
                expected: detector.sample_rate(),
                got: SAMPLE_RATE,
            });
        }
        let labels = detector.labels().to_vec();
        // Bounded: if the reader stalls, scores and levels are dropped rather than piling up;
        // events wait (up to a second) for room.
        let (tx, rx) = bounded(4096);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            detector,
            source,
            tx,
            stop: Arc::clone(&stop),
            threshold: Arc::clone(&threshold),
        };
        let thread = std::thread::Builder::new()
            .name("bifsmn-detect".into())
            .spawn(move || worker.run())
            .map_err(|e| StreamError::Config(format!("cannot start the detection thread: {e}")))?;
        Ok(LiveDetector {
            rx,
            stop,
            threshold,
            thread: Some(thread),
            labels,
        })
    }

    /// The message channel (drain with `try_iter()` each frame, or `iter()` to block).
    pub fn messages(&self) -> &Receiver<LiveMessage> {
        &self.rx
    }

    /// The model's class names (index = [`KeywordEvent::class`], order of `smoothed`).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Change the threshold while running.
    pub fn set_threshold(&self, threshold: f32) {
        self.threshold
            .store(threshold.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    /// Ask the thread to stop without waiting; it sends its final [`LiveMessage::Stats`] and
    /// [`LiveMessage::Stopped`] and ends.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Ask the thread to stop and wait for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LiveDetector {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker<S: Scorer> {
    detector: Detector<S>,
    source: Box<dyn SampleSource>,
    tx: Sender<LiveMessage>,
    stop: Arc<AtomicBool>,
    threshold: Arc<AtomicU32>,
}

impl<S: Scorer> Worker<S> {
    fn run(mut self) {
        if let Err(e) = self.run_inner() {
            let _ = self
                .tx
                .send_timeout(LiveMessage::Error(e.to_string()), Duration::from_secs(1));
        }
        // Final counters, so that even a short run reports them.
        let _ = self.tx.try_send(LiveMessage::Stats {
            detector: self.detector.stats(),
            latency: self.detector.latency(),
            capture: self.source.capture_stats(),
        });
        let _ = self.tx.send_timeout(
            LiveMessage::Stopped {
                position: self.detector.position(),
            },
            Duration::from_secs(1),
        );
    }

    fn run_inner(&mut self) -> Result<(), StreamError> {
        let mut buf = Vec::new();
        let mut last_level = Instant::now();
        let mut last_stats = Instant::now();
        let mut threshold = self.detector.config().threshold;
        while !self.stop.load(Ordering::Relaxed) {
            let t = f32::from_bits(self.threshold.load(Ordering::Relaxed));
            if t != threshold {
                threshold = t;
                self.detector.set_threshold(t);
            }
            buf.clear();
            match self.source.read(&mut buf)? {
                ReadStatus::Data(_) => {
                    let before = self.detector.trace().last().map(|p| p.sample);
                    let events = self.detector.push(&buf)?;
                    self.send_scores(before);
                    for ev in events {
                        // Events matter: wait for room, but not forever (a stalled reader
                        // must not stall detection), and stop when the reader is gone.
                        if let Err(SendTimeoutError::Disconnected(_)) = self
                            .tx
                            .send_timeout(LiveMessage::Event(ev), Duration::from_secs(1))
                        {
                            return Ok(());
                        }
                    }
                }
                ReadStatus::Pending => std::thread::sleep(Duration::from_millis(5)),
                ReadStatus::End => {
                    for ev in self.detector.flush()? {
                        let _ = self
                            .tx
                            .send_timeout(LiveMessage::Event(ev), Duration::from_secs(1));
                    }
                    return Ok(());
                }
            }
            if last_level.elapsed() >= Duration::from_millis(50) {
                last_level = Instant::now();
                if let Some(level) = self.source.level() {
                    let _ = self.tx.try_send(LiveMessage::Level(level));
                }
            }
            if last_stats.elapsed() >= Duration::from_secs(1) {
                last_stats = Instant::now();
                let _ = self.tx.try_send(LiveMessage::Stats {
                    detector: self.detector.stats(),
                    latency: self.detector.latency(),
                    capture: self.source.capture_stats(),
                });
            }
        }
        Ok(())
    }

    /// Send the trace points added since `before` (dropped if the channel is full).
    fn send_scores(&self, before: Option<u64>) {
        for p in self.detector.trace().iter() {
            if before.is_some_and(|b| p.sample <= b) {
                continue;
            }
            let _ = self.tx.try_send(LiveMessage::Scores {
                sample: p.sample,
                smoothed: p.smoothed.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{ToneScorer, VecSource};

    #[test]
    fn a_generated_stream_runs_to_the_end_and_reports_its_keyword() {
        let mut x = vec![0.0f32; 48_000];
        for (i, v) in x[16_000..24_000].iter_mut().enumerate() {
            *v = 0.3 * (2.0 * std::f32::consts::PI * 500.0 * i as f32 / 16_000.0).sin();
        }
        let live = LiveDetector::spawn(
            Box::new(VecSource::new(x)),
            ToneScorer::standard(1, 8000),
            DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!(live.labels(), ["unknown", "kw0"]);
        let msgs: Vec<LiveMessage> = live.messages().iter().collect();
        let events: Vec<&KeywordEvent> = msgs
            .iter()
            .filter_map(|m| match m {
                LiveMessage::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].label, "kw0");
        let scores = msgs
            .iter()
            .filter(|m| matches!(m, LiveMessage::Scores { .. }))
            .count();
        assert_eq!(scores, 30); // 48000 / 1600 windows (the flush ones are not sent)
        assert_eq!(
            msgs.last(),
            Some(&LiveMessage::Stopped { position: 64_000 })
        );
    }
}
