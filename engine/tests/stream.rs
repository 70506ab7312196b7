//! Streaming detection on generated streams with known keyword times.
//!
//! Keywords are tones ([`ToneScorer`] recognises class k by its frequency and scores the
//! fraction of the tone inside the window), so the expected detections can be computed
//! independently of the detector: an oracle evaluates the smoothed coverage at every sample
//! and finds where it first reaches the threshold. Tone edges sit on the scorer's 10 ms frame
//! grid, so the scorer's frame counts equal the exact coverage and the oracle is exact.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;

use bifsmn_engine::audio::{self, SAMPLE_RATE};
use bifsmn_engine::stream::eval::{EvalConfig, evaluate, sweep};
use bifsmn_engine::stream::mix::{MixConfig, MixedStream, Placement, PlacementKind, StreamInfo};
use bifsmn_engine::stream::{
    ChunkPlan, Detector, DetectorConfig, FileSource, KeywordEvent, ModelScorer, SampleSource,
    ToneScorer, VecSource, run_source,
};
use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::synth::SynthSpec;
use bifsmn_kernels::weights::Precision;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const W: usize = 16_000;
const H: usize = 1600;
const L: usize = 8000; // tone (keyword) length: 0.5 s
const KEYWORDS: usize = 3;

/// A tone placed in a stream.
#[derive(Clone, Debug)]
struct Tone {
    class: usize, // 1-based class index in ToneScorer::standard (0 is unknown)
    start: usize,
}

/// Faint noise with `KEYWORDS`-class tones every 2.5-4 s; tone starts on the 160-sample grid.
fn tone_stream(seconds: usize, seed: u64) -> (Vec<f32>, Vec<Tone>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = seconds * SAMPLE_RATE as usize;
    let mut x: Vec<f32> = (0..n).map(|_| rng.random_range(-0.003f32..0.003)).collect();
    let mut tones = Vec::new();
    let mut t = 24_000;
    while t + L + 40_000 < n {
        let class = 1 + rng.random_range(0..KEYWORDS);
        let hz = ToneScorer::standard_freq(class - 1);
        for i in 0..L {
            x[t + i] += 0.3 * (2.0 * std::f32::consts::PI * hz * i as f32 / 16_000.0).sin();
        }
        tones.push(Tone { class, start: t });
        t += L + 160 * rng.random_range(200..350); // 2.5-4 s after the tone's end
    }
    (x, tones)
}

/// The first sample at which the mean coverage of the windows ending at e, e-H, ...,
/// e-(n-1)H reaches `threshold` (continuous time: every sample, not just the hop grid).
fn oracle_crossing(tone: &Tone, smoothing: usize, threshold: f32) -> usize {
    let (s, e) = (tone.start, tone.start + L);
    let coverage = |end: i64| {
        let lo = (end - W as i64).max(s as i64);
        let hi = end.min(e as i64);
        (hi - lo).max(0) as f64 / L as f64
    };
    (s..s + W + smoothing * H)
        .find(|&x| {
            let mean = (0..smoothing)
                .map(|j| coverage(x as i64 - (j * H) as i64))
                .sum::<f64>()
                / smoothing as f64;
            mean >= threshold as f64
        })
        .expect("the tone is detectable")
}

fn config(threshold: f32) -> DetectorConfig {
    DetectorConfig {
        threshold,
        ..DetectorConfig::default()
    }
}

fn detect(x: &[f32], cfg: DetectorConfig, chunks: Option<(u64, usize)>) -> Vec<KeywordEvent> {
    let mut d = Detector::new(ToneScorer::standard(KEYWORDS, L), cfg).unwrap();
    match chunks {
        None => d.push(x).unwrap(),
        Some((seed, max)) => {
            let mut src = VecSource::new(x.to_vec()).with_chunks(ChunkPlan::Random { seed, max });
            run_source(&mut d, &mut src, |_| {}).unwrap()
        }
    }
}

