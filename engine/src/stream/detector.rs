//! [`Detector`]: windowing, scoring and deciding, with score traces and timing.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::StreamError;
use super::decide::{Decider, DecisionConfig, KeywordEvent};
use super::scorer::{Scorer, default_keywords};
use super::trace::ScoreTrace;
use super::window::Windower;

/// Detector settings. Times are in milliseconds and converted with the scorer's sample rate.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorConfig {
    /// Distance between window ends. See the module docs for why 100 ms.
    pub hop_ms: f32,
    /// Moving-average length in windows.
    pub smoothing: usize,
    /// Smoothed posterior at which a keyword fires.
    pub threshold: f32,
    /// Quiet time after an event, any class.
    pub refractory_ms: f32,
    /// Labels allowed to fire; `None` = all but unknown/silence ([`default_keywords`]).
    pub keywords: Option<Vec<String>>,
    /// Windows kept in the score trace (600 = one minute at a 100 ms hop).
    pub trace_len: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            hop_ms: 100.0,
            smoothing: 3,
            threshold: 0.7,
            refractory_ms: 1000.0,
            keywords: None,
            trace_len: 600,
        }
    }
}

impl DetectorConfig {
    /// The decision settings for `labels` at `rate` Hz.
    pub fn decision(&self, labels: &[String], rate: u32) -> Result<DecisionConfig, StreamError> {
        let keywords = match &self.keywords {
            None => default_keywords(labels),
            Some(words) => {
                if let Some(w) = words.iter().find(|w| !labels.contains(w)) {
                    return Err(StreamError::Config(format!(
                        "keyword {w:?} is not a class of the model (classes: {})",
                        labels.join(", ")
                    )));
                }
                labels.iter().map(|l| words.contains(l)).collect()
            }
        };
        Ok(DecisionConfig {
            threshold: self.threshold,
            smoothing: self.smoothing,
            refractory: ms_to_samples(self.refractory_ms, rate) as u64,
            keywords,
            labels: labels.to_vec(),
            sample_rate: rate,
        })
    }

    /// The hop in samples at `rate` Hz (at least 1).
    pub fn hop_samples(&self, rate: u32) -> usize {
        ms_to_samples(self.hop_ms, rate).max(1)
    }
}

fn ms_to_samples(ms: f32, rate: u32) -> usize {
    (ms.max(0.0) as f64 * rate as f64 / 1000.0).round() as usize
}

/// Compute time spent scoring, against the audio it covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct DetectorStats {
    /// Windows scored.
    pub windows: u64,
    /// Audio pushed, seconds.
    pub audio_seconds: f64,
    /// Time spent in the scorer (features + forward + softmax), seconds.
    pub compute_seconds: f64,
    /// `compute_seconds / audio_seconds`: below 1 keeps up with real time.
    pub real_time_factor: f64,
    pub mean_window_ms: f64,
    pub max_window_ms: f64,
}

/// Where the delay from the end of a keyword to its event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub window_ms: f64,
    pub hop_ms: f64,
    /// Waiting for the next window end after the keyword ended: up to one hop (mean half).
    pub hop_wait_max_ms: f64,
    /// The moving average needs `smoothing - 1` more windows to fully include a new score;
    /// the event fires once the mean crosses the threshold, at most this much later.
    pub smoothing_max_ms: f64,
    /// Worst-case algorithmic latency for a scorer that recognises a word once it is wholly
    /// in the window: `hop_wait_max_ms + smoothing_max_ms`.
    pub algorithmic_max_ms: f64,
    /// Measured compute time per window (mean and max so far); the event is known this long
    /// after its window ended.
    pub compute_mean_ms: f64,
    pub compute_max_ms: f64,
}

/// Streaming keyword detector over a [`Scorer`].
pub struct Detector<S: Scorer> {
    scorer: S,
    windower: Windower,
    decider: Decider,
    trace: ScoreTrace,
    posteriors: Vec<f32>,
    compute: Duration,
    compute_max: Duration,
    windows: u64,
    config: DetectorConfig,
    rate: u32,
}

impl<S: Scorer> std::fmt::Debug for Detector<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("config", &self.config)
            .field("position", &self.windower.position())
            .finish_non_exhaustive()
    }
}

impl<S: Scorer> Detector<S> {
    pub fn new(scorer: S, config: DetectorConfig) -> Result<Detector<S>, StreamError> {
        let rate = scorer.sample_rate();
        let window = scorer.window_len();
        let windower =
            Windower::new(window, config.hop_samples(rate)).map_err(StreamError::Config)?;
        let decider =
            Decider::new(config.decision(scorer.labels(), rate)?).map_err(StreamError::Config)?;
        Ok(Detector {
            posteriors: vec![0.0; scorer.labels().len()],
            trace: ScoreTrace::new(config.trace_len),
            scorer,
            windower,
            decider,
            compute: Duration::ZERO,
            compute_max: Duration::ZERO,
            windows: 0,
            config,
            rate,
        })
    }

