//! The packed model file (`.bkw`): a folded, bit-packed network that the laptop and the board
//! run byte-for-byte the same. The byte layout is specified in `docs/FORMAT.md`.
//!
//! * [`PackedModel::from_weights`] folds BatchNorm and `tau2` into per-channel affines,
//!   binarises weights to `sgn(W)` bits with one scale per output channel, and packs them.
//! * [`PackedModel::to_bytes`] / [`PackedModel::save`] (atomic: temp file, fsync, rename) write;
//!   [`PackedModel::from_bytes`] / [`PackedModel::load`] read and validate everything, never
//!   panic, and report what is wrong and where as a [`FormatError`].
//! * [`PackedModel::summary`] describes each layer (type, shape, bits, parameters, bytes);
//!   [`model_hash`] is the stable identity of a file's bytes (FNV-1a 64).

mod layout;
mod q8;
mod read;
mod summary;
mod write;

use std::path::PathBuf;

pub use layout::{Dtype, FloatDtype, Kind, f16_to_f32, f32_to_f16};
pub use summary::{LayerSummary, ModelSummary, PathSummary};

use crate::features::FeatureParams;
use crate::fold::Affine;
use crate::network::{Dims, ShapeError};
use crate::weights::Precision;

/// Everything that can be wrong with a model file or with weights handed to the writer.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a BiFSMN packed model: bad magic {found:02x?} (expected \"BIFSMNKW\")")]
    BadMagic { found: Vec<u8> },
    #[error("unsupported format version {found} (this build reads versions 1 and 2)")]
    UnsupportedVersion { found: u32 },
    #[error("truncated file: {what} needs {needed} bytes, only {available} available")]
    Truncated {
        what: String,
        needed: u64,
        available: u64,
    },
    #[error("file length mismatch: header says {declared} bytes, file has {actual}")]
    LengthMismatch { declared: u64, actual: u64 },
    #[error(
        "checksum mismatch: stored CRC-32 0x{stored:08x}, computed 0x{computed:08x} (file corrupted)"
    )]
    ChecksumMismatch { stored: u32, computed: u32 },
    #[error("header field {field}: {problem}")]
    BadHeader {
        field: &'static str,
        problem: String,
    },
    #[error("section {section}: {problem}")]
    BadSection { section: String, problem: String },
    #[error("missing section {section}")]
    MissingSection { section: String },
    #[error("invalid model: {0}")]
    Invalid(#[from] ShapeError),
    #[error("cannot store {what} as f16: value {value} is out of range")]
    F16Overflow { what: String, value: f32 },
    #[error(
        "cannot store {what} as q8: value {index} ({value}) is out of the range its group can span"
    )]
    Q8Range {
        what: String,
        index: usize,
        value: f32,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;

/// How float sections are stored. Slopes and all integers are always exact; `f16` halves and
/// `q8` about quarters the bytes of the chosen float sections at some accuracy cost.
/// `Default` is exact (`f32` everywhere); [`Storage::COMPACT`] is what `bifsmn export` writes
/// unless told otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Storage {
    /// conv1 weights, classifier weights and bias, and every weight of a float model.
    pub fp_weights: FloatDtype,
    /// Per-channel affines (folded BatchNorm and biases) and activation thresholds.
    pub per_channel: FloatDtype,
}

impl Storage {
    /// Every float section as `q8`: the default export (over 20x smaller than the FP32
    /// teacher's weights for the paper-sized student; accuracy effect in `docs/FORMAT.md`).
    pub const COMPACT: Storage = Storage {
        fp_weights: FloatDtype::Q8,
        per_channel: FloatDtype::Q8,
    };
    /// Every float section as `f32`: the trained values exactly.
    pub const EXACT: Storage = Storage {
        fp_weights: FloatDtype::F32,
        per_channel: FloatDtype::F32,
    };
}

/// Activation binariser of a binary layer (per input channel).
#[derive(Clone, Debug, PartialEq)]
pub struct Quant {
    /// 1 (`b1` only) or 2 (`b1 + s2 * b2`).
    pub planes: u8,
    pub tau0: Vec<f32>,
    pub tau1: Vec<f32>,
    /// Only conv2 keeps `tau2` (its border positions need their own bias correction); every
    /// other layer has it folded into the affine shift and stores nothing here.
    pub tau2: Vec<f32>,
}

impl Quant {
    /// Threshold vectors stored in the layer's `*_THRESH` section: `tau0` and `tau1`, plus
    /// `tau2` where kept (one q8 group each).
    pub fn vectors(&self) -> usize {
        if self.tau2.is_empty() { 2 } else { 3 }
    }
}

/// The weights of one layer.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerWeights {
    /// `sgn(W)` bits, flat in the layer's canonical weight order (bit = 1 means -1), and the
    /// activation binariser. The weight scale `sw` is folded into the affine.
    Binary { bits: Vec<u64>, quant: Quant },
    /// Plain float weights in canonical order.
    Float { weight: Vec<f32> },
}

impl LayerWeights {
    pub fn is_binary(&self) -> bool {
        matches!(self, LayerWeights::Binary { .. })
    }
}

/// A layer: weights, folded per-channel affine, PReLU slope.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedLayer {
    pub weights: LayerWeights,
    pub affine: Affine,
    pub slope: f32,
}

/// The project conv of a D-FSMN layer: shared weights, per-thin-path BatchNorm and PReLU.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedProject {
    pub weights: LayerWeights,
    /// Per path index; `None` where the path does not run this layer.
    pub affine: Vec<Option<Affine>>,
    /// Per path index (stored for every path; only used where `affine` is `Some`).
    pub slope: Vec<f32>,
}

/// One D-FSMN layer.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedDfsmn {
    pub memory: PackedLayer,
    pub expand: PackedLayer,
    pub project: PackedProject,
}

/// The float classifier, `[classes][m * t]` with input index `c * t + time`.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedClassifier {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A folded, packed network: exactly the content of a `.bkw` file.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedModel {
    pub dims: Dims,
    pub labels: Vec<String>,
    pub features: FeatureParams,
    /// Thin paths: 0-based layer indices per path.
    pub paths: Vec<Vec<usize>>,
    /// Float storage used by [`PackedModel::to_bytes`] (set from the file when loaded).
    pub storage: Storage,
    /// Always float.
    pub conv1: PackedLayer,
    pub conv2: PackedLayer,
    pub fc1: PackedLayer,
    pub layers: Vec<PackedDfsmn>,
    pub classifier: PackedClassifier,
}

impl PackedModel {
    /// Binary student or float teacher.
    pub fn precision(&self) -> Precision {
        self.dims.hyper.precision
    }

    /// A copy that will be written with other float storage (values are rounded when saved).
    pub fn with_storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Read and validate a file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<PackedModel> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| FormatError::Io {
            action: "cannot read",
            path: path.to_owned(),
            source,
        })?;
        PackedModel::from_bytes(&bytes)
    }

    /// Write atomically: a temporary file in the same directory, fsync, rename, fsync the
    /// directory. A crash leaves either the old file or the new one, never a torn one.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomic(path.as_ref(), &bytes)
    }
}

/// Atomic file write used by [`PackedModel::save`], with the model file's error type.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write_atomic(path, bytes).map_err(|source| FormatError::Io {
        action: "cannot write",
        path: path.to_owned(),
        source,
    })
}

/// Stable identity of a model file: `"fnv1a64:"` + 16 lower-case hex digits of the 64-bit
/// FNV-1a hash (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of all its bytes.
pub fn model_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

#[cfg(test)]
mod tests;