#[test]
fn every_placed_keyword_is_detected_within_one_hop_of_the_oracle() {
    let (x, tones) = tone_stream(120, 1);
    assert!(tones.len() >= 25, "{} tones", tones.len());
    // Thresholds that are not multiples of 1/150 (the smoothed score's step) avoid ties.
    for threshold in [0.51, 0.71, 0.89] {
        let events = detect(&x, config(threshold), None);
        assert_eq!(
            events.len(),
            tones.len(),
            "threshold {threshold}: {events:?}"
        );
        for (ev, tone) in events.iter().zip(&tones) {
            assert_eq!(ev.class, tone.class, "{ev:?} {tone:?}");
            assert_eq!(ev.label, format!("kw{}", tone.class - 1));
            let expected = oracle_crossing(tone, 3, threshold);
            let error = ev.sample as i64 - expected as i64;
            assert!(
                (0..H as i64).contains(&error),
                "threshold {threshold}: event at {} but the oracle crosses at {expected} \
                 (error {error} samples)",
                ev.sample
            );
            assert_eq!(ev.sample % H as u64, 0);
            assert!(ev.keyword_end <= ev.sample && ev.keyword_end >= tone.start as u64);
        }
    }
}

#[test]
fn the_event_latency_is_the_smoothing_plus_hop_quantisation() {
    // With smoothing 1 the decision is the first grid window whose own coverage reaches the
    // threshold; at threshold 0.99 that is the first window wholly containing the tone.
    let (x, tones) = tone_stream(60, 2);
    let cfg = DetectorConfig {
        smoothing: 1,
        ..config(0.99)
    };
    let events = detect(&x, cfg, None);
    assert_eq!(events.len(), tones.len());
    for (ev, tone) in events.iter().zip(&tones) {
        let end = (tone.start + L) as u64;
        assert!(
            ev.sample >= end && ev.sample - end < H as u64,
            "{ev:?} {tone:?}"
        );
        assert_eq!(ev.keyword_end, ev.sample);
    }
}

#[test]
fn chunk_sizes_do_not_change_events_or_traces() {
    let (x, tones) = tone_stream(60, 3);
    let whole = detect(&x, config(0.71), None);
    assert_eq!(whole.len(), tones.len());
    for (seed, max) in [(1, 1), (2, 37), (3, 1601), (4, 20_000), (5, 100_000)] {
        assert_eq!(
            detect(&x, config(0.71), Some((seed, max))),
            whole,
            "chunks up to {max}"
        );
    }
    // The traces agree too (sample positions and scores, bit for bit).
    let mut a = Detector::new(ToneScorer::standard(KEYWORDS, L), config(0.71)).unwrap();
    let mut b = Detector::new(ToneScorer::standard(KEYWORDS, L), config(0.71)).unwrap();
    a.push(&x).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut i = 0;
    while i < x.len() {
        let n = rng.random_range(1..5000).min(x.len() - i);
        b.push(&x[i..i + n]).unwrap();
        i += n;
    }
    assert_eq!(
        a.trace().iter().collect::<Vec<_>>(),
        b.trace().iter().collect::<Vec<_>>()
    );
    assert_eq!(a.position(), b.position());
}

#[test]
fn file_and_generated_sources_give_the_events_of_the_same_samples() {
    let (x, _) = tone_stream(40, 4);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("stream.wav");
    audio::write_wav_mono_16k(&wav, &x).unwrap();
    // The file holds 16-bit samples: compare with the decoded samples pushed whole.
    let decoded = audio::load_mono_16k(&wav).unwrap();
    let reference = detect(&decoded, config(0.71), None);
    assert!(!reference.is_empty());
    for seed in 0..4 {
        let mut d = Detector::new(ToneScorer::standard(KEYWORDS, L), config(0.71)).unwrap();
        let mut file = FileSource::open(&wav)
            .unwrap()
            .with_chunks(ChunkPlan::Random { seed, max: 3000 });
        assert_eq!(run_source(&mut d, &mut file, |_| {}).unwrap(), reference);
        let mut generated =
            VecSource::new(decoded.clone()).with_chunks(ChunkPlan::Random { seed, max: 7 });
        let mut d = Detector::new(ToneScorer::standard(KEYWORDS, L), config(0.71)).unwrap();
        assert_eq!(
            run_source(&mut d, &mut generated, |_| {}).unwrap(),
            reference
        );
    }
}

