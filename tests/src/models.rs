//! Small trained models for the cross-crate tests: a teacher and a BiFSMNv2 student trained for
//! a few epochs on part of the demo set, exported to packed files. Built once per test process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bifsmn_engine::data::demo_root;
use bifsmn_engine::export::export_run;
use bifsmn_engine::train::{TrainConfig, TrainEvent, Trainer};
use bifsmn_kernels::format::Storage;

/// Paths of the trained runs and their packed exports.
pub struct TinyModels {
    _dir: tempfile::TempDir,
    pub demo: PathBuf,
    pub teacher_run: PathBuf,
    pub student_run: PathBuf,
    pub teacher_bkw: PathBuf,
    pub student_bkw: PathBuf,
}

/// Run a training to the end; panics with the trainer's error.
pub fn train(config: TrainConfig) {
    let trainer = Trainer::spawn(config, false);
    let mut finished = false;
    for e in trainer.events().iter() {
        match e {
            TrainEvent::Finished { .. } => finished = true,
            TrainEvent::Error(e) => panic!("training failed: {e}"),
            _ => {}
        }
    }
    trainer.join();
    assert!(finished, "training did not finish");
}

/// The demo dataset (the source checkout's `assets/demo`).
pub fn demo() -> PathBuf {
    demo_root().expect("the demo dataset is part of the repository")
}

fn build() -> TinyModels {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = demo();
    let teacher_run = dir.path().join("teacher");
    let student_run = dir.path().join("student");
    // Enough optimizer steps (64) for the BatchNorm running statistics to settle: a teacher
    // evaluated with unsettled statistics gives huge logits, and distilling from those diverges.
    let mut t = TrainConfig::teacher(demo.clone(), teacher_run.clone());
    t.epochs = 4;
    t.batch_size = 16;
    t.lr = 0.01;
    t.augment = false;
    t.max_train_clips = Some(256);
    train(t);
    let mut s = TrainConfig::student(demo.clone(), student_run.clone(), teacher_run.clone());
    s.epochs = 2;
    s.batch_size = 16;
    s.lr = 0.01;
    s.augment = false;
    s.max_train_clips = Some(256);
    train(s);
    let teacher_bkw = dir.path().join("teacher.bkw");
    let student_bkw = dir.path().join("student.bkw");
    export_run(&teacher_run, &teacher_bkw, Storage::default()).expect("export teacher");
    export_run(&student_run, &student_bkw, Storage::default()).expect("export student");
    TinyModels {
        _dir: dir,
        demo,
        teacher_run,
        student_run,
        teacher_bkw,
        student_bkw,
    }
}

/// The shared models (trained on first use).
pub fn tiny_models() -> &'static TinyModels {
    static MODELS: OnceLock<TinyModels> = OnceLock::new();
    MODELS.get_or_init(build)
}

/// `path` relative to the repository root.
pub fn repo_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}
