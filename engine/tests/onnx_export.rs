//! `bifsmn export --onnx`: the shipped FP32 teacher written as ONNX and run in tract gives burn's
//! logits; a binary student and an unwritable path are refused with messages naming the file.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bifsmn_engine::data::speech_commands::demo_root;
use bifsmn_engine::data::{BatchLoader, Dataset, Protocol, Split};
use bifsmn_engine::model::Dfsmn;
use bifsmn_engine::onnx::{TractModel, export_onnx};
use bifsmn_engine::train::checkpoint::open_model;
use burn::module::Module;
use burn::prelude::*;

/// Largest accepted `|tract - burn| / (1 + |burn|)` over every logit. Both run the same f32
/// graph, but the export folds each BatchNorm into its convolution (in f64, rounded once) and
/// tract sums in its own order: measured 1.1e-5 at most on this model, so 1e-4 leaves room for
/// other CPUs' kernels while still catching any wrong weight, layout or operator (those move
/// logits by 1e-2 or more).
const TOLERANCE: f32 = 1e-4;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models")
}

/// Features of every clip of the demo test split, then two pseudo-random clips (values beyond
/// what speech gives, so saturation and sign errors show too). One clip after the other.
fn inputs() -> (Vec<f32>, usize) {
    let root = demo_root().unwrap();
    let dataset = Arc::new(Dataset::open(&root, Protocol::Twelve).unwrap());
    let mut features = Vec::new();
    for batch in BatchLoader::new(dataset, Split::Test, 32, None, 0, 0) {
        features.extend(batch.unwrap().features);
    }
    let params = bifsmn_engine::features::FeatureParams::default();
    for seed in [1, 2] {
        features.extend(bifsmn_kernels::synth::random_features(&params, seed));
    }
    let clips = features.len() / params.len();
    (features, clips)
}

fn burn_logits(model: &Dfsmn, features: &[f32], clips: usize) -> Vec<f32> {
    let device = Device::flex();
    let x = Tensor::<1>::from_floats(features, &device).reshape([clips, 1, 32, 32]);
    model
        .forward(x, 0)
        .logits
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}

fn worst_difference(ours: &[f32], burn: &[f32]) -> f32 {
    assert_eq!(ours.len(), burn.len());
    ours.iter()
        .zip(burn)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0, f32::max)
}

#[test]
fn tract_runs_the_exported_teacher_like_burn() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("teacher.onnx");
    let report = export_onnx(&models().join("demo-teacher"), &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(report.onnx_bytes, bytes.len() as u64);
    assert_eq!(report.input_shape, ["batch", "1", "32", "32"]);
    assert_eq!(report.output_shape, ["batch", "12"]);
    assert_eq!(
        (report.input.as_str(), report.output_name.as_str()),
        ("features", "logits")
    );

    let device = Device::flex();
    let model = open_model(&models().join("demo-teacher"), &device)
        .unwrap()
        .model
        .valid();
    let (features, clips) = inputs();
    assert_eq!(clips, 84 + 2, "the demo test split and two random clips");
    let burn = burn_logits(&model, &features, clips);
    let classes = burn.len() / clips;

    // One clip per run, as the bench runs it.
    let mut tract = TractModel::new(&bytes, 1).unwrap();
    let mut ours = vec![0.0; burn.len()];
    for (x, y) in features.chunks(1024).zip(ours.chunks_mut(classes)) {
        tract.run(x, y).unwrap();
    }
    let worst = worst_difference(&ours, &burn);
    println!("{clips} clips, one per run: worst relative logit difference {worst:.2e}");
    assert!(worst <= TOLERANCE, "{worst:.2e} > {TOLERANCE:.0e}");

    // The batch size is free in the file: every clip in one run gives the same logits.
    let mut tract = TractModel::new(&bytes, clips).unwrap();
    let mut batched = vec![0.0; burn.len()];
    tract.run(&features, &mut batched).unwrap();
    let worst = worst_difference(&batched, &burn);
    println!("{clips} clips in one run: worst relative logit difference {worst:.2e}");
    assert!(worst <= TOLERANCE, "{worst:.2e} > {TOLERANCE:.0e}");

    // A wrong input size is an error, not a panic or a silent truncation.
    let mut one = vec![0.0; classes];
    assert!(tract.run(&features[..1024], &mut one).is_err());
}

#[test]
fn onnx_export_of_a_binary_student_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("student.onnx");
    let err = export_onnx(&models().join("demo-student"), &out).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("demo-student") && message.contains("binary student"),
        "{message}"
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn onnx_export_to_an_unwritable_path_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // A folder cannot be created inside a regular file, whoever runs the test (root included).
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("teacher.onnx");
    let err = export_onnx(&models().join("demo-teacher"), &out).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains(&out.display().to_string()), "{message}");
}