/// A MixedStream from a tone stream: tones become keyword placements (or nothing).
fn as_mixed(x: Vec<f32>, tones: &[Tone], place: bool) -> MixedStream {
    let placements: Vec<Placement> = if place {
        tones
            .iter()
            .enumerate()
            .map(|(i, t)| Placement {
                index: i,
                kind: PlacementKind::Keyword,
                word: format!("kw{}", t.class - 1),
                clip: format!("tone{i}"),
                start: t.start as u64,
                end: (t.start + L) as u64,
                speech_start: t.start as u64,
                speech_end: (t.start + L) as u64,
                snr_db: if i % 2 == 0 { 20.0 } else { 10.0 },
                actual_snr_db: 20.0,
                gain: 1.0,
            })
            .collect()
    } else {
        Vec::new()
    };
    MixedStream {
        info: StreamInfo {
            sample_rate: SAMPLE_RATE,
            samples: x.len() as u64,
            seconds: x.len() as f64 / SAMPLE_RATE as f64,
            config: MixConfig::default(),
            dataset: Path::new("generated").to_path_buf(),
            keywords: (0..KEYWORDS).map(|k| format!("kw{k}")).collect(),
            keyword_clips: Default::default(),
            distractor_clips: 0,
            noise: vec!["generated".into()],
        },
        samples: x,
        placements,
    }
}

#[test]
fn false_accepts_per_hour_are_counted_on_a_stream_without_keywords() {
    // Every tone is a detection, and none is a placed keyword: all are false accepts.
    let (x, tones) = tone_stream(180, 5);
    let hours = x.len() as f64 / SAMPLE_RATE as f64 / 3600.0;
    let stream = as_mixed(x, &tones, false);
    let cfg = EvalConfig {
        thresholds: vec![0.51, 0.89, 1.0],
        ..EvalConfig::default()
    };
    let report = evaluate(&mut ToneScorer::standard(KEYWORDS, L), &stream, &cfg).unwrap();
    assert_eq!(report.keywords_placed, 0);
    for p in &report.points[..2] {
        assert_eq!(p.false_accepts, tones.len());
        assert!((p.fa_per_hour - tones.len() as f64 / hours).abs() < 1e-9);
        assert_eq!((p.hits, p.misses, p.frr), (0, 0, 0.0));
    }
    // At threshold 1.0 a full tone still scores exactly 1: same count. Pure noise never fires.
    assert_eq!(report.points[2].false_accepts, tones.len());
    let noise = as_mixed(vec![0.001; 60 * 16_000], &[], false);
    let quiet = evaluate(&mut ToneScorer::standard(KEYWORDS, L), &noise, &cfg).unwrap();
    assert!(
        quiet
            .points
            .iter()
            .all(|p| p.false_accepts == 0 && p.fa_per_hour == 0.0)
    );
}

