//! The ablation table: every binarizer and every BiFSMNv2 part on and off, trained with the
//! same recipe from the same teacher, evaluated on the same split.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use burn::module::Module;
use serde::Serialize;

use crate::data::{Dataset, Split};
use crate::model::BinarizerKind;
use crate::train::checkpoint::open_model;
use crate::train::eval::evaluate;
use crate::train::{Backend, DistillMode, Role, TrainConfig};

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Short id used for the run directory and `--only`.
    pub id: &'static str,
    /// Row label.
    pub name: &'static str,
    /// How this row differs from the shared student recipe.
    pub apply: fn(&mut TrainConfig),
}

fn baseline(c: &mut TrainConfig, kind: BinarizerKind) {
    // Baselines: the method's binarizer on the same thinnable D-FSMN, one activation plane,
    // cross-entropy only (no distillation), initialised from the same teacher.
    c.binarizer = kind;
    c.planes = 1;
    c.distill = DistillMode::None;
}

/// The rows, in table order. The teacher row is trained first and the others start from it.
pub fn variants() -> Vec<Variant> {
    vec![
        Variant {
            id: "bnn",
            name: "BNN",
            apply: |c| baseline(c, BinarizerKind::Bnn),
        },
        Variant {
            id: "xnor",
            name: "XNOR-Net",
            apply: |c| baseline(c, BinarizerKind::Xnor),
        },
        Variant {
            id: "bi-real",
            name: "Bi-Real",
            apply: |c| baseline(c, BinarizerKind::BiReal),
        },
        Variant {
            id: "ir-net",
            name: "IR-Net",
            apply: |c| baseline(c, BinarizerKind::IrNet),
        },
        Variant {
            id: "react",
            name: "ReActNet",
            apply: |c| baseline(c, BinarizerKind::ReAct),
        },
        Variant {
            id: "bifsmn-v1",
            name: "BiFSMN (HED, single plane)",
            apply: |c| {
                c.binarizer = BinarizerKind::BiFsmnV1;
                c.planes = 1;
                c.distill = DistillMode::Hed;
            },
        },
        Variant {
            id: "bifsmnv2",
            name: "BiFSMNv2",
            apply: |_| {},
        },
        Variant {
            id: "no-dta",
            name: "BiFSMNv2 without DTA (one plane, full path only)",
            apply: |c| {
                c.planes = 1;
                c.path_weights = vec![1.0];
            },
        },
        Variant {
            id: "no-fid",
            name: "BiFSMNv2 without FID (whole-map distillation)",
            apply: |c| c.distill = DistillMode::Plain,
        },
        Variant {
            id: "no-lpb",
            name: "BiFSMNv2 without LPB (fixed clipped STE)",
            apply: |c| c.learn_alpha = false,
        },
    ]
}

/// Settings shared by every row.
#[derive(Clone, Debug)]
pub struct AblationSettings {
    pub dataset: PathBuf,
    pub protocol: String,
    pub out: PathBuf,
    pub teacher_epochs: usize,
    pub student_epochs: usize,
    pub teacher_lr: f64,
    pub student_lr: f64,
    pub batch_size: usize,
    pub seed: u64,
    pub augment: bool,
    /// The augmentation steps every run uses (when `augment` is on).
    pub augmentation: crate::data::AugmentConfig,
    pub backend: Backend,
    pub max_train_clips: Option<usize>,
    /// Reuse an existing teacher run instead of training one.
    pub teacher: Option<PathBuf>,
    /// Run only these variant ids (all when empty).
    pub only: Vec<String>,
    pub split: Split,
}

/// Accuracy of one row per thin path (`None` where the model has no such path).
#[derive(Clone, Debug, Serialize)]
pub struct AblationRow {
    pub id: String,
    pub name: String,
    pub accuracy: Vec<Option<f32>>,
    pub run_dir: String,
    pub seconds: f32,
    /// Why the row has no accuracy (its training failed, e.g. diverged to NaN). One failing
    /// method does not stop the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole table.
#[derive(Clone, Debug, Serialize)]
pub struct AblationTable {
    pub split: String,
    pub path_layers: Vec<usize>,
    pub rows: Vec<AblationRow>,
    pub student_epochs: usize,
    pub teacher_epochs: usize,
}

impl AblationTable {
    pub fn markdown(&self) -> String {
        let mut s = String::from("| method |");
        for l in &self.path_layers {
            s.push_str(&format!(" {l} layers |"));
        }
        s.push('\n');
        s.push_str("|---|");
        for _ in &self.path_layers {
            s.push_str("---:|");
        }
        s.push('\n');
        for r in &self.rows {
            s.push_str(&format!("| {} |", r.name));
            for a in &r.accuracy {
                match (a, &r.error) {
                    (Some(v), _) => s.push_str(&format!(" {:.2} |", 100.0 * v)),
                    (None, Some(_)) => s.push_str(" failed |"),
                    (None, None) => s.push_str(" — |"),
                }
            }
            s.push('\n');
        }
        for r in self.rows.iter().filter(|r| r.error.is_some()) {
            s.push_str(&format!(
                "\n{}: {}\n",
                r.name,
                r.error.as_deref().unwrap_or_default()
            ));
        }
        s
    }

