//! What defines a run: the network it trains, the data, the recipe and the backend. Serialized
//! into every checkpoint.

use std::path::PathBuf;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::devices::{BackendError, open_device};
use super::loss::DistillMode;
use crate::data::AugmentConfig;
use crate::model::{BinarizerKind, DfsmnConfig};

/// Which network a run trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Teacher,
    Student,
}

/// The burn backend a run trains on. The GPU variants exist in every build, so that a run
/// trained on a GPU opens anywhere; training on one needs a build with its cargo feature
/// (`open_device` says so otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// burn's pure-Rust CPU backend (default: the faster one here, see the README's numbers).
    #[default]
    Flex,
    /// The deprecated burn-ndarray backend, kept for comparison.
    Ndarray,
    /// burn's wgpu backend: Vulkan, Metal or DX12 (cargo feature `wgpu`).
    Wgpu,
    /// burn's CUDA backend (cargo feature `cuda`).
    Cuda,
}

impl Backend {
    pub const ALL: [Backend; 4] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Cuda,
    ];

    /// The backend's default plain (no autodiff) device; see [`open_device`].
    pub fn device(self) -> Result<Device, BackendError> {
        open_device(self, None)
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    pub fn is_gpu(self) -> bool {
        matches!(self, Backend::Wgpu | Backend::Cuda)
    }

    /// Whether this build has the backend (the GPU ones are cargo features).
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex | Backend::Ndarray => true,
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }
}

/// Everything that defines a run. Serialized into every checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    pub role: Role,
    /// Dataset root (Speech Commands layout).
    pub dataset: PathBuf,
    /// Protocol name as `bifsmn data info --protocol` spells it (e.g. "12", "v1-12").
    pub protocol: String,
    pub run_dir: PathBuf,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Learning-rate factor of the LPB thresholds and alphas (`docs/METHOD.md` §3.2: 0.1).
    pub quant_lr_factor: f64,
    /// Clip each parameter's gradient to this L2 norm (`None`: no clipping, as the reference).
    /// Distilling from a teacher whose logits reach the hundreds gives gradients that throw a
    /// binary student's latent weights far in one step; clipping keeps the first steps sane.
    #[serde(default)]
    pub grad_clip_norm: Option<f32>,
    pub binarizer: BinarizerKind,
    /// Activation planes of the student (2 = DTA dual scale).
    pub planes: usize,
    /// Learn the LPB alphas.
    pub learn_alpha: bool,
    pub distill: DistillMode,
    /// Weight of the distillation terms (`docs/METHOD.md` §5.3: 0.01).
    pub distill_alpha: f64,
    /// Teacher run directory or model, required by the student.
    pub teacher: Option<PathBuf>,
    /// Thin paths trained every step, with their loss weights (`docs/METHOD.md` §4: 1, 0.5, 0.25).
    pub path_weights: Vec<f64>,
    /// Reproduce the released code's non-deployable variants.
    pub reference_code: bool,
    /// Start the student from the teacher's weights (`docs/METHOD.md` §6).
    pub init_from_teacher: bool,
    /// Start from this run's weights instead (fine-tuning, or new keywords with the same
    /// network): labels it shares keep their classifier rows.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    pub augment: bool,
    /// Which augmentation steps run, and how, when `augment` is on. Runs saved before the
    /// rooms-and-microphones steps existed load with the paper's steps only.
    #[serde(default)]
    pub augmentation: AugmentConfig,
    pub seed: u64,
    pub backend: Backend,
    /// Which of the backend's devices (`bifsmn devices` numbers them); `None`: the backend's
    /// own choice. Only GPU backends have more than one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_index: Option<usize>,
    /// Use at most this many training clips (quick runs and tests).
    pub max_train_clips: Option<usize>,
    /// Emit the heavy events (distillation maps, binarizer curves, bits) for a GUI.
    pub internals: bool,
    /// Validation clip whose maps and bits are reported (index within the validation split).
    pub fixed_clip: usize,
}

impl TrainConfig {
    /// Defaults for a teacher run on `dataset`.
    pub fn teacher(dataset: PathBuf, run_dir: PathBuf) -> Self {
        Self {
            role: Role::Teacher,
            dataset,
            protocol: "12".into(),
            run_dir,
            epochs: 40,
            batch_size: 96,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 1e-4,
            quant_lr_factor: 0.1,
            grad_clip_norm: Some(1.0),
            binarizer: BinarizerKind::Lpb,
            planes: 2,
            learn_alpha: true,
            distill: DistillMode::None,
            distill_alpha: 0.01,
            teacher: None,
            path_weights: vec![1.0],
            reference_code: false,
            init_from_teacher: false,
            init_from: None,
            augment: true,
            augmentation: AugmentConfig::robust(),
            seed: 1,
            backend: Backend::Flex,
            device_index: None,
            max_train_clips: None,
            internals: false,
            fixed_clip: 0,
        }
    }

    /// Defaults for a BiFSMNv2 student distilled from `teacher`.
    pub fn student(dataset: PathBuf, run_dir: PathBuf, teacher: PathBuf) -> Self {
        Self {
            role: Role::Student,
            epochs: 60,
            lr: 0.02,
            distill: DistillMode::Fid,
            teacher: Some(teacher),
            path_weights: vec![1.0, 0.5, 0.25],
            init_from_teacher: true,
            ..Self::teacher(dataset, run_dir)
        }
    }

    /// The plain (no autodiff) device the run trains on, opened (see [`open_device`]).
    pub fn device(&self) -> Result<Device, BackendError> {
        open_device(self.backend, self.device_index)
    }

    /// The network this run trains.
    pub fn model_config(&self, num_classes: usize) -> DfsmnConfig {
        match self.role {
            Role::Teacher => DfsmnConfig::teacher(num_classes),
            Role::Student => DfsmnConfig::student(num_classes)
                .with_binarizer(Some(self.binarizer))
                .with_planes(self.planes)
                .with_learn_alpha(self.learn_alpha)
                .with_reference_code(self.reference_code),
        }
    }

    /// Check the settings before any work starts.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return Err("batch size must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(format!("learning rate must be positive, got {}", self.lr));
        }
        if self.path_weights.is_empty() || self.path_weights.len() > 4 {
            return Err("train 1 to 4 thin paths".into());
        }
        if self.role == Role::Student && self.distill != DistillMode::None && self.teacher.is_none()
        {
            return Err("distillation needs a teacher (--teacher RUN_DIR)".into());
        }
        if self.init_from.is_some() && self.init_from_teacher {
            return Err("start from the teacher or from a run (--init-from), not both".into());
        }
        if self.role == Role::Student && self.init_from_teacher && self.teacher.is_none() {
            return Err("initialising from the teacher needs --teacher".into());
        }
        if !(1..=2).contains(&self.planes) {
            return Err(format!("planes must be 1 or 2, got {}", self.planes));
        }
        if !self.backend.is_compiled() {
            return Err(BackendError::NotCompiled {
                backend: self.backend.name(),
            }
            .to_string());
        }
        Ok(())
    }
}
