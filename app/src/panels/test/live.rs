//! Live detection: a [`LiveDetector`] over the microphone or an audio file, its messages
//! collected into score traces, an event list and the keyword firing now.

use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

use bifsmn_engine::audio::SAMPLE_RATE;
use bifsmn_engine::capture::{CaptureStats, Level};
use bifsmn_engine::stream::live::{LiveDetector, LiveMessage};
use bifsmn_engine::stream::{
    DetectorConfig, DetectorStats, KeywordEvent, ReadStatus, SampleSource, StreamError,
};

/// Seconds of score history shown.
pub(crate) const TRACE_SECONDS: f64 = 10.0;
/// Events kept in the list.
const MAX_EVENTS: usize = 500;
/// How long the big keyword stays up after an event.
pub(crate) const FIRING_FOR: Duration = Duration::from_millis(1500);

/// Where live audio comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SourceKind {
    #[default]
    Microphone,
    AudioFile,
}

/// A decoded file delivered in 100 ms chunks, either at the pace of real time (as a
/// microphone would) or as fast as the detector takes it. Reports the level of the last
/// chunk, so the meter moves for files too.
pub(crate) struct FileStream {
    samples: Vec<f32>,
    pos: usize,
    real_time: bool,
    started: Option<Instant>,
    level: Option<Level>,
    name: String,
}

impl FileStream {
    /// Decode `path` to 16 kHz mono (blocking: call on a worker). One second of silence is
    /// appended so that a keyword at the very end is scored, as `bifsmn listen --file` does.
    pub(crate) fn open(path: &Path, real_time: bool) -> Result<FileStream, StreamError> {
        let mut samples = bifsmn_engine::audio::load_mono_16k(path)?;
        samples.extend(std::iter::repeat_n(0.0, SAMPLE_RATE as usize));
        Ok(Self::new(samples, real_time, path.display().to_string()))
    }

    pub(crate) fn new(samples: Vec<f32>, real_time: bool, name: String) -> FileStream {
        FileStream {
            samples,
            pos: 0,
            real_time,
            started: None,
            level: None,
            name,
        }
    }
}

impl SampleSource for FileStream {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<ReadStatus, StreamError> {
        let left = self.samples.len() - self.pos;
        if left == 0 {
            return Ok(ReadStatus::End);
        }
        let chunk = SAMPLE_RATE as usize / 10;
        let n = if self.real_time {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = (started.elapsed().as_secs_f64() * SAMPLE_RATE as f64) as usize;
            let ready = due.saturating_sub(self.pos);
            if ready < chunk && ready < left {
                return Ok(ReadStatus::Pending);
            }
            ready.min(left)
        } else {
            chunk.min(left)
        };
        let part = &self.samples[self.pos..self.pos + n];
        let (peak, rms) = bifsmn_engine::audio::levels_dbfs(part);
        self.level = Some(Level {
            peak_dbfs: peak,
            rms_dbfs: rms,
        });
        out.extend_from_slice(part);
        self.pos += n;
        Ok(ReadStatus::Data(n))
    }