    /// Feed samples (any number, at [`Detector::sample_rate`]); returns the events of every
    /// window completed by them, in order.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<KeywordEvent>, StreamError> {
        let mut events = Vec::new();
        let Self {
            scorer,
            windower,
            decider,
            trace,
            posteriors,
            compute,
            compute_max,
            windows,
            ..
        } = self;
        windower.push(samples, |end, window| {
            let t0 = Instant::now();
            scorer.score(window, posteriors)?;
            let dt = t0.elapsed();
            *compute += dt;
            *compute_max = (*compute_max).max(dt);
            *windows += 1;
            if let Some(ev) = decider.step(end, posteriors) {
                events.push(ev);
            }
            trace.record(end, posteriors, decider.smoothed());
            Ok::<_, StreamError>(())
        })?;
        Ok(events)
    }

    /// Push one window of silence so that a keyword at the very end of a finite stream is
    /// scored in full (the position advances by the window length).
    pub fn flush(&mut self) -> Result<Vec<KeywordEvent>, StreamError> {
        let zeros = vec![0.0; self.windower.window()];
        self.push(&zeros)
    }

    /// Samples pushed so far.
    pub fn position(&self) -> u64 {
        self.windower.position()
    }

    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    pub fn labels(&self) -> &[String] {
        self.scorer.labels()
    }

    /// Which classes may fire.
    pub fn keywords(&self) -> &[bool] {
        &self.decider.config().keywords
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The score history (bounded; see [`DetectorConfig::trace_len`]).
    pub fn trace(&self) -> &ScoreTrace {
        &self.trace
    }

    /// The smoothed posteriors of the last window.
    pub fn smoothed(&self) -> &[f32] {
        self.decider.smoothed()
    }

    pub fn scorer(&self) -> &S {
        &self.scorer
    }

    /// Change the threshold from the next window on.
    pub fn set_threshold(&mut self, threshold: f32) {
        self.decider.set_threshold(threshold);
        self.config.threshold = self.decider.config().threshold;
    }

    /// Start over at sample 0 (history, trace and timing cleared).
    pub fn reset(&mut self) {
        self.windower.reset();
        self.decider.reset();
        self.trace.clear();
        self.compute = Duration::ZERO;
        self.compute_max = Duration::ZERO;
        self.windows = 0;
    }

    /// Compute time against audio time.
    pub fn stats(&self) -> DetectorStats {
        let audio = self.position() as f64 / self.rate as f64;
        let compute = self.compute.as_secs_f64();
        DetectorStats {
            windows: self.windows,
            audio_seconds: audio,
            compute_seconds: compute,
            real_time_factor: if audio > 0.0 { compute / audio } else { 0.0 },
            mean_window_ms: if self.windows > 0 {
                1000.0 * compute / self.windows as f64
            } else {
                0.0
            },
            max_window_ms: self.compute_max.as_secs_f64() * 1000.0,
        }
    }

    /// Latency budget: the algorithmic part from the settings, the compute part measured.
    pub fn latency(&self) -> Latency {
        let ms = |samples: usize| 1000.0 * samples as f64 / self.rate as f64;
        let hop = ms(self.windower.hop());
        let smoothing = hop * (self.config.smoothing.saturating_sub(1)) as f64;
        let stats = self.stats();
        Latency {
            window_ms: ms(self.windower.window()),
            hop_ms: hop,
            hop_wait_max_ms: hop,
            smoothing_max_ms: smoothing,
            algorithmic_max_ms: hop + smoothing,
            compute_mean_ms: stats.mean_window_ms,
            compute_max_ms: stats.max_window_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::ToneScorer;

    fn tone_at(len: usize, at: usize, tone_len: usize, hz: f32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                if (at..at + tone_len).contains(&i) {
                    0.3 * (2.0 * std::f32::consts::PI * hz * i as f32 / 16_000.0).sin()
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn a_tone_fires_once_after_it_ended() {
        let x = tone_at(64_000, 20_000, 8000, ToneScorer::standard_freq(1));
        let mut d =
            Detector::new(ToneScorer::standard(2, 8000), DetectorConfig::default()).unwrap();
        let events = d.push(&x).unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        let ev = &events[0];
        assert_eq!(ev.label, "kw1");
        // The tone is 20000..28000: the event comes after it started and at most the
        // algorithmic latency after it ended.
        assert!(ev.keyword_end <= ev.sample);
        let latest = 28_000 + d.latency().algorithmic_max_ms as u64 * 16;
        assert!((20_000..=latest).contains(&ev.sample), "{ev:?}");
        let stats = d.stats();
        assert_eq!(stats.windows, 40);
        assert_eq!(stats.audio_seconds, 4.0);
        assert_eq!(d.trace().len(), 40);
    }

    #[test]
    fn unknown_keyword_names_are_refused() {
        let cfg = DetectorConfig {
            keywords: Some(vec!["nope".into()]),
            ..DetectorConfig::default()
        };
        assert!(Detector::new(ToneScorer::standard(2, 8000), cfg).is_err());
    }
}
