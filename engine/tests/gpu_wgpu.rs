//! The wgpu backend trains and computes what flex computes. On the machine's wgpu device (in the
//! test command, Mesa's software Vulkan driver lavapipe, which packaging/bootstrap.sh installs):
//! a teacher and a student distilled from it on three thin paths train a few steps through the
//! real trainer, and a forward pass of the trained weights on wgpu matches flex within the
//! tolerances below (docs/SCALE.md, "GPU backends").
//!
//! Built only with the `wgpu` feature (`required-features` in Cargo.toml):
//! `cargo test -p bifsmn-engine --features wgpu --test gpu_wgpu`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bifsmn_engine::data::{BatchLoader, Dataset, Split, demo_root};
use bifsmn_engine::train::checkpoint::open_model;
use bifsmn_engine::train::{
    Backend, DeviceInfo, PathMetrics, TrainConfig, TrainEvent, Trainer, list_devices, open_device,
};
use burn::prelude::*;

/// Largest |wgpu - flex| allowed on the FP32 teacher's logits, relative to the largest logit
/// magnitude of the batch. Measured on lavapipe: 0.7e-6 to 1.2e-6 (docs/SCALE.md).
const TEACHER_TOLERANCE: f32 = 1e-5;
/// The same for the binary student (measured: 0.85e-6 to 1.5e-6). Its sign() binarizers can
/// turn a last-bit difference at a threshold into a flipped bit, so it gets ten times the
/// teacher's room; a wrong kernel is off by far more than either.
const STUDENT_TOLERANCE: f32 = 1e-4;

/// The wgpu device, or a failure that says what to install: the test command's bootstrap
/// installs a Vulkan driver, so a machine without one is a broken setup, not a skip.
fn wgpu_device() -> Device {
    match open_device(Backend::Wgpu, None) {
        Ok(device) => device,
        Err(e) => panic!(
            "{e}\n(packaging/bootstrap.sh installs mesa-vulkan-drivers and libvulkan1; run it, or install them by hand)"
        ),
    }
}

/// Every path's metrics of every step and epoch a run reported.
#[derive(Default)]
struct Reported {
    steps: Vec<Vec<PathMetrics>>,
    epochs: Vec<Vec<PathMetrics>>,
}

/// Train `config` to the end, panicking with the trainer's error.
fn train(config: TrainConfig) -> Reported {
    let started = Instant::now();
    let run = config.run_dir.display().to_string();
    let trainer = Trainer::spawn(config, false);
    let mut reported = Reported::default();
    let mut finished = false;
    for event in trainer.events().iter() {
        match event {
            TrainEvent::Step(s) => reported.steps.push(s.paths),
            TrainEvent::Epoch(e) => reported.epochs.push(e.train),
            TrainEvent::Finished { .. } => finished = true,
            TrainEvent::Error(e) => panic!("training {run} on wgpu failed: {e}"),
            _ => {}
        }
    }
    trainer.join();
    assert!(finished, "training {run} did not finish");
    println!("{run}: {:.1} s", started.elapsed().as_secs_f32());
    reported
}

/// A few steps' worth of a run on the wgpu device: one epoch of 48 clips in batches of 16
/// (three steps, then validation and a checkpoint), no augmentation.
fn quick(mut config: TrainConfig) -> TrainConfig {
    config.epochs = 1;
    config.batch_size = 16;
    config.lr = 0.01;
    config.augment = false;
    config.max_train_clips = Some(48);
    config.backend = Backend::Wgpu;
    config
}

/// Every loss finite, and the losses not all the same number (the weights moved).
fn assert_losses_finite_and_moving(what: &str, reported: &Reported, paths: usize) {
    assert!(!reported.steps.is_empty(), "{what}: no step reported");
    for path in 0..paths {
        let losses: Vec<f32> = reported.steps.iter().map(|s| s[path].loss).collect();
        println!("{what} path {path} step losses (running means): {losses:?}");
        assert!(
            losses.iter().all(|l| l.is_finite()),
            "{what} path {path}: {losses:?}"
        );
        assert!(
            losses.windows(2).any(|w| w[0] != w[1]),
            "{what} path {path}: the loss never changed: {losses:?}"
        );
    }
}

/// The largest |a - b| over the two models' logits on one test batch, relative to the largest
/// logit magnitude, per thin path.
fn forward_differences(run: &Path, wgpu: &Device, dataset: &Arc<Dataset>) -> Vec<f32> {
    let flex = Device::flex();
    let on_flex = open_model(run, &flex).unwrap().model.valid();
    let on_wgpu = open_model(run, wgpu).unwrap().model.valid();
    let batch = BatchLoader::new(dataset.clone(), Split::Test, 16, None, 0, 0)
        .next()
        .unwrap()
        .unwrap();
    let mels = on_flex.config.n_mels;
    let frames = batch.features.len() / (batch.len() * mels);
    let shape = [batch.len(), 1, mels, frames];
    let features = |device: &Device| {
        Tensor::<1>::from_floats(batch.features.as_slice(), device).reshape(shape)
    };
    (0..on_flex.num_paths().min(3))
        .map(|path| {
            let a = on_flex.forward(features(&flex), path).logits;
            let b = on_wgpu.forward(features(wgpu), path).logits;
            let a: Vec<f32> = a.into_data().try_to_vec().unwrap();
            let b: Vec<f32> = b.into_data().try_to_vec().unwrap();
            // f32::max passes over NaN, so a NaN would hide in the fold below.
            assert!(
                a.iter().chain(&b).all(|v| v.is_finite()),
                "{} path {path}: a logit is not finite",
                run.display()
            );
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            let worst = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            println!(
                "{} path {path}: max |wgpu - flex| = {worst:.3e} (largest logit {scale:.3})",
                run.display()
            );
            worst / scale
        })
        .collect()
}

#[test]
fn wgpu_trains_a_teacher_and_a_distilled_student_and_matches_flex() {
    let device = wgpu_device();
    let listed: Vec<DeviceInfo> = list_devices()
        .into_iter()
        .filter(|d| d.backend == Backend::Wgpu)
        .collect();
    println!("wgpu devices: {listed:?}");
    assert!(
        !listed.is_empty(),
        "open_device found a device that list_devices does not list"
    );

    let demo = demo_root().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let teacher_run = dir.path().join("teacher");
    let student_run = dir.path().join("student");

    let teacher = train(quick(TrainConfig::teacher(
        demo.clone(),
        teacher_run.clone(),
    )));
    assert_losses_finite_and_moving("teacher", &teacher, 1);
    let (first, last) = (
        teacher.steps[0][0].loss,
        teacher.steps.last().unwrap()[0].loss,
    );
    assert!(
        last < first,
        "the teacher's training loss did not fall over its steps: {first} then {last}"
    );

    let student = train(quick(TrainConfig::student(
        demo.clone(),
        student_run.clone(),
        teacher_run.clone(),
    )));
    assert_eq!(
        student.steps[0].len(),
        3,
        "the student trains three thin paths"
    );
    assert_losses_finite_and_moving("student", &student, 3);

    let dataset = Arc::new(Dataset::open(&demo, "12".parse().unwrap()).unwrap());
    for (run, tolerance) in [
        (&teacher_run, TEACHER_TOLERANCE),
        (&student_run, STUDENT_TOLERANCE),
    ] {
        for (path, relative) in forward_differences(run, &device, &dataset)
            .into_iter()
            .enumerate()
        {
            assert!(
                relative <= tolerance,
                "{} path {path}: wgpu differs from flex by {relative:.3e} of the largest logit (allowed {tolerance:.0e})",
                run.display()
            );
        }
    }
}