    pub fn csv(&self) -> String {
        let mut s = String::from("id,method");
        for l in &self.path_layers {
            s.push_str(&format!(",acc_{l}_layers"));
        }
        s.push_str(",error\n");
        for r in &self.rows {
            s.push_str(&format!("{},\"{}\"", r.id, r.name.replace('"', "'")));
            for a in &r.accuracy {
                match a {
                    Some(v) => s.push_str(&format!(",{:.4}", v)),
                    None => s.push(','),
                }
            }
            s.push_str(&format!(
                ",\"{}\"\n",
                r.error.as_deref().unwrap_or_default().replace('"', "'")
            ));
        }
        s
    }
}

fn accuracy_per_path(
    run: &Path,
    dataset: &Arc<Dataset>,
    split: Split,
    batch: usize,
) -> anyhow::Result<Vec<f32>> {
    let loaded = open_model(run, &Backend::Flex.device()?)?;
    let model = loaded.model.valid();
    let n = model.num_paths().min(3);
    Ok(evaluate(&model, dataset, split, batch, n)?
        .into_iter()
        .map(|e| e.metrics.accuracy)
        .collect())
}

/// One cell per column of the table (8, 4, 2 layers); a model without a path (the teacher
/// has only the full network) leaves its cells empty.
fn per_table_path(acc: Vec<f32>) -> Vec<Option<f32>> {
    (0..3).map(|p| acc.get(p).copied()).collect()
}

/// The settings every run of the ablation shares, teacher and students alike.
fn apply_shared(c: &mut TrainConfig, s: &AblationSettings) {
    c.protocol = s.protocol.clone();
    c.batch_size = s.batch_size;
    c.seed = s.seed;
    c.augment = s.augment;
    c.augmentation = s.augmentation.clone();
    c.backend = s.backend;
    c.max_train_clips = s.max_train_clips;
}

/// Train `c` unless its run directory already holds all its epochs; an interrupted run is
/// resumed from its last checkpoint, so a stopped ablation picks up where it was.
fn ensure_trained(
    c: TrainConfig,
    train: &mut dyn FnMut(TrainConfig, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let sidecar = c.run_dir.join("checkpoint.json");
    if sidecar.exists() {
        let done = crate::train::checkpoint::read_sidecar(&sidecar)?.epoch;
        if done >= c.epochs {
            return Ok(());
        }
        return train(c, true);
    }
    train(c, false)
}

/// Train and evaluate every selected row; `train(config, resume)` runs one configuration to
/// the end (the CLI passes its progress-printing runner, tests a quiet one). `on_row` sees each finished row.
pub fn run_ablation(
    s: &AblationSettings,
    train: &mut dyn FnMut(TrainConfig, bool) -> anyhow::Result<()>,
    on_row: &mut dyn FnMut(&AblationRow),
) -> anyhow::Result<AblationTable> {
    let dataset = Arc::new(
        Dataset::open(&s.dataset, s.protocol.parse()?)
            .with_context(|| format!("opening {}", s.dataset.display()))?,
    );
    let wanted = |id: &str| s.only.is_empty() || s.only.iter().any(|o| o == id);
    let mut rows = Vec::new();
    // The teacher's row: reused as given, or trained (resumably) under `out/teacher`.
    let started = std::time::Instant::now();
    let (teacher_run, teacher_name) = match &s.teacher {
        Some(t) => (t.clone(), "FP32 teacher (reused)"),
        None => {
            let dir = s.out.join("teacher");
            let mut c = TrainConfig::teacher(s.dataset.clone(), dir.clone());
            apply_shared(&mut c, s);
            c.epochs = s.teacher_epochs;
            c.lr = s.teacher_lr;
            ensure_trained(c, train)?;
            (dir, "FP32 teacher")
        }
    };
    let teacher_seconds = started.elapsed().as_secs_f32();
    let row = AblationRow {
        id: "teacher".into(),
        name: teacher_name.into(),
        accuracy: per_table_path(accuracy_per_path(
            &teacher_run,
            &dataset,
            s.split,
            s.batch_size,
        )?),
        run_dir: teacher_run.display().to_string(),
        seconds: teacher_seconds,
        error: None,
    };
    on_row(&row);
    rows.push(row);
    for v in variants().into_iter().filter(|v| wanted(v.id)) {
        let dir = s.out.join(v.id);
        let mut c = TrainConfig::student(s.dataset.clone(), dir.clone(), teacher_run.clone());
        apply_shared(&mut c, s);
        c.epochs = s.student_epochs;
        c.lr = s.student_lr;
        (v.apply)(&mut c);
        debug_assert_eq!(c.role, Role::Student);
        let start = std::time::Instant::now();
        // A method that diverges is a result too: record why and go on with the others.
        let outcome = ensure_trained(c, train)
            .and_then(|()| accuracy_per_path(&dir, &dataset, s.split, s.batch_size));
        let (acc, error) = match outcome {
            Ok(acc) => (acc, None),
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
        };
        let row = AblationRow {
            id: v.id.to_string(),
            name: v.name.to_string(),
            accuracy: per_table_path(acc),
            run_dir: dir.display().to_string(),
            seconds: start.elapsed().as_secs_f32(),
            error,
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(AblationTable {
        split: s.split.name().to_string(),
        path_layers: vec![8, 4, 2],
        rows,
        student_epochs: s.student_epochs,
        teacher_epochs: s.teacher_epochs,
    })
}
