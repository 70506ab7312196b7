//! The audio front end per clip: decode, resample to 16 kHz, log-mel features, and the three
//! together as the data loader and the Data panel run them.
//!
//! `cargo bench --workspace --bench frontend` (criterion prints the median as the middle
//! figure of `time: [low median high]`).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::hint::black_box;
use std::path::PathBuf;

use bifsmn_engine::audio::{self, CLIP_SAMPLES, SAMPLE_RATE};
use bifsmn_engine::features::{FeatureParams, LogMel};
use criterion::{Criterion, criterion_group, criterion_main};

/// A demo clip (16 kHz FLAC, as stored in the repository).
fn demo_flac() -> PathBuf {
    let dir = bifsmn_engine::data::demo_root()
        .expect("the demo dataset (assets/demo)")
        .join("yes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("assets/demo/yes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .expect("a FLAC clip in assets/demo/yes")
}

/// One second of a 44.1 kHz tone-plus-noise signal, as a laptop recording would be.
fn signal_44k() -> Vec<f32> {
    let mut state = 0x2545_f491_u32;
    (0..44_100)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state as f32 / u32::MAX as f32 - 0.5) * 0.02;
            0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 44_100.0).sin() + noise
        })
        .collect()
}

fn frontend(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let wav_44k = dir.path().join("clip-44k.wav");
    audio::write_wav_atomic(&wav_44k, &signal_44k(), 44_100).expect("write the 44.1 kHz WAV");
    let flac = demo_flac();
    let logmel = LogMel::new(FeatureParams::default());
    let clip = audio::load_clip(&flac).expect("decode the demo clip");
    let raw_44k = signal_44k();

    let mut g = c.benchmark_group("frontend");
    g.bench_function("decode 16 kHz FLAC (1 s)", |b| {
        b.iter(|| audio::decode_file(black_box(&flac)).expect("decode"))
    });
    g.bench_function("resample 44.1 -> 16 kHz (1 s)", |b| {
        b.iter(|| audio::resample(black_box(&raw_44k), 44_100, SAMPLE_RATE).expect("resample"))
    });
    g.bench_function("log-mel 32x32", |b| {
        b.iter(|| logmel.compute(black_box(&clip)))
    });
    g.bench_function("clip: FLAC 16 kHz -> features", |b| {
        b.iter(|| {
            let samples = audio::load_clip(black_box(&flac)).expect("load");
            logmel.compute(&samples)
        })
    });
    g.bench_function("clip: WAV 44.1 kHz -> resample -> features", |b| {
        b.iter(|| {
            let samples = audio::load_clip(black_box(&wav_44k)).expect("load");
            debug_assert_eq!(samples.len(), CLIP_SAMPLES);
            logmel.compute(&samples)
        })
    });
    g.finish();
}

criterion_group!(benches, frontend);
criterion_main!(benches);