#[test]
fn the_sweep_matches_the_live_detector_and_scores_every_placement() {
    let (x, tones) = tone_stream(120, 6);
    let stream = as_mixed(x.clone(), &tones, true);
    let thresholds = [0.51, 0.71, 0.89];
    let s = sweep(
        &mut ToneScorer::standard(KEYWORDS, L),
        &x,
        &DetectorConfig::default(),
        &thresholds,
    )
    .unwrap();
    for (t, events) in thresholds.iter().zip(&s.events) {
        assert_eq!(events, &detect(&x, config(*t), None), "threshold {t}");
    }
    let report = evaluate(
        &mut ToneScorer::standard(KEYWORDS, L),
        &stream,
        &EvalConfig {
            thresholds: thresholds.to_vec(),
            ..EvalConfig::default()
        },
    )
    .unwrap();
    for p in &report.points {
        assert_eq!((p.hits, p.misses, p.false_accepts), (tones.len(), 0, 0));
        assert_eq!(p.frr_by_snr.len(), 2);
        // Decision minus keyword end: within hop + smoothing.
        let lat = p.latency_ms_median.unwrap();
        assert!((-500.0..=300.0).contains(&lat), "{lat}");
    }
    let target = report.target.unwrap().point.unwrap();
    assert_eq!(target.threshold, 0.51); // all tie at FRR 0: the lowest threshold wins
    eprintln!(
        "tone scorer: real-time factor {:.5} ({:.3} ms per window)",
        report.compute.real_time_factor, report.compute.mean_window_ms
    );
}

/// The synthetic paper-sized binary model with the 12-class labels.
fn synth_model() -> PackedModel {
    let mut w = SynthSpec::paper(Precision::Binary).weights(7);
    w.labels = [
        "unknown", "silence", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    PackedModel::from_weights(&w).unwrap()
}

#[test]
fn the_packed_model_runs_end_to_end_on_a_file_source() {
    // A random model detects nothing meaningful: this checks the plumbing (windows, scores,
    // determinism across chunkings, timing) with the real bitwise kernels.
    let (x, _) = tone_stream(20, 7);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("s.wav");
    audio::write_wav_mono_16k(&wav, &x).unwrap();
    let model = synth_model();
    let cfg = DetectorConfig {
        threshold: 0.3,
        refractory_ms: 0.0,
        ..DetectorConfig::default()
    };
    let mut d = Detector::new(ModelScorer::from_model(&model, 0).unwrap(), cfg.clone()).unwrap();
    assert_eq!(d.labels().len(), 12);
    let mut file = FileSource::open(&wav).unwrap();
    let events = run_source(&mut d, &mut file, |_| {}).unwrap();
    let stats = d.stats();
    assert_eq!(stats.windows, (x.len() / H) as u64);
    assert_eq!(d.trace().len(), x.len() / H);
    for p in d.trace().iter() {
        let sum: f32 = p.raw.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "posteriors sum to {sum}");
    }
    let mut again = Detector::new(ModelScorer::from_model(&model, 0).unwrap(), cfg).unwrap();
    let mut pieces = FileSource::open(&wav)
        .unwrap()
        .with_chunks(ChunkPlan::Random { seed: 1, max: 999 });
    assert_eq!(run_source(&mut again, &mut pieces, |_| {}).unwrap(), events);
    let lat = d.latency();
    eprintln!(
        "packed model (path 0, {}): real-time factor {:.4}, {:.2} ms per window (max {:.2}); \
         algorithmic latency <= {} ms; {} events",
        d.scorer().engine().isa(),
        stats.real_time_factor,
        stats.mean_window_ms,
        stats.max_window_ms,
        lat.algorithmic_max_ms,
        events.len()
    );
    assert!(file.describe().ends_with("s.wav"));
}

/// Measurement, not a check: the packed model's real-time factor per thin path over 10 minutes
/// of audio (`cargo test --workspace --test stream -- --ignored --nocapture`).
#[test]
#[ignore = "measurement; prints the real-time factor per thin path"]
fn real_time_factor_per_thin_path() {
    let (x, _) = tone_stream(600, 8);
    let model = synth_model();
    for path in 0..model.paths.len() {
        let mut d = Detector::new(
            ModelScorer::from_model(&model, path).unwrap(),
            DetectorConfig::default(),
        )
        .unwrap();
        d.push(&x).unwrap();
        let s = d.stats();
        eprintln!(
            "path {path} (layers {:?}, {}): {} windows, real-time factor {:.4}, {:.3} ms per \
             window (max {:.2})",
            model.paths[path],
            d.scorer().engine().isa(),
            s.windows,
            s.real_time_factor,
            s.mean_window_ms,
            s.max_window_ms
        );
    }
}
