//! Crash-safe checkpoints.
//!
//! A run directory holds numbered weight files (`model-e0003.bpk`, `optim-e0003.bin`) and one
//! sidecar, `checkpoint.json`, that names the files of the last complete epoch. Weight files
//! are written atomically first; the sidecar is written atomically last and is the commit
//! point: a process killed at any moment leaves a sidecar that points at complete files.
//! `best.json` does the same for the best-by-validation model.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::events::EpochMetrics;
use crate::fsutil::write_atomic;
use crate::model::{Dfsmn, DfsmnConfig};

/// Sidecar format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// What `checkpoint.json` / `best.json` record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sidecar {
    pub version: u32,
    pub engine_version: String,
    /// 1-based number of the last complete epoch.
    pub epoch: usize,
    pub model_file: String,
    pub optimizer_file: Option<String>,
    pub config: TrainConfig,
    pub model: DfsmnConfig,
    pub labels: Vec<String>,
    pub dataset_fingerprint: String,
    /// Every epoch's metrics so far.
    pub history: Vec<EpochMetrics>,
    pub best_epoch: Option<usize>,
    pub best_validation: Option<f32>,
}

/// Errors reading or writing checkpoints name the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a valid checkpoint sidecar: {reason}", path.display())]
    Sidecar { path: PathBuf, reason: String },
    #[error("{}: cannot load weights: {reason}", path.display())]
    Weights { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Serialize a model to burnpack bytes.
pub fn model_bytes(model: &Dfsmn) -> Result<Vec<u8>, String> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| format!("{e:?}"))?;
    Ok(bytes.to_vec())
}

/// Load weights from burnpack bytes into a model built from `config`.
pub fn model_from_bytes(
    config: &DfsmnConfig,
    bytes: Vec<u8>,
    device: &Device,
) -> Result<Dfsmn, String> {
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| format!("{e:?}"))?;
    config
        .init(device)
        .try_load_record(record)
        .map_err(|e| format!("{e:?}"))
}

/// Load a model file (`.bpk`) for `config`.
pub fn load_model_file(
    config: &DfsmnConfig,
    path: &Path,
    device: &Device,
) -> Result<Dfsmn, CheckpointError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    model_from_bytes(config, bytes, device).map_err(|reason| CheckpointError::Weights {
        path: path.to_path_buf(),
        reason,
    })
}

/// Read a sidecar.
pub fn read_sidecar(path: &Path) -> Result<Sidecar, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let sidecar: Sidecar = serde_json::from_str(&text).map_err(|e| CheckpointError::Sidecar {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if sidecar.version != CHECKPOINT_VERSION {
        return Err(CheckpointError::Sidecar {
            path: path.to_path_buf(),
            reason: format!(
                "version {} (this build reads {CHECKPOINT_VERSION})",
                sidecar.version
            ),
        });
    }
    Ok(sidecar)
}

/// A model saved as a checkpoint or best model, ready to use.
pub struct LoadedModel {
    pub sidecar: Sidecar,
    pub model: Dfsmn,
    pub model_path: PathBuf,
}

/// Open `path`: a run directory (uses `best.json`, else `checkpoint.json`), a sidecar file,
/// or a `.bpk` with a sidecar next to it.
pub fn open_model(path: &Path, device: &Device) -> Result<LoadedModel, CheckpointError> {
    let sidecar_path = if path.is_dir() {
        let best = path.join("best.json");
        if best.exists() {
            best
        } else {
            path.join("checkpoint.json")
        }
    } else if path.extension().is_some_and(|e| e == "json") {
        path.to_path_buf()
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        let best = dir.join("best.json");
        if best.exists() {
            best
        } else {
            dir.join("checkpoint.json")
        }
    };
    let sidecar = read_sidecar(&sidecar_path)?;
    let dir = sidecar_path.parent().unwrap_or(Path::new("."));
    let model_path = dir.join(&sidecar.model_file);
    let model = load_model_file(&sidecar.model, &model_path, device)?;
    Ok(LoadedModel {
        sidecar,
        model,
        model_path,
    })
}

/// Writes checkpoints into a run directory.
pub struct CheckpointWriter {
    dir: PathBuf,
}

impl CheckpointWriter {
    pub fn new(dir: &Path) -> Result<Self, CheckpointError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Save the state after `sidecar.epoch`: weights, optimizer, then the sidecar. Older
    /// numbered files are removed once the new sidecar is in place.
    pub fn save(
        &self,
        model: &Dfsmn,
        optimizer: &ModuleOptimizer,
        mut sidecar: Sidecar,
    ) -> Result<PathBuf, CheckpointError> {
        let model_file = format!("model-e{:04}.bpk", sidecar.epoch);
        let optim_file = format!("optim-e{:04}.bin", sidecar.epoch);
        let mp = self.dir.join(&model_file);
        let op = self.dir.join(&optim_file);
        let bytes = model_bytes(model).map_err(|reason| CheckpointError::Weights {
            path: mp.clone(),
            reason,
        })?;
        write_atomic(&mp, &bytes).map_err(io(&mp))?;
        let obytes = optimizer
            .into_bytes()
            .map_err(|e| CheckpointError::Weights {
                path: op.clone(),
                reason: format!("{e:?}"),
            })?;
        write_atomic(&op, &obytes).map_err(io(&op))?;
        sidecar.model_file = model_file.clone();
        sidecar.optimizer_file = Some(optim_file.clone());
        let sp = self.dir.join("checkpoint.json");
        let json = serde_json::to_vec_pretty(&sidecar).expect("sidecar serializes");
        write_atomic(&sp, &json).map_err(io(&sp))?;
        self.remove_stale("model-e", &model_file);
        self.remove_stale("optim-e", &optim_file);
        Ok(sp)
    }

    /// Save the best model so far (weights then `best.json`).
    pub fn save_best(
        &self,
        model: &Dfsmn,
        mut sidecar: Sidecar,
    ) -> Result<PathBuf, CheckpointError> {
        let mp = self.dir.join("best-model.bpk");
        let bytes = model_bytes(model).map_err(|reason| CheckpointError::Weights {
            path: mp.clone(),
            reason,
        })?;
        write_atomic(&mp, &bytes).map_err(io(&mp))?;
        sidecar.model_file = "best-model.bpk".into();
        sidecar.optimizer_file = None;
        let sp = self.dir.join("best.json");
        let json = serde_json::to_vec_pretty(&sidecar).expect("sidecar serializes");
        write_atomic(&sp, &json).map_err(io(&sp))?;
        Ok(sp)
    }

    fn remove_stale(&self, prefix: &str, keep: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && name != keep {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Load the last checkpoint of this run: model, optimizer state and sidecar.
    pub fn load_last(
        &self,
        optimizer: ModuleOptimizer,
        device: &Device,
    ) -> Result<(Dfsmn, ModuleOptimizer, Sidecar), CheckpointError> {
        let sp = self.dir.join("checkpoint.json");
        let sidecar = read_sidecar(&sp)?;
        let mp = self.dir.join(&sidecar.model_file);
        let model = load_model_file(&sidecar.model, &mp, device)?;
        let optimizer = match &sidecar.optimizer_file {
            Some(f) => {
                let op = self.dir.join(f);
                let bytes = std::fs::read(&op).map_err(io(&op))?;
                optimizer
                    .from_bytes(Bytes::from_bytes_vec(bytes))
                    .map_err(|e| CheckpointError::Weights {
                        path: op.clone(),
                        reason: format!("{e:?}"),
                    })?
            }
            None => optimizer,
        };
        Ok((model, optimizer, sidecar))
    }
}
