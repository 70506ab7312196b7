//! Detection error trade-off on an evaluation stream: false accepts per hour against the
//! false-reject rate, for a sweep of thresholds.
//!
//! The stream is windowed and scored once; each threshold gets its own [`Decider`] fed the
//! same posteriors (the decision logic is the live detector's, only the scoring is shared),
//! so a sweep costs one pass of the model.
//!
//! Matching: a detection is a hit when its label is a keyword placement's word and its
//! decision sample lies in `[speech_start, speech_end + tolerance]` of that placement, and
//! the placement was not matched yet. Every other detection (wrong word, a distractor, noise,
//! a second detection of the same keyword) is a false accept. Placed keywords without a hit
//! are false rejects. FA/h divides by the whole stream's duration.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::StreamError;
use super::decide::{Decider, KeywordEvent};
use super::detector::{DetectorConfig, DetectorStats, Latency};
use super::mix::{MixedStream, Placement, PlacementKind};
use super::scorer::Scorer;
use super::window::Windower;

/// Sweep settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalConfig {
    /// Thresholds to evaluate.
    pub thresholds: Vec<f32>,
    /// How long after the end of the speech a detection still counts, ms. Windows keep
    /// containing a word for up to one window length after it started, plus smoothing.
    pub tolerance_ms: f32,
    /// Hop, smoothing, refractory time, keywords (its `threshold` is ignored).
    pub detector: DetectorConfig,
    /// Report the threshold with the lowest FRR whose FA/h is at most this.
    pub target_fa_per_hour: Option<f64>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            thresholds: default_thresholds(),
            tolerance_ms: 1000.0,
            detector: DetectorConfig::default(),
            target_fa_per_hour: Some(0.5),
        }
    }
}

/// 0.30, 0.35, ..., 0.95, then 0.97 and 0.99.
pub fn default_thresholds() -> Vec<f32> {
    let mut t: Vec<f32> = (6..=19).map(|i| i as f32 * 0.05).collect();
    t.extend([0.97, 0.99]);
    t
}

/// How detections and placements paired up.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Matching {
    /// `(event index, placement index)`.
    pub hits: Vec<(usize, usize)>,
    /// Event indices.
    pub false_accepts: Vec<usize>,
    /// Placement indices of keywords that were not detected.
    pub misses: Vec<usize>,
}

/// Pair `events` (sorted by sample) with keyword `placements`; see the module docs.
pub fn match_events(events: &[KeywordEvent], placements: &[Placement], tolerance: u64) -> Matching {
    let mut matched = vec![false; placements.len()];
    let mut m = Matching::default();
    for (ei, ev) in events.iter().enumerate() {
        let hit = placements.iter().position(|p| {
            p.kind == PlacementKind::Keyword
                && !matched[p.index]
                && p.word == ev.label
                && (p.speech_start..=p.speech_end + tolerance).contains(&ev.sample)
        });
        match hit {
            Some(pi) => {
                matched[pi] = true;
                m.hits.push((ei, pi));
            }
            None => m.false_accepts.push(ei),
        }
    }
    m.misses = placements
        .iter()
        .filter(|p| p.kind == PlacementKind::Keyword && !matched[p.index])
        .map(|p| p.index)
        .collect();
    m
}

/// False-reject rate of the keywords placed at one SNR.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SnrFrr {
    pub snr_db: f32,
    pub keywords: usize,
    pub misses: usize,
    pub frr: f64,
}

/// One point of the DET curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetPoint {
    pub threshold: f32,
    pub detections: usize,
    pub hits: usize,
    pub misses: usize,
    pub false_accepts: usize,
    pub fa_per_hour: f64,
    /// Misses / placed keywords.
    pub frr: f64,
    pub frr_by_snr: Vec<SnrFrr>,
    /// Decision sample minus the end of the speech, over the hits (ms): the algorithmic
    /// sound-to-event latency (compute time comes on top, see [`Latency`]).
    pub latency_ms_median: Option<f64>,
    pub latency_ms_p90: Option<f64>,
}