    fn level(&self) -> Option<Level> {
        self.level
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A running (or finished) detection and everything it reported.
pub(crate) struct LiveRun {
    live: Option<LiveDetector>,
    pub labels: Vec<String>,
    pub keywords: Vec<bool>,
    /// What is being listened to.
    pub source: String,
    pub kind: SourceKind,
    /// `(seconds from the stream start, smoothed posteriors)`, oldest first.
    pub points: VecDeque<(f64, Vec<f32>)>,
    /// Score points received in total.
    pub total_points: u64,
    /// Newest first.
    pub events: Vec<KeywordEvent>,
    pub last_event_at: Option<Instant>,
    pub level: Option<Level>,
    pub capture: Option<CaptureStats>,
    pub detector: Option<DetectorStats>,
    /// The thread ended (source exhausted, stopped or failed).
    pub ended: bool,
    pub error: Option<String>,
}

impl LiveRun {
    pub(crate) fn new(live: LiveDetector, kind: SourceKind, source: String) -> LiveRun {
        // `LiveRun` implements `Drop`, so no struct update: fill in an idle run instead.
        let mut run = LiveRun::idle(live.labels().to_vec());
        run.live = Some(live);
        run.source = source;
        run.kind = kind;
        run.ended = false;
        run
    }

    /// A run that never started: the model's classes with no scores (the empty plot shown
    /// before detection starts).
    pub(crate) fn idle(labels: Vec<String>) -> LiveRun {
        let keywords = bifsmn_engine::stream::default_keywords(&labels);
        LiveRun {
            live: None,
            labels,
            keywords,
            source: String::new(),
            kind: SourceKind::AudioFile,
            points: VecDeque::new(),
            total_points: 0,
            events: Vec::new(),
            last_event_at: None,
            level: None,
            capture: None,
            detector: None,
            ended: true,
            error: None,
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.live.is_some() && !self.ended
    }

    pub(crate) fn set_threshold(&self, t: f32) {
        if let Some(l) = &self.live {
            l.set_threshold(t);
        }
    }

    /// Take what the detection thread sent. Returns whether anything arrived.
    pub(crate) fn poll(&mut self) -> bool {
        let Some(live) = &self.live else {
            return false;
        };
        let mut any = false;
        for msg in live.messages().try_iter() {
            any = true;
            match msg {
                LiveMessage::Scores { sample, smoothed } => {
                    let t = sample as f64 / SAMPLE_RATE as f64;
                    self.points.push_back((t, smoothed));
                    self.total_points += 1;
                }
                LiveMessage::Event(ev) => {
                    self.events.insert(0, ev);
                    self.events.truncate(MAX_EVENTS);
                    self.last_event_at = Some(Instant::now());
                }
                LiveMessage::Level(l) => self.level = Some(l),
                LiveMessage::Stats {
                    detector, capture, ..
                } => {
                    self.detector = Some(detector);
                    if capture.is_some() {
                        self.capture = capture;
                    }
                }
                LiveMessage::Error(e) => self.error = Some(e),
                LiveMessage::Stopped { .. } => self.ended = true,
            }
        }
        // Keep a little more than the visible window.
        if let Some(&(last, _)) = self.points.back() {
            while self
                .points
                .front()
                .is_some_and(|(t, _)| *t < last - TRACE_SECONDS - 1.0)
            {
                self.points.pop_front();
            }
        }
        if self.ended
            && let Some(live) = self.live.take()
        {
            // Joining a thread that has ended is quick, but do it off the UI thread anyway.
            std::thread::spawn(move || drop(live));
        }
        any
    }

    /// Ask the thread to stop; it is joined on another thread.
    pub(crate) fn stop(&mut self) {
        if let Some(live) = self.live.take() {
            live.request_stop();
            std::thread::spawn(move || drop(live));
        }
        self.ended = true;
    }

    /// The event that is "firing" now (shown big), if the last one is recent.
    pub(crate) fn firing(&self) -> Option<&KeywordEvent> {
        self.last_event_at
            .filter(|t| t.elapsed() < FIRING_FOR)
            .and(self.events.first())
    }

    /// The stream time of the newest score point.
    pub(crate) fn now_s(&self) -> f64 {
        self.points.back().map_or(0.0, |p| p.0)
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Detector settings from the panel's.
pub(crate) fn detector_config(
    threshold: f32,
    smoothing: usize,
    refractory_ms: f32,
) -> DetectorConfig {
    DetectorConfig {
        threshold: threshold.clamp(0.0, 1.0),
        smoothing: smoothing.max(1),
        refractory_ms: refractory_ms.max(0.0),
        // The trace is kept by the panel; the detector's own copy only needs a few points.
        trace_len: 64,
        ..DetectorConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_time_file_is_delivered_at_the_pace_of_the_clock() {
        let mut s = FileStream::new(vec![0.1; 16_000], true, "t".into());
        let mut out = Vec::new();
        // Nothing is due at the start; about 100 ms later one chunk is.
        assert_eq!(s.read(&mut out).unwrap(), ReadStatus::Pending);
        std::thread::sleep(Duration::from_millis(130));
        match s.read(&mut out).unwrap() {
            ReadStatus::Data(n) => assert!((1600..4000).contains(&n), "{n}"),
            other => panic!("{other:?}"),
        }
        assert!(s.level().unwrap().peak_dbfs > -21.0);
        assert!(out.len() < 16_000);
    }

    #[test]
    fn a_fast_file_is_delivered_in_100_ms_chunks_to_the_end() {
        let mut s = FileStream::new(vec![0.0; 3_500], false, "t".into());
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        while let ReadStatus::Data(n) = s.read(&mut out).unwrap() {
            sizes.push(n);
        }
        assert_eq!(sizes, vec![1600, 1600, 300]);
        assert_eq!(s.read(&mut out).unwrap(), ReadStatus::End);
    }
}
