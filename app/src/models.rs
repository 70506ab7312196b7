//! Models the GUI runs: a packed `.bkw` file, or a training run (burn checkpoint) converted to
//! the packed format in memory by the engine's export. Either way inference goes through the
//! kernels' [`Engine`], the same code that runs on the board, so what the workbench shows is
//! what the board computes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bifsmn_kernels::format::ModelSummary;
use bifsmn_kernels::format::{PackedModel, model_hash};
use bifsmn_kernels::infer::{Classification, Engine, InferError, LayerBits};
use bifsmn_kernels::weights::Precision;

use crate::widgets::Notice;

/// Where a loaded model came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelOrigin {
    /// A packed file.
    Packed,
    /// A run directory or checkpoint, exported in memory; `epoch` of the weights.
    Checkpoint { epoch: usize, role: String },
}

/// A model ready for inference.
pub struct InferenceModel {
    pub source: PathBuf,
    pub(crate) origin: ModelOrigin,
    pub packed: Arc<PackedModel>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) summary: ModelSummary,
    /// `fnv1a64:...` of the packed bytes, as the board runner reports it.
    pub(crate) hash: String,
}

impl InferenceModel {
    pub(crate) fn is_binary(&self) -> bool {
        self.engine.precision() == Precision::Binary
    }

    pub(crate) fn num_paths(&self) -> usize {
        self.engine.num_paths()
    }

    /// One line for headings: kind, paths, classes, size.
    pub(crate) fn describe(&self) -> String {
        let kind = if self.is_binary() {
            "binary student"
        } else {
            "FP32 model"
        };
        let origin = match &self.origin {
            ModelOrigin::Packed => "packed file".to_string(),
            ModelOrigin::Checkpoint { epoch, role } => {
                format!("{role} checkpoint, epoch {epoch}, packed in memory")
            }
        };
        format!(
            "{kind} · {} thin path{} · {} classes · {} packed bytes · {origin}",
            self.num_paths(),
            if self.num_paths() == 1 { "" } else { "s" },
            self.packed.labels.len(),
            self.summary.total_packed_bytes,
        )
    }

    /// Label of a thin path, e.g. `path 1 (4 layers: 1 3 5 7)`.
    pub(crate) fn path_label(&self, path: usize) -> String {
        match self.engine.path_layers(path) {
            Ok(layers) => format!("path {path} ({})", layers_label(layers)),
            Err(_) => format!("path {path}"),
        }
    }

    /// The thin-path picker every panel shows; returns whether the choice changed.
    pub(crate) fn path_combo(&self, ui: &mut egui::Ui, id_salt: &str, path: &mut usize) -> bool {
        let before = *path;
        egui::ComboBox::from_id_salt(id_salt)
            .selected_text(self.path_label(*path))
            .show_ui(ui, |ui| {
                for p in 0..self.num_paths() {
                    ui.selectable_value(path, p, self.path_label(p));
                }
            })
            .response
            .accessible_name("thin path");
        before != *path
    }
}

/// The D-FSMN layers of a thin path, e.g. `4 layers: 1 3 5 7`.
pub(crate) fn layers_label<T: std::fmt::Display>(layers: &[T]) -> String {
    format!(
        "{} layer{}: {}",
        layers.len(),
        if layers.len() == 1 { "" } else { "s" },
        layers
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Whether `path` names a packed model file rather than a run.
fn looks_packed(path: &Path) -> bool {
    path.is_file()
        && !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("bpk"))
}

/// Load `path`: a `.bkw` file, or a run directory / sidecar `.json` / `.bpk` checkpoint.
/// Blocking (reads files, may export): call it from a worker thread.
pub(crate) fn load(path: &Path) -> Result<InferenceModel, Notice> {
    if !path.exists() {
        return Err(Notice::error(
            format!("{} does not exist", path.display()),
            "Choose a packed model (.bkw) or a training run folder (it holds checkpoint.json).",
        ));
    }
    let (packed, origin, bytes) = if looks_packed(path) {
        let bytes = std::fs::read(path).map_err(|e| {
            Notice::error(
                format!("{}: {e}", path.display()),
                "Check that the file is readable.",
            )
        })?;
        let packed = PackedModel::from_bytes(&bytes).map_err(|e| {
            Notice::error(
                format!("{}: {e}", path.display()),
                "This is not a valid packed model. Export one from a run (bifsmn export) or pick a run folder instead.",
            )
        })?;
        (packed, ModelOrigin::Packed, bytes)
    } else {
        let device = bifsmn_engine::train::Backend::Flex
            .device()
            .map_err(|e| Notice::error(e.to_string(), ""))?;
        let loaded =
            bifsmn_engine::train::checkpoint::open_model(path, &device).map_err(|e| {
                Notice::error(
                    e.to_string(),
                    "Pick a run folder that finished at least one epoch (it has checkpoint.json), or a .bkw file.",
                )
            })?;
        let paths = loaded.sidecar.config.path_weights.len().max(1);
        let packed =
            bifsmn_engine::export::to_packed(&loaded.model, &loaded.sidecar.labels, paths)
                .map_err(|e| {
                    Notice::error(
                        format!("cannot pack {}: {e}", loaded.model_path.display()),
                        "Only models the bit kernels can run are inspected; retrain with an exportable binarizer.",
                    )
                })?;
        let bytes = packed
            .to_bytes()
            .map_err(|e| Notice::error(format!("cannot serialise the packed model: {e}"), ""))?;
        let origin = ModelOrigin::Checkpoint {
            epoch: loaded.sidecar.epoch,
            role: format!("{:?}", loaded.sidecar.config.role).to_lowercase(),
        };
        (packed, origin, bytes)
    };
    let engine = Engine::new(&packed).map_err(|e| {
        Notice::error(
            format!("{}: {e}", path.display()),
            "The model is inconsistent; re-export it.",
        )
    })?;
    Ok(InferenceModel {
        source: path.to_path_buf(),
        origin,
        summary: packed.summary(),
        hash: model_hash(&bytes),
        packed: Arc::new(packed),
        engine: Arc::new(engine),
    })
}

/// What a model makes of one clip on one thin path.
pub(crate) struct ClipAnalysis {
    pub classification: Classification,
    /// Activation planes at the input of every binary layer (empty for an FP32 model).
    pub bits: Vec<LayerBits>,
}

/// Classify 16 kHz mono `samples` and capture the bits (blocking; worker thread).
pub(crate) fn analyse(
    model: &InferenceModel,
    samples: &[f32],
    path: usize,
) -> Result<ClipAnalysis, InferError> {
    let mut session = model.engine.session();
    let classification = session.classify(path, samples)?;
    let bits = if model.is_binary() {
        let features = session.features(samples).to_vec();
        session.layer_bits(path, &features)?
    } else {
        Vec::new()
    };
    Ok(ClipAnalysis {
        classification,
        bits,
    })
}

/// The `k` most probable classes with their names, best first.
pub(crate) fn top_classes(labels: &[String], c: &Classification, k: usize) -> Vec<(String, f32)> {
    let mut idx: Vec<usize> = (0..c.probabilities.len()).collect();
    idx.sort_by(|&a, &b| c.probabilities[b].total_cmp(&c.probabilities[a]));
    idx.into_iter()
        .take(k)
        .map(|i| {
            let name = labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("class {i}"));
            (name, c.probabilities[i])
        })
        .collect()
}