/// The threshold chosen for a false-accept target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetResult {
    pub target_fa_per_hour: f64,
    /// `None` when no threshold in the sweep meets the target.
    pub point: Option<DetPoint>,
}

/// Everything `bifsmn stream-eval` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    pub stream_seconds: f64,
    pub hours: f64,
    pub keywords_placed: usize,
    pub distractors_placed: usize,
    pub hop_ms: f32,
    pub smoothing: usize,
    pub refractory_ms: f32,
    pub tolerance_ms: f32,
    pub labels: Vec<String>,
    pub points: Vec<DetPoint>,
    pub target: Option<TargetResult>,
    /// Scoring time over the stream: the real-time factor of the detector.
    pub compute: DetectorStats,
    pub latency: Latency,
}

/// Events per threshold, from one scoring pass.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepEvents {
    pub thresholds: Vec<f32>,
    pub events: Vec<Vec<KeywordEvent>>,
    pub compute: DetectorStats,
    pub latency: Latency,
    pub labels: Vec<String>,
}

/// Window and score `samples` once, deciding with every threshold of `thresholds`.
pub fn sweep<S: Scorer>(
    scorer: &mut S,
    samples: &[f32],
    detector: &DetectorConfig,
    thresholds: &[f32],
) -> Result<SweepEvents, StreamError> {
    let rate = scorer.sample_rate();
    let labels = scorer.labels().to_vec();
    let hop = detector.hop_samples(rate);
    let mut windower = Windower::new(scorer.window_len(), hop).map_err(StreamError::Config)?;
    let mut deciders = thresholds
        .iter()
        .map(|&t| {
            let cfg = DetectorConfig {
                threshold: t,
                ..detector.clone()
            };
            Decider::new(cfg.decision(&labels, rate)?).map_err(StreamError::Config)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut events = vec![Vec::new(); thresholds.len()];
    let mut posteriors = vec![0.0; labels.len()];
    let (mut compute, mut compute_max, mut windows) = (Duration::ZERO, Duration::ZERO, 0u64);
    windower.push(samples, |end, window| {
        let t0 = Instant::now();
        scorer.score(window, &mut posteriors)?;
        let dt = t0.elapsed();
        compute += dt;
        compute_max = compute_max.max(dt);
        windows += 1;
        for (d, ev) in deciders.iter_mut().zip(events.iter_mut()) {
            ev.extend(d.step(end, &posteriors));
        }
        Ok::<_, StreamError>(())
    })?;
    let audio = samples.len() as f64 / rate as f64;
    let secs = compute.as_secs_f64();
    let mean_ms = if windows > 0 {
        1000.0 * secs / windows as f64
    } else {
        0.0
    };
    let hop_ms = 1000.0 * hop as f64 / rate as f64;
    let smoothing_ms = hop_ms * detector.smoothing.saturating_sub(1) as f64;
    Ok(SweepEvents {
        thresholds: thresholds.to_vec(),
        events,
        compute: DetectorStats {
            windows,
            audio_seconds: audio,
            compute_seconds: secs,
            real_time_factor: if audio > 0.0 { secs / audio } else { 0.0 },
            mean_window_ms: mean_ms,
            max_window_ms: compute_max.as_secs_f64() * 1000.0,
        },
        latency: Latency {
            window_ms: 1000.0 * scorer.window_len() as f64 / rate as f64,
            hop_ms,
            hop_wait_max_ms: hop_ms,
            smoothing_max_ms: smoothing_ms,
            algorithmic_max_ms: hop_ms + smoothing_ms,
            compute_mean_ms: mean_ms,
            compute_max_ms: compute_max.as_secs_f64() * 1000.0,
        },
        labels,
    })
}

/// Score one threshold's events against the placements.
pub fn det_point(
    threshold: f32,
    events: &[KeywordEvent],
    placements: &[Placement],
    hours: f64,
    tolerance: u64,
    rate: u32,
) -> DetPoint {
    let m = match_events(events, placements, tolerance);
    let keywords: Vec<&Placement> = placements
        .iter()
        .filter(|p| p.kind == PlacementKind::Keyword)
        .collect();
    let mut by_snr: BTreeMap<i64, (f32, usize, usize)> = BTreeMap::new();
    for p in &keywords {
        // Keyed by the SNR in hundredths of a dB: f32 is not Ord.
        let e = by_snr
            .entry((p.snr_db * 100.0).round() as i64)
            .or_insert((p.snr_db, 0, 0));
        e.1 += 1;
    }
    for &pi in &m.misses {
        let p = &placements[pi];
        if let Some(e) = by_snr.get_mut(&((p.snr_db * 100.0).round() as i64)) {
            e.2 += 1;
        }
    }
    let mut latencies: Vec<f64> = m
        .hits
        .iter()
        .map(|&(ei, pi)| {
            1000.0 * (events[ei].sample as f64 - placements[pi].speech_end as f64) / rate as f64
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        (!latencies.is_empty())
            .then(|| latencies[((latencies.len() - 1) as f64 * q).round() as usize])
    };
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    DetPoint {
        threshold,
        detections: events.len(),
        hits: m.hits.len(),
        misses: m.misses.len(),
        false_accepts: m.false_accepts.len(),
        fa_per_hour: if hours > 0.0 {
            m.false_accepts.len() as f64 / hours
        } else {
            0.0
        },
        frr: ratio(m.misses.len(), keywords.len()),
        frr_by_snr: by_snr
            .into_values()
            .rev()
            .map(|(snr_db, n, miss)| SnrFrr {
                snr_db,
                keywords: n,
                misses: miss,
                frr: ratio(miss, n),
            })
            .collect(),
        latency_ms_median: quantile(0.5),
        latency_ms_p90: quantile(0.9),
    }
}

/// The point with the lowest FRR among those with at most `target` FA/h (ties: the lower
/// threshold, which detects more).
pub fn pick_threshold(points: &[DetPoint], target: f64) -> Option<&DetPoint> {
    points
        .iter()
        .filter(|p| p.fa_per_hour <= target)
        .min_by(|a, b| {
            a.frr
                .total_cmp(&b.frr)
                .then(a.threshold.total_cmp(&b.threshold))
        })
}

/// Sweep the thresholds of `config` over `stream` with `scorer`.
pub fn evaluate<S: Scorer>(
    scorer: &mut S,
    stream: &MixedStream,
    config: &EvalConfig,
) -> Result<EvalReport, StreamError> {
    let rate = scorer.sample_rate();
    if rate != stream.info.sample_rate {
        return Err(StreamError::SampleRate {
            expected: rate,
            got: stream.info.sample_rate,
        });
    }
    let sweep = sweep(
        scorer,
        &stream.samples,
        &config.detector,
        &config.thresholds,
    )?;
    let seconds = stream.samples.len() as f64 / rate as f64;
    let hours = seconds / 3600.0;
    let tolerance = (config.tolerance_ms.max(0.0) as f64 * rate as f64 / 1000.0) as u64;
    let points: Vec<DetPoint> = sweep
        .thresholds
        .iter()
        .zip(&sweep.events)
        .map(|(&t, ev)| det_point(t, ev, &stream.placements, hours, tolerance, rate))
        .collect();
    let target = config.target_fa_per_hour.map(|target| TargetResult {
        target_fa_per_hour: target,
        point: pick_threshold(&points, target).cloned(),
    });
    let count = |k: PlacementKind| stream.placements.iter().filter(|p| p.kind == k).count();
    Ok(EvalReport {
        stream_seconds: seconds,
        hours,
        keywords_placed: count(PlacementKind::Keyword),
        distractors_placed: count(PlacementKind::Distractor),
        hop_ms: config.detector.hop_ms,
        smoothing: config.detector.smoothing,
        refractory_ms: config.detector.refractory_ms,
        tolerance_ms: config.tolerance_ms,
        labels: sweep.labels,
        points,
        target,
        compute: sweep.compute,
        latency: sweep.latency,
    })
}

/// The DET points as CSV (one row per threshold).
pub fn points_csv(points: &[DetPoint]) -> String {
    let mut out = String::from(
        "threshold,detections,hits,misses,false_accepts,fa_per_hour,frr,latency_ms_median,latency_ms_p90\n",
    );
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    for p in points {
        out.push_str(&format!(
            "{},{},{},{},{},{:.4},{:.4},{},{}\n",
            p.threshold,
            p.detections,
            p.hits,
            p.misses,
            p.false_accepts,
            p.fa_per_hour,
            p.frr,
            opt(p.latency_ms_median),
            opt(p.latency_ms_p90)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(index: usize, kind: PlacementKind, word: &str, start: u64) -> Placement {
        Placement {
            index,
            kind,
            word: word.into(),
            clip: format!("{word}/x_nohash_{index}.wav"),
            start,
            end: start + 16_000,
            speech_start: start + 4000,
            speech_end: start + 12_000,
            snr_db: if index.is_multiple_of(2) { 10.0 } else { 5.0 },
            actual_snr_db: 10.0,
            gain: 1.0,
        }
    }

    fn event(label: &str, sample: u64) -> KeywordEvent {
        KeywordEvent {
            class: 0,
            label: label.into(),
            score: 0.9,
            sample,
            keyword_end: sample,
            time_s: sample as f64 / 16_000.0,
        }
    }

    #[test]
    fn matching_counts_hits_wrong_words_duplicates_and_misses() {
        let ps = vec![
            placement(0, PlacementKind::Keyword, "yes", 0),
            placement(1, PlacementKind::Keyword, "no", 100_000),
            placement(2, PlacementKind::Distractor, "bed", 200_000),
            placement(3, PlacementKind::Keyword, "yes", 300_000),
        ];
        let events = vec![
            event("yes", 13_000),           // hit 0 (1000 after the speech end)
            event("yes", 14_000),           // duplicate: false accept
            event("yes", 110_000),          // wrong word for placement 1: false accept
            event("no", 215_000),           // on a distractor: false accept
            event("yes", 312_000 + 16_001), // just past the tolerance: false accept
        ];
        let m = match_events(&events, &ps, 16_000);
        assert_eq!(m.hits, vec![(0, 0)]);
        assert_eq!(m.false_accepts, vec![1, 2, 3, 4]);
        assert_eq!(m.misses, vec![1, 3]);

        let p = det_point(0.5, &events, &ps, 0.5, 16_000, 16_000);
        assert_eq!((p.hits, p.misses, p.false_accepts), (1, 2, 4));
        assert_eq!(p.fa_per_hour, 8.0);
        assert!((p.frr - 2.0 / 3.0).abs() < 1e-12);
        // Placement 0 is at 10 dB (hit), 1 and 3 at 5 dB (both missed).
        assert_eq!(p.frr_by_snr.len(), 2);
        assert_eq!((p.frr_by_snr[0].snr_db, p.frr_by_snr[0].frr), (10.0, 0.0));
        assert_eq!((p.frr_by_snr[1].snr_db, p.frr_by_snr[1].frr), (5.0, 1.0));
        assert_eq!(p.latency_ms_median, Some(62.5));
    }

    #[test]
    fn the_target_picks_the_lowest_frr_within_the_budget() {
        let pt = |threshold: f32, fa: f64, frr: f64| DetPoint {
            threshold,
            detections: 0,
            hits: 0,
            misses: 0,
            false_accepts: 0,
            fa_per_hour: fa,
            frr,
            frr_by_snr: vec![],
            latency_ms_median: None,
            latency_ms_p90: None,
        };
        let points = vec![
            pt(0.5, 3.0, 0.01),
            pt(0.7, 0.5, 0.05),
            pt(0.9, 0.0, 0.05),
            pt(0.99, 0.0, 0.4),
        ];
        assert_eq!(pick_threshold(&points, 0.5).unwrap().threshold, 0.7);
        assert_eq!(pick_threshold(&points, 0.1).unwrap().threshold, 0.9);
        assert!(pick_threshold(&points[..1], 0.5).is_none());
        assert!(points_csv(&points).lines().count() == 5);
    }

    #[test]
    fn default_thresholds_are_increasing_and_in_range() {
        let t = default_thresholds();
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        assert!(t.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
