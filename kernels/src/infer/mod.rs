//! Whole-model inference of a [`PackedModel`] on any thin path chosen at run time.
//!
//! * [`Engine`]: the model in kernel layouts for one [`Isa`] (built once, immutable, `Sync`).
//! * [`Session`]: every buffer of a forward pass, allocated once; [`Session::forward`] does no
//!   allocation. [`Session::forward_hooked`] reports per-layer latency through a [`LayerHook`];
//!   [`Session::layer_bits`] returns each binary layer's two activation planes for one clip (the
//!   GUI's Inspect panel); [`Session::classify`] runs the log-mel front end first.
//!
//! Binary models run the XOR-popcount kernels; float models (the FP32 teacher) run the float
//! kernels of [`crate::fp`] with BatchNorm folded. A binary model's output is bit-identical for
//! every [`Isa`] and on x86-64 and aarch64 (see [`crate::fp`] and [`crate::bitpack`] for why).

/// Run `$body`, reporting its latency as layer `$id` to `$hook` when the hook wants it (the
/// hook's type must be the generic parameter `H`).
macro_rules! timed {
    ($hook:expr, $id:expr, $body:expr) => {{
        let t0 = if H::ENABLED {
            Some(Instant::now())
        } else {
            None
        };
        let r = $body;
        if let Some(t0) = t0 {
            $hook.layer_done($id, t0.elapsed());
        }
        r
    }};
}

mod binary;
mod forward;
mod im2col;
mod plan;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::features::{FeatureParams, LogMel};
use crate::format::PackedModel;
use crate::fp::FloatMode;
use crate::isa::Isa;
use crate::network::{Dims, LayerId};
use crate::weights::Precision;

pub use forward::Session;

/// Errors of the inference API.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("path {path} does not exist (the model has {paths} thin paths: 0..{paths})")]
    BadPath { path: usize, paths: usize },
    #[error("expected {expected} {what}, got {got}")]
    BadInput {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("instruction set {0} is not supported by this CPU")]
    UnsupportedIsa(Isa),
    #[error("invalid model: {0}")]
    Model(String),
    #[error("activation bits exist only in binary models")]
    NotBinary,
}

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Bit-kernel implementation; [`Isa::best`] by default.
    pub isa: Isa,
    /// Threads for the large matrix products (1 = none). Each product's rows are split into
    /// contiguous blocks, one scoped thread per block; results do not depend on this.
    pub threads: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            isa: Isa::best(),
            threads: 1,
        }
    }
}

/// A model prepared for the kernels of one ISA.
#[derive(Debug)]
pub struct Engine {
    plan: plan::Plan,
    opts: EngineOptions,
    precision: Precision,
    mode: FloatMode,
    labels: Vec<String>,
    paths: Vec<Vec<usize>>,
    features: FeatureParams,
    logmel: LogMel,
}

impl Engine {
    /// Prepare `model` with the default options.
    pub fn new(model: &PackedModel) -> Result<Engine, InferError> {
        Engine::with_options(model, EngineOptions::default())
    }

    /// Prepare `model` for `opts.isa`. The model is validated first (its fields are public, so
    /// it need not come from the reader).
    pub fn with_options(model: &PackedModel, opts: EngineOptions) -> Result<Engine, InferError> {
        if !opts.isa.is_supported() {
            return Err(InferError::UnsupportedIsa(opts.isa));
        }
        model
            .validate()
            .map_err(|e| InferError::Model(e.to_string()))?;
        let precision = model.precision();
        Ok(Engine {
            plan: plan::Plan::new(model, opts.isa),
            opts: EngineOptions {
                threads: opts.threads.max(1),
                ..opts
            },
            precision,
            // The binary model's float parts stay unfused: bit-identical on every CPU. The FP32
            // baseline uses FMA where available: the honest speed reference.
            mode: match precision {
                Precision::Binary => FloatMode::Exact,
                Precision::Float => FloatMode::Fused,
            },
            labels: model.labels.clone(),
            paths: model.paths.clone(),
            features: model.features,
            logmel: LogMel::new(model.features),
        })
    }

    pub fn isa(&self) -> Isa {
        self.opts.isa
    }
    pub fn threads(&self) -> usize {
        self.opts.threads
    }
    pub fn precision(&self) -> Precision {
        self.precision
    }
    pub fn dims(&self) -> &Dims {
        &self.plan.dims
    }
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
    pub fn feature_params(&self) -> &FeatureParams {
        &self.features
    }
    /// Length of the feature image [`Session::forward`] takes (`n_mels * frames`).
    pub fn input_len(&self) -> usize {
        self.plan.dims.input_len()
    }
    pub fn num_paths(&self) -> usize {
        self.paths.len()
    }
    /// D-FSMN layers of a thin path.
    pub fn path_layers(&self, path: usize) -> Result<&[usize], InferError> {
        self.paths
            .get(path)
            .map(Vec::as_slice)
            .ok_or(InferError::BadPath {
                path,
                paths: self.paths.len(),
            })
    }
    /// Every layer a path runs, in order (the ids a [`LayerHook`] receives).
    pub fn layer_ids(&self, path: usize) -> Result<Vec<LayerId>, InferError> {
        Ok(LayerId::for_path(self.path_layers(path)?))
    }
    /// A session with its own buffers.
    pub fn session(self: &Arc<Self>) -> Session {
        Session::new(Arc::clone(self))
    }
}

/// Receives the latency of each layer during [`Session::forward_hooked`].
pub trait LayerHook {
    /// When false the forward pass does not even read the clock.
    const ENABLED: bool = true;
    fn layer_done(&mut self, layer: LayerId, elapsed: Duration);
}

/// The no-op hook.
impl LayerHook for () {
    const ENABLED: bool = false;
    fn layer_done(&mut self, _: LayerId, _: Duration) {}
}

/// Collects `(layer, elapsed)` pairs in order.
impl LayerHook for Vec<(LayerId, Duration)> {
    fn layer_done(&mut self, layer: LayerId, elapsed: Duration) {
        self.push((layer, elapsed));
    }
}

/// Result of [`Session::classify`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    pub index: usize,
    pub label: String,
    pub logits: Vec<f32>,
    /// Softmax of the logits.
    pub probabilities: Vec<f32>,
}

/// The two activation bit planes at the input of one binary layer, for one clip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerBits {
    pub layer: LayerId,
    /// Input channels (fc1: input features, index `c * h2 + f` as in `docs/MODEL.md`).
    pub channels: usize,
    /// Positions per channel: conv2 `f * w1 + t` over conv1's output; fc1, expand and project
    /// the time steps; memory the padded time steps (`t + taps - 1`).
    pub positions: usize,
    /// 1 or 2 (for 1, `b2` is still computed but unused).
    pub planes: u8,
    /// `[channel][position]`, `true` = -1.
    pub b1: Vec<bool>,
    pub b2: Vec<bool>,
    /// The scale of plane 2 per reduction group: one value (conv2), per time step (fc1, expand,
    /// project) or per channel (memory).
    pub s2: Vec<f32>,
}

impl LayerBits {
    /// Fraction of -1s in plane 1 (a quick health figure for the GUI).
    pub fn minus_fraction(&self) -> f32 {
        self.b1.iter().filter(|&&b| b).count() as f32 / self.b1.len().max(1) as f32
    }
}

#[cfg(test)]
mod tests;
